/**
 * The live analyzer (`tidewatch run analyzer --replay`, both stages, findings and snapshots on
 * Elasticsearch) on the pipeline bench's events, in this process, so a CPU profile can cover
 * exactly its phase. The events are published to a topic of their own with the same keys, bytes
 * and partitions as the indexer's (the indexer phase deletes its topic when it ends), and the
 * analyzer reads it from the start, warm engines, right after the indexer phase.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Analyzer } from '../consumers/analyzer/analyzer.ts';
import { EsSnapshotStore } from '../consumers/analyzer/snapshots-es.ts';
import { configSchema } from '../pipeline/config/index.ts';
import type { ActivityEvent } from '../pipeline/events/index.ts';
import { createLogger } from '../pipeline/log.ts';
import { retry } from '../pipeline/retry.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { FINDING_INDEX } from '../pipeline/store/elasticsearch/findings.ts';
import { createStore } from '../pipeline/store/index.ts';
import { createTransport } from '../pipeline/transport/index.ts';
import type { Transport } from '../pipeline/transport/types.ts';
import { startProfile } from './profile.ts';

export interface AnalyzerFigures {
  events: number;
  /** From the first batch the channel stage receives to the network stage having taken the last record. */
  bothSteadyPerSec: number;
  /** The same from `start()` (group joins of both stages included). */
  bothTotalPerSec: number;
  /** From the first batch received to the channel stage having analysed and forwarded the last record. */
  channelPerSec: number;
  startSecs: number;
  /**
   * CPU time of this process (both stages, all its threads) per 1,000 events, from `start()` to
   * the last record taken: steadier than a rate on a shared machine, for comparing versions.
   */
  cpuMsPerKEvents: number;
  /** Writes (a finding updated by later batches is written again) and the distinct findings stored at the end. */
  findingsWritten: number;
  findingsStored: number;
  snapshots: number;
  /** The largest snapshot saved (its state's characters) and the time spent saving them all (ES round trips and retries). */
  snapshotMaxChars: number;
  snapshotSaveSecs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The transport as it is, noting when the first batch is handed to the analyzer. */
function noteFirstBatch(transport: Transport, seen: (ms: number) => void): Transport {
  return Object.assign(Object.create(transport) as Transport, {
    subscribe: (options: Parameters<Transport['subscribe']>[0], handler: Parameters<Transport['subscribe']>[1]) =>
      transport.subscribe(options, (batch) => {
        seen(performance.now());
        return handler(batch);
      }),
  });
}

export async function benchAnalyzer(
  engines: { brokers: string[]; esUrl: string },
  events: readonly ActivityEvent[],
  opts: { run: string; profileTo?: string | undefined },
): Promise<AnalyzerFigures> {
  const prefix = `${opts.run}-analyzer`;
  const topic = `${opts.run}.analyzer.activity`;
  const config = configSchema.parse({
    kafka: { brokers: engines.brokers, topic, dlqTopic: `${topic}.dlq` },
    elasticsearch: { url: engines.esUrl, indexPrefix: prefix, requestTimeoutMs: 120_000 },
    // No indexer consumes this topic: the correction of late data (there is none here) never runs.
    indexer: { groupId: `${prefix}-indexer` },
    analyzer: { mode: 'replay', groupId: `${prefix}-channel`, networkGroupId: `${prefix}-network`, networkTopic: `${opts.run}.analyzer.network` },
  });
  const store = await createStore(config);
  const client = createEsClient(config.elasticsearch!);
  const transport = await createTransport(config);
  const network = await createTransport({ ...config, kafka: { ...config.kafka!, topic: config.analyzer.networkTopic, partitions: 1 } });
  let saves = 0;
  try {
    await store.setup();
    const es = new EsSnapshotStore(client, prefix);
    await es.setup();
    let maxChars = 0;
    let saveMs = 0;
    const snapshots = {
      load: es.load.bind(es),
      head: es.head.bind(es),
      save: async (s: Parameters<EsSnapshotStore['save']>[0]) => {
        saves++;
        maxChars = Math.max(maxChars, s.state.length);
        const t = performance.now();
        await es.save(s);
        saveMs += performance.now() - t;
      },
    };
    // Topics just deleted by the previous bench can make a creation report a missing leader for a moment.
    await retry(() => transport.ensureTopics());
    await retry(() => network.ensureTopics());
    await (await transport.publisher()).publish(events);

    let first = 0;
    const analyzer = new Analyzer({
      transport: noteFirstBatch(transport, (ms) => (first ||= ms)),
      network,
      sourcePartitions: config.kafka!.partitions,
      store,
      snapshots,
      options: { ...config.analyzer, instanceId: 'bench', storeText: config.storeText },
      analytics: config.analytics,
      watchList: config.watchList,
      indexerGroupId: config.indexer.groupId,
      display: config.display,
      log: createLogger('warn'),
    });
    const stopProfile = await startProfile(opts.profileTo);
    const n = events.length;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const sub = await analyzer.start();
    let channelDone = 0;
    while (analyzer.stats.network.records < n) {
      if (!channelDone && analyzer.stats.channel.records >= n) channelDone = performance.now();
      await sleep(20);
    }
    const end = performance.now();
    const cpu = process.cpuUsage(cpu0);
    channelDone ||= end;
    await stopProfile();
    await sub.stop();
    await store.refresh();
    // Detectors' findings and the watch-list status documents (all the bench's events are alike: no gaps or spikes).
    const findingIndices = [...new Set(Object.values(FINDING_INDEX))].map((i) => `${prefix}-${i}`).join(',');
    const { count: findingsStored } = await client.count({ index: findingIndices, ignore_unavailable: true, allow_no_indices: true });
    const { channel, network: net } = analyzer.stats;
    if (channel.invalid || net.invalid || channel.findingsRejected || net.findingsRejected) {
      throw new Error(`analyzer bench: invalid or rejected records ${JSON.stringify(analyzer.stats)}`);
    }
    return {
      events: n,
      bothSteadyPerSec: n / ((end - first) / 1000),
      bothTotalPerSec: n / ((end - t0) / 1000),
      channelPerSec: n / ((channelDone - first) / 1000),
      startSecs: (first - t0) / 1000,
      cpuMsPerKEvents: (cpu.user + cpu.system) / 1000 / (n / 1000),
      findingsWritten: channel.findingsWritten + net.findingsWritten,
      findingsStored,
      snapshots: saves,
      snapshotMaxChars: maxChars,
      snapshotSaveSecs: saveMs / 1000,
    };
  } finally {
    await Promise.allSettled([transport.close(), network.close()]);
    await store.close();
    await client.indices.delete({ index: `${prefix}-*` }).catch(() => {});
    await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
    await client.close();
    const admin = new Kafka({ clientId: 'bench', brokers: engines.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, config.kafka!.dlqTopic, config.analyzer.networkTopic] }).catch(() => {});
    await admin.disconnect();
  }
}
