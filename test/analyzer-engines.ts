import type { Client } from '@elastic/elasticsearch';
import { Analyzer } from '../consumers/analyzer/analyzer.ts';
import { EsSnapshotStore } from '../consumers/analyzer/snapshots-es.ts';
import type { Config } from '../pipeline/config/index.ts';
import type { Logger } from '../pipeline/log.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { createStore } from '../pipeline/store/index.ts';
import type { Store } from '../pipeline/store/types.ts';
import { createTransport } from '../pipeline/transport/index.ts';
import type { Transport } from '../pipeline/transport/types.ts';

/** What the live analyzer runs on over real Kafka + Elasticsearch, as `run analyzer` wires it. */
export interface AnalyzerEngines {
  transport: Transport;
  network: Transport;
  store: Store;
  client: Client;
  snapshots: EsSnapshotStore;
  close(): Promise<unknown>;
}

/** The config's activity and network topics (created), its store and the snapshot index (set up). */
export async function openAnalyzerEngines(config: Config): Promise<AnalyzerEngines> {
  const client = createEsClient(config.elasticsearch!);
  const store = await createStore(config);
  await store.setup();
  const snapshots = new EsSnapshotStore(client, config.elasticsearch!.indexPrefix);
  await snapshots.setup();
  const transport = await createTransport(config);
  const network = await createTransport({ ...config, kafka: { ...config.kafka!, topic: config.analyzer.networkTopic, partitions: 1 } });
  await transport.ensureTopics();
  await network.ensureTopics();
  return { transport, network, store, client, snapshots, close: () => Promise.allSettled([transport.close(), network.close(), store.close(), client.close()]) };
}

/** An analyzer instance on those engines, with the config's options. */
export function analyzerOn(config: Config, r: AnalyzerEngines, log: Logger, instanceId = 'in-process'): Analyzer {
  return new Analyzer({
    transport: r.transport, network: r.network, sourcePartitions: config.kafka!.partitions, store: r.store, snapshots: r.snapshots,
    options: { ...config.analyzer, instanceId, storeText: false }, analytics: config.analytics, log,
  });
}
