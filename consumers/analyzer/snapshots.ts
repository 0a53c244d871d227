import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';
import type { AnalyzerState } from '../../pipeline/analytics/analyzer.ts';
import { restoreState, snapshotState } from '../../pipeline/analytics/state.ts';
import type { MergeState } from './merge.ts';

const gzipAsync = promisify(gzip);

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

/** Prefix of a compressed state: gzip, base64 (a snapshot's state is a string). */
const GZIP = 'gz:';
/** States above this are compressed: the network stage's holds the events its merge waits on (tens of MB on a backlog). */
const COMPRESS_FROM_CHARS = 256 * 1024;

/**
 * Parts of the analytics core's state (analyzer.saved) that are arrays of strings, numbers and
 * events (parsed JSON): nothing in them is a Map, Set or Float64Array, so plain JSON.stringify
 * writes them exactly as snapshotState would, without calling its replacer for every value. They
 * are the bulk of a state (up to dedupMaxIds recent ids, the events the reorder buffer holds).
 */
const PLAIN_STATE_KEYS = ['recentOrder', 'recentTimes', 'bufferTimes', 'bufferEvents'] as const satisfies readonly (keyof AnalyzerState)[];

/** snapshotState JSON of `obj`, the values under `plainKeys` written by plain JSON.stringify (they come last). */
function encodeObject(obj: object, plainKeys: readonly string[]): string {
  const rest: Record<string, unknown> = { ...obj };
  const plain: string[] = [];
  for (const key of plainKeys) {
    if (rest[key] === undefined) continue;
    plain.push(`${JSON.stringify(key)}:${JSON.stringify(rest[key])}`);
    delete rest[key];
  }
  const head = snapshotState(rest);
  if (plain.length === 0) return head;
  return `${head.slice(0, -1)}${head === '{}' ? '' : ','}${plain.join(',')}}`;
}

/**
 * A stage's state as the string a snapshot holds: snapshotState's JSON, with its largest plain
 * parts (the core's recent ids and reorder buffer, the merge's waiting events) serialised without
 * its replacer (called for every value, it made snapshot encoding a tenth of the analyzer's CPU),
 * and compressed when large: a snapshot of 20 MB made a loaded Elasticsearch answer 429 for tens
 * of seconds, stalling the stage.
 */
export async function encodeStageState(parts: { state: object; merge: MergeState | null; status: unknown }): Promise<string> {
  const merge = parts.merge ? encodeObject(parts.merge, ['pending']) : 'null';
  const json = `{"state":${encodeObject(parts.state, PLAIN_STATE_KEYS)},"merge":${merge},"status":${snapshotState(parts.status ?? null)}}`;
  if (json.length < COMPRESS_FROM_CHARS) return json;
  // Level 1: most of the size for little CPU; on the thread pool, so the other stage goes on meanwhile.
  return GZIP + (await gzipAsync(json, { level: 1 })).toString('base64');
}

/** The parts encodeStageState saved, from either form (and from snapshots of earlier versions: plain snapshotState JSON). */
export function decodeStageState<T>(text: string): T {
  return restoreState<T>(text.startsWith(GZIP) ? gunzipSync(Buffer.from(text.slice(GZIP.length), 'base64')).toString('utf8') : text);
}
