import { hostname } from 'node:os';
import { Alerter } from '../consumers/alerter/alerter.ts';
import { loadRules, type Rule } from '../consumers/alerter/rules.ts';
import { LogSink, WebhookSink, type AlertSink } from '../consumers/alerter/sinks.ts';
import { Analyzer } from '../consumers/analyzer/analyzer.ts';
import { MemorySnapshotStore } from '../consumers/analyzer/snapshots.ts';
import { Indexer } from '../consumers/indexer/indexer.ts';
import type { Config } from '../pipeline/config/index.ts';
import type { Logger } from '../pipeline/log.ts';
import { createStore, type Store } from '../pipeline/store/index.ts';
import { createTransport, type Publisher, type Subscription, type Transport } from '../pipeline/transport/index.ts';
import { MemoryTransport } from '../pipeline/transport/memory/transport.ts';
import { watchListOf } from './commands/status.ts';
import { STATUS_RECORD_KEY, type CollectorStatusUpdate } from '../pipeline/watch/status.ts';
import { mergeWatchLists, WatchListFile } from '../pipeline/watch/watch-list.ts';
import { memoryTransportSchema } from '../pipeline/transport/memory/options.ts';
import { decorate, type Metrics } from '../pipeline/metrics/index.ts';
import type { PipelineStrip } from '../dashboards/web/api.ts';
import { consumerLag, countingFindings, exposeAlerter, exposeAnalyzer, exposeIndexer, measuredAlertSinks, measuredSnapshots, timedSink } from './metrics.ts';

const DAY_MS = 86_400_000;

export interface EmbeddedOptions {
  /**
   * live: detectors and alert rules follow the wall clock; replay: the clock of the events. With
   * `alertEverySecs` (the demo) the alert rules run on event time instead of their schedules:
   * whenever the analysis has passed another alertEverySecs of event time, stamped with the time
   * analysed to, so an alert is stamped within one evaluation of what it reports.
   */
  clock: { mode: 'live' } | { mode: 'replay'; now: () => number; alertEverySecs?: number };
  /** Alert rules instead of the configured ones (the demo's). */
  rules?: Rule[];
  /** Alert sinks besides the configured ones (the demo's console). */
  sinks?: AlertSink[];
  /** The input ends when the consumers stop (import, replay): judge what lateness still holds. */
  finishOnStop?: boolean;
  /** The store held events before this input: at the end, findings are recomputed over all of them. */
  storedHistory?: boolean;
  /** The process's metrics (serve): the consumers are measured, and `pipeline()` gives the dashboard's strip. */
  metrics?: Metrics;
}

/**
 * The consumers of the embedded deployment, in this process: with the memory transport nobody
 * else can read the topic. On Kafka they run as `tidewatch run ...` processes of their own.
 */
export async function startEmbeddedConsumers(config: Config, transport: MemoryTransport, store: Store, log: Logger, options: EmbeddedOptions) {
  const subs: Subscription[] = [];
  const m = options.metrics;
  const lag = m && (await consumerLag(m, config, transport.kind, log));
  const letters = await transport.deadLetters();
  let lastDeadLetterMs: number | null = null;
  const indexer = new Indexer({
    transport: lag ? lag.watch(transport, config.indexer.groupId, transport.options.topic) : transport,
    sink: m ? timedSink(m, store) : store,
    // When the last dead letter was, for the dashboard's pipeline strip.
    deadLetters: decorate(letters, { write: async (l) => { await letters.write(l); lastDeadLetterMs = Date.now(); } }),
    options: { ...config.indexer, storeText: config.storeText },
    log: log.child({ component: 'indexer' }),
  });
  subs.push(await indexer.start());
  // The network stage reads a topic of its own: a second in-process transport.
  const network = new MemoryTransport(memoryTransportSchema.parse({ topic: config.analyzer.networkTopic, partitions: 1 }));
  // A collector's status stream (serve's own collector, or `collect` through serve's ingest) goes
  // to the network stage, the one owner of the status core, as `tidewatch collect` sends it on Kafka.
  const statusPublisher = await network.publisher();
  const now = options.clock.mode === 'replay' ? options.clock.now : undefined;
  const listFile = config.collector.watchListFile === undefined ? undefined : new WatchListFile(config.collector.watchListFile);
  const alertEveryMs = options.clock.mode === 'replay' && options.clock.alertEverySecs ? options.clock.alertEverySecs * 1000 : undefined;
  let analysedMs = -Infinity;
  let evaluatedMs = -Infinity;
  // Declared before the analyzer, which reaches a checkpoint only once its subscription delivers.
  let alerter: Alerter | undefined;
  const checkpoints = {
    everyMs: alertEveryMs ?? 0,
    // Rules match findings, so with nothing new written an evaluation finds nothing new, except
    // alerts the throttle held back: those go out at the latest a simulated day later.
    reached: async (eventTimeMs: number, wrote: boolean) => {
      analysedMs = Math.max(analysedMs, eventTimeMs);
      if (!wrote && analysedMs - evaluatedMs < DAY_MS) return;
      evaluatedMs = analysedMs;
      await alerter?.evaluateAll();
    },
  };
  const analyzer = new Analyzer({
    transport: lag ? lag.watch(transport, config.analyzer.groupId, transport.options.topic) : transport,
    network: lag ? lag.watch(network, config.analyzer.networkGroupId, config.analyzer.networkTopic) : network,
    // A replay must not let the network stage run ahead of a partition that starts late.
    sourcePartitions: transport.options.partitions,
    store: m ? countingFindings(m, store) : store,
    snapshots: m ? measuredSnapshots(m, new MemorySnapshotStore()) : new MemorySnapshotStore(),
    options: { ...config.analyzer, mode: options.clock.mode, instanceId: config.analyzer.instanceId ?? hostname(), storeText: config.storeText },
    analytics: config.analytics,
    watchList: watchListOf(config, undefined),
    indexerGroupId: config.indexer.groupId,
    display: config.display,
    // Edits of the watch list file reach the status core without a restart, as with `run analyzer`.
    ...(listFile ? { reloadWatchList: () => { const l = listFile.readIfChanged(); return l && mergeWatchLists(config.watchList, l); } } : {}),
    log: log.child({ component: 'analyzer' }),
    ...(now ? { now } : {}),
    ...(alertEveryMs ? { checkpoints } : {}),
    // Live: silences just stored alert at once (on Kafka the same goes through alerter.findingsTopic).
    ...(options.clock.mode === 'live' ? { onSilenceDue: () => alerter!.evaluateKind('silence') } : {}),
  });
  const sinks: AlertSink[] = [...(options.sinks ?? [])];
  if (config.alerter.log) sinks.push(new LogSink(log.child({ component: 'alerter' })));
  for (const w of config.alerter.webhooks) sinks.push(new WebhookSink(w, log.child({ component: 'alerter' })));
  const rules = options.rules ?? loadRules(config.alerter.rulesFile);
  // Before the first batch is analysed, the replay's own clock.
  const alertNow = alertEveryMs ? () => (analysedMs > -Infinity ? analysedMs : now!()) : now;
  alerter = new Alerter({ store, rules, sinks: m ? measuredAlertSinks(m, sinks) : sinks, options: config.alerter, display: config.display, log: log.child({ component: 'alerter' }), ...(alertNow ? { now: alertNow } : {}) });
  if (m) {
    exposeIndexer(m, indexer.stats);
    exposeAnalyzer(m, analyzer.stats, () => analyzer.correctionStatus());
    exposeAlerter(m, alerter);
  }
  await alerter.start({ schedule: !alertEveryMs });
  lag?.start();
  // The analyzer starts after the alerter, which it may call from its first batch on.
  subs.push(await analyzer.start());
  return {
    crashed: Promise.race(subs.map((s) => s.crashed)),
    /** The dashboard's pipeline strip, from the consumers of this process. */
    pipeline(): PipelineStrip {
      const iso = (ms: number) => new Date(ms).toISOString();
      const read = lag?.total(config.indexer.groupId);
      const last = [...alerter!.lastRuns].sort((a, b) => b[1].atMs - a[1].atMs)[0];
      return {
        now: iso(Date.now()),
        lag: read ? { records: read.records, at: iso(read.atMs) } : null,
        deadLetters: { count: indexer.stats.deadLettered, lastAt: lastDeadLetterMs === null ? null : iso(lastDeadLetterMs) },
        lastAlertEvaluation: last ? { at: iso(last[1].atMs), rule: last[0], ok: last[1].ok } : null,
        lastCollectorPoll: null,
      };
    },
    publishStatus: (updates: readonly CollectorStatusUpdate[]) => statusPublisher.publishRaw(updates.map((u) => ({ key: STATUS_RECORD_KEY, value: JSON.stringify(u) }))),
    /**
     * After the activity transport has drained: the network stage's topic, then one last
     * evaluation of every rule, so findings of the last events still alert before the exit.
     */
    async stop() {
      await statusPublisher.close();
      await network.close();
      await Promise.all(subs.map((s) => s.stop()));
      if (options.finishOnStop) await analyzer.finish({ history: options.storedHistory ?? false });
      await alerter!.evaluateAll();
      await alerter!.stop();
    },
  };
}

export interface Publishing {
  publisher: Publisher;
  transport: Transport;
  /** Flush what was published through the consumers (embedded) and close everything. */
  close(): Promise<void>;
}

/**
 * Where producer commands (import, replay) publish. On Kafka: the topic, read by the `run`
 * consumers. On the embedded default nobody else can read the in-process topic, so the indexer,
 * analyzer and alerter run here, over the store under dataDir, and `close()` drains them: an
 * imported record is in the store when the command exits, never lost in memory.
 */
export async function openPublishing(config: Config, log: Logger): Promise<Publishing> {
  const transport = await createTransport(config);
  await transport.ensureTopics();
  if (!(transport instanceof MemoryTransport)) {
    const publisher = await transport.publisher();
    return { publisher, transport, close: async () => { await publisher.close(); await transport.close(); } };
  }
  const store = await createStore(config);
  try {
    await store.setup();
    // Imports are history: detectors follow the events' own clock.
    let latestMs = 0;
    const storedHistory = (await store.summary()).events > 0;
    const consumers = await startEmbeddedConsumers(config, transport, store, log, { clock: { mode: 'replay', now: () => latestMs }, finishOnStop: true, storedHistory });
    const inner = await transport.publisher();
    const publisher: Publisher = {
      publish: async (events) => {
        for (const e of events) latestMs = Math.max(latestMs, Date.parse(e['@timestamp']));
        await inner.publish(events);
      },
      publishRaw: (records) => inner.publishRaw(records),
      close: () => inner.close(),
    };
    return {
      publisher,
      transport,
      async close() {
        await publisher.close();
        await transport.close();
        await consumers.stop();
        await store.close();
      },
    };
  } catch (err) {
    await transport.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}
