import type { Alerter } from '../consumers/alerter/alerter.ts';
import type { AlertSink } from '../consumers/alerter/sinks.ts';
import type { AnalyzerStats, CorrectionStats } from '../consumers/analyzer/analyzer.ts';
import type { SnapshotStore } from '../consumers/analyzer/snapshots.ts';
import type { IndexerStats } from '../consumers/indexer/indexer.ts';
import type { Config } from '../pipeline/config/index.ts';
import type { Logger } from '../pipeline/log.ts';
import { ConsumerLag, decorate, Metrics, METRICS_PORTS, probeEngine, serveMetrics, type MetricsProcess } from '../pipeline/metrics/index.ts';
import type { CollectorStatusUpdate, CollectorHeartbeat } from '../pipeline/watch/status.ts';
import type { TokenBucket } from '../pipeline/rate-limit.ts';
import { retryWindowMs } from '../pipeline/retry.ts';
import type { EventSink, Store } from '../pipeline/store/types.ts';
import type { Transport } from '../pipeline/transport/types.ts';

/**
 * The metrics of each process, wired here and nowhere else: components keep their counts in
 * their `stats` (exposed at scrape time) and get decorated sinks and stores that time their
 * writes, so neither analytics nor consumers import the metrics library.
 */

export interface ProcessMetrics {
  metrics: Metrics;
  /** The process has finished starting (the `started` check passes). */
  started(): void;
  close(): Promise<void>;
}

/** /metrics and /healthz of one process, on its default port unless metrics.port says otherwise. */
export async function startMetrics(config: Config, log: Logger, process: MetricsProcess): Promise<ProcessMetrics> {
  const metrics = new Metrics();
  metrics.health.define('started', { initial: { ok: false, reason: 'starting' }, graceMs: Number.POSITIVE_INFINITY });
  const started = () => metrics.health.report('started', { ok: true });
  const port = config.metrics.port ?? METRICS_PORTS[process];
  if (port === 0) return { metrics, started, close: async () => metrics.close() };
  const server = await serveMetrics(metrics, config.metrics.host, port, log.child({ component: 'metrics' }));
  log.info({ metrics: `${server.url}metrics`, health: `${server.url}healthz` }, 'metrics and health endpoint listening');
  return {
    metrics,
    started,
    async close() {
      metrics.close();
      await server.close();
    },
  };
}

/** Lag of the consumer groups of this process; `kafka` is unhealthy once offsets are unreadable for longer than kafkajs' own retries. */
export async function consumerLag(metrics: Metrics, config: Config, kind: Transport['kind'], log: Logger): Promise<ConsumerLag> {
  let transportGraceMs = 0;
  if (kind === 'kafka') {
    const { KAFKA_RETRY } = await import('../pipeline/transport/kafka/client.ts');
    transportGraceMs = retryWindowMs({ retries: KAFKA_RETRY.retries, initialDelayMs: KAFKA_RETRY.initialRetryTime, maxDelayMs: KAFKA_RETRY.maxRetryTime });
  }
  return new ConsumerLag(metrics, { probeMs: config.metrics.probeSecs * 1000, stallMs: config.metrics.stallSecs * 1000, transportGraceMs, log }, kind);
}

export function exposeIndexer(m: Metrics, stats: IndexerStats): void {
  const count = (what: string, help: string, read: () => number) => m.countOf(`tidewatch_indexer_${what}_total`, help, read);
  count('records_received', 'records taken from the transport (records in)', () => stats.received);
  count('records_indexed', 'events written to the store', () => stats.indexed);
  count('records_duplicate', 'events already in the store (redelivery, re-import)', () => stats.duplicates);
  count('records_retried', 'item writes attempted again after a retriable failure', () => stats.retried);
  count('records_dead_lettered', 'records sent to the dead-letter topic with their reason', () => stats.deadLettered);
  count('batches', 'batches finished and committed', () => stats.batches);
}

/** The indexer's sink, timing each batch's bulk write (every attempt). */
export function timedSink<S extends EventSink>(m: Metrics, sink: S): S {
  const h = m.histogram('tidewatch_indexer_bulk_duration_seconds', 'time to bulk-write one batch to the store (each attempt)');
  return decorate<EventSink>(sink, {
    writeEvents: async (events, json) => {
      const end = h.startTimer();
      try {
        return await sink.writeEvents(events, json);
      } finally {
        end();
      }
    },
  }) as S;
}

export function exposeAnalyzer(m: Metrics, stats: Record<string, AnalyzerStats>, corrections?: () => CorrectionStats & { pending: boolean }): void {
  const perStage = (read: (s: AnalyzerStats) => number) => () => Object.entries(stats).map(([stage, s]) => ({ labels: { stage }, value: read(s) }));
  const count = (what: string, help: string, read: (s: AnalyzerStats) => number) => m.countOf(`tidewatch_analyzer_${what}_total`, help, perStage(read), ['stage']);
  count('records_analysed', 'records analysed by the stage (valid or not)', (s) => s.records);
  count('records_skipped', 'records already covered by a restored snapshot', (s) => s.skipped);
  count('records_missing', 'records never read: deleted by the topic\'s retention before they were analysed (or a bug); logged', (s) => s.missing);
  count('records_invalid', 'undecodable records skipped (the indexer dead-letters them)', (s) => s.invalid);
  count('findings_rejected', 'findings the store refused for good', (s) => s.findingsRejected);
  count('snapshots_restored', 'partition states read back from a snapshot', (s) => s.restored);
  count('ticks', 'wall-clock ticks of held partitions', (s) => s.ticks);
  m.gaugeOf('tidewatch_analyzer_findings_unwritten', 'findings of ticks whose write failed, kept with their partition and written first by its next write', perStage((s) => s.unwritten), ['stage']);
  if (!corrections) return;
  // Late data: re-analyses from the store (consumers/analyzer/README.md, "Late data").
  m.countOf('tidewatch_analyzer_reanalysis_runs_total', 're-analyses run to correct late events', () => corrections().runs);
  m.countOf('tidewatch_analyzer_reanalysis_events_total', 'events read back from the store by re-analyses', () => corrections().events);
  m.countOf('tidewatch_analyzer_reanalysis_failures_total', 're-analyses that failed (tried again at the next tick)', () => corrections().failures);
  m.countOf('tidewatch_analyzer_reanalysis_findings_total', 'findings a re-analysis added, changed or removed', () => {
    const c = corrections();
    return [{ labels: { change: 'added' }, value: c.added }, { labels: { change: 'changed' }, value: c.changed }, { labels: { change: 'removed' }, value: c.removed }];
  }, ['change']);
  m.gaugeOf('tidewatch_analyzer_reanalysis_pending', '1 while late events wait for a re-analysis (the backlog), else 0', () => (corrections().pending ? 1 : 0));
}

/** The analyzer's store, counting the findings written per type. */
export function countingFindings(m: Metrics, store: Store): Store {
  const written = m.counter('tidewatch_analyzer_findings_written_total', 'findings (and status documents) written to the store, per type', ['type']);
  return decorate<Store>(store, {
    writeFindings: async (docs, options) => {
      const results = await store.writeFindings(docs, options);
      results.forEach((r, i) => {
        if (r.status === 'written') written.inc({ type: docs[i]!.type });
      });
      return results;
    },
  });
}

/** The analyzer's snapshots, measuring the size and save time of each. */
export function measuredSnapshots<S extends SnapshotStore>(m: Metrics, snapshots: S): S {
  const bytes = m.histogram('tidewatch_analyzer_snapshot_size_bytes', 'size of a saved partition state', [], [1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 64e6, 256e6]);
  const secs = m.histogram('tidewatch_analyzer_snapshot_save_duration_seconds', 'time to save a partition state');
  return decorate<SnapshotStore>(snapshots, {
    save: async (snapshot) => {
      const end = secs.startTimer();
      await snapshots.save(snapshot);
      end();
      bytes.observe(Buffer.byteLength(snapshot.state));
    },
  }) as S;
}

/** Counts and the `alerter` check: unhealthy while a rule's last evaluation failed. */
export function exposeAlerter(m: Metrics, alerter: Alerter): void {
  const s = alerter.stats;
  m.countOf('tidewatch_alerter_evaluations_total', 'rule evaluations by outcome', () => [{ labels: { outcome: 'ok' }, value: s.evaluations }, { labels: { outcome: 'failed' }, value: s.errors }], ['outcome']);
  m.countOf('tidewatch_alerter_alert_transitions_total', 'alerts opened and resolved (saved)', () => s.alerts);
  m.countOf('tidewatch_alerter_alerts_throttled_total', 'alerts held back by their rule\'s throttle', () => s.throttled);
  m.gaugeOf('tidewatch_alerter_last_evaluation_timestamp_seconds', 'when each rule was last evaluated', () => [...alerter.lastRuns].map(([rule, r]) => ({ labels: { rule }, value: r.atMs / 1000 })), ['rule']);
  m.health.register('alerter', () => {
    const failed = [...alerter.lastRuns].filter(([, r]) => !r.ok);
    return failed.length ? { ok: false, reason: `last evaluation failed: ${failed.map(([rule, r]) => `${rule} (${r.error})`).join('; ')}` } : { ok: true };
  });
}

/** The alert sinks, counting deliveries and failures and timing each (a webhook's latency, its retries included). */
export function measuredAlertSinks(m: Metrics, sinks: readonly AlertSink[]): AlertSink[] {
  const sent = m.counter('tidewatch_alerter_alerts_sent_total', 'alerts delivered, per sink', ['sink']);
  const failed = m.counter('tidewatch_alerter_alert_send_failures_total', 'deliveries that failed after their retries, per sink', ['sink']);
  const secs = m.histogram('tidewatch_alerter_send_duration_seconds', 'time to deliver one alert, per sink (webhooks: the HTTP calls and their retries)', ['sink']);
  return sinks.map((sink) =>
    decorate(sink, {
      send: async (alert) => {
        const end = secs.startTimer({ sink: sink.name });
        try {
          await sink.send(alert);
          sent.inc({ sink: sink.name });
        } catch (err) {
          failed.inc({ sink: sink.name });
          throw err;
        } finally {
          end();
        }
      },
    }),
  );
}

/**
 * The collector's metrics from its status stream (returned: the listener to feed), and the
 * `collector` check: unhealthy when no heartbeat came for analytics.status.heartbeatStaleSecs.
 */
export function collectorMetrics(
  m: Metrics,
  config: Config,
  deps: { now: () => number; limiter: TokenBucket; channels: () => readonly string[] },
): (update: CollectorStatusUpdate) => void {
  const startedMs = deps.now();
  const staleMs = config.analytics.status.heartbeatStaleSecs * 1000;
  const cap = config.metrics.channelLabelsMax;
  let heartbeat: CollectorHeartbeat | undefined;
  let heartbeatAtMs = startedMs;
  const lastSuccessMs = new Map<string, number>();
  const polls = m.counter('tidewatch_collector_polls_total', 'polls by outcome: ok (visible), gone (banned or deleted seen), unknown (failed or unreadable)', ['outcome']);
  const hb = (read: (h: CollectorHeartbeat) => number) => () => (heartbeat ? read(heartbeat) : 0);
  m.countOf('tidewatch_collector_poll_errors_total', 'polls that failed (including events not published)', hb((h) => h.pollErrors));
  m.countOf('tidewatch_collector_events_published_total', 'events published', hb((h) => h.eventsPublished));
  m.countOf('tidewatch_collector_events_rejected_total', 'events rejected as invalid', hb((h) => h.eventsRejected));
  m.countOf('tidewatch_collector_requests_total', 'requests made to the source', hb((h) => h.requests));
  m.gaugeOf('tidewatch_collector_request_budget_remaining', 'requests that may start now within the rate limit (0 while paused by a 429 or FLOOD_WAIT)', () => deps.limiter.available);
  m.gaugeOf('tidewatch_collector_channels', 'watched channels by health', () => (heartbeat ? Object.entries(heartbeat.health).map(([health, value]) => ({ labels: { health }, value })) : undefined), ['health']);
  m.gaugeOf('tidewatch_collector_heartbeat_age_seconds', 'seconds since the scheduler\'s last heartbeat', () => (deps.now() - heartbeatAtMs) / 1000);
  const ages = () => deps.channels().map((channel) => ({ channel, secs: (deps.now() - (lastSuccessMs.get(channel) ?? startedMs)) / 1000 }));
  m.gaugeOf('tidewatch_collector_oldest_success_age_seconds', 'the largest age of any channel\'s last successful poll (since the start when none yet)', () => Math.max(0, ...ages().map((a) => a.secs)));
  m.gaugeOf(
    'tidewatch_collector_last_success_age_seconds',
    `age of the last successful poll, for the ${cap} stalest channels (metrics.channelLabelsMax)`,
    () => ages().sort((a, b) => b.secs - a.secs).slice(0, cap).map((a) => ({ labels: { channel: a.channel }, value: a.secs })),
    ['channel'],
  );
  m.health.register('collector', () => {
    const ageMs = deps.now() - heartbeatAtMs;
    return ageMs <= staleMs ? { ok: true } : { ok: false, reason: `no collector heartbeat for ${Math.round(ageMs / 1000)} s (stale after analytics.status.heartbeatStaleSecs = ${staleMs / 1000})` };
  });
  return (update) => {
    if (update.type === 'heartbeat') {
      heartbeat = update;
      heartbeatAtMs = deps.now();
      return;
    }
    polls.inc({ outcome: update.health });
    if (update.health !== 'unknown') lastSuccessMs.set(update.handle, deps.now());
  };
}


/** The `elasticsearch` check: cluster health every metrics.probeSecs, fatal after the component's retry window. */
export function probeElasticsearch(m: Metrics, config: Config, probe: () => Promise<unknown>, retry: { retries: number; retryInitialDelayMs: number; retryMaxDelayMs: number }): void {
  probeEngine(m, 'elasticsearch', probe, {
    probeMs: config.metrics.probeSecs * 1000,
    graceMs: retryWindowMs({ retries: retry.retries, initialDelayMs: retry.retryInitialDelayMs, maxDelayMs: retry.retryMaxDelayMs }),
  });
}
