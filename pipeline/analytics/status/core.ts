import type { ActivityEvent } from '../../events/index.ts';
import type { ChannelStatusUpdate, CollectorStatusUpdate } from '../../watch/status.ts';
import type { WatchList } from '../../watch/watch-list.ts';
import { channelSilence, gapsDetector, type GapsState } from '../gaps.ts';
import type { AnalyticsOptions } from '../options.ts';
import { restoreState, snapshotState } from '../state.ts';
import { DEFAULT_DISPLAY, formatTime, type DisplayOptions } from '../../dates.ts';
import { isoOf, parseTimeMs } from '../time.ts';
import { channelKey } from '../types.ts';
import { closeEpisode, hours, openEpisode } from './alerts.ts';
import { nextOverride, overrideInForce, overrideReason } from './overrides.ts';
import type { Status, StatusAlertDoc, StatusChangeDoc, StatusDoc, StatusOutput, StatusOverrideDoc } from './types.ts';

/**
 * Watch-list status: every member (watched, or discovered in the data) has one status at any
 * time, decided from three inputs that can disagree, in this order of precedence:
 *   1. the analysts (muted / retired, until an optional expiry);
 *   2. evidence the channel is gone (a ban or deletion event, or the collector's health `gone`);
 *   3. whether we can see it at all (the collector's health `unknown`, or its heartbeat stale):
 *      `unknown` is never taken for silence, so an outage raises one source alert, not a flood;
 *   4. its own cadence, judged by the gap detector's threshold (gaps.ts `channelSilence`):
 *      `silent` past the gap threshold, `quiet` past the rhythm's `quietAlpha` point, else `active`.
 * Quiet and silent are decided only once the member's source watermark (now minus its allowed
 * lateness) has passed the moment they begin, so events within the lateness never flip them; a
 * later event that shows a decision wrong corrects it once, with the correction recorded.
 * Idempotent under at-least-once delivery: quiet and silent are decided by the clock only (`tick`,
 * see `byClockOnly`), an event or a report seen twice changes nothing, and an older one
 * (redelivered, reordered) never undoes a newer one.
 *
 * Pure: the clock comes in as arguments (`tick`, the collector's `at`). The state is plain data
 * plus Maps (like the analyzer's): `snapshot`/`restore` turn it into JSON and back. A replay runs
 * it on the events' clock: `init` with no time, and the clock starts at its first input.
 */
interface Member {
  handle: string;
  watched: boolean;
  network: string | null;
  language: string | null;
  /** The gap detector's key of the channel now under this handle (a new one after a rebirth). */
  channelKey: string | null;
  /** Source type of the latest event (or the collector's): picks the allowed lateness. */
  source: string | null;
  collector: string | null;
  addedMs: number;
  lastActivityMs: number;
  /** The newest post the collector reported seeing; its event may not have arrived yet. */
  reportedPostMs: number;
  gone: { atMs: number; reason: string } | null;
  /** Set while the collector cannot see the channel (poll failing, heartbeat stale). */
  blind: { sinceMs: number; reason: string } | null;
  /** The mute or retirement in force (it may have lapsed: tick notices). */
  override: StatusOverrideDoc | null;
  /** Time of the latest override applied, so replaying the override log changes nothing. */
  overrideAtMs: number;
  status: Status;
  sinceMs: number;
  reason: string;
  /** The change that set the current status: what a correction points at. */
  changeId: string | null;
  /** Open silence episode (alert) id. */
  silenceAlert: string | null;
  /**
   * Where late data, stepped since the last tick, moved the start of the current quiet or silent
   * spell to (it still holds): the next tick records that correction, once however many posts it took.
   */
  correctedSinceMs?: number;
  /** Time of the latest collector report applied: an older one (redelivered, reordered) is history. */
  reportAtMs?: number;
  /** When the current generation was created (after a takedown): older bans are about the previous one. */
  bornMs?: number;
}

interface CollectorInfo {
  source: string | null;
  lastHeartbeatMs: number;
  stalled: boolean;
  alert: string | null;
}

export interface StatusState {
  options: AnalyticsOptions;
  /** The zone reasons and alert messages read their times in; the documents' own times stay ISO 8601. */
  display: DisplayOptions;
  /** The gap detector's own state over the members' activity: the one cadence model. */
  gaps: GapsState;
  members: Map<string, Member>;
  collectors: Map<string, CollectorInfo>;
  /** Network -> handles of its watched members. */
  networks: Map<string, string[]>;
  /** Network -> its open network-silence episode. */
  networkAlerts: Map<string, StatusAlertDoc>;
  /** Every open episode by id (silences and sources), so closing re-emits the same document. */
  episodes: Map<string, StatusAlertDoc>;
  /**
   * The latest clock seen (ticks, collector updates); null until the first input of a state
   * created with no time (a replay: its clock is the events', unknown before the first).
   */
  nowMs: number | null;
}

interface Judged {
  status: Status;
  sinceMs: number;
  reason: string;
}

const EXPECTED: ReadonlySet<Status> = new Set(['active', 'quiet', 'silent']);
const NOT_EXPECTED: ReadonlySet<Status> = new Set(['muted', 'retired', 'gone']);

const newOutput = (): StatusOutput => ({ changes: [], alerts: [] });

/** Member key: Telegram handles are case-insensitive (the watch list lowercases them). */
const keyOfHandle = (handle: string): string => handle.toLowerCase();

function newMember(handle: string, watched: boolean, nowMs: number): Member {
  return {
    handle, watched, network: null, language: null, channelKey: null, source: null, collector: null, addedMs: nowMs,
    lastActivityMs: -1, reportedPostMs: -1, gone: null, blind: null, override: null, overrideAtMs: -1,
    status: 'unknown', sinceMs: nowMs, reason: 'no activity seen yet', changeId: null, silenceAlert: null,
  };
}

/** The latest activity known: an event, or a post the collector reported before its event arrived. */
const lastSeenMs = (m: Member): number => Math.max(m.lastActivityMs, m.reportedPostMs);

function setNetwork(st: StatusState, m: Member, network: string | null): void {
  if (m.network === network) return;
  if (m.watched && m.network !== null) {
    const list = (st.networks.get(m.network) ?? []).filter((h) => h !== m.handle);
    if (list.length) st.networks.set(m.network, list);
    else st.networks.delete(m.network);
  }
  m.network = network;
  if (m.watched && network !== null) st.networks.set(network, [...(st.networks.get(network) ?? []), m.handle]);
}

/** A time in a reason or message: for people, in the display zone. */
const when = (st: StatusState, ms: number): string => formatTime(ms, st.display.timezone);

function latenessMs(st: StatusState, m: Member): number {
  const perSource = st.options.status.allowedLatenessSecs;
  const secs = m.source !== null && Object.hasOwn(perSource, m.source) ? perSource[m.source]! : st.options.allowedLatenessSecs;
  return secs * 1000;
}

/** The status the inputs call for at `nowMs` (see the precedence above). */
function judge(st: StatusState, m: Member, nowMs: number): Judged {
  const o = m.override;
  if (overrideInForce(o, nowMs)) {
    return { status: o.action === 'mute' ? 'muted' : 'retired', sinceMs: Date.parse(o.at), reason: overrideReason(o, st.display.timezone) };
  }
  if (m.gone) return { status: 'gone', sinceMs: m.gone.atMs, reason: m.gone.reason };
  if (m.blind) return { status: 'unknown', sinceMs: m.blind.sinceMs, reason: m.blind.reason };
  const last = lastSeenMs(m);
  if (last < 0) return { status: 'unknown', sinceMs: m.addedMs, reason: 'no activity seen yet' };
  const c = m.channelKey === null ? null : channelSilence(st.gaps, m.channelKey, st.options.status.quietAlpha);
  if (c === null) return { status: 'active', sinceMs: last, reason: 'cadence not learned yet' };
  const watermark = nowMs - latenessMs(st, m);
  if (watermark > last + c.gapMs) {
    return { status: 'silent', sinceMs: last + c.gapMs, reason: `no activity since ${when(st, last)}, past its silence threshold of ${hours(c.gapMs)}` };
  }
  if (watermark > last + c.unlikelyMs) {
    return { status: 'quiet', sinceMs: last + c.unlikelyMs, reason: `no activity since ${when(st, last)}, below its cadence (${hours(c.unlikelyMs)})` };
  }
  return { status: 'active', sinceMs: last, reason: 'activity within its cadence' };
}

interface SettleNote {
  /** Late data showed the current status wrong. */
  correction?: boolean;
  by?: string;
  /** Said before the judged reason (e.g. "mute expired"). */
  note?: string;
  /**
   * Called for an event or a collector report, not by the clock: it can show activity, visibility
   * or a takedown at once, but quiet and silent are left to the next tick (see `byClockOnly`).
   */
  evidence?: boolean;
}

/**
 * Absence is the clock's to decide, as in the detectors (gaps.ts judges silences in `tick` only).
 * Events come in batches, redelivered, in any order and interleaved with the collector's reports
 * as the transport happens to deliver them; judging silence after each of them would open the
 * episode from whichever post came first (its id depends on the delivery) and correct it once per
 * later post of the same backlog. Between two ticks they only add evidence, so the tick decides
 * once from everything delivered, whatever the order.
 */
const byClockOnly = (j: Judged): boolean => j.status === 'quiet' || j.status === 'silent';

/** Re-judge a member; on a change record it and open or close its alert episodes. */
function settle(st: StatusState, m: Member, nowMs: number, out: StatusOutput, note: SettleNote = {}): void {
  const j = judge(st, m, nowMs);
  if (note.evidence === true && byClockOnly(j)) {
    if (note.correction === true) m.correctedSinceMs = j.sinceMs;
    return;
  }
  // A correction found between ticks is due only while its spell holds: a member active again
  // meanwhile ends it by activity, or by correction if that activity came before the moved start.
  const correction = note.correction === true || (note.evidence !== true && m.correctedSinceMs !== undefined);
  m.correctedSinceMs = undefined;
  // Late data that only moves when a silence began is recorded (its alert says when); moving the
  // start of a quiet spell is not worth a change.
  if (j.status === m.status && !(correction && j.status === 'silent' && j.sinceMs !== m.sinceMs)) {
    if (correction) m.sinceMs = j.sinceMs;
    m.reason = j.reason;
    return;
  }
  const from = m.status;
  const at = isoOf(nowMs);
  const change: StatusChangeDoc = {
    type: 'status_change',
    id: `${m.handle}:${at}:${j.status}`,
    subject: m.handle,
    watched: m.watched,
    network: m.network,
    from,
    to: j.status,
    since: isoOf(j.sinceMs),
    at,
    reason: note.note === undefined ? j.reason : `${note.note}; ${j.reason}`,
    correction,
    corrects: correction ? m.changeId : null,
    by: note.by ?? null,
  };
  m.status = j.status;
  m.sinceMs = j.sinceMs;
  m.reason = change.reason;
  m.changeId = change.id;
  out.changes.push(change);
  silenceEpisode(st, m, nowMs, correction, out);
  if (m.watched && j.status === 'gone' && from !== 'gone') {
    out.alerts.push(closeEpisode(openEpisode('takedown', m.handle, m.sinceMs, [m.handle], `Takedown: @${m.handle}${m.network ? ` (${m.network})` : ''} is gone: ${j.reason}`), m.sinceMs, 'gone', false, st.display.timezone));
  }
}

/** Open a silence alert for a watched member that went silent; close it when the silence is over. */
function silenceEpisode(st: StatusState, m: Member, nowMs: number, correction: boolean, out: StatusOutput): void {
  const open = m.silenceAlert === null ? undefined : st.episodes.get(m.silenceAlert);
  const startMs = lastSeenMs(m);
  const message = `Silence: @${m.handle}${m.network ? ` (${m.network})` : ''}: ${m.reason}`;
  if (m.status === 'silent') {
    if (!m.watched) return;
    if (open === undefined) {
      const episode = openEpisode('silence', m.handle, startMs, [m.handle], message);
      st.episodes.set(episode.id, episode);
      m.silenceAlert = episode.id;
      out.alerts.push(episode);
    } else if (correction) {
      // Still silent, from a later start: the same alert, corrected, not a second one.
      const episode = { ...open, start: isoOf(startMs), message: `${message} (corrected by late data)` };
      st.episodes.set(episode.id, episode);
      out.alerts.push(episode);
    }
    return;
  }
  // Unknown: we cannot see whether the silence goes on, so the alert neither ends nor repeats.
  if (open === undefined || m.status === 'unknown') return;
  const reason = correction ? 'corrected' : EXPECTED.has(m.status) ? 'activity' : (m.status as 'muted' | 'retired' | 'gone');
  st.episodes.delete(open.id);
  m.silenceAlert = null;
  out.alerts.push(closeEpisode(open, nowMs, reason, reason === 'activity' || reason === 'corrected', st.display.timezone));
}

/**
 * A network is silent when it has at least networkMinMembers members expected active (neither
 * muted, retired nor gone), none of them unknown, and all of them silent.
 */
function checkNetworks(st: StatusState, networks: Iterable<string>, nowMs: number, out: StatusOutput): void {
  for (const network of networks) {
    const members = (st.networks.get(network) ?? []).map((h) => st.members.get(h)!).filter((m) => !NOT_EXPECTED.has(m.status));
    const silent = members.length >= st.options.status.networkMinMembers && members.every((m) => m.status === 'silent');
    const open = st.networkAlerts.get(network);
    if (silent && open === undefined) {
      // The network's silence began with the last activity of any of its members.
      const startMs = Math.max(...members.map(lastSeenMs));
      const handles = members.map((m) => m.handle).sort();
      const episode = openEpisode('network_silence', network, startMs, handles, `Network silence: all ${handles.length} members of ${network} expected active are silent since ${when(st, startMs)} (${handles.map((h) => `@${h}`).join(', ')})`);
      st.networkAlerts.set(network, episode);
      out.alerts.push(episode);
    } else if (!silent && open !== undefined) {
      const resumed = members.some((m) => m.status === 'active' || m.status === 'quiet');
      // Some member unknown and none active: we cannot tell, so the alert stays open.
      if (!resumed && members.length >= st.options.status.networkMinMembers) continue;
      st.networkAlerts.delete(network);
      out.alerts.push(closeEpisode(open, nowMs, resumed ? 'activity' : 'fewer_members', resumed, st.display.timezone));
    }
  }
}

/**
 * One health alert per collector: at once when its heartbeat stalls, or once a channel of it has
 * been unknown for unknownAlertSecs; over when it beats again and all its channels are seen.
 */
function checkSources(st: StatusState, nowMs: number, out: StatusOutput): void {
  const staleMs = st.options.status.heartbeatStaleSecs * 1000;
  const blindOf = new Map<string, Member[]>();
  for (const m of st.members.values()) {
    if (m.collector === null || !m.watched || m.status !== 'unknown' || m.blind === null) continue;
    const list = blindOf.get(m.collector);
    if (list) list.push(m);
    else blindOf.set(m.collector, [m]);
  }
  for (const [name, c] of st.collectors) {
    const blind = blindOf.get(name) ?? [];
    const due = c.stalled || blind.some((m) => nowMs - m.blind!.sinceMs >= st.options.status.unknownAlertSecs * 1000);
    if (due && c.alert === null) {
      const handles = blind.map((m) => m.handle).sort();
      const what = c.stalled
        ? `no heartbeat since ${when(st, c.lastHeartbeatMs)} (stale after ${hours(staleMs)})`
        : `cannot see ${handles.length} channel(s): ${[...new Set(blind.map((m) => m.blind!.reason))].slice(0, 3).join('; ')}`;
      const startMs = c.stalled ? c.lastHeartbeatMs + staleMs : Math.min(...blind.map((m) => m.blind!.sinceMs));
      const episode = openEpisode('source', name, startMs, handles, `Source stalled: collector ${name} ${what}; ${handles.length} channel(s) unknown, no silence is judged for them`);
      st.episodes.set(episode.id, episode);
      c.alert = episode.id;
      out.alerts.push(episode);
    } else if (c.alert !== null && !c.stalled && blind.length === 0) {
      const open = st.episodes.get(c.alert)!;
      st.episodes.delete(c.alert);
      c.alert = null;
      out.alerts.push(closeEpisode(open, nowMs, 'recovered', true, st.display.timezone, `Source recovered: collector ${name} sees all its channels again`));
    }
  }
}

function collectorOf(st: StatusState, name: string): CollectorInfo {
  let c = st.collectors.get(name);
  if (c === undefined) {
    c = { source: null, lastHeartbeatMs: -1, stalled: false, alert: null };
    st.collectors.set(name, c);
  }
  return c;
}

/** The member an event is about; a channel not on the watch list is added as discovered. */
function memberOfEvent(st: StatusState, event: ActivityEvent, t: number): Member {
  const handle = event.channel.handle === undefined ? event.channel.id : keyOfHandle(event.channel.handle);
  let m = st.members.get(handle);
  if (m === undefined) {
    m = newMember(handle, false, t);
    st.members.set(handle, m);
  }
  if (!m.watched) {
    setNetwork(st, m, event.channel.network ?? m.network);
    m.language = event.channel.language ?? m.language;
  }
  m.source = event.source.type;
  return m;
}

function memberOfUpdate(st: StatusState, update: ChannelStatusUpdate, at: number): Member {
  const handle = keyOfHandle(update.handle);
  let m = st.members.get(handle);
  if (m === undefined) {
    m = newMember(handle, false, at);
    st.members.set(handle, m);
  }
  return m;
}

function applyWatchList(st: StatusState, list: WatchList, nowMs: number, out: StatusOutput): void {
  const listed = new Set(list.map((e) => e.handle));
  const touched = new Set<string>();
  for (const [handle, m] of st.members) {
    if (!m.watched || listed.has(handle)) continue;
    if (m.network !== null) touched.add(m.network);
    setNetwork(st, m, null);
    m.watched = false;
    const open = m.silenceAlert === null ? undefined : st.episodes.get(m.silenceAlert);
    if (open) {
      st.episodes.delete(open.id);
      m.silenceAlert = null;
      out.alerts.push(closeEpisode(open, nowMs, 'unwatched', false, st.display.timezone));
    }
  }
  for (const entry of list) {
    let m = st.members.get(entry.handle);
    if (m === undefined) {
      m = newMember(entry.handle, true, nowMs);
      st.members.set(entry.handle, m);
    } else if (!m.watched) {
      m.watched = true;
      const network = m.network;
      m.network = null;
      setNetwork(st, m, network);
    }
    setNetwork(st, m, entry.network ?? null);
    m.language = entry.language ?? m.language;
    if (m.network !== null) touched.add(m.network);
  }
  checkNetworks(st, touched, nowMs, out);
}

/**
 * The clock at an input of time `t`: never backwards. A clock not started yet starts at `t`, and
 * the watch list's members, added by init before any time was known, are stamped with it.
 */
function advance(st: StatusState, t: number): number {
  if (st.nowMs === null) {
    for (const m of st.members.values()) m.addedMs = m.sinceMs = t;
  }
  st.nowMs = Math.max(st.nowMs ?? t, t);
  return st.nowMs;
}

export const statusCore = {
  /** `nowMs` null: the clock starts at the first input (a replay's, on the events' clock). */
  init(options: AnalyticsOptions, watchList: WatchList, nowMs: number | null, display: DisplayOptions = DEFAULT_DISPLAY): StatusState {
    const st: StatusState = {
      options, display, gaps: gapsDetector.init(options), members: new Map(), collectors: new Map(), networks: new Map(),
      networkAlerts: new Map(), episodes: new Map(), nowMs,
    };
    // No member has a status change or an alert yet, so nothing is stamped before the clock starts (advance).
    applyWatchList(st, watchList, nowMs ?? -1, newOutput());
    return st;
  },

  /** A new watch list: members not on it are kept as discovered (their alerts end quietly). */
  setWatchList(st: StatusState, watchList: WatchList, nowMs: number): StatusOutput {
    const out = newOutput();
    applyWatchList(st, watchList, advance(st, nowMs), out);
    return out;
  },

  /** An activity event, in any order: late ones count, and correct a decision they show wrong; a repeat changes nothing. */
  step(st: StatusState, event: ActivityEvent): StatusOutput {
    const out = newOutput();
    const t = parseTimeMs(event['@timestamp']);
    // Only a clock not started moves here: an event's time is its own, the clock is the ticks'.
    if (st.nowMs === null) advance(st, t);
    const m = memberOfEvent(st, event, t);
    const action = event.event.action;
    const takedown = action === 'channel_banned' || action === 'channel_deleted';
    // A takedown from before the current generation (redelivered, or late) is history, for the
    // cadence too.
    if (takedown && t < (m.bornMs ?? -Infinity)) return out;
    gapsDetector.step(st.gaps, event, t);
    const nowMs = Math.max(st.nowMs!, t);
    if (takedown) {
      if (m.gone === null || t < m.gone.atMs) m.gone = { atMs: t, reason: `${action === 'channel_banned' ? 'banned' : 'deleted'} at ${when(st, t)}` };
    } else if (action === 'channel_created' && m.gone !== null && t > m.gone.atMs) {
      // A new channel under the old handle (the collector's next generation).
      m.gone = null;
      m.bornMs = t;
      m.channelKey = channelKey(event, st.options.homePlatform);
    } else if (st.options.activityActions.includes(action)) {
      // Older than what we know: says nothing about any silence (as in the gap detector).
      if (t <= m.lastActivityMs) return out;
      // Activity newer than anything known, from before a quiet or silent spell was decided to
      // begin: that decision was wrong. (A post the collector had reported already changes nothing.)
      const late = (m.status === 'quiet' || m.status === 'silent') && t < (m.correctedSinceMs ?? m.sinceMs) && t > lastSeenMs(m);
      m.lastActivityMs = t;
      m.channelKey = channelKey(event, st.options.homePlatform);
      settle(st, m, nowMs, out, { correction: late, evidence: true });
      if (m.network !== null) checkNetworks(st, [m.network], nowMs, out);
      return out;
    } else {
      return out;
    }
    settle(st, m, nowMs, out, { evidence: true });
    if (m.network !== null) checkNetworks(st, [m.network], nowMs, out);
    return out;
  },

  /** The collector's status stream: per-channel health and its heartbeat. */
  observe(st: StatusState, update: CollectorStatusUpdate): StatusOutput {
    const out = newOutput();
    const at = Date.parse(update.at);
    const nowMs = advance(st, at);
    const c = collectorOf(st, update.collector);
    if (update.type === 'heartbeat') {
      c.source = update.source;
      // A beat no newer than the last (redelivered) says nothing about a stall since. Its channels
      // stay unknown until the collector has seen each of them again.
      if (at > c.lastHeartbeatMs) {
        c.lastHeartbeatMs = at;
        c.stalled = false;
      }
      return out;
    }
    const m = memberOfUpdate(st, update, at);
    // An older report than one applied (redelivered, reordered) must not make a channel the
    // collector cannot see visible again, nor one seen since gone.
    if (at < (m.reportAtMs ?? -Infinity)) return out;
    m.reportAtMs = at;
    m.collector = update.collector;
    m.source ??= c.source;
    if (update.health === 'ok') {
      m.blind = null;
      m.gone = null;
      if (update.lastPostAt !== undefined) m.reportedPostMs = Math.max(m.reportedPostMs, Date.parse(update.lastPostAt));
    } else if (update.health === 'unknown') {
      m.blind = { sinceMs: m.blind?.sinceMs ?? at, reason: update.reason };
    } else {
      m.blind = null;
      m.gone ??= { atMs: at, reason: `gone (collector ${update.collector}): ${update.reason}` };
    }
    settle(st, m, nowMs, out, { evidence: true });
    if (m.network !== null) checkNetworks(st, [m.network], nowMs, out);
    return out;
  },

  /** An analyst's mute/retire or its reversal. Replaying older overrides changes nothing. */
  override(st: StatusState, doc: StatusOverrideDoc): StatusOutput {
    const out = newOutput();
    const atMs = Date.parse(doc.at);
    // As in step: the override's time is its own; only a clock not started moves here.
    if (st.nowMs === null) advance(st, atMs);
    const handle = keyOfHandle(doc.subject);
    let m = st.members.get(handle);
    if (m === undefined) {
      m = newMember(handle, false, atMs);
      st.members.set(handle, m);
    }
    if (atMs <= m.overrideAtMs) return out;
    m.overrideAtMs = atMs;
    const next = nextOverride(m.override, doc);
    if (next === undefined) return out;
    m.override = next;
    const nowMs = Math.max(st.nowMs!, atMs);
    settle(st, m, nowMs, out, { by: doc.by, ...(m.override === null ? { note: `${doc.action} by ${doc.by}: ${doc.reason}` } : {}) });
    if (m.network !== null) checkNetworks(st, [m.network], nowMs, out);
    return out;
  },

  /** The clock: stalled collectors, expired mutes, quiet and silent as the watermarks pass, alerts. */
  tick(st: StatusState, nowMs: number): StatusOutput {
    const out = newOutput();
    const now = advance(st, nowMs);
    const staleMs = st.options.status.heartbeatStaleSecs * 1000;
    for (const [name, c] of st.collectors) {
      if (c.stalled || c.lastHeartbeatMs < 0 || now - c.lastHeartbeatMs <= staleMs) continue;
      c.stalled = true;
      for (const m of st.members.values()) {
        if (m.collector === name && m.blind === null) m.blind = { sinceMs: c.lastHeartbeatMs + staleMs, reason: `collector ${name}: no heartbeat since ${when(st, c.lastHeartbeatMs)}` };
      }
    }
    const changed = new Set<string>();
    for (const m of st.members.values()) {
      const expired = m.override !== null && !overrideInForce(m.override, now);
      const before = out.changes.length;
      if (expired) {
        const note = `${m.override!.action === 'mute' ? 'mute' : 'retirement'} by ${m.override!.by} expired`;
        m.override = null;
        settle(st, m, now, out, { note });
      } else {
        settle(st, m, now, out);
      }
      if (out.changes.length > before && m.network !== null) changed.add(m.network);
    }
    checkNetworks(st, changed, now, out);
    checkSources(st, now, out);
    return out;
  },

  /**
   * The status document of every member, for the store (one per member, updated in place). None
   * before the clock has started: nothing is known yet, not even since when.
   */
  docs(st: StatusState): StatusDoc[] {
    if (st.nowMs === null) return [];
    const updatedAt = isoOf(st.nowMs);
    return [...st.members.values()].map((m) => ({
      type: 'status',
      id: m.handle,
      subject: m.handle,
      watched: m.watched,
      network: m.network,
      language: m.language,
      status: m.status,
      since: isoOf(m.sinceMs),
      reason: m.reason,
      lastActivityAt: m.lastActivityMs < 0 ? null : isoOf(m.lastActivityMs),
      collector: m.collector,
      override: m.override === null || (m.status !== 'muted' && m.status !== 'retired')
        ? null
        : { by: m.override.by, at: m.override.at, reason: m.override.reason, until: m.override.until },
      updatedAt,
    }));
  },

  snapshot(st: StatusState): string {
    return snapshotState(st);
  },

  restore(json: string): StatusState {
    return restoreState<StatusState>(json);
  },
};

