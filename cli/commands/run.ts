import type { Command } from 'commander';
import { Indexer } from '../../consumers/indexer/indexer.ts';
import { checkEsHealth, createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { EsEventSink } from '../../pipeline/store/elasticsearch/sink.ts';
import { installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { KafkaTransport } from '../../pipeline/transport/kafka/transport.ts';
import { action } from '../program.ts';
import { commandContext, requireEngines, untilSignal } from '../context.ts';

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
        const client = createEsClient(config.elasticsearch);
        await checkEsHealth(client, config.elasticsearch.url);
        await installTemplates(client, config.elasticsearch);
        const transport = new KafkaTransport(config.kafka);
        await transport.ensureTopics();
        const sink = new EsEventSink(client, config.elasticsearch, config.indexer);
        const indexer = new Indexer({
          transport,
          sink,
          deadLetters: await transport.deadLetters(),
          options: { ...config.indexer, storeText: config.storeText },
          log: log.child({ component: 'indexer' }),
        });
        const sub = await indexer.start();
        log.info({ topic: config.kafka.topic, groupId: config.indexer.groupId }, 'indexer started');
        const every = Math.max(1, Number(opts.statsSecs)) * 1000;
        const timer = setInterval(() => log.info({ stats: indexer.stats }, 'indexer stats'), every);
        const reason = await Promise.race([untilSignal(), sub.crashed]);
        clearInterval(timer);
        await sub.stop();
        await transport.close();
        await sink.close();
        log.info({ stats: indexer.stats, reason: String(reason) }, 'indexer stopped');
        return reason instanceof Error ? 1 : 0;
      }),
    );
}
