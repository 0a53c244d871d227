import type { ActivityEvent } from '../events/index.ts';
import type { AnalyticsOptions, SpikesOptions } from './options.ts';
import { poissonCriticalCount, poissonUpperTail } from './poisson.ts';
import { countInProfile, decayPerDay, exposureAt, newProfile, profileFromV1, rollProfile, WEEKDAYS, type Profile, type ProfileV1 } from './profile.ts';
import { channelKey, channelSubject, NONE, type Detector, type Finding, type SpikeFinding } from './types.ts';
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

interface SpikeSubject {
  scope: SpikeFinding['scope'];
  subject: string;
  profile: Profile;
  firstMs: number;
  /** Current hour (index since the epoch) and its count; the profile gets it when the hour ends. */
  hour: number;
  count: number;
  /** -1 until the count reaches minCount; 0 when the subject cannot be judged yet. */
  critical: number;
  expected: number;
  run: SpikeRun | null;
  /** Creation order across the scopes: `tick` reports in it, as when all subjects were one map. */
  seq: number;
}

export interface SpikesState {
  options: SpikesOptions;
  homePlatform: string;
  activity: string[];
  decay: number;
  /** One map per scope, keyed by channel key, network or "all": no key string is built per event. */
  channels: Map<string, SpikeSubject>;
  networks: Map<string, SpikeSubject>;
  creation: Map<string, SpikeSubject>;
  /** The next subject's `seq`. */
  nextSeq: number;
}

/** The layout before the per-scope maps (snapshots up to analyzer state layout 1). */
export interface SpikesStateV1 {
  options: SpikesOptions;
  homePlatform: string;
  activity: string[];
  decay: number;
  /** Keyed "<scope>:<key>", in creation order. */
  subjects: Map<string, Omit<SpikeSubject, 'seq' | 'profile'> & { profile: ProfileV1 }>;
}

const ALL = 'all';

/** Moves a state of the previous layout over to the per-scope maps, keeping the creation order. */
export function upgradeSpikesState(old: SpikesStateV1): SpikesState {
  const st: SpikesState = {
    options: old.options, homePlatform: old.homePlatform, activity: old.activity, decay: old.decay,
    channels: new Map(), networks: new Map(), creation: new Map(), nextSeq: 0,
  };
  for (const [key, s] of old.subjects) mapOf(st, s.scope).set(key.slice(s.scope.length + 1), { ...s, profile: profileFromV1(s.profile) as Profile, seq: st.nextSeq++ });
  return st;
}

function mapOf(st: SpikesState, scope: SpikeFinding['scope']): Map<string, SpikeSubject> {
  return scope === 'channel' ? st.channels : scope === 'network' ? st.networks : st.creation;
}

function expectedCount(s: SpikeSubject, hourStartMs: number, o: SpikesOptions): number {
  const p = s.profile;
  const exposure = exposureAt(p, 0, hourStartMs);
  if (exposure <= 0) return o.minExpectedPerHour;
  const h = hourOfDay(hourStartMs);
  let hourly = 0;
  for (let shift = -o.rhythmShiftHours; shift <= o.rhythmShiftHours; shift++) {
    hourly = Math.max(hourly, p[(h + shift + 24) % 24]!);
  }
  let week = 0;
  for (let d = 0; d < 7; d++) week += p[WEEKDAYS + d]!;
  const mean = week / 7;
  const weekday = mean > 0 ? (p[WEEKDAYS + dayOfWeek(hourStartMs)]! + mean) / (2 * mean) : 1;
  return Math.max(o.minExpectedPerHour, (hourly / exposure) * weekday);
}

function finding(s: SpikeSubject, key: string): SpikeFinding {
  const continues = s.run !== null && s.run.lastHour === s.hour - 1;
  const startHour = continues ? s.run!.startHour : s.hour;
  const count = (continues ? s.run!.count : 0) + s.count;
  const expected = (continues ? s.run!.expected : 0) + s.expected;
  return {
    type: 'spike', id: continues ? s.run!.id : `spike:${s.scope}:${key}:${isoOf(startHour * HOUR_MS)}`,
    scope: s.scope, subject: s.subject, start: isoOf(startHour * HOUR_MS), end: isoOf((s.hour + 1) * HOUR_MS),
    count, expected: round2(expected), pValue: poissonUpperTail(s.count, s.expected),
  };
}

const spiking = (s: SpikeSubject): boolean => s.critical > 0 && s.count >= s.critical;

/** End the current hour: its final spike finding (if it is one), and its count into the profile. */
function closeHour(s: SpikeSubject, key: string, decay: number): SpikeFinding | null {
  let out: SpikeFinding | null = null;
  if (spiking(s)) {
    out = finding(s, key);
    const run = s.run;
    if (run !== null && run.lastHour === s.hour - 1) {
      run.lastHour = s.hour;
      run.count = out.count;
      run.expected += s.expected;
    } else {
      s.run = { id: out.id, startHour: s.hour, lastHour: s.hour, count: s.count, expected: s.expected };
    }
  }
  if (s.count > 0) {
    const start = s.hour * HOUR_MS;
    rollProfile(s.profile, 0, start, decay);
    countInProfile(s.profile, 0, start, s.count);
  }
  return out;
}

/** The subject of `key` in `map`, created at `t` if new. */
function subjectIn(st: SpikesState, map: Map<string, SpikeSubject>, key: string, scope: SpikeFinding['scope'], name: string, t: number): SpikeSubject {
  let s = map.get(key);
  if (s === undefined) {
    s = { scope, subject: name, profile: newProfile(), firstMs: t, hour: -1, count: 0, critical: -1, expected: 0, run: null, seq: st.nextSeq++ };
    map.set(key, s);
  }
  return s;
}

/** Count the event in its subject's hour; findings go to `out`, allocated only when there is one. */
function observe(st: SpikesState, s: SpikeSubject, key: string, t: number, minCount: number, out: Finding[] | undefined): Finding[] | undefined {
  const hour = Math.floor(t / HOUR_MS);
  if (hour < s.hour) return out; // late: that hour has been judged already
  if (hour > s.hour) {
    const closed = s.hour >= 0 ? closeHour(s, key, st.decay) : null;
    if (closed) (out ??= []).push(closed);
    s.hour = hour;
    s.count = 0;
    s.critical = -1;
  }
  s.count++;
  if (s.count === minCount && s.critical < 0) {
    const o = st.options;
    const start = hour * HOUR_MS;
    rollProfile(s.profile, 0, start, st.decay);
    const warm = start - s.firstMs >= o.warmupDays * DAY_MS;
    s.expected = warm ? expectedCount(s, start, o) : 0;
    s.critical = warm ? Math.max(minCount, poissonCriticalCount(s.expected, o.alpha)) : 0;
    if (spiking(s)) (out ??= []).push(finding(s, key));
  } else if (s.count === s.critical) {
    (out ??= []).push(finding(s, key));
  }
  return out;
}

/**
 * The analyzer's shortcut to subjects: by its dense channel and network ids. Not part of the
 * state: filled as subjects are met (they are never removed), so it needs no snapshot or upgrade.
 */
export interface SpikesIndex {
  channels: (SpikeSubject | undefined)[];
  networks: (SpikeSubject | undefined)[];
}

export const newSpikesIndex = (): SpikesIndex => ({ channels: [], networks: [] });

/**
 * `step` for activity the analyzer has resolved already: `key` its channel key, `c` and `n` the
 * dense ids of its channel and network (-1: none), the same findings as `step`.
 */
export function activityIndexed(st: SpikesState, ix: SpikesIndex, event: ActivityEvent, t: number, key: string, c: number, network: string | undefined, n: number): readonly Finding[] {
  const min = st.options.minCount;
  let s = ix.channels[c];
  if (s === undefined) ix.channels[c] = s = subjectIn(st, st.channels, key, 'channel', channelSubject(event), t);
  let out = observe(st, s, key, t, min, undefined);
  if (n >= 0) {
    let ns = ix.networks[n];
    if (ns === undefined) ix.networks[n] = ns = subjectIn(st, st.networks, network!, 'network', network!, t);
    out = observe(st, ns, network!, t, min, out);
  }
  return out ?? NONE;
}

function closeHours(st: SpikesState, map: Map<string, SpikeSubject>, hour: number, out: [number, SpikeFinding][]): void {
  for (const [key, s] of map) {
    if (s.hour < 0 || s.hour >= hour) continue;
    const closed = closeHour(s, key, st.decay);
    if (closed) out.push([s.seq, closed]);
    s.hour = hour;
    s.count = 0;
    s.critical = -1;
  }
}

export const spikesDetector: Detector<SpikesState> = {
  name: 'spikes',

  init(options: AnalyticsOptions): SpikesState {
    return {
      options: options.spikes, homePlatform: options.homePlatform, activity: options.activityActions,
      decay: decayPerDay(options.spikes.profileHalfLifeDays), channels: new Map(), networks: new Map(), creation: new Map(), nextSeq: 0,
    };
  },

  step(st, event: ActivityEvent, t) {
    const action = event.event.action;
    const network = event.channel.network;
    let out: Finding[] | undefined;
    if (st.activity.includes(action)) {
      const min = st.options.minCount;
      const key = channelKey(event, st.homePlatform);
      out = observe(st, subjectIn(st, st.channels, key, 'channel', channelSubject(event), t), key, t, min, out);
      if (network !== undefined) out = observe(st, subjectIn(st, st.networks, network, 'network', network, t), network, t, min, out);
    } else if (action === 'channel_created') {
      const min = st.options.creationMinCount;
      out = observe(st, subjectIn(st, st.creation, ALL, 'creation', ALL, t), ALL, t, min, out);
      if (network !== undefined) out = observe(st, subjectIn(st, st.creation, network, 'creation', network, t), network, t, min, out);
    }
    return out ?? NONE;
  },

  tick(st, nowMs) {
    const hour = Math.floor(nowMs / HOUR_MS);
    const closed: [number, SpikeFinding][] = [];
    closeHours(st, st.channels, hour, closed);
    closeHours(st, st.networks, hour, closed);
    closeHours(st, st.creation, hour, closed);
    return closed.sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  },
};
