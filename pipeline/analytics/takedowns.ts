import type { ActivityEvent } from '../events/index.ts';
import type { AnalyticsOptions, TakedownsOptions } from './options.ts';
import { channelKey, channelSubject, MAX_TAKEDOWN_SUBJECTS, NONE, type Detector, type TakedownFinding } from './types.ts';
import { dayIso, dayOf } from './time.ts';

/**
 * Takedowns: channel_banned / channel_deleted events grouped by UTC day (distinct channels,
 * languages, networks), and the platform's own tallies (bans_reported, `count`). Every such day is
 * a finding, emitted at its first ban or tally and again as it grows, under the same id: analysts
 * count takedowns day by day. It is a wave (`wave: true`, what dashboards and alerts show) from
 * minChannels channels, or when its tally is at least reportedFactor times the median of the
 * earlier tallies of the last reportedHistoryDays (before reportedWarmupDays tallies exist: at
 * least minReported); a day only grows, so once a wave it stays one, and an alert does not wait
 * for the day to end. The finding names the channels
 * it counts (`subjects`), capped at MAX_TAKEDOWN_SUBJECTS: the first in sort order, so the list does
 * not depend on the order events arrive in.
 */
interface TakedownDay {
  day: number;
  channels: Set<string>;
  languages: Set<string>;
  networks: Set<string>;
  /**
   * Names of the channels, one per channel, sorted, the first MAX_TAKEDOWN_SUBJECTS only.
   * Optional: a day restored from a snapshot taken before the list existed starts without one.
   */
  subjects?: string[];
  /** The platform's tally: later updates of the same day supersede earlier ones, hence the max. */
  reported: number | null;
}

export interface TakedownsState {
  options: TakedownsOptions;
  homePlatform: string;
  days: Map<number, TakedownDay>;
  /** Earlier tallies: [day, count], oldest first, within reportedHistoryDays. */
  tallies: [number, number][];
}

/** Days kept open for late events; older days are final. */
const OPEN_DAYS = 2;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function isWave(st: TakedownsState, d: TakedownDay): boolean {
  const o = st.options;
  if (d.channels.size >= o.minChannels) return true;
  if (d.reported === null) return false;
  const earlier = st.tallies.filter(([day]) => day < d.day && day >= d.day - o.reportedHistoryDays).map(([, n]) => n);
  if (earlier.length < o.reportedWarmupDays) return d.reported >= o.minReported;
  return d.reported >= o.reportedFactor * median(earlier);
}

function dayState(st: TakedownsState, day: number): TakedownDay | null {
  let d = st.days.get(day);
  if (d) return d;
  const latest = Math.max(day, ...st.days.keys());
  if (day <= latest - OPEN_DAYS) return null; // late: that day is final
  d = { day, channels: new Set(), languages: new Set(), networks: new Set(), subjects: [], reported: null };
  st.days.set(day, d);
  for (const old of st.days.keys()) if (old <= latest - OPEN_DAYS) st.days.delete(old);
  return d;
}

function recordTally(st: TakedownsState, day: number, count: number): void {
  const last = st.tallies[st.tallies.length - 1];
  if (last && last[0] === day) last[1] = Math.max(last[1], count);
  else if (!last || last[0] < day) st.tallies.push([day, count]);
  while (st.tallies.length && st.tallies[0]![0] < day - st.options.reportedHistoryDays) st.tallies.shift();
}

/** Sorted insert, kept to the cap: O(cap) per channel, where sorting at every emission would be O(n log n). */
function addSubject(subjects: string[], name: string): void {
  if (subjects.length >= MAX_TAKEDOWN_SUBJECTS && name >= subjects[subjects.length - 1]!) return;
  let lo = 0;
  let hi = subjects.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (subjects[mid]! <= name) lo = mid + 1;
    else hi = mid;
  }
  subjects.splice(lo, 0, name);
  if (subjects.length > MAX_TAKEDOWN_SUBJECTS) subjects.pop();
}

function finding(st: TakedownsState, d: TakedownDay): TakedownFinding {
  return {
    type: 'takedown', id: `takedown:${dayIso(d.day)}`, day: dayIso(d.day), channels: d.channels.size,
    languages: d.languages.size, networks: [...d.networks].sort(), subjects: [...(d.subjects ?? [])], reported: d.reported,
    wave: isWave(st, d),
  };
}

export const takedownsDetector: Detector<TakedownsState> = {
  name: 'takedowns',

  init(options: AnalyticsOptions): TakedownsState {
    return { options: options.takedowns, homePlatform: options.homePlatform, days: new Map(), tallies: [] };
  },

  step(st, event: ActivityEvent, t) {
    const action = event.event.action;
    if (action !== 'channel_banned' && action !== 'channel_deleted' && action !== 'bans_reported') return NONE;
    const day = dayOf(t);
    const d = dayState(st, day);
    if (d === null) return NONE;
    if (action === 'bans_reported') {
      if (event.count === undefined || (d.reported !== null && event.count <= d.reported)) return NONE;
      d.reported = event.count;
      recordTally(st, day, event.count);
    } else {
      const key = channelKey(event, st.homePlatform);
      if (d.channels.has(key)) return NONE;
      d.channels.add(key);
      addSubject((d.subjects ??= []), channelSubject(event));
      if (event.channel.language) d.languages.add(event.channel.language);
      if (event.channel.network) d.networks.add(event.channel.network);
    }
    return [finding(st, d)];
  },

  tick() {
    return NONE;
  },
};
