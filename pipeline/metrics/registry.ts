import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Health } from './health.ts';

export type Labels = Record<string, string | number>;
/** Values read at scrape time: one number, or one per label set. */
export type Reading = number | undefined | readonly { labels: Labels; value: number }[];

/** Latency buckets from 5 ms to 2 minutes: bulk requests, snapshot saves, webhook calls. */
export const LATENCY_BUCKETS_SECS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The one place prom-client is used: a registry per process with the Node.js process metrics
 * (resident memory, heap, event-loop lag...), the health registry, and helpers that expose the
 * counts components keep already (their `stats`) at scrape time, so the components stay free of
 * metrics code. Names follow Prometheus conventions: `tidewatch_` prefix, units, `_total` counters.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly health: Health;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: { now?: () => number; processMetrics?: boolean } = {}) {
    this.health = new Health(options.now);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const health = this.health;
    new Gauge({
      name: 'tidewatch_health_check_ok',
      help: '1 while the health check passes, 0 while it fails (the reason is on /healthz)',
      labelNames: ['check'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [check, v] of Object.entries(health.verdict().checks)) this.set({ check }, v.ok ? 1 : 0);
      },
    });
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: number[] = LATENCY_BUCKETS_SECS): Histogram {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** A counter whose value a component already counts: read at every scrape. */
  countOf(name: string, help: string, read: () => Reading, labelNames: readonly string[] = []): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        apply(read(), (labels, v) => this.inc(labels, v));
      },
    });
  }

  /** A gauge read at every scrape; a labelled series not in the reading is left out (not known yet). */
  gaugeOf(name: string, help: string, read: () => Reading, labelNames: readonly string[] = []): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        apply(read(), (labels, v) => this.set(labels, v));
      },
    });
  }

  /** Periodic work of the metrics (lag reads, engine probes); stopped by close(). */
  every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const tick = () => {
      if (running) return;
      running = true;
      void fn().finally(() => (running = false));
    };
    const timer = setInterval(tick, ms);
    // Metrics never keep a process alive that has finished its work.
    timer.unref();
    this.timers.add(timer);
    tick();
  }

  /** The exposition in the Prometheus text format. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
  }
}

function apply(reading: Reading, set: (labels: Labels, value: number) => void): void {
  if (reading === undefined) return;
  if (typeof reading === 'number') {
    if (Number.isFinite(reading)) set({}, reading);
    return;
  }
  for (const r of reading) if (Number.isFinite(r.value)) set(r.labels, r.value);
}
