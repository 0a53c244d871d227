import { ErrorCode, TidewatchError } from '../errors.ts';
import type { ActivityEvent } from '../events/index.ts';
import type { AnalyticsOptions, GapsOptions } from './options.ts';
import { countInProfile, decayPerDay, exposureAt, newProfile, profileFromV1, rollProfile, type Profile, type ProfileV1 } from './profile.ts';
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

interface GapSubject {
  scope: Scope;
  subject: string;
  profile: Profile;
  firstMs: number;
  lastMs: number;
  events: number;
  /**
   * Monotonic deque of long intervals, longest first: max over a sliding window. Pairs (end
   * time, length) side by side in one array, one heap object to touch.
   */
  history: number[];
  /** Threshold cache: the start it was computed for. */
  thresholdStartMs: number;
  thresholdMs: number;
  open: OpenGap | null;
}

export interface GapsState {
  options: GapsOptions;
  homePlatform: string;
  activity: string[];
  decay: number;
  channels: Map<string, GapSubject>;
  networks: Map<string, GapSubject>;
  /** LAYOUT; absent in state saved before the flat profiles (the analyzer's and the status core's snapshots). */
  layout?: number;
}

const LAYOUT = 2;

/** A subject as saved before `layout`: the profile as an object of arrays, the deque as two arrays. */
type GapSubjectV1 = Omit<GapSubject, 'profile' | 'history'> & { profile: ProfileV1; historyEnd?: number[]; historyMs?: number[] };

/** Brings state saved in an earlier layout to this one, in place (a no-op on the current layout). */
function upgrade(st: GapsState): void {
  if (st.layout === LAYOUT) return;
  if (st.layout !== undefined) {
    // Saved by a newer version: guessing its shape could only give wrong findings.
    throw new TidewatchError(ErrorCode.INPUT_UNSUPPORTED, `gaps state: snapshot layout ${st.layout} is newer than this version reads (1 to ${LAYOUT})`, { details: { layout: st.layout } });
  }
  for (const map of [st.channels, st.networks]) {
    for (const old of map.values() as Iterable<GapSubjectV1>) {
      const s = old as unknown as GapSubject;
      s.profile = profileFromV1(old.profile);
      s.history = [];
      for (let i = 0; i < old.historyEnd!.length; i++) s.history.push(old.historyEnd![i]!, old.historyMs![i]!);
      delete old.historyEnd;
      delete old.historyMs;
    }
  }
  st.layout = LAYOUT;
}

/** Intervals shorter than this are not remembered: they can never be the precedent of a gap. */
const MIN_HISTORY_MS = HOUR_MS;

function newSubject(scope: Scope, subject: string): GapSubject {
  return {
    scope, subject, profile: newProfile(), firstMs: -1, lastMs: -1, events: 0,
    history: [], thresholdStartMs: -1, thresholdMs: 0, open: null,
  };
}

/** Time from `start` until the expected count under the (shifted) rhythm reaches `target`. */
function msToExpect(hourly: Profile, exposure: number, start: number, shift: number, target: number): number {
  let acc = 0;
  let t = start;
  // Two days hour by hour follow the rhythm; beyond that every day adds the daily total.
  for (let i = 0; i < 48; i++) {
    const hourEnd = (Math.floor(t / HOUR_MS) + 1) * HOUR_MS;
    const rate = hourly[(hourOfDay(t) - shift + 24) % 24]! / exposure;
    const expect = (rate * (hourEnd - t)) / HOUR_MS;
    if (expect >= target - acc) return t + ((target - acc) / rate) * HOUR_MS - start;
    acc += expect;
    t = hourEnd;
  }
  let daily = 0;
  for (let h = 0; h < 24; h++) daily += hourly[h]!;
  daily /= exposure;
  return daily > 0 ? t - start + ((target - acc) / daily) * DAY_MS : Number.MAX_VALUE;
}

/** Time after the last activity until seeing nothing has probability below `alpha`, under any tolerated shift of the rhythm. */
function rhythmMs(s: GapSubject, o: GapsOptions, alpha: number): number {
  const exposure = exposureAt(s.profile, s.lastMs);
  const target = -Math.log(alpha);
  let worst = 0;
  for (let shift = -o.rhythmShiftHours; shift <= o.rhythmShiftHours; shift++) {
    worst = Math.max(worst, msToExpect(s.profile, exposure, s.lastMs, shift, target));
  }
  return worst;
}

function thresholdMs(s: GapSubject, o: GapsOptions): number {
  if (s.thresholdStartMs === s.lastMs) return s.thresholdMs;
  s.thresholdStartMs = s.lastMs;
  s.thresholdMs = Math.max(o.floorHours * HOUR_MS, rhythmMs(s, o, o.alpha));
  return s.thresholdMs;
}

function warmedUp(s: GapSubject, o: GapsOptions): boolean {
  return s.events >= o.warmupEvents && s.lastMs - s.firstMs >= o.warmupDays * DAY_MS;
}

/**
 * A channel's silence thresholds after its last activity, so the watch-list status judges silence
 * with this one cadence model: `gapMs` is exactly the gap threshold (floor included), `unlikelyMs`
 * the rhythm alone at probability `alpha`. null for a channel never active or not warmed up,
 * which the gap detector does not judge either.
 */
export function channelSilence(st: GapsState, key: string, alpha: number): { lastMs: number; gapMs: number; unlikelyMs: number } | null {
  upgrade(st);
  const s = st.channels.get(key);
  if (s === undefined || s.lastMs < 0 || !warmedUp(s, st.options)) return null;
  return { lastMs: s.lastMs, gapMs: thresholdMs(s, st.options), unlikelyMs: rhythmMs(s, st.options, alpha) };
}

/**
 * The earliest time a tick opens a gap if nothing arrives meanwhile: the first millisecond past
 * `lastMs + threshold` of a warmed-up subject with no open gap (channels, networks, or both when
 * no scope is given). null when none is pending. Reads each subject's lastMs, firstMs, events,
 * open and its threshold (cached per lastMs by thresholdMs, which it may fill); the live analyzer
 * ticks then, not a tick later.
 */
export function nextDeadline(st: GapsState, scope?: 'channel' | 'network'): number | null {
  let earliest: number | null = null;
  for (const map of scope === 'channel' ? [st.channels] : scope === 'network' ? [st.networks] : [st.channels, st.networks]) {
    for (const s of map.values()) {
      if (s.open !== null || s.lastMs < 0 || !warmedUp(s, st.options)) continue;
      const due = Math.floor(s.lastMs + thresholdMs(s, st.options)) + 1;
      if (Number.isFinite(due) && (earliest === null || due < earliest)) earliest = due;
    }
  }
  return earliest;
}

function longestSince(s: GapSubject, cutoffMs: number): number | null {
  const h = s.history;
  let drop = 0;
  while (drop < h.length && h[drop]! < cutoffMs) drop += 2;
  if (drop > 0) h.splice(0, drop);
  return h.length ? h[1]! : null;
}

function remember(s: GapSubject, endMs: number, lengthMs: number, cap: number): void {
  if (lengthMs < MIN_HISTORY_MS) return;
  const h = s.history;
  // An older interval no longer than a newer one can never again be the longest in the window.
  let n = h.length;
  while (n > 0 && h[n - 1]! <= lengthMs) n -= 2;
  if (n < h.length) h.length = n; // setting the length is a runtime call even when it does not change
  // Full: the newest is not kept.
  if (n < cap * 2) h.push(endMs, lengthMs);
}

function gapId(s: GapSubject, key: string, startMs: number): string {
  return `gap:${s.scope}:${key}:${isoOf(startMs)}`;
}

function finding(s: GapSubject, open: OpenGap, endMs: number | null, nowMs: number): GapFinding {
  const hours = round2((nowMs - open.startMs) / HOUR_MS);
  return {
    type: 'gap', id: open.id, scope: s.scope, subject: s.subject,
    start: isoOf(open.startMs), end: endMs === null ? null : isoOf(endMs),
    hours, baselineHours: open.baselineHours,
    unprecedented: open.previousLongestHours === null || hours > open.previousLongestHours,
    previousLongestHours: open.previousLongestHours,
  };
}

/** The silence since the subject's last activity, as an open gap if it is one by `nowMs`. */
function judge(s: GapSubject, key: string, nowMs: number, o: GapsOptions): OpenGap | null {
  if (s.lastMs < 0 || nowMs - s.lastMs < o.floorHours * HOUR_MS || !warmedUp(s, o)) return null;
  const threshold = thresholdMs(s, o);
  if (nowMs - s.lastMs <= threshold) return null;
  const previous = longestSince(s, s.lastMs - o.lookbackDays * DAY_MS);
  return {
    id: gapId(s, key, s.lastMs),
    startMs: s.lastMs,
    baselineHours: round2(threshold / HOUR_MS),
    previousLongestHours: previous === null ? null : round2(previous / HOUR_MS),
  };
}

/** Activity (or the channel's end) at `t`: closes the silence before it, returned if it was a gap. */
function endSilence(s: GapSubject, key: string, t: number, o: GapsOptions): GapFinding | null {
  const open = s.open ?? judge(s, key, t, o);
  s.open = null;
  if (s.lastMs >= 0) remember(s, t, t - s.lastMs, o.historyEntries);
  return open ? finding(s, open, t, t) : null;
}

function observe(s: GapSubject, key: string, t: number, st: GapsState): GapFinding | null {
  // Late or duplicate activity says nothing about a silence already behind us.
  if (t <= s.lastMs) return null;
  // Intervals shorter than both an hour and the floor can neither be a gap nor its precedent.
  const minMs = Math.min(MIN_HISTORY_MS, st.options.floorHours * HOUR_MS);
  const gap = s.lastMs >= 0 && (s.open !== null || t - s.lastMs >= minMs) ? endSilence(s, key, t, st.options) : null;
  if (s.firstMs < 0) s.firstMs = t;
  rollProfile(s.profile, t, st.decay);
  countInProfile(s.profile, t, 1);
  s.lastMs = t;
  s.events++;
  return gap;
}

function subjectOf(map: Map<string, GapSubject>, key: string, scope: Scope, name: string): GapSubject {
  let s = map.get(key);
  if (s === undefined) {
    s = newSubject(scope, name);
    map.set(key, s);
  } else if (s.subject !== name) {
    s.subject = name;
  }
  return s;
}

export const gapsDetector: Detector<GapsState> = {
  name: 'gaps',

  init(options: AnalyticsOptions): GapsState {
    return {
      options: options.gaps, homePlatform: options.homePlatform, activity: options.activityActions,
      decay: decayPerDay(options.gaps.profileHalfLifeDays), channels: new Map(), networks: new Map(), layout: LAYOUT,
    };
  },

  step(st, event: ActivityEvent, t) {
    if (st.layout !== LAYOUT) upgrade(st);
    const action = event.event.action;
    if (action === 'channel_banned' || action === 'channel_deleted') {
      // A channel that is gone is not silent: its last silence ends here and it is no longer watched.
      const key = channelKey(event, st.homePlatform);
      const s = st.channels.get(key);
      if (s === undefined) return NONE;
      st.channels.delete(key);
      const gap = t > s.lastMs ? endSilence(s, key, t, st.options) : null;
      return gap ? [gap] : NONE;
    }
    if (!st.activity.includes(action)) return NONE;
    const key = channelKey(event, st.homePlatform);
    const channelGap = observe(subjectOf(st.channels, key, 'channel', channelSubject(event)), key, t, st);
    const network = event.channel.network;
    const networkGap = network === undefined ? null : observe(subjectOf(st.networks, network, 'network', network), network, t, st);
    if (channelGap === null && networkGap === null) return NONE;
    return [channelGap, networkGap].filter((g): g is GapFinding => g !== null);
  },

  tick(st, nowMs) {
    upgrade(st);
    const out: Finding[] = [];
    for (const map of [st.channels, st.networks]) {
      for (const [key, s] of map) {
        if (s.lastMs >= nowMs) continue;
        s.open ??= judge(s, key, nowMs, st.options);
        if (s.open) out.push(finding(s, s.open, null, nowMs));
      }
    }
    return out;
  },
};
