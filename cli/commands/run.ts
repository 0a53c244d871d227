import { hostname } from 'node:os';
import type { Command } from 'commander';
import { mergeWatchLists, WatchListFile } from '../../pipeline/watch/watch-list.ts';
import { action } from '../program.ts';
import { commandContext, loadCatalogue, requireEngines, untilSignal } from '../context.ts';
import { watchListOf } from './status.ts';

// The consumers and the Kafka / Elasticsearch clients are imported inside each action, so that
// registering the commands stays cheap (cli/commands/index.ts).

/** `tidewatch run <consumer>`: the long-running consumers of the Kafka + Elasticsearch deployment. */
export function registerRun(program: Command): void {
  const run = program.command('run').description('run a long-lived consumer (Kafka + Elasticsearch deployment)');

  run
    .command('indexer')
    .description('consume tidewatch.activity and bulk-index events into Elasticsearch; bad records go to the DLQ')
    .option('--stats-secs <n>', 'log indexed/retried/dead-lettered counts every n seconds', '10')
    .action(
      action(async (opts: { statsSecs: string }, cmd: Command) => {
        const { config, log } = commandContext(cmd);
        requireEngines(config, 'run indexer');
        const [{ checkEsHealth, createEsClient }, { installTemplates }, { EsEventSink }, { KafkaTransport }, { Indexer }] = await Promise.all([
          import('../../pipeline/store/elasticsearch/client.ts'),
          import('../../pipeline/store/elasticsearch/templates.ts'),
          import('../../pipeline/store/elasticsearch/sink.ts'),
          import('../../pipeline/transport/kafka/transport.ts'),
          import('../../consumers/indexer/indexer.ts'),
        ]);
        const { consumerLag, exposeIndexer, probeElasticsearch, startMetrics, timedSink } = await import('../metrics.ts');
        const metrics = await startMetrics(config, log, 'indexer');
        const client = createEsClient(config.elasticsearch);
        await checkEsHealth(client, config.elasticsearch.url);
        await installTemplates(client, config.elasticsearch);
        const transport = new KafkaTransport(config.kafka);
        await transport.ensureTopics();
        const sink = new EsEventSink(client, config.elasticsearch, config.indexer);
        const lag = await consumerLag(metrics.metrics, config, transport.kind, log);
        probeElasticsearch(metrics.metrics, config, () => checkEsHealth(client, config.elasticsearch.url), config.indexer);
        const indexer = new Indexer({
          transport: lag.watch(transport, config.indexer.groupId, config.kafka.topic),
          sink: timedSink(metrics.metrics, sink),
          deadLetters: await transport.deadLetters(),
          options: { ...config.indexer, storeText: config.storeText },
          catalogue: loadCatalogue(config.analytics.migration.catalogueFile),
          log: log.child({ component: 'indexer' }),
        });
        exposeIndexer(metrics.metrics, indexer.stats);
        const sub = await indexer.start();
        lag.start();
        metrics.started();
        log.info({ topic: config.kafka.topic, groupId: config.indexer.groupId }, 'indexer started');
        const every = Math.max(1, Number(opts.statsSecs)) * 1000;
        const timer = setInterval(() => log.info({ stats: indexer.stats }, 'indexer stats'), every);
        const reason = await Promise.race([untilSignal(), sub.crashed]);
        clearInterval(timer);
        await metrics.close();
        await sub.stop();
        await transport.close();
        await sink.close();
        log.info({ stats: indexer.stats, reason: String(reason) }, 'indexer stopped');
        return reason instanceof Error ? 1 : 0;
      }),
    );
  run
    .command('analyzer')
    .description('run the detectors live on tidewatch.activity; findings go to the Elasticsearch findings indices')
    .option('--replay', 'event time only (re-analysing history); default: live, ticked on the wall clock')
    .option('--stats-secs <n>', 'log analyzer counts every n seconds', '10')
    .action(
      action(async (opts: { replay?: boolean; statsSecs: string }, cmd: Command) => {
        const { config, log } = commandContext(cmd, opts.replay ? { analyzer: { mode: 'replay' } } : {});
        requireEngines(config, 'run analyzer');
        const [{ createStore }, { createTransport }, { checkEsHealth, createEsClient }, { EsSnapshotStore }, { Analyzer }] = await Promise.all([
          import('../../pipeline/store/index.ts'),
          import('../../pipeline/transport/index.ts'),
          import('../../pipeline/store/elasticsearch/client.ts'),
          import('../../consumers/analyzer/snapshots-es.ts'),
          import('../../consumers/analyzer/analyzer.ts'),
        ]);
        const { consumerLag, countingFindings, exposeAnalyzer, measuredSnapshots, probeElasticsearch, startMetrics } = await import('../metrics.ts');
        const metrics = await startMetrics(config, log, 'analyzer');
        const store = await createStore(config);
        await store.setup();
        const client = createEsClient(config.elasticsearch);
        const snapshots = measuredSnapshots(metrics.metrics, new EsSnapshotStore(client, config.elasticsearch.indexPrefix));
        await snapshots.setup();
        const transport = await createTransport(config);
        // The network stage's input: one partition, so one instance owns the network-wide state.
        const network = await createTransport({ ...config, kafka: { ...config.kafka, topic: config.analyzer.networkTopic, partitions: 1 } });
        await transport.ensureTopics();
        await network.ensureTopics();
        const { findingsTopic, silenceAnnouncer } = await import('../findings-topic.ts');
        const findings = await findingsTopic(config);
        const announcer = await silenceAnnouncer(findings);
        // The status core's watch list: the collectors' one (config, then their file, re-read when edited).
        const listFile = config.collector.watchListFile === undefined ? undefined : new WatchListFile(config.collector.watchListFile);
        const lag = await consumerLag(metrics.metrics, config, transport.kind, log);
        probeElasticsearch(metrics.metrics, config, () => checkEsHealth(client, config.elasticsearch.url), config.analyzer);
        const analyzer = new Analyzer({
          transport: lag.watch(transport, config.analyzer.groupId, config.kafka.topic),
          network: lag.watch(network, config.analyzer.networkGroupId, config.analyzer.networkTopic),
          sourcePartitions: config.kafka.partitions,
          store: countingFindings(metrics.metrics, store),
          snapshots,
          options: { ...config.analyzer, instanceId: config.analyzer.instanceId ?? hostname(), storeText: config.storeText },
          analytics: config.analytics,
          catalogue: loadCatalogue(config.analytics.migration.catalogueFile),
          watchList: watchListOf(config, undefined),
          indexerGroupId: config.indexer.groupId,
          display: config.display,
          ...(listFile ? { reloadWatchList: () => { const l = listFile.readIfChanged(); return l && mergeWatchLists(config.watchList, l); } } : {}),
          log: log.child({ component: 'analyzer' }),
          onSilenceDue: announcer.announce,
        });
        exposeAnalyzer(metrics.metrics, analyzer.stats, () => analyzer.correctionStatus());
        const sub = await analyzer.start();
        lag.start();
        metrics.started();
        log.info({ mode: config.analyzer.mode, groupId: config.analyzer.groupId, networkTopic: config.analyzer.networkTopic }, 'analyzer started');
        const every = Math.max(1, Number(opts.statsSecs)) * 1000;
        const timer = setInterval(() => log.info({ stats: analyzer.stats }, 'analyzer stats'), every);
        const reason = await Promise.race([untilSignal(), sub.crashed]);
        clearInterval(timer);
        await metrics.close();
        await sub.stop();
        await announcer.close();
        await Promise.allSettled([transport.close(), network.close(), findings.close()]);
        await store.close();
        await client.close();
        log.info({ stats: analyzer.stats, reason: String(reason) }, 'analyzer stopped');
        return reason instanceof Error ? 1 : 0;
      }),
    );

  run
    .command('alerter')
    .description('evaluate the alert rules on their schedules; alerts go to the log, webhooks and the alerts index')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config, log } = commandContext(cmd);
        requireEngines(config, 'run alerter');
        const [{ loadRules }, { LogSink, WebhookSink }, { Alerter }, { createStore }, { checkEsHealth, createEsClient }] = await Promise.all([
          import('../../consumers/alerter/rules.ts'),
          import('../../consumers/alerter/sinks.ts'),
          import('../../consumers/alerter/alerter.ts'),
          import('../../pipeline/store/index.ts'),
          import('../../pipeline/store/elasticsearch/client.ts'),
        ]);
        const rules = loadRules(config.alerter.rulesFile);
        const { exposeAlerter, measuredAlertSinks, probeElasticsearch, startMetrics } = await import('../metrics.ts');
        const metrics = await startMetrics(config, log, 'alerter');
        const store = await createStore(config);
        await store.setup();
        // The probe's own client: the store's is not part of the store interface.
        const probe = createEsClient(config.elasticsearch);
        probeElasticsearch(metrics.metrics, config, () => checkEsHealth(probe, config.elasticsearch.url), config.alerter);
        const sinkLog = log.child({ component: 'alert' });
        const alerter = new Alerter({
          store,
          rules,
          sinks: measuredAlertSinks(metrics.metrics, [...(config.alerter.log ? [new LogSink(sinkLog)] : []), ...config.alerter.webhooks.map((w) => new WebhookSink(w, sinkLog))]),
          options: config.alerter,
          display: config.display,
          log: log.child({ component: 'alerter' }),
        });
        exposeAlerter(metrics.metrics, alerter);
        await alerter.start();
        // The analyzer's announcements of silences just stored: evaluated at once, not at the next scheduled run.
        const { findingsTopic, followSilences } = await import('../findings-topic.ts');
        const findings = await findingsTopic(config);
        const announced = await followSilences(findings, config.alerter.groupId, alerter, log.child({ component: 'alerter' }));
        metrics.started();
        log.info({ rules: rules.filter((r) => r.enabled).map((r) => `${r.name} (${r.schedule})`), webhooks: config.alerter.webhooks.map((w) => w.name) }, 'alerter started');
        const reason = await Promise.race([untilSignal(), announced.crashed]);
        await metrics.close();
        await announced.stop();
        await findings.close();
        await alerter.stop();
        await store.close();
        await probe.close();
        log.info({ stats: alerter.stats, reason: String(reason) }, 'alerter stopped');
        return reason instanceof Error ? 1 : 0;
      }),
    );
}
