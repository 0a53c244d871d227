import type { Client } from '@elastic/elasticsearch';
import { esError } from '../../pipeline/store/elasticsearch/client.ts';
import type { Snapshot, SnapshotHead, SnapshotStore } from './snapshots.ts';

/**
 * Snapshots as documents of one Elasticsearch index (`<prefix>-analyzer-state`), id = key.
 * Chosen over a compacted Kafka topic because restoring is one GET by id (a compacted topic must
 * be read from its start at every assignment), a snapshot can be megabytes (over Kafka's default
 * 1 MB record limit), and the transport interface has neither compacted topics nor reads by key.
 * The state string is kept in `_source` only (`dynamic: false`), never indexed.
 */
export class EsSnapshotStore implements SnapshotStore {
  readonly index: string;

  constructor(
    private readonly client: Client,
    indexPrefix: string,
  ) {
    this.index = `${indexPrefix}-analyzer-state`;
  }

  async setup(): Promise<void> {
    try {
      const exists = await this.client.indices.exists({ index: this.index });
      if (exists) return;
      await this.client.indices.create({
        index: this.index,
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: { dynamic: false, properties: { key: { type: 'keyword' }, offset: { type: 'keyword' }, owner: { type: 'keyword' }, savedAt: { type: 'date' } } },
      });
    } catch (err) {
      // Two instances starting together: the loser of the create race finds the index there.
      if ((err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type === 'resource_already_exists_exception') return;
      throw esError(err, `creating snapshot index ${this.index}`);
    }
  }

  private async get(key: string, fields?: string[]): Promise<Snapshot | null> {
    try {
      // GET by id is real-time: it sees the latest save without a refresh.
      const res = await this.client.get<Snapshot>({ index: this.index, id: key, ...(fields ? { _source_includes: fields } : {}) }, { ignore: [404] });
      return res.found && res._source ? res._source : null;
    } catch (err) {
      throw esError(err, `reading analyzer snapshot ${key}`);
    }
  }

  load(key: string): Promise<Snapshot | null> {
    return this.get(key);
  }

  head(key: string): Promise<SnapshotHead | null> {
    return this.get(key, ['key', 'offset', 'owner', 'savedAt']);
  }

  async save(snapshot: Snapshot): Promise<void> {
    try {
      await this.client.index({ index: this.index, id: snapshot.key, document: snapshot, refresh: false });
    } catch (err) {
      throw esError(err, `saving analyzer snapshot ${snapshot.key}`);
    }
  }
}
