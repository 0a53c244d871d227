import type { ActivityEvent } from '../events/index.ts';
import { nameKey, suffixSet } from './names.ts';
import type { AnalyticsOptions, ResurrectionsOptions } from './options.ts';
import { channelKey, channelSubject, NONE, type Detector, type Finding, type LifespanFinding, type ResurrectionFinding, type Scope } from './types.ts';
import { DAY_MS, HOUR_MS, isoOf, round2 } from './time.ts';

/**
 * Resurrections: a channel created within windowHours after a ban, whose handle or title has the
 * same normalised key (names.ts) as the banned channel's, is its successor. For each we report
 * the delay, the minutes from creation to the first subscriber count at or above the milestone
 * (1,000) and the share of the predecessor's last known audience regained; regrowth is followed
 * for trackHours. When several banned channels match, the most recently banned one is the
 * predecessor. Lifespans (created -> banned or deleted) come from the same lifecycle events.
 */
interface ChannelInfo {
  subject: string;
  names: string[];
  createdMs: number;
  endedMs: number;
  subscribers: number;
}

interface BannedRecord {
  key: string;
  subject: string;
  bannedMs: number;
  subscribers: number;
}

interface Successor {
  finding: ResurrectionFinding;
  createdMs: number;
  predecessorSubscribers: number;
}

export interface ResurrectionsState {
  options: ResurrectionsOptions;
  homePlatform: string;
  suffixWords: Set<string>;
  channels: Map<string, ChannelInfo>;
  /** Name key -> bans within the window, oldest first. */
  banned: Map<string, BannedRecord[]>;
  successors: Map<string, Successor>;
  /**
   * Only the findings of one scope (the live analyzer's stages): 'channel' finds lifespans and
   * keeps the channels' lifecycle alone (no names, subscriber counts, bans or successors);
   * 'network' finds resurrections and no lifespans. Absent: both.
   */
  scope?: Scope;
}

function info(st: ResurrectionsState, key: string, event: ActivityEvent, withNames: boolean): ChannelInfo {
  let c = st.channels.get(key);
  if (c === undefined) {
    c = { subject: channelSubject(event), names: [], createdMs: -1, endedMs: -1, subscribers: -1 };
    st.channels.set(key, c);
  }
  if (!withNames) return c;
  c.subject = channelSubject(event);
  // Lifespans alone need no names: matching successors by name is the network scope's.
  if (st.scope === 'channel') return c;
  for (const name of [event.channel.handle, event.channel.title]) {
    if (name === undefined) continue;
    const k = nameKey(name, st.suffixWords);
    if (k.length >= st.options.minKeyChars && !c.names.includes(k)) c.names.push(k);
  }
  return c;
}

function regained(subscribers: number, predecessor: number): number | null {
  return subscribers >= 0 && predecessor > 0 ? round2(subscribers / predecessor) : null;
}

/** Update a successor's regrowth from a subscriber count; true when its finding changed. */
function regrow(st: ResurrectionsState, s: Successor, subscribers: number, t: number): boolean {
  const f = s.finding;
  let changed = false;
  if (f.minutesTo1000 === null && subscribers >= st.options.subscribersMilestone) {
    f.minutesTo1000 = round2((t - s.createdMs) / 60_000);
    changed = true;
  }
  const share = regained(subscribers, s.predecessorSubscribers);
  if (share !== f.regainedShare) {
    f.regainedShare = share;
    changed = true;
  }
  return changed;
}

function onEnded(st: ResurrectionsState, key: string, event: ActivityEvent, t: number, out: Finding[]): void {
  const c = info(st, key, event, true);
  if (c.endedMs >= 0) return;
  c.endedMs = t;
  st.successors.delete(key);
  if (c.createdMs >= 0 && c.createdMs <= t && st.scope !== 'network') {
    out.push({
      type: 'lifespan', id: `lifespan:${key}`, subject: c.subject, createdAt: isoOf(c.createdMs), endedAt: isoOf(t),
      days: round2((t - c.createdMs) / DAY_MS), reason: event.event.action as LifespanFinding['reason'],
    });
  }
  for (const k of c.names) {
    const list = st.banned.get(k) ?? [];
    list.push({ key, subject: c.subject, bannedMs: t, subscribers: c.subscribers });
    st.banned.set(k, list);
  }
}

function onCreated(st: ResurrectionsState, key: string, event: ActivityEvent, t: number, out: Finding[]): void {
  const c = info(st, key, event, true);
  if (c.createdMs >= 0) return;
  c.createdMs = t;
  if (st.scope === 'channel') return;
  const windowMs = st.options.windowHours * HOUR_MS;
  let best: BannedRecord | undefined;
  for (const k of c.names) {
    for (const b of st.banned.get(k) ?? []) {
      if (b.key === key || b.bannedMs > t || t - b.bannedMs > windowMs) continue;
      if (best === undefined || b.bannedMs > best.bannedMs) best = b;
    }
  }
  if (best === undefined) return;
  const s: Successor = {
    createdMs: t, predecessorSubscribers: best.subscribers,
    finding: {
      type: 'resurrection', id: `resurrection:${best.key}:${key}`, banned: best.subject, successor: c.subject,
      bannedAt: isoOf(best.bannedMs), createdAt: isoOf(t), delayMinutes: round2((t - best.bannedMs) / 60_000),
      minutesTo1000: null, regainedShare: null,
    },
  };
  if (c.subscribers >= 0) regrow(st, s, c.subscribers, t);
  st.successors.set(key, s);
  out.push({ ...s.finding });
}

/**
 * Keeps what the findings of `scope` need only (a state of both, saved before scopes existed,
 * restored for one stage): as if it had only ever kept that.
 */
export function narrowResurrections(st: ResurrectionsState, scope: Scope): void {
  st.scope = scope;
  if (scope === 'network') return; // resurrections need every channel's lifecycle, names and counts
  for (const [key, c] of st.channels) {
    if (c.createdMs < 0 && c.endedMs < 0) st.channels.delete(key); // known by its subscriber counts alone
    else Object.assign(c, { names: [], subscribers: -1 });
  }
  st.banned = new Map();
  st.successors = new Map();
}

export const resurrectionsDetector: Detector<ResurrectionsState> = {
  name: 'resurrections',

  init(options: AnalyticsOptions): ResurrectionsState {
    return {
      options: options.resurrections, homePlatform: options.homePlatform,
      suffixWords: suffixSet(options.resurrections.suffixWords),
      channels: new Map(), banned: new Map(), successors: new Map(),
    };
  },

  step(st, event: ActivityEvent, t) {
    const action = event.event.action;
    // Subscriber counts only follow successors, not the channel scope's lifespans.
    const subscribers = st.scope === 'channel' ? undefined : event.subscribers;
    if (action !== 'channel_created' && action !== 'channel_banned' && action !== 'channel_deleted' && subscribers === undefined) return NONE;
    const key = channelKey(event, st.homePlatform);
    const out: Finding[] = [];
    if (action === 'channel_created') onCreated(st, key, event, t, out);
    else if (action === 'channel_banned' || action === 'channel_deleted') onEnded(st, key, event, t, out);
    if (subscribers !== undefined) {
      const c = info(st, key, event, false);
      c.subscribers = subscribers;
      const s = st.successors.get(key);
      if (s !== undefined && t - s.createdMs <= st.options.trackHours * HOUR_MS && regrow(st, s, subscribers, t)) out.push({ ...s.finding });
    }
    return out.length ? out : NONE;
  },

  tick(st, nowMs) {
    // Forget what can no longer match or regrow: memory follows the window, not the history.
    const windowMs = st.options.windowHours * HOUR_MS;
    for (const [k, list] of st.banned) {
      const kept = list.filter((b) => nowMs - b.bannedMs <= windowMs);
      if (kept.length) st.banned.set(k, kept);
      else st.banned.delete(k);
    }
    for (const [k, s] of st.successors) if (nowMs - s.createdMs > st.options.trackHours * HOUR_MS) st.successors.delete(k);
    return NONE;
  },
};
