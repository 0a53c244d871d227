import type { ActivityEvent } from '../events/index.ts';
import type { LinkFields } from '../analytics/links.ts';
import type { Finding } from '../analytics/types.ts';
import type { StatusStoreDoc } from '../analytics/status/types.ts';

/** Per-item outcome of a write: partial failure is normal, every item is accounted for. */
export type ItemResult =
  /** `duplicate`: the store already held this id (a redelivery or a re-import): not an error. */
  | { id: string; status: 'written'; duplicate?: boolean }
  | { id: string; status: 'failed'; retriable: boolean; code: string; reason: string };

/**
 * An event as the indexer hands it to a sink: `link` holds the normalised domains and platforms
 * of its links (linkFields()), derived at index time for the dashboards; a sink may ignore it.
 */
export type IndexedEvent = ActivityEvent & { link?: LinkFields };

/**
 * Where canonical events land. Writes are idempotent by `event.id`: writing the same event
 * twice leaves one document. Elasticsearch and the embedded store implement it.
 */
export interface EventSink {
  /**
   * `json[i]`, when given, is events[i] exactly as one line of JSON (the transport's bytes, see
   * decodeEvent, with `link` spliced in when set): a sink may store it as it is instead of
   * serialising the event again.
   */
  writeEvents(events: readonly IndexedEvent[], json?: readonly (string | undefined)[]): Promise<ItemResult[]>;
  close(): Promise<void>;
}

/** Time range of a query: `from` inclusive, `to` exclusive, ISO 8601; either may be left open. */
export interface TimeRange {
  from?: string;
  to?: string;
}

/** Event filters shared by every event query; a list means "any of these". */
export interface EventFilters {
  network?: string | readonly string[];
  language?: string | readonly string[];
  /** channel.id */
  channel?: string | readonly string[];
  action?: string | readonly string[];
  platform?: string | readonly string[];
}

/** Event dimensions a histogram splits by and top-N ranks. */
export type EventDimension = 'network' | 'language' | 'channel' | 'action' | 'platform';

/**
 * Fixed buckets are aligned on the epoch (UTC), like Elasticsearch's `fixed_interval`; calendar
 * weeks start on Monday, UTC.
 */
export type Bucket = { secs: number } | { calendar: 'week' | 'month' };

export interface HistogramQuery extends TimeRange {
  bucket: Bucket;
  groupBy?: EventDimension;
  filters?: EventFilters;
}

/** One non-empty (bucket, group) cell; empty cells are omitted, the dashboard fills zeros. */
export interface HistogramBucket {
  /** Bucket start, ISO 8601 UTC. */
  start: string;
  /** Group value; null for events without it, and for every bucket when there is no groupBy. */
  key: string | null;
  events: number;
  /** Distinct channel ids with events in the cell. */
  channels: number;
}

export interface TopNQuery extends TimeRange {
  /** `link`: full URLs as written in events. */
  field: EventDimension | 'link';
  n: number;
  filters?: EventFilters;
}

export interface TermCount {
  key: string;
  events: number;
}

export interface EventSummary {
  events: number;
  channels: number;
  /** Earliest and latest event time; null when nothing matches. */
  firstAt: string | null;
  lastAt: string | null;
}

/** What the store knows of a channel: each descriptor from the latest event that carries it. */
export interface ChannelInfo {
  platform: string;
  id: string;
  handle: string | null;
  title: string | null;
  network: string | null;
  language: string | null;
  subscribers: number | null;
  events: number;
  firstSeenAt: string;
  lastSeenAt: string;
  /** Latest `post`: what "active" and "silent" are judged on. */
  lastPostAt: string | null;
}

/**
 * Alert state persisted by the alerter, so a restart neither forgets nor repeats. The id is
 * deterministic (rule + finding), so the same alert is updated in place when it resolves or
 * when a delivery is retried.
 */
export interface AlertRecord {
  type: 'alert';
  id: string;
  rule: string;
  state: 'firing' | 'resolved';
  severity: 'info' | 'warning' | 'critical';
  subject: string;
  findingId: string | null;
  findingType: Finding['type'] | 'status_alert' | null;
  message: string;
  firedAt: string;
  resolvedAt: string | null;
  updatedAt: string;
  /** One entry per sink: an undelivered alert stays visible and is retried. */
  deliveries: AlertDelivery[];
}

export interface AlertDelivery {
  sink: string;
  status: 'delivered' | 'pending' | 'failed';
  attempts: number;
  lastError: string | null;
  at: string;
}

/** Everything the store keeps besides events: the detectors' findings, the alert state and the watch-list status. */
export type FindingDoc = Finding | AlertRecord | StatusStoreDoc;
export type FindingType = FindingDoc['type'];
export type FindingOf<T extends FindingType> = Extract<FindingDoc, { type: T }>;

/**
 * Findings overlapping [from, to): a finding spans its start to its end (see findingSpan() in
 * queries.ts); an open one (a gap still going on, a firing alert) reaches into the future.
 */
export interface FindingQuery extends TimeRange {
  /** Channel handle/id, network or platform, as the finding names it (either side of a resurrection). */
  subject?: string;
  scope?: string;
  /** true: only open gaps / firing alerts; false: only closed ones. */
  open?: boolean;
  /** Gaps: only the ones longer than any earlier silence of their subject. */
  unprecedented?: boolean;
  /** Migrations: only this target platform. */
  platform?: string;
  /** Default 100, at most 10,000. */
  limit?: number;
  /**
   * `time`: by start (default newest first); `magnitude`: by findingMagnitude() (default largest
   * first). Ties are broken by id, so pages are stable.
   */
  sort?: { by: 'time' | 'magnitude'; order?: 'asc' | 'desc' };
}

/**
 * The store the dashboards, the alerter and the analyzer share. Elasticsearch and DuckDB
 * implement it; test/contract runs the same tests on both.
 */
export interface Store extends EventSink {
  readonly kind: 'elasticsearch' | 'duckdb';
  /** Create tables / install templates; idempotent. */
  setup(): Promise<void>;
  /**
   * Upsert by (type, id): the latest write of a finding replaces the earlier one. `refresh`: the
   * written findings are visible to queries when it resolves (Elasticsearch refreshes the
   * shards written; for few documents, such as a live tick's).
   */
  writeFindings(docs: readonly FindingDoc[], options?: { refresh?: boolean }): Promise<ItemResult[]>;
  /** Make everything written so far visible to queries (Elasticsearch refresh; DuckDB: no-op). */
  refresh(): Promise<void>;
  histogram(query: HistogramQuery): Promise<HistogramBucket[]>;
  /** Most frequent values, most events first, ties by key. */
  topN(query: TopNQuery): Promise<TermCount[]>;
  summary(query?: TimeRange & { filters?: EventFilters }): Promise<EventSummary>;
  /** Channels with events matching the filters, ordered by platform then id. */
  channels(query?: { filters?: EventFilters; limit?: number }): Promise<ChannelInfo[]>;
  findings<T extends FindingType>(type: T, query?: FindingQuery): Promise<FindingOf<T>[]>;
  countFindings(type: FindingType, query?: Omit<FindingQuery, 'limit' | 'sort'>): Promise<number>;
  /**
   * Every stored event matching the range and filters, in pages, in the analytics core's order:
   * by time, ties by event id (re-analysis reads history back with it).
   */
  scanEvents(query?: TimeRange & { filters?: EventFilters }, pageSize?: number): AsyncIterable<ActivityEvent[]>;
  /** Every stored finding of a type whose start lies in [from, to), in pages, by id. */
  scanFindings<T extends FindingType>(type: T, query?: TimeRange): AsyncIterable<FindingOf<T>[]>;
  /** Remove findings by id (a re-analysis no longer produces them); an id not stored is not an error. */
  deleteFindings(type: FindingType, ids: readonly string[]): Promise<ItemResult[]>;
}
