import { ErrorCode, TidewatchError } from '../errors.ts';
import type { ActivityEvent } from '../events/index.ts';
import type { AnalyticsOptions, GapsOptions } from './options.ts';
import { clearProfile, countInProfile, decayPerDay, exposureAt, PROFILE_SIZE, profileFromV1, rollProfile, touchProfile, type Profile, type ProfileV1 } from './profile.ts';
import { channelKey, channelSubject, NONE, type Detector, type Finding, type GapFinding, type Scope } from './types.ts';
import { DAY_MS, HOUR_MS, hourOfDay, isoOf, round2 } from './time.ts';

/**
 * Silence gaps per channel and per network. A network's activity is the union of its channels',
 * so it is silent only when all of them are.
 *
 * Threshold: the subject's hourly rhythm gives an expected number of events for any interval. A
 * silence starting at `s` becomes a gap once the expected count since `s` reaches -ln(alpha), i.e.
 * once seeing nothing would have had probability below alpha for a Poisson process with that
 * rhythm. A channel quiet every night expects ~0 events at night, so its nights never qualify.
 * The rhythm is also tried shifted by up to rhythmShiftHours either way and the longest result
 * kept, so a DST change or an operator in another zone does not turn the edge of the usual lull
 * into a gap. The threshold never goes below floorHours.
 */
interface OpenGap {
  id: string;
  startMs: number;
  baselineHours: number;
  previousLongestHours: number | null;
}

/*
 * A subject (channel or network) is a slot: its numbers at slot * NUMBERS in one Float64Array
 * (first and last activity, events, the threshold cache, the intervals pending for its history,
 * then its profile), its name, interval deque and open gap at the slot in plain arrays. An event's
 * update touches the map lookup and then these arrays only: the detectors are bound by memory
 * access, not arithmetic.
 */
const FIRST = 0;
const LAST = 1;
const EVENTS = 2;
/** Threshold cache: the start it was computed for, and the threshold. */
const THRESHOLD_START = 3;
const THRESHOLD = 4;
/**
 * Up to PENDING intervals not yet remembered in the history deque, pairs (end time, length; 0: none),
 * oldest first, strictly decreasing in length, beside LAST: remembering an interval at every
 * activity reached the deque's array and its storage (a third of the gap detector's time). The
 * deque is what remembering them in order would give; they go there when it is read (a gap is
 * judged, a snapshot) or when they are more than PENDING.
 */
const PENDING_AT = 5;
const PENDING = 3;
const PROFILE = PENDING_AT + PENDING * 2;
const NUMBERS = PROFILE + PROFILE_SIZE;
/** Layout 3's numbers: the same without the pending intervals. */
const PROFILE_V3 = 5;
const NUMBERS_V3 = PROFILE_V3 + PROFILE_SIZE;

export interface GapsState {
  options: GapsOptions;
  homePlatform: string;
  activity: string[];
  decay: number;
  /** Channel key, or network, to its slot. */
  channels: Map<string, number>;
  networks: Map<string, number>;
  /** Per slot: NUMBERS numbers (see above); grown by doubling. */
  numbers: Float64Array;
  /** Per slot: the name findings give (handle, else id; the network). */
  names: string[];
  /**
   * Per slot: the monotonic deque of long intervals, longest first (max over a sliding window),
   * pairs (end time, length) side by side.
   */
  history: number[][];
  open: (OpenGap | null)[];
  /** Slots handed out; `free` are those of channels gone since (reused first). */
  slots: number;
  free: number[];
  /**
   * Only the subjects of one scope (the live analyzer's stages, analyzer.ts `AnalyzerScope`): 'channel' keeps
   * no networks, 'network' no channels. Absent: both.
   */
  scope?: Scope;
  /** LAYOUT; absent in state saved before the flat profiles (the analyzer's and the status core's snapshots). */
  layout?: number;
}

const LAYOUT = 4;

/** A subject as saved in layouts 1 and 2, one object per subject. */
interface GapSubjectV2 {
  subject: string;
  firstMs: number;
  lastMs: number;
  events: number;
  thresholdStartMs: number;
  thresholdMs: number;
  open: OpenGap | null;
  /** Layout 2: the profile as a flat array, the deque as pairs in one array. */
  profile: Profile | ProfileV1;
  history?: number[];
  /** Layout 1: the profile as an object of arrays, the deque as two arrays. */
  historyEnd?: number[];
  historyMs?: number[];
}

/** Empty slots for `count` subjects (a state of `count` slots handed out, none free). */
function allocate(st: GapsState, count: number): void {
  st.numbers = new Float64Array(count * NUMBERS);
  st.names = [];
  st.history = [];
  st.open = [];
  st.slots = count;
  st.free = [];
}

/** Brings state saved in an earlier layout to this one, in place (a no-op on the current layout). */
function upgrade(st: GapsState): void {
  if (st.layout === LAYOUT) return;
  if (st.layout !== undefined && st.layout > LAYOUT) {
    // Saved by a newer version: guessing its shape could only give wrong findings.
    throw new TidewatchError(ErrorCode.INPUT_UNSUPPORTED, `gaps state: snapshot layout ${st.layout} is newer than this version reads (1 to ${LAYOUT})`, { details: { layout: st.layout } });
  }
  if (st.layout === 3) {
    // Layout 3: the same slots, none with pending intervals.
    const old = st.numbers;
    st.numbers = new Float64Array((old.length / NUMBERS_V3) * NUMBERS);
    for (let i = 0; i < old.length / NUMBERS_V3; i++) {
      st.numbers.set(old.subarray(i * NUMBERS_V3, i * NUMBERS_V3 + PROFILE_V3), i * NUMBERS);
      st.numbers.set(old.subarray(i * NUMBERS_V3 + PROFILE_V3, (i + 1) * NUMBERS_V3), i * NUMBERS + PROFILE);
    }
    st.layout = LAYOUT;
    return;
  }
  const maps = [st.channels, st.networks] as unknown as Map<string, GapSubjectV2 | number>[];
  allocate(st, maps[0]!.size + maps[1]!.size);
  let i = 0;
  // Slots in map order: the order compact() gives, so an upgraded state snapshots as a fresh one.
  for (const map of maps) {
    for (const [key, s] of map as Map<string, GapSubjectV2>) {
      const n = st.numbers;
      const o = i * NUMBERS;
      n[o + FIRST] = s.firstMs;
      n[o + LAST] = s.lastMs;
      n[o + EVENTS] = s.events;
      n[o + THRESHOLD_START] = s.thresholdStartMs;
      n[o + THRESHOLD] = s.thresholdMs;
      if (Array.isArray(s.profile)) n.set(s.profile, o + PROFILE);
      else profileFromV1(s.profile, n, o + PROFILE);
      let history = s.history;
      if (history === undefined) {
        history = [];
        for (let k = 0; k < s.historyEnd!.length; k++) history.push(s.historyEnd![k]!, s.historyMs![k]!);
      }
      st.names[i] = s.subject;
      st.history[i] = history;
      st.open[i] = s.open;
      map.set(key, i++);
    }
  }
  st.layout = LAYOUT;
}

/**
 * Renumbers the slots in map order (channels, then networks), with no spare capacity: the state
 * then depends on the subjects alone, not on the order they came and went in, so a snapshot is
 * the same whether the state ran uninterrupted or was upgraded from an earlier layout on the way.
 */
export function compactGaps(st: GapsState): void {
  upgrade(st);
  for (const map of [st.channels, st.networks]) for (const i of map.values()) flushPending(st, i, PENDING);
  const { numbers, names, history, open } = st;
  allocate(st, st.channels.size + st.networks.size);
  let i = 0;
  for (const map of [st.channels, st.networks]) {
    for (const [key, from] of map) {
      st.numbers.set(numbers.subarray(from * NUMBERS, (from + 1) * NUMBERS), i * NUMBERS);
      st.names[i] = names[from]!;
      st.history[i] = history[from]!;
      st.open[i] = open[from]!;
      map.set(key, i++);
    }
  }
}

/** A new subject's slot, emptied. */
function newSlot(st: GapsState, name: string): number {
  let i = st.free.pop();
  if (i === undefined) {
    i = st.slots++;
    if (st.slots * NUMBERS > st.numbers.length) {
      const grown = new Float64Array(Math.max(16, st.slots * 2) * NUMBERS);
      grown.set(st.numbers);
      st.numbers = grown;
    }
  }
  const n = st.numbers;
  const o = i * NUMBERS;
  n[o + FIRST] = -1;
  n[o + LAST] = -1;
  n[o + EVENTS] = 0;
  n[o + THRESHOLD_START] = -1;
  n[o + THRESHOLD] = 0;
  n.fill(0, o + PENDING_AT, o + PROFILE);
  clearProfile(n, o + PROFILE);
  st.names[i] = name;
  st.history[i] = [];
  st.open[i] = null;
  return i;
}

/** A channel gone: its slot is free for the next new subject. */
function freeSlot(st: GapsState, i: number): void {
  st.names[i] = '';
  st.history[i] = [];
  st.open[i] = null;
  st.free.push(i);
}

/** Intervals shorter than this are not remembered: they can never be the precedent of a gap. */
const MIN_HISTORY_MS = HOUR_MS;

/**
 * Time from `start` until the expected count under the (shifted) rhythm reaches `target` (the
 * profile at `p` of `n`); once that is known to be at least `capMs`, a time of at least `capMs`.
 */
function msToExpect(n: Float64Array, p: number, exposure: number, start: number, shift: number, target: number, capMs: number): number {
  let acc = 0;
  let t = start;
  // Two days hour by hour follow the rhythm; beyond that every day adds the daily total.
  for (let i = 0; i < 48; i++) {
    if (t - start >= capMs) return t - start;
    const hourEnd = (Math.floor(t / HOUR_MS) + 1) * HOUR_MS;
    const rate = n[p + ((hourOfDay(t) - shift + 24) % 24)]! / exposure;
    const expect = (rate * (hourEnd - t)) / HOUR_MS;
    if (expect >= target - acc) return t + ((target - acc) / rate) * HOUR_MS - start;
    acc += expect;
    t = hourEnd;
  }
  let daily = 0;
  for (let h = 0; h < 24; h++) daily += n[p + h]!;
  daily /= exposure;
  return daily > 0 ? t - start + ((target - acc) / daily) * DAY_MS : Number.MAX_VALUE;
}

/**
 * Time after the last activity until seeing nothing has probability below `alpha`, under any
 * tolerated shift of the rhythm; once that is known to be at least `capMs`, a time of at least `capMs`.
 */
function rhythmMs(st: GapsState, i: number, alpha: number, capMs = Infinity): number {
  const n = st.numbers;
  const o = i * NUMBERS;
  const last = n[o + LAST]!;
  const exposure = exposureAt(n, o + PROFILE, last);
  const target = -Math.log(alpha);
  let worst = 0;
  for (let shift = -st.options.rhythmShiftHours; shift <= st.options.rhythmShiftHours; shift++) {
    worst = Math.max(worst, msToExpect(n, o + PROFILE, exposure, last, shift, target, capMs));
    if (worst >= capMs) return worst;
  }
  return worst;
}

function thresholdMs(st: GapsState, i: number): number {
  const n = st.numbers;
  const o = i * NUMBERS;
  if (n[o + THRESHOLD_START] === n[o + LAST]) return n[o + THRESHOLD]!;
  n[o + THRESHOLD_START] = n[o + LAST]!;
  n[o + THRESHOLD] = Math.max(st.options.floorHours * HOUR_MS, rhythmMs(st, i, st.options.alpha));
  return n[o + THRESHOLD]!;
}

function warmedUp(st: GapsState, i: number): boolean {
  const n = st.numbers;
  const o = i * NUMBERS;
  return n[o + EVENTS]! >= st.options.warmupEvents && n[o + LAST]! - n[o + FIRST]! >= st.options.warmupDays * DAY_MS;
}

/**
 * A channel's silence thresholds after its last activity, so the watch-list status judges silence
 * with this one cadence model: `gapMs` is exactly the gap threshold (floor included), `unlikelyMs`
 * the rhythm alone at probability `alpha`. null for a channel never active or not warmed up,
 * which the gap detector does not judge either.
 */
export function channelSilence(st: GapsState, key: string, alpha: number): { lastMs: number; gapMs: number; unlikelyMs: number } | null {
  upgrade(st);
  const i = st.channels.get(key);
  if (i === undefined) return null;
  const lastMs = st.numbers[i * NUMBERS + LAST]!;
  if (lastMs < 0 || !warmedUp(st, i)) return null;
  return { lastMs, gapMs: thresholdMs(st, i), unlikelyMs: rhythmMs(st, i, alpha) };
}

function longestSince(st: GapsState, i: number, cutoffMs: number): number | null {
  flushPending(st, i, PENDING);
  const h = st.history[i]!;
  let drop = 0;
  while (drop < h.length && h[drop]! < cutoffMs) drop += 2;
  if (drop > 0) h.splice(0, drop);
  return h.length ? h[1]! : null;
}

/**
 * The interval of `lengthMs` ending at `endMs` joins slot i's pending intervals. Remembering a
 * longer interval right after a shorter one drops the shorter (and whatever it dropped) from the
 * deque, cap or not: a pending interval no longer than the new one is dropped unseen.
 */
function remember(st: GapsState, i: number, endMs: number, lengthMs: number): void {
  if (lengthMs < MIN_HISTORY_MS) return;
  const n = st.numbers;
  const p = i * NUMBERS + PENDING_AT;
  let k = 0;
  while (k < PENDING && n[p + k * 2 + 1]! > lengthMs) k++;
  if (k === PENDING) {
    flushPending(st, i, 1);
    k = PENDING - 1;
  }
  n[p + k * 2] = endMs;
  n[p + k * 2 + 1] = lengthMs;
  if (k + 1 < PENDING) n[p + (k + 1) * 2 + 1] = 0;
}

/** Slot i's first `count` pending intervals remembered in its deque, in order; the rest move up. */
function flushPending(st: GapsState, i: number, count: number): void {
  const n = st.numbers;
  const p = i * NUMBERS + PENDING_AT;
  let k = 0;
  for (; k < count && n[p + k * 2 + 1]! > 0; k++) rememberInDeque(st.history[i]!, n[p + k * 2]!, n[p + k * 2 + 1]!, st.options.historyEntries);
  if (k === 0) return;
  for (let j = 0; j < PENDING; j++) {
    n[p + j * 2] = j + k < PENDING ? n[p + (j + k) * 2]! : 0;
    n[p + j * 2 + 1] = j + k < PENDING ? n[p + (j + k) * 2 + 1]! : 0;
  }
}

function rememberInDeque(h: number[], endMs: number, lengthMs: number, cap: number): void {
  // An older interval no longer than a newer one can never again be the longest in the window.
  let n = h.length;
  while (n > 0 && h[n - 1]! <= lengthMs) n -= 2;
  if (n < cap * 2) {
    // Written over the dropped ones: truncating to 0 then pushing would free the array's storage
    // and allocate it again, and setting the length is a runtime call even when it does not change.
    h[n] = endMs;
    h[n + 1] = lengthMs;
    if (n + 2 < h.length) h.length = n + 2;
  } else if (n < h.length) {
    h.length = n; // full: the newest is not kept
  }
}

function finding(st: GapsState, i: number, scope: Scope, open: OpenGap, endMs: number | null, nowMs: number): GapFinding {
  const hours = round2((nowMs - open.startMs) / HOUR_MS);
  return {
    type: 'gap', id: open.id, scope, subject: st.names[i]!,
    start: isoOf(open.startMs), end: endMs === null ? null : isoOf(endMs),
    hours, baselineHours: open.baselineHours,
    unprecedented: open.previousLongestHours === null || hours > open.previousLongestHours,
    previousLongestHours: open.previousLongestHours,
  };
}

/** The silence since the subject's last activity, as an open gap if it is one by `nowMs`. */
function judge(st: GapsState, i: number, scope: Scope, key: string, nowMs: number): OpenGap | null {
  const o = st.options;
  const n = st.numbers;
  const last = n[i * NUMBERS + LAST]!;
  if (last < 0 || nowMs - last < o.floorHours * HOUR_MS || !warmedUp(st, i)) return null;
  // Most silences judged are shorter than the threshold (an activity ends them): the rhythm is
  // followed only as far as the silence, and the threshold computed (and cached) only for a gap.
  if (n[i * NUMBERS + THRESHOLD_START] !== last && rhythmMs(st, i, o.alpha, nowMs - last) >= nowMs - last) return null;
  const threshold = thresholdMs(st, i);
  if (nowMs - last <= threshold) return null;
  const previous = longestSince(st, i, last - o.lookbackDays * DAY_MS);
  return {
    id: `gap:${scope}:${key}:${isoOf(last)}`,
    startMs: last,
    baselineHours: round2(threshold / HOUR_MS),
    previousLongestHours: previous === null ? null : round2(previous / HOUR_MS),
  };
}

/** Activity (or the channel's end) at `t`: closes the silence before it, returned if it was a gap. */
function endSilence(st: GapsState, i: number, scope: Scope, key: string, t: number): GapFinding | null {
  const open = st.open[i] ?? judge(st, i, scope, key, t);
  st.open[i] = null;
  const last = st.numbers[i * NUMBERS + LAST]!;
  if (last >= 0) remember(st, i, t, t - last);
  return open ? finding(st, i, scope, open, t, t) : null;
}

function observe(st: GapsState, i: number, scope: Scope, key: string, t: number): GapFinding | null {
  const n = st.numbers;
  const o = i * NUMBERS;
  const last = n[o + LAST]!;
  // Late or duplicate activity says nothing about a silence already behind us.
  if (t <= last) return null;
  // Intervals shorter than both an hour and the floor can neither be a gap nor its precedent.
  const minMs = Math.min(MIN_HISTORY_MS, st.options.floorHours * HOUR_MS);
  const gap = last >= 0 && (st.open[i] !== null || t - last >= minMs) ? endSilence(st, i, scope, key, t) : null;
  if (n[o + FIRST]! < 0) n[o + FIRST] = t;
  rollProfile(n, o + PROFILE, t, st.decay);
  countInProfile(n, o + PROFILE, t, 1);
  n[o + LAST] = t;
  n[o + EVENTS]!++;
  return gap;
}

function slotOf(st: GapsState, map: Map<string, number>, key: string, name: string): number {
  let i = map.get(key);
  if (i === undefined) {
    i = newSlot(st, name);
    map.set(key, i);
  } else if (st.names[i] !== name) {
    st.names[i] = name;
  }
  return i;
}

/** A channel that is gone is not silent: its last silence ends at `t` and it is no longer watched. */
function channelGone(st: GapsState, key: string, i: number, t: number): readonly Finding[] {
  st.channels.delete(key);
  const gap = t > st.numbers[i * NUMBERS + LAST]! ? endSilence(st, i, 'channel', key, t) : null;
  freeSlot(st, i);
  return gap ? [gap] : NONE;
}

/** Activity of channel slot `c` and network slot `n` (-1: none) at `t`. */
function activity(st: GapsState, key: string, c: number, network: string | undefined, n: number, t: number): readonly Finding[] {
  const channelGap = c < 0 ? null : observe(st, c, 'channel', key, t);
  const networkGap = n < 0 ? null : observe(st, n, 'network', network!, t);
  if (channelGap === null && networkGap === null) return NONE;
  return [channelGap, networkGap].filter((g): g is GapFinding => g !== null);
}

/**
 * The analyzer's shortcut to slots: slot + 1 by its dense network id (0: not looked up yet); a
 * channel's is in a cell the analyzer keeps beside its other numbers for that channel (one memory
 * access for all). Not part of the state: filled as subjects are met, so it needs no snapshot or
 * upgrade.
 */
export interface GapsIndex {
  networks: Int32Array;
}

export const newGapsIndex = (): GapsIndex => ({ networks: new Int32Array(64) });

/** `a` with room for index `id` (doubled as needed). */
function withRoom(a: Int32Array, id: number): Int32Array {
  if (id < a.length) return a;
  let length = a.length * 2;
  while (length <= id) length *= 2;
  const grown = new Int32Array(length);
  grown.set(a);
  return grown;
}

/** The slot of network `network`, dense id `n`, through the index. */
function networkSlot(st: GapsState, ix: GapsIndex, network: string, n: number): number {
  if (n >= ix.networks.length) ix.networks = withRoom(ix.networks, n);
  let j = ix.networks[n]! - 1;
  if (j < 0) ix.networks[n] = (j = slotOf(st, st.networks, network, network)) + 1;
  return j;
}

/**
 * `step` for an event the analyzer has resolved already: `key` its channel key, `cells[cell]` the
 * channel's slot + 1 (0: not looked up yet), `n` the dense id of its network (-1: none, or a state
 * of channel scope), the same findings as `step`. Not for a state of network scope (`stepNetwork`).
 */
export function stepIndexed(st: GapsState, ix: GapsIndex, event: ActivityEvent, t: number, key: string, cells: Int32Array, cell: number, network: string | undefined, n: number): readonly Finding[] {
  if (st.layout !== LAYOUT) upgrade(st);
  const action = event.event.action;
  if (action === 'channel_banned' || action === 'channel_deleted') {
    const i = cells[cell]! - 1;
    if (i < 0) {
      const slot = st.channels.get(key);
      return slot === undefined ? NONE : channelGone(st, key, slot, t);
    }
    cells[cell] = 0;
    return channelGone(st, key, i, t);
  }
  if (!st.activity.includes(action)) return NONE;
  const name = channelSubject(event);
  let i = cells[cell]! - 1;
  if (i < 0) cells[cell] = (i = slotOf(st, st.channels, key, name)) + 1;
  else if (st.names[i] !== name) st.names[i] = name;
  return activity(st, key, i, network, n < 0 ? -1 : networkSlot(st, ix, network!, n), t);
}

/**
 * `step` of a state of network scope for an event the analyzer has resolved already: `n` the
 * dense id of its network (-1: none). The channel is not a subject here, nor is its end.
 */
export function stepNetwork(st: GapsState, ix: GapsIndex, event: ActivityEvent, t: number, network: string | undefined, n: number): readonly Finding[] {
  if (st.layout !== LAYOUT) upgrade(st);
  if (n < 0 || !st.activity.includes(event.event.action)) return NONE;
  const gap = observe(st, networkSlot(st, ix, network!, n), 'network', network!, t);
  return gap === null ? NONE : [gap];
}

/**
 * Keeps the subjects of `scope` only (a state of both, saved before scopes existed, restored for
 * one stage): as if it had only ever had those.
 */
export function narrowGaps(st: GapsState, scope: Scope): void {
  if (scope === 'channel') st.networks = new Map();
  else st.channels = new Map();
  st.scope = scope;
  compactGaps(st);
}

/** The numbers of slot i that an activity at `t` reads first, loaded together (see the analyzer's prefetch). */
export function touchGaps(st: GapsState, i: number, t: number): number {
  const o = i * NUMBERS;
  return st.numbers[o + LAST]! + touchProfile(st.numbers, o + PROFILE, t);
}

/**
 * The earliest time a tick opens a gap if nothing arrives meanwhile: the first millisecond past
 * `lastMs + threshold` of a warmed-up subject with no open gap (channels, networks, or both when
 * no scope is given). null when none is pending. Reads each subject's last and first activity,
 * events, open gap and its threshold (cached per last activity, which it may fill); the live
 * analyzer ticks then, not a tick later.
 */
export function nextDeadline(st: GapsState, scope?: Scope): number | null {
  upgrade(st);
  let earliest: number | null = null;
  for (const map of scope === 'channel' ? [st.channels] : scope === 'network' ? [st.networks] : [st.channels, st.networks]) {
    for (const i of map.values()) {
      if (st.open[i] !== null || st.numbers[i * NUMBERS + LAST]! < 0 || !warmedUp(st, i)) continue;
      const due = Math.floor(st.numbers[i * NUMBERS + LAST]! + thresholdMs(st, i)) + 1;
      if (Number.isFinite(due) && (earliest === null || due < earliest)) earliest = due;
    }
  }
  return earliest;
}

export const gapsDetector: Detector<GapsState> = {
  name: 'gaps',

  init(options: AnalyticsOptions): GapsState {
    const st = {
      options: options.gaps, homePlatform: options.homePlatform, activity: options.activityActions,
      decay: decayPerDay(options.gaps.profileHalfLifeDays), channels: new Map(), networks: new Map(), layout: LAYOUT,
    } as Omit<GapsState, 'numbers' | 'names' | 'history' | 'open' | 'slots' | 'free'> as GapsState;
    allocate(st, 0);
    return st;
  },

  step(st, event: ActivityEvent, t) {
    if (st.layout !== LAYOUT) upgrade(st);
    const action = event.event.action;
    const scope = st.scope;
    if (action === 'channel_banned' || action === 'channel_deleted') {
      if (scope === 'network') return NONE;
      const key = channelKey(event, st.homePlatform);
      const i = st.channels.get(key);
      return i === undefined ? NONE : channelGone(st, key, i, t);
    }
    if (!st.activity.includes(action)) return NONE;
    const key = channelKey(event, st.homePlatform);
    const network = event.channel.network;
    const c = scope === 'network' ? -1 : slotOf(st, st.channels, key, channelSubject(event));
    return activity(st, key, c, network, network === undefined || scope === 'channel' ? -1 : slotOf(st, st.networks, network, network), t);
  },

  tick(st, nowMs) {
    upgrade(st);
    const out: Finding[] = [];
    // forEach, not for-of: an entry array per subject and tick was a tenth of the core's garbage.
    const tickSubject = (scope: Scope) => (i: number, key: string): void => {
      if (st.numbers[i * NUMBERS + LAST]! >= nowMs) return;
      const open = (st.open[i] ??= judge(st, i, scope, key, nowMs));
      if (open) out.push(finding(st, i, scope, open, null, nowMs));
    };
    st.channels.forEach(tickSubject('channel'));
    st.networks.forEach(tickSubject('network'));
    return out;
  },
};
