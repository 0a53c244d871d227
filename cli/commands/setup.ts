import type { Command } from 'commander';
import { action } from '../program.ts';
import { commandContext, requireEngines } from '../context.ts';

/** `tidewatch setup`: idempotent installation of topics, index templates and (with KIBANA_URL) the Kibana dashboards. */
export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('create the Kafka topics, install the Elasticsearch index templates and, with KIBANA_URL, import the Kibana dashboards (idempotent)')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config } = commandContext(cmd);
        requireEngines(config, 'setup');
        const [{ checkEsHealth, createEsClient }, { installTemplates }, { KafkaTransport }] = await Promise.all([
          import('../../pipeline/store/elasticsearch/client.ts'),
          import('../../pipeline/store/elasticsearch/templates.ts'),
          import('../../pipeline/transport/kafka/transport.ts'),
        ]);
        const client = createEsClient(config.elasticsearch);
        try {
          await checkEsHealth(client, config.elasticsearch.url);
          const names = await installTemplates(client, config.elasticsearch);
          process.stdout.write(`index templates installed: ${names.join(', ')}\n`);
        } finally {
          await client.close();
        }
        const transport = new KafkaTransport(config.kafka);
        try {
          await transport.ensureTopics();
          process.stdout.write(`topics ready: ${config.kafka.topic}, ${config.kafka.dlqTopic}\n`);
        } finally {
          await transport.close();
        }
        if (config.kibana) {
          const [{ importSavedObjects }, { savedObjects, savedObjectsNdjson }] = await Promise.all([
            import('../../dashboards/kibana/import.ts'),
            import('../../dashboards/kibana/objects.ts'),
          ]);
          const prefix = config.elasticsearch.indexPrefix;
          const { imported } = await importSavedObjects(config.kibana, savedObjectsNdjson(prefix));
          const dashboards = savedObjects(prefix).filter((o) => o.type === 'dashboard').length;
          process.stdout.write(`Kibana saved objects imported: ${imported} (${dashboards} dashboards) into ${config.kibana.url}\n`);
        }
      }),
    );
}
