import type { PartitionProgress } from '../transport/types.ts';

/**
 * Consumer lag from the transport's offsets, and stalls: pure (offsets and clocks in, figures
 * out), so it is tested without a broker. A partition is stalled when records wait for it and
 * its committed offset has not moved for `stallMs`: the consumer is stuck, not merely busy.
 */
export interface PartitionLag {
  partition: number;
  /** Records after the group's committed offset (from the partition's start before its first commit). */
  records: number;
  /**
   * Seconds of event time behind: while records wait, how old (wall clock) the event time of the
   * last record the consumer finished is; 0 when caught up; undefined before this process has
   * finished a record of the partition.
   */
  seconds: number | undefined;
  /** Milliseconds the committed offset has stood still with records waiting (0 when moving or caught up). */
  stalledMs: number;
  stalled: boolean;
}

export interface LagTracker {
  /** Per partition: the committed offset last seen and when it last moved (or the partition was caught up). */
  moved: Map<number, { committed: bigint; atMs: number }>;
  /** Per partition: event time (epoch ms) of the last record this process finished. */
  eventMs: Map<number, number>;
}

export const newLagTracker = (): LagTracker => ({ moved: new Map(), eventMs: new Map() });

/** The consumer finished a batch whose last record carries this event time. */
export function finished(t: LagTracker, partition: number, eventMs: number): void {
  t.eventMs.set(partition, Math.max(eventMs, t.eventMs.get(partition) ?? Number.NEGATIVE_INFINITY));
}

export function observeLag(t: LagTracker, progress: readonly PartitionProgress[], nowMs: number, stallMs: number): PartitionLag[] {
  return progress.map((p) => {
    const committed = BigInt(p.committed ?? p.start);
    const records = Math.max(0, Number(BigInt(p.end) - committed));
    const prev = t.moved.get(p.partition);
    if (!prev || prev.committed !== committed || records === 0) t.moved.set(p.partition, { committed, atMs: nowMs });
    const stalledMs = records === 0 ? 0 : nowMs - t.moved.get(p.partition)!.atMs;
    const eventMs = t.eventMs.get(p.partition);
    const seconds = records === 0 ? 0 : eventMs === undefined ? undefined : Math.max(0, (nowMs - eventMs) / 1000);
    return { partition: p.partition, records, seconds, stalledMs, stalled: stalledMs >= stallMs };
  });
}
