import type { Command } from 'commander';
import { action } from '../program.ts';
import { commandContext, loadCatalogue, requireEngines } from '../context.ts';

/** `tidewatch setup`: idempotent installation of topics, index templates and (with KIBANA_URL) the Kibana dashboards. */
export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('create the Kafka topics, install the Elasticsearch index templates and, with KIBANA_URL, import the Kibana dashboards (idempotent)')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config } = commandContext(cmd);
        requireEngines(config, 'setup');
        const [{ checkEsHealth, createEsClient }, { installTemplates }, { KafkaTransport }, { EsSnapshotStore }] = await Promise.all([
          import('../../pipeline/store/elasticsearch/client.ts'),
          import('../../pipeline/store/elasticsearch/templates.ts'),
          import('../../pipeline/transport/kafka/transport.ts'),
          import('../../consumers/analyzer/snapshots-es.ts'),
        ]);
        const prefix = config.elasticsearch.indexPrefix;
        const catalogue = loadCatalogue(config.analytics.migration.catalogueFile);
        const kibana = config.kibana ? await import('../../dashboards/kibana/objects.ts') : undefined;
        let extent: { firstAt: string; lastAt: string } | null = null;
        const client = createEsClient(config.elasticsearch);
        try {
          await checkEsHealth(client, config.elasticsearch.url);
          const names = await installTemplates(client, config.elasticsearch);
          process.stdout.write(`index templates installed: ${names.join(', ')}\n`);
          const snapshots = new EsSnapshotStore(client, config.elasticsearch.indexPrefix);
          await snapshots.setup();
          process.stdout.write(`analyzer state index ready: ${snapshots.index}\n`);
          if (kibana) {
            // The dashboards open on every document their data views match (setup again after importing history).
            const { timeExtent } = await import('../../pipeline/store/elasticsearch/extent.ts');
            const patterns = kibana.savedObjects(prefix, { catalogue }).filter((o) => o.type === 'index-pattern').map((o) => String(o.attributes.title));
            extent = await timeExtent(client, patterns);
          }
        } finally {
          await client.close();
        }
        const transport = new KafkaTransport(config.kafka);
        // The analyzer's network stage reads a one-partition topic of its own (consumers/analyzer/README.md).
        const network = new KafkaTransport({ ...config.kafka, topic: config.analyzer.networkTopic, partitions: 1 });
        // The analyzer announces silences just stored to the alerter here (consumers/alerter/README.md, "Latency").
        const findings = new KafkaTransport({ ...config.kafka, topic: config.alerter.findingsTopic, partitions: 1 });
        try {
          await transport.ensureTopics();
          await network.ensureTopics();
          await findings.ensureTopics();
          process.stdout.write(`topics ready: ${config.kafka.topic}, ${config.kafka.dlqTopic}, ${config.analyzer.networkTopic}, ${config.alerter.findingsTopic}\n`);
        } finally {
          await Promise.allSettled([transport.close(), network.close(), findings.close()]);
        }
        if (config.kibana && kibana) {
          const [{ importSavedObjects }, { dashboardTime }] = await Promise.all([import('../../dashboards/kibana/import.ts'), import('../../dashboards/kibana/time.ts')]);
          const time = dashboardTime(extent, Date.now());
          const objects = kibana.savedObjects(prefix, { catalogue, time });
          const { imported } = await importSavedObjects(config.kibana, kibana.toNdjson(objects));
          const dashboards = objects.filter((o) => o.type === 'dashboard').length;
          process.stdout.write(`Kibana saved objects imported: ${imported} (${dashboards} dashboards) into ${config.kibana.url}\n`);
          process.stdout.write(`Kibana dashboards' time range: ${time.from} to ${time.to}${extent ? '' : ' (no data yet: run setup again after importing history)'}\n`);
        }
      }),
    );
}
