import { DEFAULT_DISPLAY, formatDay, formatHours as hours, formatMinutes, formatRange, formatTime, type DisplayOptions } from '../../pipeline/dates.ts';
import type { StatusAlertDoc } from '../../pipeline/analytics/status/types.ts';
import { isTakedownWave, type Finding, type GapFinding, type SpikeFinding, type TakedownFinding } from '../../pipeline/analytics/types.ts';
import type { AlertDelivery, AlertRecord } from '../../pipeline/store/types.ts';
import type { Rule } from './rules.ts';

/**
 * Rule evaluation, pure: (rule, findings, alert state, now) -> alerts to save and send, and the
 * new state. Everything the alerter must not get wrong lives here and is tested from data:
 * - de-duplication: an alert's id is `<rule>:<finding id>`, so a finding already alerted is never
 *   alerted again, however often it is seen (an open gap every minute, a spike as it grows);
 * - recovery: an alerted silence that ends becomes `resolved`, with a notice unless turned off;
 * - throttling: over the rule's limit an alert is left out of the state, so the next evaluation
 *   considers it again: late, never lost;
 * - conditions that can end (silences, watch-list status episodes) are `firing` until they do; everything else is a notice,
 *   saved `resolved` at once because there is nothing to recover from.
 */
export interface AlertState {
  /** Alerts that can still change or be seen again: firing ones and those resolved within the lookback. */
  alerts: Record<string, AlertRecord>;
  /** Per rule, when its alerts fired (epoch ms), within its throttle window. */
  fired: Record<string, number[]>;
}

export interface Evaluation {
  /** New and changed alerts: saved, and sent where their deliveries are pending. */
  changed: AlertRecord[];
  state: AlertState;
  /** Alerts held back by the throttle this time. */
  throttled: number;
}

export const emptyAlertState = (): AlertState => ({ alerts: {}, fired: {} });

/** What rules alert on: the detectors' findings and the watch-list status episodes. */
export type Alertable = Finding | StatusAlertDoc;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

const iso = (ms: number): string => new Date(ms).toISOString();
const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** Channels a takedown alert names; a wave can be hundreds, and a chat message should stay readable. */
const TAKEDOWN_CHANNELS_IN_ALERT = 5;

/** "; channels a, b, c … and N more": N from the exact count, the finding's list being capped. */
function takedownChannels(f: TakedownFinding): string {
  // `?? []`: a wave stored before findings named their channels.
  const shown = (f.subjects ?? []).slice(0, TAKEDOWN_CHANNELS_IN_ALERT);
  if (shown.length === 0) return '';
  const more = f.channels - shown.length;
  return `; channels ${shown.join(', ')}${more > 0 ? ` … and ${more} more` : ''}`;
}

function silenceMatches(rule: Extract<Rule, { kind: 'silence' }>, f: GapFinding): boolean {
  return (rule.scope === 'any' || rule.scope === f.scope) && (!rule.onlyUnprecedented || f.unprecedented) && f.hours >= rule.minHours;
}

function spikeMatches(rule: Extract<Rule, { kind: 'spike' }>, f: SpikeFinding): boolean {
  return (rule.scope === 'any' || rule.scope === f.scope) && f.count >= rule.minCount && f.pValue <= rule.maxPValue;
}

/** Whether a finding is one the rule alerts on. */
function matches(rule: Rule, f: Alertable): boolean {
  if (rule.backfill === 'skip' && f.type !== 'status_alert' && f.foundIn === 'reanalysis') return false;
  switch (rule.kind) {
    case 'silence':
      return f.type === 'gap' && silenceMatches(rule, f);
    case 'spike':
      return f.type === 'spike' && spikeMatches(rule, f);
    case 'platform':
      return f.type === 'migration' && rule.events.includes(f.kind) && rule.scopes.includes(f.scope);
    case 'takedown_wave':
      // Waves only (every ban day is a finding). A wave the detector found from the platform's own
      // tally passes whatever its channel count.
      return f.type === 'takedown' && isTakedownWave(f) && (f.channels >= rule.minChannels || f.reported !== null);
    case 'resurrection':
      return f.type === 'resurrection' && f.delayMinutes <= rule.maxDelayMinutes;
    case 'status':
      return f.type === 'status_alert' && rule.kinds.includes(f.kind);
  }
}

/** The finding type a rule reads (what the alerter asks the store for). */
export function ruleFindingType(rule: Rule): 'gap' | 'spike' | 'migration' | 'takedown' | 'resurrection' | 'status_alert' {
  return ({ silence: 'gap', spike: 'spike', platform: 'migration', takedown_wave: 'takedown', resurrection: 'resurrection', status: 'status_alert' } as const)[rule.kind];
}

function subjectOf(f: Alertable): string {
  switch (f.type) {
    case 'gap':
    case 'spike':
    case 'migration':
      return `${f.scope}:${f.subject}`;
    case 'takedown':
      return `day:${f.day}`;
    case 'resurrection':
      return `channel:${f.successor}`;
    case 'status_alert':
      return `${f.kind}:${f.subject}`;
    default:
      return f.id;
  }
}

/** The text people read (chat, e-mail, the console): times in the team's display zone. */
function firstMessage(f: Alertable, zone: string): string {
  switch (f.type) {
    case 'gap': {
      const before = f.previousLongestHours === null ? 'no earlier silence on record' : `longest earlier silence ${hours(f.previousLongestHours)}`;
      const what = f.end === null ? `silent since ${formatTime(f.start, zone)} (${hours(f.hours)} so far)` : `was silent from ${formatRange(f.start, f.end, zone)} (${hours(f.hours)})`;
      return `Silence: ${f.scope} ${f.subject} ${what}; usual threshold ${hours(f.baselineHours)}, ${before}${f.unprecedented ? ', unprecedented' : ''}`;
    }
    case 'spike':
      return `Spike: ${f.scope} ${f.subject}: ${f.count} events from ${formatRange(f.start, f.end, zone)}, ${f.expected} expected (p=${f.pValue.toExponential(1)})`;
    case 'migration':
      return f.kind === 'first_seen'
        ? `New platform: ${f.platform} first seen for ${f.scope} ${f.subject} at ${formatTime(f.at, zone)}`
        : `Platform surge: ${f.platform} at ${pct(f.share ?? 0)} of ${f.scope} ${f.subject}'s links on ${formatDay(f.at, zone)} (usually ${pct(f.usualShare ?? 0)})`;
    case 'takedown':
      return `Takedown wave on ${formatDay(f.day, zone)}: ${f.channels} channels gone across ${f.languages} language(s)${f.networks.length ? ` (networks ${f.networks.join(', ')})` : ''}${f.reported !== null ? `; platform reports ${f.reported}` : ''}${takedownChannels(f)}`;
    case 'resurrection':
      return `Resurrection: ${f.successor} created ${formatTime(f.createdAt, zone)}, ${formatMinutes(f.delayMinutes)} after ${f.banned} was banned`;
    case 'status_alert':
      return f.message;
    default:
      return `${f.type} ${f.id}`;
  }
}

function recoveryMessage(f: GapFinding, zone: string): string {
  return `Recovered: ${f.scope} ${f.subject} active again at ${formatTime(f.end!, zone)} after ${hours(f.hours)} of silence (since ${formatTime(f.start, zone)})`;
}

const pending = (sinks: readonly string[], nowMs: number): AlertDelivery[] =>
  sinks.map((sink) => ({ sink, status: 'pending', attempts: 0, lastError: null, at: iso(nowMs) }));

/**
 * Evaluate one rule. `sinks` name the deliveries a new or changed alert needs; messages read
 * their times in `display.timezone`, while the record's own times stay ISO 8601.
 */
export function evaluateRule(rule: Rule, findings: readonly Alertable[], state: AlertState, nowMs: number, sinks: readonly string[], display: DisplayOptions = DEFAULT_DISPLAY): Evaluation {
  const alerts = { ...state.alerts };
  const windowMs = rule.throttle.perMinutes * MINUTE_MS;
  const fired = (state.fired[rule.name] ?? []).filter((t) => t > nowMs - windowMs);
  const changed: AlertRecord[] = [];
  let throttled = 0;

  // Oldest first, ties by id: when the throttle bites, the earliest findings go out first.
  const candidates = findings.filter((f) => matches(rule, f)).sort((a, b) => (startOf(a) < startOf(b) ? -1 : startOf(a) > startOf(b) ? 1 : a.id < b.id ? -1 : 1));
  for (const f of candidates) {
    const id = `${rule.name}:${f.id}`;
    const existing = alerts[id];
    const endsCondition = (f.type === 'gap' || f.type === 'status_alert') && f.end !== null;
    if (existing) {
      if (existing.state === 'firing' && endsCondition) {
        const notify = f.type === 'status_alert' ? f.notifyEnd : rule.kind === 'silence' && rule.notifyRecovery;
        const resolved: AlertRecord = {
          ...existing,
          state: 'resolved',
          message: f.type === 'status_alert' ? f.message : recoveryMessage(f as GapFinding, display.timezone),
          resolvedAt: iso(nowMs),
          updatedAt: iso(nowMs),
          // Without a notice the record changes, but the sinks hear nothing new.
          deliveries: notify ? pending(sinks, nowMs) : existing.deliveries,
        };
        alerts[id] = resolved;
        changed.push(resolved);
      }
      continue;
    }
    if (fired.length >= rule.throttle.maxAlerts) {
      throttled++;
      continue;
    }
    fired.push(nowMs);
    const condition = (f.type === 'gap' || f.type === 'status_alert') && f.end === null;
    const record: AlertRecord = {
      type: 'alert',
      id,
      rule: rule.name,
      state: condition ? 'firing' : 'resolved',
      severity: f.type === 'status_alert' ? f.severity : rule.severity,
      subject: subjectOf(f),
      findingId: f.id,
      findingType: f.type,
      message: f.type !== 'status_alert' && f.foundIn === 'reanalysis' ? `${firstMessage(f, display.timezone)} (found in a backfill: history that arrived late was analysed again)` : firstMessage(f, display.timezone),
      firedAt: iso(nowMs),
      resolvedAt: condition ? null : iso(nowMs),
      updatedAt: iso(nowMs),
      deliveries: pending(sinks, nowMs),
    };
    alerts[id] = record;
    changed.push(record);
  }

  // Forget what this rule can no longer see again: resolved before its lookback began.
  const forgetBefore = iso(nowMs - rule.lookbackHours * HOUR_MS);
  for (const [id, a] of Object.entries(alerts)) {
    if (a.rule === rule.name && a.resolvedAt !== null && a.resolvedAt < forgetBefore && !undelivered(a)) delete alerts[id];
  }
  return { changed, state: { alerts, fired: { ...state.fired, [rule.name]: fired } }, throttled };
}

function startOf(f: Alertable): string {
  switch (f.type) {
    case 'gap':
    case 'spike':
    case 'status_alert':
      return f.start;
    case 'migration':
      return f.at;
    case 'takedown':
    case 'link_day':
      return f.day;
    case 'resurrection':
      return f.createdAt;
    case 'lifespan':
      return f.endedAt;
  }
}

export function undelivered(a: AlertRecord): boolean {
  return a.deliveries.some((d) => d.status !== 'delivered');
}

/** Rebuild the state from saved alerts (start-up): fire times count against the throttle again. */
export function stateFromAlerts(records: readonly AlertRecord[]): AlertState {
  const state = emptyAlertState();
  for (const a of records) {
    state.alerts[a.id] = a;
    (state.fired[a.rule] ??= []).push(Date.parse(a.firedAt));
  }
  return state;
}
