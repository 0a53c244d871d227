import { parseTimeMs } from '../../pipeline/analytics/time.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';

/**
 * Event-time merge of the channel stage's partitions for the network stage. Each partition is in
 * order on its own, but partitions are analysed at different speeds: in a replay one may be days
 * ahead of another, and the network stage would take the lagging partition's events as late
 * (a false network silence). So events wait here until every source has passed their time (the
 * watermark is the slowest source's latest event time), then go to the analytics core in order.
 * A source that has sent nothing for idleMs of wall clock (finished, or quiet) stops holding the
 * others back; in live mode the wall clock minus the allowed lateness releases everything older.
 * Plain data (Map included): it is saved in the network stage's snapshot with the detector state.
 */
export interface MergeState {
  /** Source partition -> its latest event time and the wall-clock time it last sent anything. */
  sources: Map<string, [maxMs: number, seenAtMs: number]>;
  /** Waiting events, sorted by (time, id). */
  pending: [timeMs: number, id: string, event: ActivityEvent][];
}

/**
 * The activity topic's partitions are all expected from the start: a partition not heard from
 * yet would otherwise not hold anything back, and its first events would all be late.
 */
export function newMerge(sourcePartitions: number, wallMs: number): MergeState {
  const sources: MergeState['sources'] = new Map();
  for (let p = 0; p < sourcePartitions; p++) sources.set(String(p), [-Infinity, wallMs]);
  return { sources, pending: [] };
}

const before = (a: MergeState['pending'][number], t: number, id: string): boolean => a[0] < t || (a[0] === t && a[1] < id);

export function addEvent(m: MergeState, source: string, event: ActivityEvent, wallMs: number): void {
  const t = parseTimeMs(event['@timestamp']);
  const s = m.sources.get(source);
  m.sources.set(source, [Math.max(s?.[0] ?? -Infinity, t), wallMs]);
  const id = event.event.id;
  const p = m.pending;
  if (p.length === 0 || before(p[p.length - 1]!, t, id)) {
    p.push([t, id, event]);
    return;
  }
  let lo = 0;
  let hi = p.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(p[mid]!, t, id)) lo = mid + 1;
    else hi = mid;
  }
  p.splice(lo, 0, [t, id, event]);
}

/** Remove and return, in event-time order, every event no source can still precede. */
export function release(m: MergeState, wallMs: number, idleMs: number, floorMs: number): ActivityEvent[] {
  let active = Infinity;
  let latest = -Infinity;
  for (const [maxMs, seenAtMs] of m.sources.values()) {
    if (wallMs - seenAtMs < idleMs) active = Math.min(active, maxMs);
    latest = Math.max(latest, maxMs);
  }
  const watermark = Math.max(active === Infinity ? latest : active, floorMs);
  let n = 0;
  while (n < m.pending.length && m.pending[n]![0] <= watermark) n++;
  return m.pending.splice(0, n).map((e) => e[2]);
}
