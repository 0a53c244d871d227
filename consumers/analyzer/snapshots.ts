/**
 * Where the analyzer keeps detector state per partition, with the last offset the state covers
 * and the instance that wrote it. The store interface (pipeline/store/types.ts) has no place for
 * it, so this small interface is the analyzer's own; Elasticsearch and memory implement it.
 */
export interface Snapshot {
  /** `<group>:<topic>:<partition>` */
  key: string;
  /** Last offset whose record is in `state` (a decimal string, as Kafka offsets are). */
  offset: string;
  owner: string;
  state: string;
  savedAt: string;
}

export type SnapshotHead = Omit<Snapshot, 'state'>;

export interface SnapshotStore {
  load(key: string): Promise<Snapshot | null>;
  /** Offset and owner only: cheap enough to ask before every tick. */
  head(key: string): Promise<SnapshotHead | null>;
  save(snapshot: Snapshot): Promise<void>;
}

export function snapshotKey(group: string, topic: string, partition: number): string {
  return `${group}:${topic}:${partition}`;
}

/** In-process snapshots: the embedded deployment and tests. */
export class MemorySnapshotStore implements SnapshotStore {
  readonly snapshots = new Map<string, Snapshot>();

  async load(key: string): Promise<Snapshot | null> {
    return this.snapshots.get(key) ?? null;
  }

  async head(key: string): Promise<SnapshotHead | null> {
    const s = this.snapshots.get(key);
    return s ? { key: s.key, offset: s.offset, owner: s.owner, savedAt: s.savedAt } : null;
  }

  async save(snapshot: Snapshot): Promise<void> {
    this.snapshots.set(snapshot.key, snapshot);
  }
}
