import type { ActivityEvent } from '../events/index.ts';
import type { AnalyticsOptions } from './options.ts';

/**
 * What the detectors find. The ES indexer of findings, the alerter and the dashboards import
 * these. Every finding has a deterministic `id`: the same finding seen again (an open gap that
 * closes, a spike whose hour fills up, a wave that grows) carries the same id, so stores upsert.
 * Times are UTC ISO 8601 strings.
 */
export type Scope = 'channel' | 'network';

/** Stamped by whatever stores a finding: which analysis produced it (analysisVersion() in options.ts). */
export interface Analysed {
  analysis?: string;
  /** Set when a re-analysis (late data corrected, `tidewatch reanalyze`) found it and the live pass had not. */
  foundIn?: 'reanalysis';
}

export interface GapFinding extends Analysed {
  type: 'gap';
  id: string;
  scope: Scope;
  subject: string;
  start: string;
  /** null while the silence goes on. */
  end: string | null;
  /** Length so far (open) or final length (closed). */
  hours: number;
  /** The subject's threshold at `start`, from its own rhythm (never below the floor). */
  baselineHours: number;
  /** Longer than every earlier silence of the subject within the lookback. */
  unprecedented: boolean;
  /** The longest earlier silence of at least an hour within the lookback; null when none. */
  previousLongestHours: number | null;
}

export interface SpikeFinding extends Analysed {
  type: 'spike';
  id: string;
  /** 'creation' = channels created, per network or "all". */
  scope: Scope | 'creation';
  subject: string;
  /** Whole UTC hours; consecutive spiking hours form one spike. */
  start: string;
  end: string;
  count: number;
  expected: number;
  /** Poisson probability of at least `count` given `expected`, for the last hour of the spike. */
  pValue: number;
}

export type MigrationScope = 'channel' | 'network' | 'all';

export interface MigrationFinding extends Analysed {
  type: 'migration';
  id: string;
  kind: 'first_seen' | 'surge';
  platform: string;
  scope: MigrationScope;
  subject: string;
  /** first_seen: the event's time; surge: the start of the UTC day. */
  at: string;
  /** surge only: that day's share of links and the usual share before it (0..1). */
  share?: number;
  usualShare?: number;
}

/** Links per platform on one UTC day, across all channels: counts over time and off-platform share. */
export interface LinkDayFinding extends Analysed {
  type: 'link_day';
  id: string;
  day: string;
  links: number;
  offPlatform: number;
  offPlatformShare: number;
  platforms: Record<string, number>;
}

/** At most this many names in a takedown finding's `subjects`; its counts stay exact. */
export const MAX_TAKEDOWN_SUBJECTS = 1_000;

/**
 * Whether a takedown finding is a wave. Findings stored before every ban day became one carry no
 * `wave`: they were all waves.
 */
export const isTakedownWave = (f: TakedownFinding): boolean => f.wave !== false;

export interface TakedownFinding extends Analysed {
  type: 'takedown';
  id: string;
  day: string;
  /** Distinct channels banned or deleted that day (exact, whatever the length of `subjects`). */
  channels: number;
  languages: number;
  networks: string[];
  /**
   * The channels counted, as findings name a channel (handle, else id): one entry per channel,
   * sorted, at most MAX_TAKEDOWN_SUBJECTS (the first in sort order). The list is complete exactly
   * when its length equals `channels`.
   */
  subjects: string[];
  /** The platform's own tally for the day (bans_reported), when one was seen. */
  reported: number | null;
  /** The day passes the wave thresholds (options.takedowns); dashboards and alerts show waves only. */
  wave: boolean;
}

export interface ResurrectionFinding extends Analysed {
  type: 'resurrection';
  id: string;
  banned: string;
  successor: string;
  bannedAt: string;
  createdAt: string;
  delayMinutes: number;
  minutesTo1000: number | null;
  /** Successor's latest subscribers over the predecessor's last known count; null when unknown. */
  regainedShare: number | null;
}

export interface LifespanFinding extends Analysed {
  type: 'lifespan';
  id: string;
  subject: string;
  createdAt: string;
  endedAt: string;
  days: number;
  reason: 'channel_banned' | 'channel_deleted';
}

export type Finding =
  | GapFinding
  | SpikeFinding
  | MigrationFinding
  | LinkDayFinding
  | TakedownFinding
  | ResurrectionFinding
  | LifespanFinding;

/**
 * A detector: pure functions over a state it owns. No I/O; the clock comes in as arguments.
 * `step` expects events in event-time order (the analyzer's reorder buffer provides it); an event
 * older than what the detector has already seen is treated as late, never as new activity.
 * `timeMs` is the event's time when the caller has parsed it already.
 */
export interface Detector<S> {
  readonly name: string;
  init(options: AnalyticsOptions): S;
  step(state: S, event: ActivityEvent, timeMs: number): readonly Finding[];
  /** Findings due by `nowMs` without any event: open gaps, closed hours and days. */
  tick(state: S, nowMs: number): readonly Finding[];
}

/** Shared empty result: most events find nothing, and allocating nothing is what makes 1M/s. */
export const NONE: readonly Finding[] = Object.freeze([]);

/** How findings and state name a channel: its handle, or its id when it has none. */
export function channelSubject(event: ActivityEvent): string {
  return event.channel.handle ?? event.channel.id;
}

/** State key of a channel: its id, prefixed by the platform when that is not the home one. */
export function channelKey(event: ActivityEvent, homePlatform: string): string {
  return event.platform === homePlatform ? event.channel.id : `${event.platform}:${event.channel.id}`;
}
