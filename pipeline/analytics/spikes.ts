import type { ActivityEvent } from '../events/index.ts';
import type { AnalyticsOptions, SpikesOptions } from './options.ts';
import { poissonCriticalCount, poissonUpperTail } from './poisson.ts';
import { clearProfile, countInProfile, decayPerDay, exposureAt, PROFILE_SIZE, profileFromV1, rollProfile, touchProfile, WEEKDAYS, type Profile, type ProfileV1 } from './profile.ts';
import { channelKey, channelSubject, NONE, type Detector, type Finding, type Scope, type SpikeFinding } from './types.ts';
import { DAY_MS, dayOfWeek, HOUR_MS, hourOfDay, isoOf, round2 } from './time.ts';

/**
 * Activity spikes per channel and per network, and bursts of channel creation (per network and
 * across all channels), in whole UTC hours.
 *
 * Method: the expected count of an hour is the subject's decayed rate for that hour of day times
 * a weekday factor; the hour is a spike when its count is at least minCount and its Poisson upper
 * tail P(X >= count | expected) is at most alpha. The hour-of-day rate is the highest among the
 * hours within rhythmShiftHours (a busy hour moved by DST is not a spike). The weekday factor is
 * the weekday's share of activity relative to the mean, shrunk halfway towards 1 because each
 * weekday has seven times fewer observations than each hour of day. Consecutive spiking hours
 * form one spike. The critical count is computed only once an hour reaches minCount, so the cost
 * per event is a counter increment.
 */
interface SpikeRun {
  id: string;
  startHour: number;
  lastHour: number;
  count: number;
  expected: number;
}

type SpikeScope = SpikeFinding['scope'];

/*
 * A subject (channel, network, or creations per network or "all") is a slot, handed out in
 * creation order (the order `tick` reports in): its numbers at slot * NUMBERS in one
 * Float64Array, its name and current run at the slot in plain arrays. The detectors are bound by
 * memory access: an event's update touches these arrays, no object per subject.
 */
const FIRST = 0;
/** Current hour (index since the epoch) and its count; the profile gets it when the hour ends. */
const HOUR = 1;
const COUNT = 2;
/** -1 until the count reaches minCount; 0 when the subject cannot be judged yet. */
const CRITICAL = 3;
const EXPECTED = 4;
const PROFILE = 5;
const NUMBERS = PROFILE + PROFILE_SIZE;

export interface SpikesState {
  options: SpikesOptions;
  homePlatform: string;
  activity: string[];
  decay: number;
  /** One map per scope, keyed by channel key, network or "all", to the subject's slot. */
  channels: Map<string, number>;
  networks: Map<string, number>;
  creation: Map<string, number>;
  /** Per slot: NUMBERS numbers (see above); grown by doubling. */
  numbers: Float64Array;
  names: string[];
  runs: (SpikeRun | null)[];
  /** Slots handed out. */
  slots: number;
  /**
   * Only the subjects of one scope (the live analyzer's stages): 'channel' keeps channels alone,
   * 'network' networks and creations. Absent: all.
   */
  scope?: Scope;
}

/** A subject of analyzer layouts 1 and 2: one object, its profile an object of arrays (1) or a flat array (2). */
interface SpikeSubjectV2 {
  scope: SpikeScope;
  subject: string;
  profile: Profile | ProfileV1;
  firstMs: number;
  hour: number;
  count: number;
  critical: number;
  expected: number;
  run: SpikeRun | null;
}

/** The state of analyzer layout 2: a map per scope, keyed as now, to subject objects (their `seq` the creation order). */
export interface SpikesStateV2 {
  options: SpikesOptions;
  homePlatform: string;
  activity: string[];
  decay: number;
  channels: Map<string, SpikeSubjectV2 & { seq: number }>;
  networks: Map<string, SpikeSubjectV2 & { seq: number }>;
  creation: Map<string, SpikeSubjectV2 & { seq: number }>;
}

/** The state of analyzer layout 1: one map keyed "<scope>:<key>", in creation order. */
export interface SpikesStateV1 {
  options: SpikesOptions;
  homePlatform: string;
  activity: string[];
  decay: number;
  subjects: Map<string, SpikeSubjectV2>;
}

const ALL = 'all';

function emptyState(old: Pick<SpikesState, 'options' | 'homePlatform' | 'activity' | 'decay'>, capacity: number): SpikesState {
  return {
    options: old.options, homePlatform: old.homePlatform, activity: old.activity, decay: old.decay,
    channels: new Map(), networks: new Map(), creation: new Map(), numbers: new Float64Array(capacity * NUMBERS), names: [], runs: [], slots: 0,
  };
}

function mapOf(st: SpikesState, scope: SpikeScope): Map<string, number> {
  return scope === 'channel' ? st.channels : scope === 'network' ? st.networks : st.creation;
}

/** Adds an old subject object as the next slot. */
function fromV2(st: SpikesState, key: string, s: SpikeSubjectV2): void {
  const i = st.slots++;
  const n = st.numbers;
  const o = i * NUMBERS;
  n[o + FIRST] = s.firstMs;
  n[o + HOUR] = s.hour;
  n[o + COUNT] = s.count;
  n[o + CRITICAL] = s.critical;
  n[o + EXPECTED] = s.expected;
  if (Array.isArray(s.profile)) n.set(s.profile, o + PROFILE);
  else profileFromV1(s.profile, n, o + PROFILE);
  st.names[i] = s.subject;
  st.runs[i] = s.run;
  mapOf(st, s.scope).set(key, i);
}

/** Moves a state of analyzer layout 1 to slots, keeping the creation order. */
export function upgradeSpikesState(old: SpikesStateV1): SpikesState {
  const st = emptyState(old, old.subjects.size);
  for (const [key, s] of old.subjects) fromV2(st, key.slice(s.scope.length + 1), s);
  return st;
}

/** Moves a state of analyzer layout 2 to slots, in the creation order its `seq` numbers give. */
export function upgradeSpikesStateV2(old: SpikesStateV2): SpikesState {
  const subjects = [...old.channels, ...old.networks, ...old.creation].sort((a, b) => a[1].seq - b[1].seq);
  const st = emptyState(old, subjects.length);
  for (const [key, s] of subjects) fromV2(st, key, s);
  return st;
}

/** Drops the spare capacity, so a snapshot depends on the subjects alone (as one upgraded from an earlier layout). */
export function compactSpikes(st: SpikesState): void {
  if (st.numbers.length > st.slots * NUMBERS) st.numbers = st.numbers.slice(0, st.slots * NUMBERS);
}

function expectedCount(n: Float64Array, p: number, hourStartMs: number, o: SpikesOptions): number {
  const exposure = exposureAt(n, p, hourStartMs);
  if (exposure <= 0) return o.minExpectedPerHour;
  const h = hourOfDay(hourStartMs);
  let hourly = 0;
  for (let shift = -o.rhythmShiftHours; shift <= o.rhythmShiftHours; shift++) {
    hourly = Math.max(hourly, n[p + ((h + shift + 24) % 24)]!);
  }
  let week = 0;
  for (let d = 0; d < 7; d++) week += n[p + WEEKDAYS + d]!;
  const mean = week / 7;
  const weekday = mean > 0 ? (n[p + WEEKDAYS + dayOfWeek(hourStartMs)]! + mean) / (2 * mean) : 1;
  return Math.max(o.minExpectedPerHour, (hourly / exposure) * weekday);
}

function finding(st: SpikesState, i: number, scope: SpikeScope, key: string): SpikeFinding {
  const n = st.numbers;
  const o = i * NUMBERS;
  const hour = n[o + HOUR]!;
  const run = st.runs[i] as SpikeRun | null;
  const continues = run !== null && run.lastHour === hour - 1;
  const startHour = continues ? run.startHour : hour;
  const count = (continues ? run.count : 0) + n[o + COUNT]!;
  const expected = (continues ? run.expected : 0) + n[o + EXPECTED]!;
  return {
    type: 'spike', id: continues ? run.id : `spike:${scope}:${key}:${isoOf(startHour * HOUR_MS)}`,
    scope, subject: st.names[i]!, start: isoOf(startHour * HOUR_MS), end: isoOf((hour + 1) * HOUR_MS),
    count, expected: round2(expected), pValue: poissonUpperTail(n[o + COUNT]!, n[o + EXPECTED]!),
  };
}

const spiking = (n: Float64Array, o: number): boolean => n[o + CRITICAL]! > 0 && n[o + COUNT]! >= n[o + CRITICAL]!;

/** End the current hour: its final spike finding (if it is one), and its count into the profile. */
function closeHour(st: SpikesState, i: number, scope: SpikeScope, key: string): SpikeFinding | null {
  const n = st.numbers;
  const o = i * NUMBERS;
  const hour = n[o + HOUR]!;
  const count = n[o + COUNT]!;
  let out: SpikeFinding | null = null;
  if (spiking(n, o)) {
    out = finding(st, i, scope, key);
    const run = st.runs[i] as SpikeRun | null;
    if (run !== null && run.lastHour === hour - 1) {
      run.lastHour = hour;
      run.count = out.count;
      run.expected += n[o + EXPECTED]!;
    } else {
      st.runs[i] = { id: out.id, startHour: hour, lastHour: hour, count, expected: n[o + EXPECTED]! };
    }
  }
  if (count > 0) {
    const start = hour * HOUR_MS;
    rollProfile(n, o + PROFILE, start, st.decay);
    countInProfile(n, o + PROFILE, start, count);
  }
  return out;
}

/** The slot of `key` in the scope's map, a new subject first seen at `t` if none. */
function slotIn(st: SpikesState, map: Map<string, number>, key: string, name: string, t: number): number {
  let i = map.get(key);
  if (i === undefined) {
    i = st.slots++;
    if (st.slots * NUMBERS > st.numbers.length) {
      const grown = new Float64Array(Math.max(16, st.slots * 2) * NUMBERS);
      grown.set(st.numbers);
      st.numbers = grown;
    }
    const n = st.numbers;
    const o = i * NUMBERS;
    n[o + FIRST] = t;
    n[o + HOUR] = -1;
    n[o + COUNT] = 0;
    n[o + CRITICAL] = -1;
    n[o + EXPECTED] = 0;
    clearProfile(n, o + PROFILE);
    st.names[i] = name;
    st.runs[i] = null;
    map.set(key, i);
  }
  return i;
}

/** Count the event in its subject's hour; findings go to `out`, allocated only when there is one. */
function observe(st: SpikesState, i: number, scope: SpikeScope, key: string, t: number, minCount: number, out: Finding[] | undefined): Finding[] | undefined {
  const n = st.numbers;
  const o = i * NUMBERS;
  const hour = Math.floor(t / HOUR_MS);
  if (hour < n[o + HOUR]!) return out; // late: that hour has been judged already
  if (hour > n[o + HOUR]!) {
    const closed = n[o + HOUR]! >= 0 ? closeHour(st, i, scope, key) : null;
    if (closed) (out ??= []).push(closed);
    n[o + HOUR] = hour;
    n[o + COUNT] = 0;
    n[o + CRITICAL] = -1;
  }
  const count = ++n[o + COUNT]!;
  if (count === minCount && n[o + CRITICAL]! < 0) {
    const opts = st.options;
    const start = hour * HOUR_MS;
    rollProfile(n, o + PROFILE, start, st.decay);
    const warm = start - n[o + FIRST]! >= opts.warmupDays * DAY_MS;
    n[o + EXPECTED] = warm ? expectedCount(n, o + PROFILE, start, opts) : 0;
    n[o + CRITICAL] = warm ? Math.max(minCount, poissonCriticalCount(n[o + EXPECTED]!, opts.alpha)) : 0;
    if (spiking(n, o)) (out ??= []).push(finding(st, i, scope, key));
  } else if (count === n[o + CRITICAL]!) {
    (out ??= []).push(finding(st, i, scope, key));
  }
  return out;
}

/**
 * The analyzer's shortcut to slots: slot + 1 by its dense network id (0 or absent: not looked up
 * yet); a channel's is in a cell the analyzer keeps beside its other numbers for that channel. Not
 * part of the state: filled as subjects are met (slots never move), so it needs no snapshot or
 * upgrade.
 */
export interface SpikesIndex {
  networks: number[];
}

export const newSpikesIndex = (): SpikesIndex => ({ networks: [] });

/** Activity of network `network`, dense id `n`, at `t`, its slot found through the index. */
function observeNetwork(st: SpikesState, ix: SpikesIndex, network: string, n: number, t: number, out: Finding[] | undefined): Finding[] | undefined {
  let j = (ix.networks[n] ?? 0) - 1;
  if (j < 0) ix.networks[n] = (j = slotIn(st, st.networks, network, network, t)) + 1;
  return observe(st, j, 'network', network, t, st.options.minCount, out);
}

/**
 * `step` for activity the analyzer has resolved already: `key` its channel key, `cells[cell]` the
 * channel's slot + 1 (0: not looked up yet), `n` the dense id of its network (-1: none, or a state
 * of channel scope), the same findings as `step`. Not for a state of network scope (`activityNetwork`).
 */
export function activityIndexed(st: SpikesState, ix: SpikesIndex, event: ActivityEvent, t: number, key: string, cells: Int32Array, cell: number, network: string | undefined, n: number): readonly Finding[] {
  let i = cells[cell]! - 1;
  if (i < 0) cells[cell] = (i = slotIn(st, st.channels, key, channelSubject(event), t)) + 1;
  const out = observe(st, i, 'channel', key, t, st.options.minCount, undefined);
  return (n >= 0 ? observeNetwork(st, ix, network!, n, t, out) : out) ?? NONE;
}

/** `activityIndexed` of a state of network scope: `n` the dense id of the network (-1: none); the channel is not a subject. */
export function activityNetwork(st: SpikesState, ix: SpikesIndex, t: number, network: string | undefined, n: number): readonly Finding[] {
  return (n >= 0 ? observeNetwork(st, ix, network!, n, t, undefined) : undefined) ?? NONE;
}

/**
 * Keeps the subjects of `scope` only (a state of all, saved before scopes existed, restored for
 * one stage), in their slots' order: as if it had only ever had those.
 */
export function narrowSpikes(st: SpikesState, scope: Scope): SpikesState {
  const maps = scope === 'channel' ? [st.channels] : [st.networks, st.creation];
  const kept: [Map<string, number>, string, number][] = [];
  for (const map of maps) map.forEach((i, key) => void kept.push([map, key, i]));
  kept.sort((a, b) => a[2] - b[2]);
  const out = emptyState(st, kept.length);
  out.scope = scope;
  for (const [map, key, from] of kept) {
    const i = out.slots++;
    out.numbers.set(st.numbers.subarray(from * NUMBERS, (from + 1) * NUMBERS), i * NUMBERS);
    out.names[i] = st.names[from]!;
    out.runs[i] = st.runs[from]!;
    (map === st.channels ? out.channels : map === st.networks ? out.networks : out.creation).set(key, i);
  }
  return out;
}

/**
 * The numbers of slot i that an activity reads first, loaded together (see the analyzer's
 * prefetch): its hour, and the profile numbers that closing that hour reads (posts mostly fall in a
 * later hour than their channel's previous one).
 */
export function touchSpikes(st: SpikesState, i: number): number {
  const o = i * NUMBERS;
  const hour = st.numbers[o + HOUR]!;
  return hour + touchProfile(st.numbers, o + PROFILE, Math.max(0, hour) * HOUR_MS);
}

function closeHours(st: SpikesState, map: Map<string, number>, scope: SpikeScope, hour: number, out: [number, SpikeFinding][]): void {
  const n = st.numbers;
  // forEach, not for-of: no entry array per subject.
  map.forEach((i, key) => {
    const o = i * NUMBERS;
    if (n[o + HOUR]! < 0 || n[o + HOUR]! >= hour) return;
    const closed = closeHour(st, i, scope, key);
    if (closed) out.push([i, closed]);
    n[o + HOUR] = hour;
    n[o + COUNT] = 0;
    n[o + CRITICAL] = -1;
  });
}

export const spikesDetector: Detector<SpikesState> = {
  name: 'spikes',

  init(options: AnalyticsOptions): SpikesState {
    return emptyState({ options: options.spikes, homePlatform: options.homePlatform, activity: options.activityActions, decay: decayPerDay(options.spikes.profileHalfLifeDays) }, 0);
  },

  step(st, event: ActivityEvent, t) {
    const action = event.event.action;
    const network = event.channel.network;
    const scope = st.scope;
    let out: Finding[] | undefined;
    if (st.activity.includes(action)) {
      const min = st.options.minCount;
      if (scope !== 'network') {
        const key = channelKey(event, st.homePlatform);
        out = observe(st, slotIn(st, st.channels, key, channelSubject(event), t), 'channel', key, t, min, out);
      }
      if (network !== undefined && scope !== 'channel') out = observe(st, slotIn(st, st.networks, network, network, t), 'network', network, t, min, out);
    } else if (action === 'channel_created' && scope !== 'channel') {
      const min = st.options.creationMinCount;
      out = observe(st, slotIn(st, st.creation, ALL, ALL, t), 'creation', ALL, t, min, out);
      if (network !== undefined) out = observe(st, slotIn(st, st.creation, network, network, t), 'creation', network, t, min, out);
    }
    return out ?? NONE;
  },

  tick(st, nowMs) {
    const hour = Math.floor(nowMs / HOUR_MS);
    const closed: [number, SpikeFinding][] = [];
    closeHours(st, st.channels, 'channel', hour, closed);
    closeHours(st, st.networks, 'network', hour, closed);
    closeHours(st, st.creation, 'creation', hour, closed);
    return closed.sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  },
};
