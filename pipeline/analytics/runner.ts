import type { ActivityEvent } from '../events/index.ts';
import { analyzer } from './analyzer.ts';
import { BUNDLED_CATALOGUE, type PlatformCatalogue } from './links.ts';
import { platformTotals } from './migration.ts';
import { analyticsOptions, type AnalyticsOptions, type AnalyticsOptionsInput } from './options.ts';
import { isoOf } from './time.ts';
import type {
  Finding, GapFinding, LifespanFinding, LinkDayFinding, MigrationFinding, ResurrectionFinding, SpikeFinding, TakedownFinding,
} from './types.ts';

/**
 * One-shot analysis: every detector over a finite input in event-time order, and the stable JSON
 * contract of `tidewatch analyze --json` (scripts depend on its keys and field names).
 */
export interface RejectedInput {
  kind: 'rejected';
  reason: string;
  location: string;
}

export interface AnalysisOptions {
  analytics?: AnalyticsOptions | AnalyticsOptionsInput;
  catalogue?: PlatformCatalogue;
  /** The clock at the end of the analysis (open gaps are measured to it); default: the latest event. */
  nowMs?: number;
}

export interface AnalysisReport {
  /** Valid events read, duplicates included. */
  events: number;
  rejected: number;
  duplicates: number;
  /** Events that arrived later than the allowed lateness (processed all the same). */
  late: number;
  gaps: Pick<GapFinding, 'scope' | 'subject' | 'start' | 'end' | 'hours' | 'baselineHours' | 'unprecedented'>[];
  spikes: Pick<SpikeFinding, 'scope' | 'subject' | 'start' | 'end' | 'count' | 'expected'>[];
  platforms: { platform: string; domain?: string; links: number; events: number; firstSeen: string }[];
  migrations: Pick<MigrationFinding, 'platform' | 'subject' | 'scope' | 'at' | 'kind'>[];
  takedowns: Pick<TakedownFinding, 'day' | 'channels' | 'languages' | 'networks' | 'subjects' | 'reported' | 'wave'>[];
  resurrections: Pick<ResurrectionFinding, 'banned' | 'successor' | 'bannedAt' | 'createdAt' | 'delayMinutes' | 'minutesTo1000' | 'regainedShare'>[];
  lifespans: Pick<LifespanFinding, 'subject' | 'createdAt' | 'endedAt' | 'days' | 'reason'>[];
  linkDays: Pick<LinkDayFinding, 'day' | 'links' | 'offPlatform' | 'offPlatformShare' | 'platforms'>[];
}

const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0);

function byType<T extends Finding['type']>(findings: Finding[], type: T): Extract<Finding, { type: T }>[] {
  return findings.filter((f): f is Extract<Finding, { type: T }> => f.type === type);
}

/** The contract from the latest version of every finding. */
export function buildReport(findings: Iterable<Finding>, totals: ReturnType<typeof platformTotals>, counts: { events: number; rejected: number; duplicates: number; late: number }): AnalysisReport {
  const all = [...findings];
  return {
    ...counts,
    gaps: byType(all, 'gap')
      .sort((a, b) => cmp(a.start, b.start) || cmp(a.scope, b.scope) || cmp(a.subject, b.subject))
      .map(({ scope, subject, start, end, hours, baselineHours, unprecedented }) => ({ scope, subject, start, end, hours, baselineHours, unprecedented })),
    spikes: byType(all, 'spike')
      .sort((a, b) => cmp(a.start, b.start) || cmp(a.scope, b.scope) || cmp(a.subject, b.subject))
      .map(({ scope, subject, start, end, count, expected }) => ({ scope, subject, start, end, count, expected })),
    platforms: totals.map((p) => ({
      platform: p.platform, ...(p.domain !== undefined ? { domain: p.domain } : {}), links: p.links, events: p.events, firstSeen: isoOf(p.firstMs),
    })),
    migrations: byType(all, 'migration')
      .sort((a, b) => cmp(a.at, b.at) || cmp(a.kind, b.kind) || cmp(a.scope, b.scope) || cmp(a.subject, b.subject) || cmp(a.platform, b.platform))
      .map(({ platform, subject, scope, at, kind }) => ({ platform, subject, scope, at, kind })),
    takedowns: byType(all, 'takedown')
      .sort((a, b) => cmp(a.day, b.day))
      .map(({ day, channels, languages, networks, subjects, reported, wave }) => ({ day, channels, languages, networks, subjects, reported, wave })),
    resurrections: byType(all, 'resurrection')
      .sort((a, b) => cmp(a.createdAt, b.createdAt) || cmp(a.successor, b.successor))
      .map(({ banned, successor, bannedAt, createdAt, delayMinutes, minutesTo1000, regainedShare }) => ({ banned, successor, bannedAt, createdAt, delayMinutes, minutesTo1000, regainedShare })),
    lifespans: byType(all, 'lifespan')
      .sort((a, b) => cmp(a.endedAt, b.endedAt) || cmp(a.subject, b.subject))
      .map(({ subject, createdAt, endedAt, days, reason }) => ({ subject, createdAt, endedAt, days, reason })),
    linkDays: byType(all, 'link_day')
      .sort((a, b) => cmp(a.day, b.day))
      .map(({ day, links, offPlatform, offPlatformShare, platforms }) => ({ day, links, offPlatform, offPlatformShare, platforms })),
  };
}

const isRejected = (item: ActivityEvent | RejectedInput): item is RejectedInput => (item as RejectedInput).kind === 'rejected';

/**
 * Run every detector over `input` (events, and rejections from the sources so they are counted)
 * and return the report. Memory: detector state (per subject) plus the latest version of each
 * finding; the events themselves are not kept beyond the reordering window.
 */
export async function runAnalysis(
  input: Iterable<ActivityEvent | RejectedInput> | AsyncIterable<ActivityEvent | RejectedInput>,
  options: AnalysisOptions = {},
): Promise<AnalysisReport> {
  const st = analyzer.init(analyticsOptions(options.analytics ?? {}), options.catalogue ?? BUNDLED_CATALOGUE);
  const latest = new Map<string, Finding>();
  const keep = (found: readonly Finding[]): void => {
    for (const f of found) latest.set(f.id, f);
  };
  let rejected = 0;
  for await (const item of input) {
    if (isRejected(item)) rejected++;
    else keep(analyzer.step(st, item));
  }
  keep(analyzer.flush(st, options.nowMs));
  const { events, duplicates, late } = st.counts;
  return buildReport(latest.values(), platformTotals(st.migration), { events, rejected, duplicates, late });
}
