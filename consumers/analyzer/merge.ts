import { parseTimeMs } from '../../pipeline/analytics/time.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';

/**
 * Event-time merge of the channel stage's partitions for the network stage. Each partition is in
 * order on its own, but partitions are analysed at different speeds: in a replay one may be days
 * ahead of another, and the network stage would take the lagging partition's events as late
 * (a false network silence). So events wait here until every source has passed their time (the
 * watermark is the slowest source's latest event time), then go to the analytics core in order.
 * A source stops holding the others back when it is known to be done: the channel stage has
 * committed the whole partition and the network stage has read all it forwarded (the analyzer
 * checks both at its ticks, `setSources`, and again when a record published after that check
 * arrives while a source is taken as done). That depends on the data only, so two replays of the same
 * topic give the same findings. Live mode also lets go of a source quiet for idleMs of wall clock,
 * and releases everything older than the wall clock minus the allowed lateness.
 * Plain data (Map included): it is saved in the network stage's snapshot with the detector state.
 */
export interface MergeState {
  /**
   * Source partition -> its latest event time, the wall-clock time it last sent anything, and
   * whether it is done (nothing more to come until it sends again). Snapshots from before `done`
   * existed have two elements: not done.
   */
  sources: Map<string, [maxMs: number, seenAtMs: number, done?: boolean]>;
  /** Waiting events, sorted by (time, id). */
  pending: [timeMs: number, id: string, event: ActivityEvent][];
  /**
   * Source partition -> the highest source offset received. A channel stage that crashed between
   * forwarding and saving its state forwards those records again; the core's duplicate filter
   * only remembers a recent window, and an older copy would reach the detectors as a late event.
   * Absent in snapshots from before it existed.
   */
  forwarded?: Map<string, string>;
}

/** The key of an event forwarded alone, before packs (forward.ts): `<source partition>@<source offset>`; a bare partition before that. */
export function forwardKey(partition: number, offset: string): string {
  return `${partition}@${offset}`;
}

/**
 * The source of a forwarded record, or null when it is a copy of one already received (a
 * redelivery by the channel stage after a crash): per source partition, offsets only grow.
 */
export function admit(m: MergeState, key: string): string | null {
  const at = key.indexOf('@');
  if (at < 0) return key;
  const source = key.slice(0, at);
  const offset = key.slice(at + 1);
  m.forwarded ??= new Map();
  const last = m.forwarded.get(source);
  if (last !== undefined && BigInt(offset) <= BigInt(last)) return null;
  m.forwarded.set(source, offset);
  return source;
}

/**
 * admit() for a pack of one source's events (forward.ts): offsets `base + deltas[i]`, ascending.
 * Returns the index of the first event not received yet (the ones before it are copies resent
 * after a crash); the same judgement per event as admit(), without a key per event.
 */
export function admitPacked(m: MergeState, source: string, base: bigint, deltas: readonly number[]): number {
  m.forwarded ??= new Map();
  const last = m.forwarded.get(source);
  let from = 0;
  if (last !== undefined) {
    const seen = BigInt(last) - base;
    if (seen >= 0n) {
      const upTo = seen > 0xffffffffn ? Infinity : Number(seen);
      while (from < deltas.length && deltas[from]! <= upTo) from++;
    }
  }
  if (from < deltas.length) m.forwarded.set(source, (base + BigInt(deltas[deltas.length - 1]!)).toString());
  return from;
}

/**
 * The activity topic's partitions are all expected from the start: a partition not heard from
 * yet would otherwise not hold anything back, and its first events would all be late.
 */
export function newMerge(sourcePartitions: number, wallMs: number): MergeState {
  const sources: MergeState['sources'] = new Map();
  for (let p = 0; p < sourcePartitions; p++) sources.set(String(p), [-Infinity, wallMs]);
  return { sources, pending: [], forwarded: new Map() };
}

const byTimeThenId = (a: MergeState['pending'][number], b: MergeState['pending'][number]): number => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

/**
 * A batch's events, each with its source partition. Appended, then sorted once if they broke the
 * order: a batch is a few runs already in order (one per source), which the sort merges in about
 * linear time, where inserting each event at its place moved the whole tail every time.
 */
export function addEvents(m: MergeState, events: readonly [source: string, event: ActivityEvent][], wallMs: number): void {
  const p = m.pending;
  let sorted = true;
  for (const [source, event] of events) {
    const t = parseTimeMs(event['@timestamp']);
    const s = m.sources.get(source);
    if (s === undefined || s[1] !== wallMs || s[2] !== false || s[0] < t) m.sources.set(source, [Math.max(s?.[0] ?? -Infinity, t), wallMs, false]);
    const e: MergeState['pending'][number] = [t, event.event.id, event];
    if (sorted && p.length > 0 && byTimeThenId(p[p.length - 1]!, e) > 0) sorted = false;
    p.push(e);
  }
  if (!sorted) p.sort(byTimeThenId);
}

/**
 * What the sources' offsets say: done (nothing more to come until it sends again, see addEvents)
 * or not. A source not known yet is expected from now on.
 */
export function setSources(m: MergeState, sources: Iterable<[source: string, done: boolean]>, wallMs: number): void {
  for (const [source, done] of sources) {
    const s = m.sources.get(source);
    m.sources.set(source, [s?.[0] ?? -Infinity, s?.[1] ?? wallMs, done]);
  }
}

/** Every source is done: what the merge released is the whole input so far. */
export const allDone = (m: MergeState): boolean => [...m.sources.values()].every((s) => s[2] === true);

/** Some source is taken as done (its new records, if any were published since, are not waited for). */
export const anyDone = (m: MergeState): boolean => [...m.sources.values()].some((s) => s[2] === true);

/**
 * Remove and return, in event-time order, every event no source can still precede. `idleMs`:
 * a source quiet that long stops holding the others back (live mode; Infinity in a replay).
 */
export function release(m: MergeState, wallMs: number, idleMs: number, floorMs: number): ActivityEvent[] {
  let active = Infinity;
  let latest = -Infinity;
  for (const [maxMs, seenAtMs, done] of m.sources.values()) {
    if (!done && wallMs - seenAtMs < idleMs) active = Math.min(active, maxMs);
    latest = Math.max(latest, maxMs);
  }
  const watermark = Math.max(active === Infinity ? latest : active, floorMs);
  let n = 0;
  while (n < m.pending.length && m.pending[n]![0] <= watermark) n++;
  return m.pending.splice(0, n).map((e) => e[2]);
}
