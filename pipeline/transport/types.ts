import type { ActivityEvent } from '../events/index.ts';

/**
 * A transport carries canonical events from producers to consumers: keyed by channel (ordered
 * per channel), acknowledged, with a dead-letter queue for what a consumer cannot use.
 * Kafka and the embedded in-process transport implement the same interface.
 */
export interface Transport {
  readonly kind: 'kafka' | 'memory';
  /** Create topics / queues if missing; safe to call repeatedly. */
  ensureTopics(): Promise<void>;
  publisher(): Promise<Publisher>;
  /**
   * Deliver batches to `handler`. A batch's offsets are committed only after the handler
   * resolves; if it throws, the same records are delivered again (at-least-once). Sinks
   * are idempotent by event id, so redelivery never duplicates. A handler that resolves with
   * 'deferCommit' leaves the batch uncommitted: delivery goes on, the partition's next committed
   * batch commits it too, and until then a failure or a restart delivers it again. A handler
   * that resolves with `{ durable }` has taken the batch on (e.g. its writes are in flight):
   * delivery goes on at once, and the batch is committed when `durable` resolves, in order within
   * its partition (never before the batches before it); if `durable` rejects, the partition is
   * delivered again from its last commit, as if the handler had thrown. The handler bounds how
   * much it keeps in flight by resolving only once it has room. stop() waits for these commits;
   * a rebalance drops them (the partitions are read again from their last commit).
   */
  subscribe(options: SubscribeOptions, handler: BatchHandler): Promise<Subscription>;
  /**
   * Where a consumer group stands on each partition of `topic` (default: the transport's topic).
   * The analyzer's replay decides "this input is finished" from it, not from a wall-clock wait.
   */
  progress(groupId: string, topic?: string): Promise<PartitionProgress[]>;
  deadLetters(): Promise<DeadLetterWriter>;
  /** Read back the dead-letter queue (tests, `tidewatch dlq` inspection). */
  readDeadLetters(options?: { fromBeginning?: boolean; maxWaitMs?: number; limit?: number }): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

export interface Publisher {
  /** Resolves when every event is durably accepted by the transport; rejects if any is not. */
  publish(events: readonly ActivityEvent[]): Promise<void>;
  /** Raw bytes, for relaying and tests of malformed input; same keying and acks. */
  publishRaw(records: readonly { key: string; value: Buffer | string }[]): Promise<void>;
  close(): Promise<void>;
}

export interface SubscribeOptions {
  groupId: string;
  topic?: string;
  fromBeginning?: boolean;
  /** Upper bound of records handed to one handler call. */
  maxBatchRecords?: number;
  /** Partitions handled at the same time (order is kept within each partition). */
  concurrentPartitions?: number;
  /**
   * Kafka: at most this many bytes of a partition per fetch (default 16 MiB). Smaller keeps the
   * partitions of a backlog in step: the next fetch waits for every partition of the last one.
   */
  fetchBytesPerPartition?: number;
  /**
   * Told the partitions this subscriber owns, after joining and after every rebalance. A
   * partition that receives nothing still has an owner: the analyzer ticks its state for silences.
   */
  onAssigned?: (topic: string, partitions: number[]) => void;
}

export interface PartitionProgress {
  partition: number;
  /** First offset still held and the offset the next record will get: start = end when empty. */
  start: string;
  end: string;
  /** The group's committed offset (the next record it will read); null before its first commit. */
  committed: string | null;
}

/** Nothing in the partition is left for the group to read. */
export const caughtUp = (p: PartitionProgress): boolean => BigInt(p.committed ?? p.start) >= BigInt(p.end);

export interface TransportRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer;
}

export interface Batch {
  topic: string;
  partition: number;
  records: readonly TransportRecord[];
  /** Call during long work so the group does not consider this member dead. */
  heartbeat(): Promise<void>;
  /** True once the partition was revoked: stop early; uncommitted work is redelivered elsewhere. */
  isStale(): boolean;
  /**
   * The offset the partition's next record will get, as known when the batch was read: the
   * batch reaches the partition's end when its last offset + 1 is this. Absent: unknown.
   */
  end?: string;
}

/** 'deferCommit': handled, but not to be committed yet; `durable`: commit once it resolves (Transport.subscribe). */
export type BatchResult = void | 'deferCommit' | { durable: Promise<void> };
export type BatchHandler = (batch: Batch) => Promise<BatchResult>;

export interface Subscription {
  /** Stop consuming after the batch in flight is handled and committed (`durable` ones included). */
  stop(): Promise<void>;
  /** Resolves with the error that stopped the consumer for good, if any. */
  readonly crashed: Promise<Error>;
}

export interface DeadLetter {
  /** The original bytes as received, base64 so invalid UTF-8 survives. */
  originalBase64: string;
  reason: string;
  code: string;
  /** Stage that gave up: decode (bad JSON/schema) or index (sink refused permanently). */
  stage: 'decode' | 'index' | 'analyze' | 'produce';
  source: { topic: string; partition: number; offset: string };
  at: string;
}

export interface DeadLetterWriter {
  write(letters: readonly DeadLetter[]): Promise<void>;
}
