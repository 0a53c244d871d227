import { ErrorCode, TidewatchError } from '../errors.ts';
import type {
  Bucket, EventDimension, EventFilters, FindingDoc, FindingQuery, FindingType, HistogramBucket, HistogramQuery, TimeRange,
} from './types.ts';

/**
 * What both stores derive from a query or a finding the same way, so Elasticsearch and DuckDB
 * answer alike: the contract suite holds them to it.
 */

export const FINDING_TYPES: readonly FindingType[] = [
  'gap', 'spike', 'migration', 'link_day', 'takedown', 'resurrection', 'lifespan', 'alert', 'status', 'status_change', 'status_override', 'status_alert',
];

/** A histogram larger than this is a mistake (a minute bucket over years), not a chart. */
export const MAX_HISTOGRAM_BUCKETS = 100_000;
export const MAX_FINDINGS = 10_000;
export const DEFAULT_FINDINGS = 100;
export const MAX_CHANNELS = 100_000;

/**
 * The time span a finding covers. Day-level and point findings (migrations, link days,
 * takedowns) span one instant; open gaps and firing alerts have no end yet.
 */
export function findingSpan(doc: FindingDoc): { start: string; end: string | null } {
  switch (doc.type) {
    case 'gap':
    case 'spike':
      return { start: doc.start, end: doc.end };
    case 'migration':
      return { start: doc.at, end: doc.at };
    case 'link_day':
    case 'takedown':
      return { start: doc.day, end: doc.day };
    case 'resurrection':
      return { start: doc.bannedAt, end: doc.createdAt };
    case 'lifespan':
      return { start: doc.createdAt, end: doc.endedAt };
    case 'alert':
      return { start: doc.firedAt, end: doc.resolvedAt };
    // A member's current status is open: it overlaps every range from when it began.
    case 'status':
      return { start: doc.since, end: null };
    case 'status_change':
    case 'status_override':
      return { start: doc.at, end: doc.at };
    case 'status_alert':
      return { start: doc.start, end: doc.end };
  }
}

/** Names a `subject` filter matches: a resurrection is about both the banned channel and its successor. */
export function findingSubjects(doc: FindingDoc): string[] {
  switch (doc.type) {
    case 'gap':
    case 'spike':
    case 'migration':
    case 'lifespan':
    case 'alert':
    case 'status':
    case 'status_change':
    case 'status_override':
    case 'status_alert':
      return [doc.subject];
    case 'resurrection':
      return [doc.banned, doc.successor];
    case 'link_day':
    case 'takedown':
      return [];
  }
}

/**
 * The size a `magnitude` sort ranks by: gap hours, spike count over expected, surge share,
 * off-platform share of a day, channels in a takedown wave, resurrection delay in minutes,
 * lifespan days. Alerts (and status alert episodes) rank by severity; other status documents do not rank.
 */
export function findingMagnitude(doc: FindingDoc): number {
  switch (doc.type) {
    case 'gap':
      return doc.hours;
    case 'spike':
      return doc.expected > 0 ? doc.count / doc.expected : doc.count;
    case 'migration':
      return doc.share ?? 0;
    case 'link_day':
      return doc.offPlatformShare;
    case 'takedown':
      return doc.channels;
    case 'resurrection':
      return doc.delayMinutes;
    case 'lifespan':
      return doc.days;
    case 'alert':
    case 'status_alert':
      return { info: 0, warning: 1, critical: 2 }[doc.severity];
    case 'status':
    case 'status_change':
    case 'status_override':
      return 0;
  }
}

export function findingScope(doc: FindingDoc): string | null {
  return doc.type === 'gap' || doc.type === 'spike' || doc.type === 'migration' ? doc.scope : null;
}

/**
 * The fields both stores index besides the document itself. In Elasticsearch they are stored
 * with an `@` prefix next to the finding's own fields and removed again on read.
 */
export interface FindingIndexFields {
  start: string;
  end: string | null;
  subjects: string[];
  scope: string | null;
  magnitude: number;
  unprecedented: boolean | null;
  platform: string | null;
}

export function findingIndexFields(doc: FindingDoc): FindingIndexFields {
  const span = findingSpan(doc);
  return {
    start: span.start,
    end: span.end,
    subjects: findingSubjects(doc),
    scope: findingScope(doc),
    magnitude: findingMagnitude(doc),
    unprecedented: doc.type === 'gap' ? doc.unprecedented : null,
    platform: doc.type === 'migration' ? doc.platform : null,
  };
}

export function findingLimit(query: FindingQuery): number {
  const limit = query.limit ?? DEFAULT_FINDINGS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FINDINGS) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `findings query: limit ${limit} must be an integer from 1 to ${MAX_FINDINGS}`);
  }
  return limit;
}

export function findingSort(query: FindingQuery): { by: 'time' | 'magnitude'; order: 'asc' | 'desc' } {
  return { by: query.sort?.by ?? 'time', order: query.sort?.order ?? 'desc' };
}

function parseTime(value: string, what: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `${what}: "${value}" is not an ISO 8601 time`);
  return ms;
}

/** Epoch milliseconds of a range's ends; undefined ends stay open. */
export function rangeMs(range: TimeRange, what: string): { fromMs?: number; toMs?: number } {
  const out: { fromMs?: number; toMs?: number } = {};
  if (range.from !== undefined) out.fromMs = parseTime(range.from, `${what}: from`);
  if (range.to !== undefined) out.toMs = parseTime(range.to, `${what}: to`);
  return out;
}

export function filterValues(filters: EventFilters | undefined): [EventDimension, string[]][] {
  if (!filters) return [];
  const out: [EventDimension, string[]][] = [];
  for (const dim of ['network', 'language', 'channel', 'action', 'platform'] as const) {
    const v = filters[dim];
    if (v === undefined) continue;
    out.push([dim, typeof v === 'string' ? [v] : [...v]]);
  }
  return out;
}

/** Validated bucket size; fixed buckets in milliseconds. */
export function bucketSpec(query: HistogramQuery): { fixedMs: number } | { calendar: 'week' | 'month' } {
  const b: Bucket = query.bucket;
  if ('calendar' in b) return { calendar: b.calendar };
  if (!Number.isInteger(b.secs) || b.secs < 1) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `histogram: bucket.secs ${b.secs} must be a positive whole number of seconds`);
  }
  const { fromMs, toMs } = rangeMs(query, 'histogram');
  if (fromMs !== undefined && toMs !== undefined && (toMs - fromMs) / (b.secs * 1000) > MAX_HISTOGRAM_BUCKETS) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `histogram: ${b.secs}-second buckets from ${query.from} to ${query.to} exceed ${MAX_HISTOGRAM_BUCKETS} buckets; use larger buckets`);
  }
  return { fixedMs: b.secs * 1000 };
}

/** Byte-wise order, the order of keyword terms in Elasticsearch and of VARCHAR in DuckDB. */
export function compareKeys(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Histogram cells by bucket start, then group key with "no value" first. */
export function sortBuckets(buckets: HistogramBucket[]): HistogramBucket[] {
  return buckets.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : compareKeys(x.key, y.key)));
}
