import cron, { type ScheduledTask } from 'node-cron';
import type { DisplayOptions } from '../../pipeline/dates.ts';
import { ErrorCode, errorMessage, TidewatchError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/log.ts';
import { retry, type RetryOptions } from '../../pipeline/retry.ts';
import type { AlertDelivery, AlertRecord, Store } from '../../pipeline/store/types.ts';
import { emptyAlertState, evaluateRule, ruleFindingType, stateFromAlerts, undelivered, type AlertState } from './evaluate.ts';
import type { AlerterOptions } from './options.ts';
import type { Rule } from './rules.ts';
import type { AlertSink } from './sinks.ts';

export interface AlerterStats {
  evaluations: number;
  /** Alert transitions saved: new alerts and recoveries. */
  alerts: number;
  throttled: number;
  delivered: number;
  /** Delivery attempts that failed (each is tried again at the next evaluation of its rule). */
  deliveryFailures: number;
  /** Evaluations that failed (store unreachable): the next scheduled one tries again. */
  errors: number;
}

export interface AlerterDeps {
  store: Store;
  rules: readonly Rule[];
  sinks: readonly AlertSink[];
  options: Pick<AlerterOptions, 'retries' | 'retryInitialDelayMs' | 'retryMaxDelayMs'>;
  log: Logger;
  /** The zone alert messages read their times in (the config's `display`); UTC without it. */
  display?: DisplayOptions;
  now?: () => number;
}

const HOUR_MS = 3_600_000;
/** The store answers at most this many findings per query; a rule's lookback is meant to hold far fewer. */
const MAX_FINDINGS = 10_000;

/**
 * Wraps the pure rule evaluation with a schedule, the store and the sinks. Every rule runs on its
 * own node-cron schedule; evaluations run one at a time (they share the alert state). The alert
 * state is the alerts kind of the store (`tidewatch-alerts` on Elasticsearch): read back at start,
 * saved *before* anything is sent, so a restart neither forgets an open alert nor repeats a sent
 * one (a crash between a send and saving its outcome can repeat that one send: at least once).
 * Each sink delivers on its own queue, so a slow or failing sink delays no evaluation and no
 * other sink; an undelivered alert stays visible on its record and is tried again.
 */
export class Alerter {
  readonly stats: AlerterStats = { evaluations: 0, alerts: 0, throttled: 0, delivered: 0, deliveryFailures: 0, errors: 0 };
  /** Each rule's last evaluation: when on the wall clock (also in a replay), and whether it failed (operators act on a failing one). */
  readonly lastRuns = new Map<string, { atMs: number; ok: boolean; error?: string }>();
  private state: AlertState = emptyAlertState();
  private evaluations: Promise<void> = Promise.resolve();
  private readonly deliveries = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<string>();
  private readonly sinks: Map<string, AlertSink>;
  private tasks: ScheduledTask[] = [];

  constructor(private readonly deps: AlerterDeps) {
    this.sinks = new Map(deps.sinks.map((s) => [s.name, s]));
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private get retryOptions(): Partial<RetryOptions> {
    const o = this.deps.options;
    return { retries: o.retries, initialDelayMs: o.retryInitialDelayMs, maxDelayMs: o.retryMaxDelayMs };
  }

  /**
   * Read the alert state back, resume undelivered alerts, schedule every enabled rule. Without
   * `schedule` the rules run only when evaluated (evaluateAll: event time drives them in a replay).
   */
  async start({ schedule = true }: { schedule?: boolean } = {}): Promise<void> {
    await this.loadState();
    for (const a of Object.values(this.state.alerts)) this.dispatch(a);
    if (!schedule) return;
    for (const rule of this.deps.rules) {
      if (!rule.enabled) continue;
      this.tasks.push(cron.schedule(rule.schedule, () => this.evaluate(rule.name), { name: `alert-rule-${rule.name}`, noOverlap: true }));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.destroy()));
    this.tasks = [];
    await this.evaluations;
    await this.idle();
  }

  /** Resolves once every delivery queued so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.deliveries.values()]);
  }

  /** The alerts currently held (firing, and resolved within their rule's lookback). */
  alerts(): AlertRecord[] {
    return Object.values(this.state.alerts);
  }

  async loadState(): Promise<void> {
    const lookbackHours = Math.max(1, ...this.deps.rules.map((r) => r.lookbackHours));
    const from = new Date(this.now() - lookbackHours * HOUR_MS).toISOString();
    const records = await retry(() => this.deps.store.findings('alert', { from, limit: MAX_FINDINGS }), this.retryOptions);
    this.state = stateFromAlerts(records);
  }

  /** Evaluate one rule now (the schedule calls this; so may anything that knows a finding just landed). */
  evaluate(ruleName: string): Promise<void> {
    const rule = this.deps.rules.find((r) => r.name === ruleName);
    if (!rule) return Promise.resolve();
    const run = this.evaluations.then(() => this.run(rule));
    this.evaluations = run.then(
      () => void this.lastRuns.set(rule.name, { atMs: Date.now(), ok: true }),
      (err) => {
        this.stats.errors++;
        this.lastRuns.set(rule.name, { atMs: Date.now(), ok: false, error: errorMessage(err) });
        this.deps.log.warn({ rule: rule.name, err: errorMessage(err) }, 'alert rule evaluation failed; the next scheduled one tries again');
      },
    );
    return this.evaluations;
  }

  /**
   * Evaluate every enabled rule of `kind` now: the analyzer announces that it has just stored the
   * silences a threshold made due (`silence`), so they alert without waiting for the schedule.
   */
  evaluateKind(kind: Rule['kind']): Promise<void> {
    return Promise.all(this.deps.rules.filter((r) => r.enabled && r.kind === kind).map((r) => this.evaluate(r.name))).then(() => {});
  }

  /** Evaluate every enabled rule now, one after the other. */
  evaluateAll(): Promise<void> {
    return Promise.all(this.deps.rules.filter((r) => r.enabled).map((r) => this.evaluate(r.name))).then(() => {});
  }

  private async run(rule: Rule): Promise<void> {
    const { store } = this.deps;
    const nowMs = this.now();
    const from = new Date(nowMs - rule.lookbackHours * HOUR_MS).toISOString();
    const findings = await retry(() => store.findings(ruleFindingType(rule), { from, limit: MAX_FINDINGS }), this.retryOptions);
    const before = this.state;
    const ev = evaluateRule(rule, findings, before, nowMs, [...this.sinks.keys()], this.deps.display);
    // Adopted before the await, so delivery outcomes recorded meanwhile land on the new state.
    this.state = ev.state;
    this.stats.evaluations++;
    this.stats.throttled += ev.throttled;
    if (ev.changed.length) {
      try {
        await this.save(ev.changed);
      } catch (err) {
        // Not saved means not alerted: put the previous state back so the next evaluation retries.
        for (const a of ev.changed) {
          if (before.alerts[a.id]) this.state.alerts[a.id] = before.alerts[a.id]!;
          else delete this.state.alerts[a.id];
        }
        this.state.fired[rule.name] = before.fired[rule.name] ?? [];
        throw err;
      }
      this.stats.alerts += ev.changed.length;
    }
    for (const a of Object.values(this.state.alerts)) if (a.rule === rule.name) this.dispatch(a);
  }

  private async save(records: readonly AlertRecord[]): Promise<void> {
    let pending = records;
    await retry(async () => {
      const results = await this.deps.store.writeFindings(pending);
      const failed = results.filter((r) => r.status === 'failed');
      if (failed.length) {
        const ids = new Set(failed.map((r) => r.id));
        pending = pending.filter((a) => ids.has(a.id));
        const first = failed[0]!;
        throw new TidewatchError(ErrorCode.STORE_FAILED, `saving ${failed.length} alert(s): ${first.status === 'failed' ? first.reason : ''}`, {
          retriable: failed.every((r) => r.status === 'failed' && r.retriable),
        });
      }
    }, this.retryOptions);
  }

  /** Queue every undelivered sink of an alert on that sink's own queue. */
  private dispatch(alert: AlertRecord): void {
    if (!undelivered(alert)) return;
    for (const d of alert.deliveries) {
      const sink = this.sinks.get(d.sink);
      const key = `${alert.id}\u0000${d.sink}`;
      // A sink no longer configured leaves its delivery visible as undelivered.
      if (d.status === 'delivered' || !sink || this.inFlight.has(key)) continue;
      this.inFlight.add(key);
      const queued = (this.deliveries.get(d.sink) ?? Promise.resolve())
        .then(() => this.deliver(sink, alert.id, alert.updatedAt))
        .finally(() => this.inFlight.delete(key));
      this.deliveries.set(d.sink, queued.catch(() => {}));
    }
  }

  private async deliver(sink: AlertSink, id: string, version: string): Promise<void> {
    const current = this.state.alerts[id];
    // Superseded (a recovery came meanwhile): the newer version has its own delivery queued.
    if (!current || current.updatedAt !== version) return;
    let outcome: Pick<AlertDelivery, 'status' | 'lastError'>;
    try {
      await sink.send(current);
      this.stats.delivered++;
      outcome = { status: 'delivered', lastError: null };
    } catch (err) {
      this.stats.deliveryFailures++;
      this.deps.log.warn({ sink: sink.name, alert: id, err: errorMessage(err) }, 'alert not delivered; it is tried again at the next evaluation');
      outcome = { status: 'failed', lastError: errorMessage(err) };
    }
    const latest = this.state.alerts[id];
    if (!latest || latest.updatedAt !== version) return;
    const at = new Date(this.now()).toISOString();
    const updated: AlertRecord = {
      ...latest,
      deliveries: latest.deliveries.map((d) => (d.sink === sink.name ? { ...d, ...outcome, attempts: d.attempts + 1, at } : d)),
    };
    this.state.alerts[id] = updated;
    try {
      await this.save([updated]);
    } catch (err) {
      // The outcome is held in memory and saved with the alert's next change; only a crash before
      // that can make a delivered alert be sent once more.
      this.deps.log.warn({ alert: id, err: errorMessage(err) }, 'saving a delivery outcome failed');
    }
  }
}
