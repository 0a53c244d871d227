import type { Config } from '../config/index.ts';
import type { Store } from './types.ts';

export type * from './types.ts';

/**
 * The one place that picks a store from configuration: Elasticsearch when a URL is configured,
 * otherwise the embedded DuckDB file under the data directory (tables created on open). On
 * Elasticsearch the index templates are `tidewatch setup`'s job (or `store.setup()`), because
 * the account a dashboard reads with need not be allowed to install them.
 */
export async function createStore(config: Config): Promise<Store> {
  if (config.elasticsearch) {
    const { checkEsHealth, createEsClient } = await import('./elasticsearch/client.ts');
    const { EsStore } = await import('./elasticsearch/store.ts');
    const client = createEsClient(config.elasticsearch);
    try {
      await checkEsHealth(client, config.elasticsearch.url);
    } catch (err) {
      await client.close();
      throw err;
    }
    return new EsStore(client, config.elasticsearch, { flushBytes: config.indexer.flushBytes, concurrency: config.indexer.concurrency });
  }
  const { DuckDbStore } = await import('./duckdb/store.ts');
  return DuckDbStore.open(config.dataDir);
}
