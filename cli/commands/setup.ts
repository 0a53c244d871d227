import type { Command } from 'commander';
import { importSavedObjects } from '../../dashboards/kibana/import.ts';
import { savedObjects, savedObjectsNdjson } from '../../dashboards/kibana/objects.ts';
import { checkEsHealth, createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { KafkaTransport } from '../../pipeline/transport/kafka/transport.ts';
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
          const prefix = config.elasticsearch.indexPrefix;
          const { imported } = await importSavedObjects(config.kibana, savedObjectsNdjson(prefix));
          const dashboards = savedObjects(prefix).filter((o) => o.type === 'dashboard').length;
          process.stdout.write(`Kibana saved objects imported: ${imported} (${dashboards} dashboards) into ${config.kibana.url}\n`);
        }
      }),
    );
}
