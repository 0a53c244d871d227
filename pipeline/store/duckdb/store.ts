import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DuckDBInstance, listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { ActivityEvent } from '../../events/index.ts';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import {
  bucketSpec, filterValues, findingLimit, findingSort, MAX_CHANNELS, rangeMs, sortBuckets,
} from '../queries.ts';
import type {
  ChannelInfo, EventDimension, EventFilters, EventSummary, FindingDoc, FindingOf, FindingQuery, FindingType, HistogramBucket,
  HistogramQuery, ItemResult, Store, TermCount, TimeRange, TopNQuery,
} from '../types.ts';
import { appendEvent, appendFinding, DDL, eventOfRow, STAGING_DDL } from './schema.ts';

const COLUMN: Record<EventDimension | 'link', string> = {
  network: 'channel_network',
  language: 'channel_language',
  channel: 'channel_id',
  action: 'action',
  platform: 'platform',
  link: 'link',
};

/** Named parameters for one statement; values never enter the SQL text. */
class Params {
  readonly values: Record<string, DuckDBValue> = {};
  private n = 0;
  add(v: DuckDBValue): string {
    const name = `p${this.n++}`;
    this.values[name] = v;
    return `$${name}`;
  }
  /** Milliseconds since the epoch as a TIMESTAMP expression. */
  time(ms: number): string {
    return `make_timestamp(${this.add(BigInt(ms) * 1000n)}::BIGINT)`;
  }
}

/** One statement at a time per connection: DuckDB connections are not meant to interleave. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => {});
    return next;
  }
}

const iso = (ms: bigint | number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());
const num = (v: unknown): number => Number(v as bigint | number);

function eventWhere(p: Params, range: TimeRange, filters: EventFilters | undefined, what: string): string {
  const { fromMs, toMs } = rangeMs(range, what);
  const clauses: string[] = [];
  if (fromMs !== undefined) clauses.push(`ts >= ${p.time(fromMs)}`);
  if (toMs !== undefined) clauses.push(`ts < ${p.time(toMs)}`);
  for (const [dim, values] of filterValues(filters)) {
    clauses.push(values.length ? `${COLUMN[dim]} IN (${values.map((v) => p.add(v)).join(', ')})` : 'false');
  }
  return clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
}

/**
 * The embedded store: one DuckDB file under the data directory holds events and findings.
 * Writes go through one connection and queries through another, so dashboards keep answering
 * during an import (DuckDB's MVCC shows them the last committed state).
 */
export class DuckDbStore implements Store {
  readonly kind = 'duckdb' as const;
  private readonly writeLane = new Lane();
  private readonly readLane = new Lane();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
  ) {}

  /** Open (or create) `<dataDir>/tidewatch.duckdb` and its tables. */
  static async open(dataDir: string): Promise<DuckDbStore> {
    const path = join(dataDir, 'tidewatch.duckdb');
    try {
      mkdirSync(dirname(path), { recursive: true });
      const instance = await DuckDBInstance.create(path);
      const store = new DuckDbStore(path, instance, await instance.connect(), await instance.connect());
      await store.setup();
      return store;
    } catch (err) {
      throw new TidewatchError(ErrorCode.STORE_FAILED, `DuckDB store ${path}: cannot open it (${(err as Error).message})`, { cause: err });
    }
  }

  setup(): Promise<void> {
    return this.writeLane.run(async () => {
      for (const sql of [...DDL, ...STAGING_DDL]) await this.writer.run(sql);
    });
  }

  /**
   * The first copy of an id wins; a later one (in the store already, or earlier in the same
   * batch) is reported as a duplicate, like Elasticsearch's 409 on `create`. A failed batch is
   * retriable as a whole: DuckDB fails statements, not rows.
   */
  writeEvents(events: readonly ActivityEvent[]): Promise<ItemResult[]> {
    if (events.length === 0) return Promise.resolve([]);
    return this.writeLane.run(async () => {
      const first = new Map<string, ActivityEvent>();
      for (const e of events) if (!first.has(e.event.id)) first.set(e.event.id, e);
      try {
        const appender = await this.writer.createAppender('events_staging', 'main', 'temp');
        try {
          for (const e of first.values()) appendEvent(appender, e);
          appender.flushSync();
        } finally {
          appender.closeSync();
        }
        const existing = await this.writer.runAndReadAll('SELECT id FROM events_staging SEMI JOIN events USING (id)');
        await this.writer.run('INSERT OR IGNORE INTO events SELECT * FROM events_staging');
        const known = new Set(existing.getRows().map((r) => r[0] as string));
        const seen = new Set<string>();
        return events.map((e): ItemResult => {
          const id = e.event.id;
          const duplicate = known.has(id) || seen.has(id);
          seen.add(id);
          return duplicate ? { id, status: 'written', duplicate: true } : { id, status: 'written' };
        });
      } catch (err) {
        const reason = `DuckDB ${this.path}: writing ${events.length} event(s) failed (${(err as Error).message})`;
        return events.map((e): ItemResult => ({ id: e.event.id, status: 'failed', retriable: true, code: ErrorCode.STORE_FAILED, reason }));
      } finally {
        await this.writer.run('DELETE FROM events_staging').catch(() => {});
      }
    });
  }

  /** Upsert: the last document of a (type, id) in the batch replaces whatever was stored. */
  writeFindings(docs: readonly FindingDoc[]): Promise<ItemResult[]> {
    if (docs.length === 0) return Promise.resolve([]);
    return this.writeLane.run(async () => {
      const latest = new Map<string, FindingDoc>();
      for (const d of docs) latest.set(`${d.type}\u001f${d.id}`, d);
      try {
        const appender = await this.writer.createAppender('findings_staging', 'main', 'temp');
        try {
          for (const d of latest.values()) appendFinding(appender, d);
          appender.flushSync();
        } finally {
          appender.closeSync();
        }
        await this.writer.run('INSERT OR REPLACE INTO findings SELECT * FROM findings_staging');
        return docs.map((d): ItemResult => ({ id: d.id, status: 'written' }));
      } catch (err) {
        const reason = `DuckDB ${this.path}: writing ${docs.length} finding(s) failed (${(err as Error).message})`;
        return docs.map((d): ItemResult => ({ id: d.id, status: 'failed', retriable: true, code: ErrorCode.STORE_FAILED, reason }));
      } finally {
        await this.writer.run('DELETE FROM findings_staging').catch(() => {});
      }
    });
  }

  async refresh(): Promise<void> {}

  private async query(sql: string, p: Params, what: string): Promise<Record<string, unknown>[]> {
    if (this.closed) throw new TidewatchError(ErrorCode.SHUTTING_DOWN, `${what}: the DuckDB store ${this.path} is closed`);
    return this.readLane.run(async () => {
      try {
        return (await this.reader.runAndReadAll(sql, p.values)).getRowObjects() as Record<string, unknown>[];
      } catch (err) {
        throw new TidewatchError(ErrorCode.STORE_FAILED, `${what} on DuckDB ${this.path}: ${(err as Error).message}`, { cause: err });
      }
    });
  }

  async histogram(q: HistogramQuery): Promise<HistogramBucket[]> {
    const spec = bucketSpec(q);
    const p = new Params();
    const bucket = 'fixedMs' in spec
      ? `(epoch_ms(ts) // ${p.add(BigInt(spec.fixedMs))}) * ${p.add(BigInt(spec.fixedMs))}`
      : `epoch_ms(date_trunc('${spec.calendar}', ts))`;
    const key = q.groupBy ? COLUMN[q.groupBy] : 'NULL::VARCHAR';
    const rows = await this.query(
      `SELECT ${bucket} AS b, ${key} AS k, count(*) AS events, count(DISTINCT channel_id) AS channels
       FROM events ${eventWhere(p, q, q.filters, 'histogram')} GROUP BY ALL`,
      p,
      'histogram',
    );
    return sortBuckets(rows.map((r) => ({ start: iso(r.b as bigint)!, key: (r.k as string | null) ?? null, events: num(r.events), channels: num(r.channels) })));
  }

  async topN(q: TopNQuery): Promise<TermCount[]> {
    const p = new Params();
    const where = eventWhere(p, q, q.filters, 'topN');
    // A link counts once per event, as a keyword term counts documents in Elasticsearch.
    const source = q.field === 'link' ? `(SELECT unnest(list_distinct(links)) AS link FROM events ${where})` : `(SELECT * FROM events ${where})`;
    const col = COLUMN[q.field];
    const rows = await this.query(
      `SELECT ${col} AS k, count(*) AS n FROM ${source} WHERE ${col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, k LIMIT ${p.add(q.n)}`,
      p,
      'topN',
    );
    return rows.map((r) => ({ key: r.k as string, events: num(r.n) }));
  }

  async summary(q: TimeRange & { filters?: EventFilters } = {}): Promise<EventSummary> {
    const p = new Params();
    const [r] = await this.query(
      `SELECT count(*) AS n, count(DISTINCT channel_id) AS c, epoch_ms(min(ts)) AS first, epoch_ms(max(ts)) AS last
       FROM events ${eventWhere(p, q, q.filters, 'summary')}`,
      p,
      'summary',
    );
    return { events: num(r!.n), channels: num(r!.c), firstAt: iso(r!.first as bigint | null), lastAt: iso(r!.last as bigint | null) };
  }

  async channels(q: { filters?: EventFilters; limit?: number } = {}): Promise<ChannelInfo[]> {
    const p = new Params();
    // The latest event carrying a field wins; same instant: the larger event id, as in Elasticsearch.
    const latest = (col: string) => `arg_max(${col}, (ts, id)) FILTER (WHERE ${col} IS NOT NULL)`;
    const rows = await this.query(
      `SELECT platform, channel_id, ${latest('channel_handle')} AS handle, ${latest('channel_title')} AS title,
              ${latest('channel_network')} AS network, ${latest('channel_language')} AS language,
              ${latest('subscribers')} AS subscribers, count(*) AS n,
              epoch_ms(min(ts)) AS first, epoch_ms(max(ts)) AS last, epoch_ms(max(ts) FILTER (WHERE action = 'post')) AS last_post
       FROM events ${eventWhere(p, {}, q.filters, 'channels')}
       GROUP BY platform, channel_id ORDER BY platform, channel_id LIMIT ${p.add(Math.min(q.limit ?? MAX_CHANNELS, MAX_CHANNELS))}`,
      p,
      'channels',
    );
    return rows.map((r) => ({
      platform: r.platform as string,
      id: r.channel_id as string,
      handle: (r.handle as string | null) ?? null,
      title: (r.title as string | null) ?? null,
      network: (r.network as string | null) ?? null,
      language: (r.language as string | null) ?? null,
      subscribers: r.subscribers === null ? null : num(r.subscribers),
      events: num(r.n),
      firstSeenAt: iso(r.first as bigint)!,
      lastSeenAt: iso(r.last as bigint)!,
      lastPostAt: iso(r.last_post as bigint | null),
    }));
  }

  private findingWhere(p: Params, type: FindingType, q: FindingQuery): string {
    const { fromMs, toMs } = rangeMs(q, 'findings');
    const clauses = [`type = ${p.add(type)}`];
    if (toMs !== undefined) clauses.push(`start_ts < ${p.time(toMs)}`);
    if (fromMs !== undefined) clauses.push(`(end_ts IS NULL OR end_ts >= ${p.time(fromMs)})`);
    if (q.subject !== undefined) clauses.push(`list_contains(subjects, ${p.add(q.subject)})`);
    if (q.scope !== undefined) clauses.push(`scope = ${p.add(q.scope)}`);
    if (q.open !== undefined) clauses.push(q.open ? 'end_ts IS NULL' : 'end_ts IS NOT NULL');
    if (q.unprecedented !== undefined) clauses.push(`unprecedented = ${p.add(q.unprecedented)}`);
    if (q.platform !== undefined) clauses.push(`platform = ${p.add(q.platform)}`);
    return `WHERE ${clauses.join(' AND ')}`;
  }

  async findings<T extends FindingType>(type: T, q: FindingQuery = {}): Promise<FindingOf<T>[]> {
    const p = new Params();
    const sort = findingSort(q);
    const order = `${sort.by === 'time' ? 'start_ts' : 'magnitude'} ${sort.order === 'asc' ? 'ASC' : 'DESC'}, id ASC`;
    const rows = await this.query(
      `SELECT doc FROM findings ${this.findingWhere(p, type, q)} ORDER BY ${order} LIMIT ${p.add(findingLimit(q))}`,
      p,
      'findings',
    );
    return rows.map((r) => JSON.parse(r.doc as string) as FindingOf<T>);
  }

  async countFindings(type: FindingType, q: Omit<FindingQuery, 'limit' | 'sort'> = {}): Promise<number> {
    const p = new Params();
    const [r] = await this.query(`SELECT count(*) AS n FROM findings ${this.findingWhere(p, type, q)}`, p, 'countFindings');
    return num(r!.n);
  }

  /** Keyset pages over (ts, id): each page is one query, so writes go on in between. */
  async *scanEvents(q: TimeRange & { filters?: EventFilters } = {}, pageSize = 5_000): AsyncIterable<ActivityEvent[]> {
    let after: { ms: number; id: string } | undefined;
    for (;;) {
      const p = new Params();
      let where = eventWhere(p, q, q.filters, 'scanEvents');
      if (after) where = `${where ? `${where} AND` : 'WHERE'} (ts, id) > (${p.time(after.ms)}, ${p.add(after.id)})`;
      const rows = await this.query(
        `SELECT *, epoch_ms(ts) AS ts_ms, epoch_ms(ingested) AS ingested_ms FROM events ${where} ORDER BY ts, id LIMIT ${p.add(pageSize)}`,
        p,
        'scanEvents',
      );
      if (rows.length === 0) return;
      yield rows.map(eventOfRow);
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1]!;
      after = { ms: num(last.ts_ms), id: last.id as string };
    }
  }

  async *scanFindings<T extends FindingType>(type: T, q: TimeRange = {}): AsyncIterable<FindingOf<T>[]> {
    const { fromMs, toMs } = rangeMs(q, 'scanFindings');
    let after: string | undefined;
    for (;;) {
      const p = new Params();
      const clauses = [`type = ${p.add(type)}`];
      if (fromMs !== undefined) clauses.push(`start_ts >= ${p.time(fromMs)}`);
      if (toMs !== undefined) clauses.push(`start_ts < ${p.time(toMs)}`);
      if (after !== undefined) clauses.push(`id > ${p.add(after)}`);
      const rows = await this.query(`SELECT id, doc FROM findings WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT 1000`, p, 'scanFindings');
      if (rows.length === 0) return;
      yield rows.map((r) => JSON.parse(r.doc as string) as FindingOf<T>);
      if (rows.length < 1000) return;
      after = rows[rows.length - 1]!.id as string;
    }
  }

  deleteFindings(type: FindingType, ids: readonly string[]): Promise<ItemResult[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.writeLane.run(async () => {
      try {
        const p = new Params();
        await this.writer.run(`DELETE FROM findings WHERE type = ${p.add(type)} AND list_contains(${p.add(listValue([...ids]))}::VARCHAR[], id)`, p.values);
        return ids.map((id): ItemResult => ({ id, status: 'written' }));
      } catch (err) {
        const reason = `DuckDB ${this.path}: deleting ${ids.length} finding(s) failed (${(err as Error).message})`;
        return ids.map((id): ItemResult => ({ id, status: 'failed', retriable: true, code: ErrorCode.STORE_FAILED, reason }));
      }
    });
  }

  /** Waits for writes in flight, then checkpoints and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.readLane.run(async () => this.reader.closeSync());
    await this.writeLane.run(async () => {
      await this.writer.run('CHECKPOINT');
      this.writer.closeSync();
      this.instance.closeSync();
    });
  }
}
