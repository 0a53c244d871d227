import { ErrorCode, TidewatchError } from '../errors.ts';
import type { ActivityEvent } from '../events/index.ts';
import { compactGaps, gapsDetector, narrowGaps, newGapsIndex, nextDeadline, stepIndexed, stepNetwork, touchGaps, type GapsIndex, type GapsState } from './gaps.ts';
import { KeyCells } from './keys.ts';
import { BUNDLED_CATALOGUE, type PlatformCatalogue } from './links.ts';
import { migrationDetector, narrowMigration, type MigrationState } from './migration.ts';
import type { AnalyticsOptions } from './options.ts';
import { narrowResurrections, resurrectionsDetector, type ResurrectionsState } from './resurrections.ts';
import { activityIndexed, activityNetwork, compactSpikes, narrowSpikes, newSpikesIndex, spikesDetector, touchSpikes, upgradeSpikesState, upgradeSpikesStateV2, type SpikesIndex, type SpikesState, type SpikesStateV1, type SpikesStateV2 } from './spikes.ts';
import { hashId, RecentIds } from './recent.ts';
import { restoreState, snapshotState } from './state.ts';
import { takedownsDetector, type TakedownsState } from './takedowns.ts';
import { dayOf, parseTimeMs } from './time.ts';
import { channelKey, NONE, type Finding, type Scope } from './types.ts';

/**
 * All detectors behind one step/tick, with what makes their input trustworthy:
 * - duplicates (same event.id within dedupWindowSecs of event time, at most dedupMaxIds ids) are
 *   dropped before any detector sees them;
 * - events are released to the detectors in event-time order (ties by id, so arrival order never
 *   matters) once the watermark (latest event time minus allowedLatenessSecs, or the injected
 *   clock minus it in `tick`) has passed them;
 * - an event older than the watermark is late: counted, and given to the detectors, which treat
 *   it as not moving their clocks (it cannot reopen a silence already judged).
 * The state is plain data (Map/Set included): `snapshot`/`restore` turn it into JSON and back.
 * Its `layout` says which shape it has: a state saved in an earlier layout is upgraded when it is
 * restored or first used.
 */
const LAYOUT = 3;

/**
 * What a state computes (`init`'s `scope`): everything (absent), or the findings of one scope, for
 * the live analyzer's two stages (consumers/analyzer/stages.ts `stageOf`, which its tests hold this
 * to): 'channel' = channel gaps, channel spikes, platforms first seen per channel, lifespans;
 * 'network' = the rest (network gaps and spikes, creation bursts, network and "all" migrations,
 * links per day, takedowns, resurrections). A scope keeps the state of its findings alone: the
 * detectors of the other are not run, and their subjects are not kept.
 */
export type AnalyzerScope = Scope;

export interface AnalyzerCounts {
  /** Events given to step, duplicates included. */
  events: number;
  duplicates: number;
  late: number;
}

export interface AnalyzerState {
  options: AnalyticsOptions;
  gaps: GapsState;
  spikes: SpikesState;
  migration: MigrationState;
  takedowns: TakedownsState;
  resurrections: ResurrectionsState;
  /**
   * Recent event ids with their times in arrival order: a ring of recentOrder.length entries, the
   * oldest at recentHead, recentCount of them in use (grown by doubling; a snapshot saves it from
   * the oldest, without spare room). `recentIds` looks them up; it is not saved (layouts 1 and 2
   * saved a Set of them): `revive` rebuilds it from the ring.
   */
  recentIds: RecentIds;
  recentOrder: string[];
  recentTimes: number[];
  recentHead: number;
  /** Absent in layouts 1 and 2, where recentOrder was a queue from recentHead. */
  recentCount: number;
  /**
   * The reorder buffer, sorted by (time, id) from `head` to `bufferEnd`; mostly-ordered input
   * appends, so no heap is needed. Times and events in parallel arrays that keep their capacity
   * (grown by doubling, compacted in place): no entry and no storage is allocated per event. A
   * snapshot saves the waiting entries alone (head 0, no `bufferEnd`: the end of the arrays).
   */
  bufferTimes: number[];
  bufferEvents: ActivityEvent[];
  head: number;
  bufferEnd?: number;
  maxSeenMs: number;
  watermarkMs: number;
  /** UTC day of the last housekeeping tick: detectors are ticked once per day of event time. */
  tickedDay: number;
  counts: AnalyzerCounts;
  /**
   * The earliest late event since the state was last rebuilt from a sorted pass (-1: none): the
   * live analyzer's cue that its findings depend on arrival order and need a re-analysis.
   * Absent in snapshots from before it existed.
   */
  lateFromMs?: number;
  /** Shape of the state (LAYOUT); absent in snapshots of layout 1. */
  layout?: number;
  /** The findings it computes (AnalyzerScope); absent: all (also in snapshots from before scopes). */
  scope?: AnalyzerScope;
}

/**
 * Layout 1 (snapshots written before `layout`): the reorder buffer as [time, id, event] entries
 * (null before `head`, released), and the spikes' subjects in one map keyed "<scope>:<key>".
 */
type StateV1 = Omit<AnalyzerState, 'bufferTimes' | 'bufferEvents' | 'spikes' | 'layout'> & {
  buffer: ([timeMs: number, id: string, event: ActivityEvent] | null)[];
  spikes: SpikesStateV1;
};

/**
 * Layout 2 differs from 3 in the recent ids (a queue then), the spikes' state (one object per subject), and in the gap
 * detector's, which that detector upgrades itself on first use (the watch-list status core keeps
 * one too).
 */
function upgrade(st: AnalyzerState): void {
  if (st.layout === LAYOUT) return;
  if (st.layout !== undefined && st.layout > LAYOUT) {
    // Saved by a newer version: guessing its shape could only give wrong findings.
    throw new TidewatchError(ErrorCode.INPUT_UNSUPPORTED, `analyzer state: snapshot layout ${st.layout} is newer than this version reads (1 to ${LAYOUT})`, { details: { layout: st.layout } });
  }
  // Layouts 1 and 2: recent ids a queue from recentHead (and a Set of them, which resizeRing replaces).
  st.recentCount = st.recentOrder.length - st.recentHead;
  resizeRing(st, st.recentCount);
  if (st.layout === 2) {
    st.spikes = upgradeSpikesStateV2(st.spikes as unknown as SpikesStateV2);
    resizeBuffer(st, 0);
    st.layout = LAYOUT;
    return;
  }
  const old = st as unknown as StateV1;
  const waiting = old.buffer.slice(old.head) as [number, string, ActivityEvent][];
  const spikes = upgradeSpikesState(old.spikes);
  delete (old as Partial<StateV1>).buffer;
  Object.assign(st, { bufferTimes: waiting.map((b) => b[0]), bufferEvents: waiting.map((b) => b[2]), head: 0, spikes, layout: LAYOUT });
  resizeBuffer(st, 0);
}

/**
 * The buffer's waiting entries (from `head` to `bufferEnd`, or to the end of the arrays in a state
 * read back from a snapshot) moved to the front of arrays of at least `capacity` entries.
 */
function resizeBuffer(st: AnalyzerState, capacity: number): void {
  const end = st.bufferEnd ?? st.bufferTimes.length;
  const waiting = end - st.head;
  let size = 64;
  while (size < capacity || size < waiting) size *= 2;
  const times: number[] = new Array<number>(size).fill(0.5).fill(0); // doubles from the start
  const events: ActivityEvent[] = new Array<ActivityEvent>(size).fill(undefined as unknown as ActivityEvent);
  for (let i = 0; i < waiting; i++) {
    times[i] = st.bufferTimes[st.head + i]!;
    events[i] = st.bufferEvents[st.head + i]!;
  }
  st.bufferTimes = times;
  st.bufferEvents = events;
  st.head = 0;
  st.bufferEnd = waiting;
}

/** Room for one more entry at the buffer's end: the waiting ones moved to the front if that frees enough, else the arrays doubled. */
function makeRoom(st: AnalyzerState): void {
  const { bufferTimes: times, bufferEvents: events, head } = st;
  const end = st.bufferEnd!;
  if (head === 0 || head * 2 < times.length) {
    resizeBuffer(st, times.length * 2);
    return;
  }
  // Loops, not copyWithin: that boxes every number it moves in an array that is not typed.
  for (let i = head; i < end; i++) {
    times[i - head] = times[i]!;
    events[i - head] = events[i]!;
  }
  events.fill(undefined as unknown as ActivityEvent, end - head, end); // let released events be collected
  st.bufferEnd = end - head;
  st.head = 0;
}

/** Whether buffered entry i sorts before (t, id). */
const before = (st: AnalyzerState, i: number, t: number, id: string): boolean =>
  st.bufferTimes[i]! < t || (st.bufferTimes[i] === t && st.bufferEvents[i]!.event.id < id);

function append(out: Finding[] | undefined, found: readonly Finding[]): Finding[] | undefined {
  if (found.length === 0) return out;
  if (out === undefined) return [...found];
  for (const f of found) out.push(f);
  return out;
}

/**
 * Each channel key resolved once per event to its entry in a table of a few numbers per channel,
 * and each network to a dense id, with which gaps and spikes find their subjects in arrays instead
 * of each looking the key up again. Per state object and not part of the state (filled as subjects
 * are met, in any process), so snapshots are unchanged.
 */
interface Index {
  /**
   * Per channel key, beside its hash in one table entry (one memory access for all): its gap slot
   * + 1 and spike slot + 1 (0: not looked up yet), and the id + 1 of the network its last event
   * named (one Map lookup less per event).
   */
  channels: KeyCells;
  networks: Map<string, number>;
  /** By network id: its name. */
  networkNames: string[];
  gaps: GapsIndex;
  spikes: SpikesIndex;
}

const GAP_CELL = 1;
const SPIKE_CELL = 2;
const NETWORK_CELL = 3;

/**
 * The state's index sits on the state object under a symbol, not enumerable: snapshots, copies and
 * comparisons of the state never see it (a WeakMap beside the state cost a lookup per event).
 */
const INDEX = Symbol('analyzer index');
type Indexed = AnalyzerState & { [INDEX]?: Index };

function indexOf(st: AnalyzerState): Index {
  let ix = (st as Indexed)[INDEX];
  if (ix === undefined) {
    ix = { channels: new KeyCells(), networks: new Map(), networkNames: [], gaps: newGapsIndex(), spikes: newSpikesIndex() };
    Object.defineProperty(st, INDEX, { value: ix, writable: true });
  }
  return ix;
}

/** The dense id of `network`, the network of the channel whose entry is at `entry`. */
function networkOf(ix: Index, entry: number, network: string): number {
  const cells = ix.channels.cells;
  const last = cells[entry + NETWORK_CELL]! - 1;
  if (last >= 0 && ix.networkNames[last] === network) return last;
  let n = ix.networks.get(network);
  if (n === undefined) ix.networks.set(network, (n = ix.networks.size));
  ix.networkNames[n] = network;
  cells[entry + NETWORK_CELL] = n + 1;
  return n;
}

/** A sink for prefetch's loads, so the compiler keeps them. */
const SINK = new Float64Array(1);

/**
 * Reads the numbers the channel's activity at `t` will read in gaps and spikes, all at once: the
 * loads do not depend on each other, so their cache misses overlap instead of coming one after
 * another as the detectors' code reaches them (the detectors are bound by memory access).
 */
function prefetch(st: AnalyzerState, cells: Int32Array, entry: number, t: number): void {
  const gap = cells[entry + GAP_CELL]! - 1;
  const spike = cells[entry + SPIKE_CELL]! - 1;
  if (gap >= 0 && spike >= 0) SINK[0] = touchGaps(st.gaps, gap, t) + touchSpikes(st.spikes, spike);
}

/**
 * Reads the fields of `event` that dispatching it reads first, ahead: the next event to release
 * waited in the buffer long enough to leave the cache, and these loads overlap the new event's.
 */
function touchEvent(event: ActivityEvent): void {
  const channel = event.channel;
  SINK[0] = event.event.action.length + channel.id.length + (channel.handle?.length ?? 0) + (channel.network?.length ?? 0);
}

/** The dense id of `network` in a state of network scope, which keeps no channel entries (few networks: a Map lookup). */
function networkId(ix: Index, network: string): number {
  let n = ix.networks.get(network);
  if (n === undefined) {
    ix.networks.set(network, (n = ix.networks.size));
    ix.networkNames[n] = network;
  }
  return n;
}

function dispatch(st: AnalyzerState, event: ActivityEvent, t: number, out: Finding[] | undefined): Finding[] | undefined {
  const action = event.event.action;
  const activity = st.options.activityActions.includes(action);
  const scope = st.scope;
  if (scope === 'network') {
    // Networks' gaps and spikes only: a channel's end ends no network's silence, creations are spikes.
    if (activity) {
      const ix = indexOf(st);
      const network = event.channel.network;
      const n = network === undefined ? -1 : networkId(ix, network);
      out = append(out, stepNetwork(st.gaps, ix.gaps, event, t, network, n));
      out = append(out, activityNetwork(st.spikes, ix.spikes, t, network, n));
    } else {
      out = append(out, spikesDetector.step(st.spikes, event, t));
    }
  } else if (activity || action === 'channel_banned' || action === 'channel_deleted') {
    const ix = indexOf(st);
    const key = channelKey(event, st.options.homePlatform);
    const entry = ix.channels.entryOf(key);
    const cells = ix.channels.cells;
    prefetch(st, cells, entry, t);
    // Channel scope: no network subjects.
    const network = scope === 'channel' ? undefined : event.channel.network;
    const n = network === undefined ? -1 : networkOf(ix, entry, network);
    out = append(out, stepIndexed(st.gaps, ix.gaps, event, t, key, cells, entry + GAP_CELL, network, n));
    out = append(out, activity ? activityIndexed(st.spikes, ix.spikes, event, t, key, cells, entry + SPIKE_CELL, network, n) : spikesDetector.step(st.spikes, event, t));
  } else {
    out = append(out, gapsDetector.step(st.gaps, event, t));
    out = append(out, spikesDetector.step(st.spikes, event, t));
  }
  out = append(out, migrationDetector.step(st.migration, event, t));
  // Takedowns are wholly the network scope's.
  if (scope !== 'channel') out = append(out, takedownsDetector.step(st.takedowns, event, t));
  return append(out, resurrectionsDetector.step(st.resurrections, event, t));
}

function tickDetectors(st: AnalyzerState, nowMs: number, out: Finding[] | undefined): Finding[] | undefined {
  st.tickedDay = dayOf(nowMs);
  out = append(out, gapsDetector.tick(st.gaps, nowMs));
  out = append(out, spikesDetector.tick(st.spikes, nowMs));
  out = append(out, migrationDetector.tick(st.migration, nowMs));
  out = append(out, takedownsDetector.tick(st.takedowns, nowMs));
  return append(out, resurrectionsDetector.tick(st.resurrections, nowMs));
}

/** Release every buffered event up to `watermarkMs`, in order. */
function release(st: AnalyzerState, watermarkMs: number, out: Finding[] | undefined): Finding[] | undefined {
  if (watermarkMs > st.watermarkMs) st.watermarkMs = watermarkMs;
  const times = st.bufferTimes;
  const events = st.bufferEvents;
  while (st.head < st.bufferEnd! && times[st.head]! <= st.watermarkMs) {
    const t = times[st.head]!;
    const event = events[st.head]!;
    events[st.head++] = undefined as unknown as ActivityEvent; // let the event be collected
    // Housekeeping once per day of event time, before the first event of the new day.
    if (dayOf(t) > st.tickedDay && st.tickedDay >= 0) out = tickDetectors(st, t, out);
    else if (st.tickedDay < 0) st.tickedDay = dayOf(t);
    out = dispatch(st, event, t, out);
  }
  if (st.head === st.bufferEnd) {
    st.head = st.bufferEnd = 0;
    // Emptied after a burst (a backfill within the lateness): its room is not kept for good.
    if (times.length > 65_536) resizeBuffer(st, 0);
  }
  return out;
}

/**
 * `id` (hashed to `h`, not among the recent ids) joins the ring; ids out of the window (or beyond
 * dedupMaxIds) leave it. A ring rather than Map iteration: deleting from a Map's front leaves
 * tombstones every later scan walks; and rather than a queue, which allocates as it is shifted.
 */
function rememberId(st: AnalyzerState, id: string, h: number, t: number): void {
  let order = st.recentOrder;
  if (st.recentCount === order.length) {
    resizeRing(st, Math.max(1024, order.length * 2));
    order = st.recentOrder;
  }
  const capacity = order.length;
  const times = st.recentTimes;
  const at = (st.recentHead + st.recentCount++) % capacity;
  order[at] = id;
  times[at] = t;
  st.recentIds.add(at, h);
  const cutoff = st.maxSeenMs - st.options.dedupWindowSecs * 1000;
  const max = st.options.dedupMaxIds;
  while (st.recentCount > 0 && (times[st.recentHead]! < cutoff || st.recentCount > max)) {
    st.recentIds.remove(st.recentHead);
    order[st.recentHead] = '';
    st.recentHead = (st.recentHead + 1) % capacity;
    st.recentCount--;
  }
}

/** The ring's entries from the oldest, in arrays of `capacity` (at least recentCount), and their lookup. */
function resizeRing(st: AnalyzerState, capacity: number): void {
  const order: string[] = new Array<string>(capacity).fill('');
  const times: number[] = new Array<number>(capacity).fill(0.5).fill(0); // doubles from the start
  for (let i = 0; i < st.recentCount; i++) {
    const from = (st.recentHead + i) % st.recentOrder.length;
    order[i] = st.recentOrder[from]!;
    times[i] = st.recentTimes[from]!;
  }
  st.recentOrder = order;
  st.recentTimes = times;
  st.recentHead = 0;
  st.recentIds = new RecentIds(order, 0, st.recentCount);
}

/**
 * The ring's entries from the oldest, without spare room: what a snapshot saves. Copied out, so the
 * live ring keeps its capacity and lookup (shrinking it at every save made the next event grow it
 * again, re-hashing up to dedupMaxIds ids).
 */
function ringFromOldest(st: AnalyzerState): Pick<AnalyzerState, 'recentOrder' | 'recentTimes' | 'recentHead'> {
  const { recentOrder: order, recentTimes: times, recentHead: head, recentCount: count } = st;
  const untilWrap = Math.min(count, order.length - head);
  const from = <T>(a: T[]): T[] => (untilWrap === count ? a.slice(head, head + count) : a.slice(head).concat(a.slice(0, count - untilWrap)));
  return { recentOrder: from(order), recentTimes: from(times), recentHead: 0 };
}

/**
 * A state of all findings narrowed to those of `scope` (a snapshot saved before scopes existed,
 * restored for one stage; a re-analysis's state handed to one): what the other scope needed is
 * dropped, leaving the state a run of that scope alone would have had.
 */
function narrow(st: AnalyzerState, scope: AnalyzerScope): void {
  narrowGaps(st.gaps, scope);
  st.spikes = narrowSpikes(st.spikes, scope);
  narrowMigration(st.migration, scope);
  if (scope === 'channel') st.takedowns = takedownsDetector.init(st.options);
  narrowResurrections(st.resurrections, scope);
  st.scope = scope;
  // Slots moved, subjects went: the index is rebuilt as subjects are met again.
  if ((st as Indexed)[INDEX] !== undefined) (st as Indexed)[INDEX] = undefined;
}

export const analyzer = {
  /** `scope`: only the findings of that scope (AnalyzerScope); default all. */
  init(options: AnalyticsOptions, catalogue: PlatformCatalogue = BUNDLED_CATALOGUE, { scope }: { scope?: AnalyzerScope } = {}): AnalyzerState {
    const st: AnalyzerState = {
      options,
      gaps: gapsDetector.init(options),
      spikes: spikesDetector.init(options),
      migration: migrationDetector.init(options, catalogue),
      takedowns: takedownsDetector.init(options),
      resurrections: resurrectionsDetector.init(options),
      recentIds: new RecentIds([], 0, 0), recentOrder: [], recentTimes: [], recentHead: 0, recentCount: 0, bufferTimes: [], bufferEvents: [], head: 0, bufferEnd: 0, maxSeenMs: -1, watermarkMs: -1, tickedDay: -1, lateFromMs: -1, layout: LAYOUT,
      counts: { events: 0, duplicates: 0, late: 0 },
    };
    if (scope !== undefined) narrow(st, scope);
    return st;
  },

  /**
   * The state computing the findings of `scope` only: itself when it does already; a state of all
   * findings narrowed (see `narrow`). A state of the other scope is refused: it lacks what `scope` needs.
   */
  scoped(st: AnalyzerState, scope: AnalyzerScope): AnalyzerState {
    if (st.scope === scope) return st;
    if (st.scope !== undefined) {
      throw new TidewatchError(ErrorCode.INPUT_UNSUPPORTED, `analyzer state: computes the ${st.scope} scope's findings only, not the ${scope} scope's (a snapshot of the other stage?)`, { details: { scope: st.scope, wanted: scope } });
    }
    if (st.layout !== LAYOUT) upgrade(st);
    narrow(st, scope);
    return st;
  },

  step(st: AnalyzerState, event: ActivityEvent): readonly Finding[] {
    if (st.layout !== LAYOUT) upgrade(st);
    st.counts.events++;
    if (st.head < st.bufferEnd!) touchEvent(st.bufferEvents[st.head]!);
    const id = event.event.id;
    const h = hashId(id);
    if (st.recentIds.find(id, h) >= 0) {
      st.counts.duplicates++;
      return NONE;
    }
    const t = parseTimeMs(event['@timestamp']);
    if (t > st.maxSeenMs) st.maxSeenMs = t;
    rememberId(st, id, h, t);
    if (t < st.watermarkMs) {
      st.counts.late++;
      if (st.lateFromMs === undefined || st.lateFromMs < 0 || t < st.lateFromMs) st.lateFromMs = t;
      return dispatch(st, event, t, undefined) ?? NONE;
    }
    if (st.bufferEnd === st.bufferTimes.length) makeRoom(st);
    const n = st.bufferEnd!;
    let at = n;
    if (st.head < n && !before(st, n - 1, t, id)) {
      let lo = st.head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (before(st, mid, t, id)) lo = mid + 1;
        else hi = mid;
      }
      const { bufferTimes: times, bufferEvents: events } = st;
      for (let i = n; i > lo; i--) {
        times[i] = times[i - 1]!;
        events[i] = events[i - 1]!;
      }
      at = lo;
    }
    st.bufferTimes[at] = t;
    st.bufferEvents[at] = event;
    st.bufferEnd = n + 1;
    return release(st, st.maxSeenMs - st.options.allowedLatenessSecs * 1000, undefined) ?? NONE;
  },

  /** The injected clock: what is due by `nowMs` once the allowed lateness has been waited out. */
  tick(st: AnalyzerState, nowMs: number): readonly Finding[] {
    if (st.layout !== LAYOUT) upgrade(st);
    const watermark = nowMs - st.options.allowedLatenessSecs * 1000;
    const out = release(st, watermark, undefined);
    return tickDetectors(st, Math.max(watermark, st.watermarkMs), out) ?? NONE;
  },

  /** End of input: release everything, then tick at `nowMs` (default: the latest event time). */
  flush(st: AnalyzerState, nowMs: number = st.maxSeenMs): readonly Finding[] {
    if (st.layout !== LAYOUT) upgrade(st);
    const out = release(st, Math.max(st.maxSeenMs, nowMs), undefined);
    return tickDetectors(st, Math.max(nowMs, st.watermarkMs), out) ?? NONE;
  },

  /**
   * When `tick` next opens a silence gap if no event arrives: the gaps detector's deadline plus
   * the allowed lateness `tick` waits out, on the injected clock (null: none pending). `scope`:
   * only channel gaps, or only network gaps (a state of one scope has no gaps of the other).
   */
  nextDeadline(st: AnalyzerState, scope?: 'channel' | 'network'): number | null {
    const due = nextDeadline(st.gaps, scope);
    return due === null ? null : due + st.options.allowedLatenessSecs * 1000;
  },

  snapshot(st: AnalyzerState): string {
    return snapshotState(analyzer.saved(st));
  },

  /** `scope`: as in `revive`. */
  restore(json: string, scope?: AnalyzerScope): AnalyzerState {
    return analyzer.revive(restoreState<AnalyzerState>(json), scope);
  },

  /**
   * The state as a snapshot holds it, for a caller that saves it inside a larger document (the
   * live analyzer): slots in a canonical order, so the same subjects give the same snapshot however
   * they came, and the recent ids once (the ring; their lookup is rebuilt by `revive`: saving both
   * doubled the largest part of a snapshot, up to dedupMaxIds ids), and of the reorder buffer only
   * the waiting entries.
   */
  saved(st: AnalyzerState): AnalyzerState {
    compactGaps(st.gaps);
    compactSpikes(st.spikes);
    const ix = (st as Indexed)[INDEX];
    if (ix !== undefined) {
      // The gap slots moved.
      ix.gaps = newGapsIndex();
      ix.channels.fill(GAP_CELL, 0);
    }
    const end = st.bufferEnd!;
    return { ...st, recentIds: undefined as unknown as RecentIds, ...ringFromOldest(st), bufferTimes: st.bufferTimes.slice(st.head, end), bufferEvents: st.bufferEvents.slice(st.head, end), head: 0, bufferEnd: undefined };
  },

  /**
   * A state read back from `saved` (or an older layout's snapshot), ready to step. With `scope`,
   * computing that scope's findings only (`scoped`: a snapshot of all, saved before scopes existed,
   * is narrowed).
   */
  revive(st: AnalyzerState, scope?: AnalyzerScope): AnalyzerState {
    // Layouts 1 and 2 saved a Set of the recent ids too (upgrade replaces it); layout 3 only the ring.
    if (st.layout === LAYOUT) {
      st.recentIds = new RecentIds(st.recentOrder, st.recentHead, st.recentCount);
      resizeBuffer(st, 0);
    }
    upgrade(st);
    return scope === undefined ? st : analyzer.scoped(st, scope);
  },
};
