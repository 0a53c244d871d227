import { LIST, listValue, timestampValue, VARCHAR, type DuckDBAppender } from '@duckdb/node-api';
import type { ActivityEvent } from '../../events/index.ts';
import { findingIndexFields } from '../queries.ts';
import type { FindingDoc } from '../types.ts';

/**
 * Tables of the embedded store. Events are flattened to columns (links and labels as lists) so
 * histograms scan only what they group by. Times are UTC TIMESTAMPs at millisecond precision,
 * the precision Elasticsearch keeps, so both stores bucket the same instants alike.
 */
const EVENT_COLUMNS = `
  id VARCHAR NOT NULL,
  ts TIMESTAMP NOT NULL,
  action VARCHAR NOT NULL,
  ingested TIMESTAMP,
  platform VARCHAR NOT NULL,
  channel_id VARCHAR NOT NULL,
  channel_handle VARCHAR,
  channel_title VARCHAR,
  channel_language VARCHAR,
  channel_network VARCHAR,
  message_id VARCHAR,
  message_media VARCHAR,
  message_length INTEGER,
  message_forwarded_from VARCHAR,
  message_views BIGINT,
  message_text VARCHAR,
  links VARCHAR[],
  subscribers BIGINT,
  count BIGINT,
  source_type VARCHAR NOT NULL,
  source_name VARCHAR,
  labels VARCHAR[]`;

/** The finding document itself is kept as JSON; the columns are what queries filter and sort on. */
const FINDING_COLUMNS = `
  type VARCHAR NOT NULL,
  id VARCHAR NOT NULL,
  start_ts TIMESTAMP NOT NULL,
  end_ts TIMESTAMP,
  subjects VARCHAR[] NOT NULL,
  scope VARCHAR,
  magnitude DOUBLE NOT NULL,
  unprecedented BOOLEAN,
  platform VARCHAR,
  doc VARCHAR NOT NULL`;

export const DDL = [
  `CREATE TABLE IF NOT EXISTS events (${EVENT_COLUMNS}, PRIMARY KEY (id))`,
  `CREATE TABLE IF NOT EXISTS findings (${FINDING_COLUMNS}, PRIMARY KEY (type, id))`,
];

/**
 * Appenders cannot resolve conflicts, so batches are appended to per-connection staging tables
 * and moved into the keyed tables with one INSERT ... SELECT.
 */
export const STAGING_DDL = [
  `CREATE TEMP TABLE IF NOT EXISTS events_staging (${EVENT_COLUMNS})`,
  `CREATE TEMP TABLE IF NOT EXISTS findings_staging (${FINDING_COLUMNS})`,
];

function ts(a: DuckDBAppender, iso: string | null | undefined): void {
  if (iso === null || iso === undefined) a.appendNull();
  else a.appendTimestamp(timestampValue(BigInt(Date.parse(iso)) * 1000n));
}

function str(a: DuckDBAppender, v: string | null | undefined): void {
  if (v === null || v === undefined) a.appendNull();
  else a.appendVarchar(v);
}

function big(a: DuckDBAppender, v: number | null | undefined): void {
  if (v === null || v === undefined) a.appendNull();
  else a.appendBigInt(BigInt(v));
}

/** Typed explicitly: an empty list has no items to infer the type from. */
const STRINGS = LIST(VARCHAR);

function list(a: DuckDBAppender, v: readonly string[] | undefined): void {
  if (v === undefined) a.appendNull();
  else a.appendList(listValue(v), STRINGS);
}

/** One events row, in EVENT_COLUMNS order. */
export function appendEvent(a: DuckDBAppender, e: ActivityEvent): void {
  str(a, e.event.id);
  ts(a, e['@timestamp']);
  str(a, e.event.action);
  ts(a, e.event.ingested);
  str(a, e.platform);
  str(a, e.channel.id);
  str(a, e.channel.handle);
  str(a, e.channel.title);
  str(a, e.channel.language);
  str(a, e.channel.network);
  str(a, e.message?.id);
  str(a, e.message?.media);
  if (e.message?.length === undefined) a.appendNull();
  else a.appendInteger(e.message.length);
  str(a, e.message?.forwarded_from);
  big(a, e.message?.views);
  str(a, e.message?.text);
  list(a, e.links);
  big(a, e.subscribers);
  big(a, e.count);
  str(a, e.source.type);
  str(a, e.source.name);
  list(a, e.labels);
  a.endRow();
}

/** One findings row, in FINDING_COLUMNS order. */
export function appendFinding(a: DuckDBAppender, doc: FindingDoc): void {
  const f = findingIndexFields(doc);
  str(a, doc.type);
  str(a, doc.id);
  ts(a, f.start);
  ts(a, f.end);
  list(a, f.subjects);
  str(a, f.scope);
  a.appendDouble(f.magnitude);
  if (f.unprecedented === null) a.appendNull();
  else a.appendBoolean(f.unprecedented);
  str(a, f.platform);
  a.appendVarchar(JSON.stringify(doc));
  a.endRow();
}

const count = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v as bigint | number));
const strings = (v: unknown): string[] | undefined => (v === null || v === undefined ? undefined : ((v as { items: string[] }).items ?? (v as string[])).map(String));

/** The event a row of `events` was appended from (appendEvent), for reading history back in order. */
export function eventOfRow(r: Record<string, unknown>): ActivityEvent {
  const ingested = count(r.ingested_ms);
  const message = r.message_id === null ? undefined : {
    id: String(r.message_id),
    ...(r.message_media !== null ? { media: r.message_media as NonNullable<ActivityEvent['message']>['media'] } : {}),
    ...(r.message_length !== null ? { length: Number(r.message_length) } : {}),
    ...(r.message_forwarded_from !== null ? { forwarded_from: String(r.message_forwarded_from) } : {}),
    ...(r.message_views !== null ? { views: Number(r.message_views) } : {}),
    ...(r.message_text !== null ? { text: String(r.message_text) } : {}),
  };
  const e: ActivityEvent = {
    '@timestamp': new Date(Number(r.ts_ms as bigint | number)).toISOString(),
    event: { id: String(r.id), action: r.action as ActivityEvent['event']['action'], ...(ingested !== undefined ? { ingested: new Date(ingested).toISOString() } : {}) },
    platform: String(r.platform),
    channel: {
      id: String(r.channel_id),
      ...(r.channel_handle !== null ? { handle: String(r.channel_handle) } : {}),
      ...(r.channel_title !== null ? { title: String(r.channel_title) } : {}),
      ...(r.channel_language !== null ? { language: String(r.channel_language) } : {}),
      ...(r.channel_network !== null ? { network: String(r.channel_network) } : {}),
    },
    source: { type: r.source_type as ActivityEvent['source']['type'], ...(r.source_name !== null ? { name: String(r.source_name) } : {}) },
  };
  if (message) e.message = message;
  const links = strings(r.links);
  if (links) e.links = links;
  const subscribers = count(r.subscribers);
  if (subscribers !== undefined) e.subscribers = subscribers;
  const n = count(r.count);
  if (n !== undefined) e.count = n;
  const labels = strings(r.labels);
  if (labels) e.labels = labels;
  return e;
}
