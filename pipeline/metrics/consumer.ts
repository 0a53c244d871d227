import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Batch, Transport } from '../transport/types.ts';
import { finished, newLagTracker, observeLag, type LagTracker, type PartitionLag } from './lag.ts';
import type { Metrics } from './registry.ts';

/** `target` with some members replaced; every other member is the target's own, bound to it. */
export function decorate<T extends object>(target: T, members: Partial<T>): T {
  return new Proxy(target, {
    get(t, p) {
      if (Object.hasOwn(members, p)) return members[p as keyof T];
      const v: unknown = Reflect.get(t, p, t);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/** Event time of a record that is an event (JSON with `@timestamp`); undefined for anything else. */
function eventTimeMs(value: Buffer): number | undefined {
  try {
    const t = (JSON.parse(value.toString('utf8')) as { '@timestamp'?: unknown })['@timestamp'];
    const ms = typeof t === 'string' ? Date.parse(t) : Number.NaN;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

interface Watched {
  group: string;
  topic: string;
  transport: Transport;
  tracker: LagTracker;
  lags: PartitionLag[];
  /** When `lags` was read. */
  atMs: number | null;
  /** Partitions this process was assigned (null until told): only its own can stall it. */
  owned: ReadonlySet<number> | null;
}

/**
 * Consumer lag per partition, read from the transport's offsets every `probeMs`, for each
 * consumer group of this process. Feeds the `kafka` health check (offsets unreadable for longer
 * than `transportGraceMs`) and the `partitions` check (a partition stalled).
 */
export class ConsumerLag {
  private readonly watched: Watched[] = [];
  private readonly transportName: string;

  constructor(
    private readonly metrics: Metrics,
    private readonly options: { probeMs: number; stallMs: number; transportGraceMs: number; log: Logger; now?: () => number },
    transportKind: Transport['kind'],
  ) {
    this.transportName = transportKind === 'kafka' ? 'kafka' : 'transport';
    const all = () => this.watched.flatMap((w) => w.lags.map((l) => ({ w, l })));
    const labels = (w: Watched, l: PartitionLag) => ({ group: w.group, topic: w.topic, partition: l.partition });
    metrics.gaugeOf('tidewatch_consumer_lag_records', 'records after the consumer group\'s committed offset, per partition', () => all().map(({ w, l }) => ({ labels: labels(w, l), value: l.records })), ['group', 'topic', 'partition']);
    metrics.gaugeOf(
      'tidewatch_consumer_lag_seconds',
      'while records wait: wall-clock age of the event time of the last record this process finished on the partition; 0 when caught up',
      () => all().flatMap(({ w, l }) => (l.seconds === undefined ? [] : [{ labels: labels(w, l), value: l.seconds }])),
      ['group', 'topic', 'partition'],
    );
    metrics.gaugeOf('tidewatch_consumer_stalled_partitions', `partitions with records waiting and no commit for metrics.stallSecs (${options.stallMs / 1000} s)`, () => this.watched.map((w) => ({ labels: { group: w.group, topic: w.topic }, value: w.lags.filter((l) => l.stalled).length })), ['group', 'topic']);
    metrics.health.define(this.transportName, { graceMs: options.transportGraceMs });
    metrics.health.register('partitions', () => {
      // The group's lag is every member's to see; a stall is the business of the partition's owner.
      const stalled = all().filter(({ w, l }) => l.stalled && (w.owned === null || w.owned.has(l.partition)));
      if (!stalled.length) return { ok: true };
      return { ok: false, reason: `stalled: ${stalled.map(({ w, l }) => `${w.topic}[${l.partition}] (group ${w.group}, ${l.records} records waiting, no commit for ${Math.round(l.stalledMs / 1000)} s)`).join('; ')}` };
    });
  }

  /**
   * The transport for a consumer of `group`: the same one, except that every finished batch is
   * noted (the event time of its last record) for the lag in seconds. Call before subscribing.
   */
  watch(transport: Transport, group: string, topic: string): Transport {
    const w: Watched = { group, topic, transport, tracker: newLagTracker(), lags: [], atMs: null, owned: null };
    this.watched.push(w);
    return decorate(transport, {
      subscribe: (options, handler) =>
        transport.subscribe({
          ...options,
          onAssigned: (t, partitions) => {
            w.owned = new Set(partitions);
            options.onAssigned?.(t, partitions);
          },
        }, async (batch: Batch) => {
          const result = await handler(batch);
          const last = batch.records[batch.records.length - 1];
          const ms = last && eventTimeMs(last.value);
          if (ms !== undefined) finished(w.tracker, batch.partition, ms);
          return result;
        }),
    });
  }

  /** A group's lag over all its partitions, as last read (null before the first read). */
  total(group: string): { records: number; atMs: number } | null {
    const w = this.watched.find((x) => x.group === group);
    return w && w.atMs !== null ? { records: w.lags.reduce((n, l) => n + l.records, 0), atMs: w.atMs } : null;
  }

  /** Read every group's offsets now and every probeMs after. */
  start(): void {
    this.metrics.every(this.options.probeMs, () => this.probe());
  }

  async probe(): Promise<void> {
    const now = this.options.now ?? Date.now;
    let failure: string | undefined;
    for (const w of this.watched) {
      try {
        const progress = await w.transport.progress(w.group, w.topic);
        w.atMs = now();
        w.lags = observeLag(w.tracker, progress, w.atMs, this.options.stallMs);
      } catch (err) {
        failure ??= errorMessage(err);
        this.options.log.debug({ group: w.group, err: errorMessage(err) }, 'consumer lag not read');
      }
    }
    this.metrics.health.report(this.transportName, failure === undefined ? { ok: true } : { ok: false, reason: failure });
  }
}

/**
 * An engine probed every `probeMs` (Elasticsearch: cluster health): the `name` check fails when
 * it is unreachable, fatally once for longer than `graceMs` (the component's retry window).
 */
export function probeEngine(metrics: Metrics, name: string, probe: () => Promise<unknown>, options: { probeMs: number; graceMs: number }): void {
  metrics.health.define(name, { graceMs: options.graceMs });
  metrics.every(options.probeMs, async () => {
    try {
      await probe();
      metrics.health.report(name, { ok: true });
    } catch (err) {
      metrics.health.report(name, { ok: false, reason: errorMessage(err) });
    }
  });
}
