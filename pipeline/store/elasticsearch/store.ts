import type { Client, estypes } from '@elastic/elasticsearch';
import type { ElasticsearchConfig } from '../../config/index.ts';
import type { ActivityEvent } from '../../events/index.ts';
import { ErrorCode } from '../../errors.ts';
import {
  bucketSpec, filterValues, findingIndexFields, findingLimit, findingSort, MAX_CHANNELS, rangeMs, sortBuckets,
} from '../queries.ts';
import type {
  ChannelInfo, EventDimension, EventFilters, EventSummary, FindingDoc, FindingOf, FindingQuery, FindingType, HistogramBucket,
  HistogramQuery, ItemResult, Store, TermCount, TimeRange, TopNQuery,
} from '../types.ts';
import { esError } from './client.ts';
import { FINDING_INDEX, findingsIndex, findingsTemplates } from './findings.ts';
import { EsEventSink, type EsSinkOptions } from './sink.ts';
import { installTemplates } from './templates.ts';

const FIELD: Record<EventDimension | 'link', string> = {
  network: 'channel.network',
  language: 'channel.language',
  channel: 'channel.id',
  action: 'event.action',
  platform: 'platform',
  link: 'links',
};

/** Composite pages: large enough to be few round trips, small enough for the default bucket limit. */
const PAGE = 1_000;
/** Exact distinct counts up to this many channels per cell (Elasticsearch's maximum). */
const PRECISION = 40_000;
/** Latest-first, ties by the larger event id: the same order DuckDB's arg_max((ts, id)) picks. */
const LATEST: estypes.SortCombinations[] = [{ '@timestamp': 'desc' }, { 'event.id': 'desc' }];

/** Aggregation responses are shaped by the request, which the client types cannot follow. */
type Agg = Record<string, any>;

function eventQuery(range: TimeRange, filters: EventFilters | undefined, what: string): estypes.QueryDslQueryContainer {
  const { fromMs, toMs } = rangeMs(range, what);
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (fromMs !== undefined || toMs !== undefined) {
    filter.push({ range: { '@timestamp': { gte: fromMs, lt: toMs, format: 'epoch_millis' } } });
  }
  for (const [dim, values] of filterValues(filters)) filter.push({ terms: { [FIELD[dim]]: values } });
  return { bool: { filter } };
}

function latestOf(field: string): estypes.AggregationsAggregationContainer {
  return { filter: { exists: { field } }, aggs: { hit: { top_hits: { size: 1, sort: LATEST, _source: [field] } } } };
}

function pick(agg: Agg, path: string[]): unknown {
  let v: unknown = agg.hit?.hits?.hits?.[0]?._source;
  for (const k of path) v = (v as Record<string, unknown> | undefined)?.[k];
  return v ?? null;
}

/** A stored finding as it was written: the `@` fields derived on write (findingIndexFields) dropped. */
function findingOfHit<T extends FindingType>(hit: estypes.SearchHit<unknown>): FindingOf<T> {
  const doc = { ...(hit._source as Record<string, unknown>) };
  for (const k of Object.keys(doc)) if (k.startsWith('@')) delete doc[k];
  return doc as unknown as FindingOf<T>;
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/**
 * The store on Elasticsearch: events in the monthly activity indices (written by the bulk sink),
 * findings in their own indices by deterministic `_id`. Queries keep to the aggregations every
 * distribution has (composite, terms, cardinality, min/max, filter, top_hits).
 */
export class EsStore implements Store {
  readonly kind = 'elasticsearch' as const;
  private readonly sink: EsEventSink;
  private readonly prefix: string;

  constructor(
    private readonly client: Client,
    private readonly config: ElasticsearchConfig,
    sinkOptions: EsSinkOptions,
  ) {
    this.sink = new EsEventSink(client, config, sinkOptions);
    this.prefix = config.indexPrefix;
  }

  private get activity(): string {
    return `${this.prefix}-activity-*`;
  }

  private allIndices(): string {
    return [this.activity, ...new Set(Object.values(FINDING_INDEX).map((i) => `${this.prefix}-${i}`))].join(',');
  }

  /**
   * Templates, then the findings indices themselves (their names are fixed): created by a first
   * write instead, a dashboard or alerter search at that moment fails on a shard still starting.
   * An index from an older version gets the current mapping put on it: a field added since
   * (strict mappings) would otherwise refuse every new finding carrying it.
   */
  async setup(): Promise<void> {
    await installTemplates(this.client, this.config);
    for (const t of findingsTemplates(this.prefix)) {
      const index = t.indexPatterns[0]!;
      try {
        await this.client.indices.create({ index, wait_for_active_shards: 1 });
      } catch (err) {
        // Setup is idempotent, and instances start together: an index already there is the goal.
        if ((err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type !== 'resource_already_exists_exception') {
          throw esError(err, `creating findings index ${index}`);
        }
        try {
          await this.client.indices.putMapping({ index, ...t.mappings });
        } catch (e) {
          throw esError(e, `updating the mapping of ${index} (a field changed type since it was created? reindex it)`);
        }
      }
    }
  }

  /**
   * Later copies of an id within the batch are reported as duplicates here: the sink reports by
   * id, so it cannot tell the first copy (written) from the second (409) on its own.
   */
  async writeEvents(events: readonly ActivityEvent[]): Promise<ItemResult[]> {
    const first = new Map<string, ActivityEvent>();
    for (const e of events) if (!first.has(e.event.id)) first.set(e.event.id, e);
    const results = new Map((await this.sink.writeEvents([...first.values()])).map((r) => [r.id, r]));
    const seen = new Set<string>();
    return events.map((e): ItemResult => {
      const id = e.event.id;
      if (seen.has(id)) return { id, status: 'written', duplicate: true };
      seen.add(id);
      return results.get(id)!;
    });
  }

  /** `index` by `<type>:<id>`: the latest version of a finding replaces the stored one. */
  async writeFindings(docs: readonly FindingDoc[], options: { refresh?: boolean } = {}): Promise<ItemResult[]> {
    if (docs.length === 0) return [];
    const operations = docs.flatMap((d) => {
      const f = findingIndexFields(d);
      return [
        { index: { _index: findingsIndex(this.prefix, d.type), _id: `${d.type}:${d.id}` } },
        { ...d, '@timestamp': f.start, '@end': f.end, '@subjects': f.subjects, '@magnitude': f.magnitude },
      ];
    });
    return this.findingsBulk(docs.map((d) => d.id), operations, 'writing', options.refresh ?? false);
  }

  /** One bulk request of finding operations, a result per id (partial failure is normal). */
  private async findingsBulk(ids: readonly string[], operations: estypes.BulkRequest['operations'], what: 'writing' | 'deleting', refresh = false): Promise<ItemResult[]> {
    let response: estypes.BulkResponse;
    try {
      response = await this.client.bulk({ operations, refresh });
    } catch (err) {
      const e = esError(err, `${what} ${ids.length} finding(s)`);
      return ids.map((id) => ({ id, status: 'failed', retriable: e.retriable, code: e.code, reason: e.message }));
    }
    return response.items.map((item, i): ItemResult => {
      const id = ids[i]!;
      const r = (item.index ?? item.delete)!;
      if (!r.error) return { id, status: 'written' };
      const retriable = r.status === 429 || r.status >= 500;
      return { id, status: 'failed', retriable, code: retriable ? ErrorCode.ES_OVERLOADED : ErrorCode.ES_REJECTED, reason: `${r.status} ${r.error.type}: ${r.error.reason ?? ''}` };
    });
  }

  async refresh(): Promise<void> {
    try {
      await this.client.indices.refresh({ index: this.allIndices(), ignore_unavailable: true, allow_no_indices: true });
    } catch (err) {
      throw esError(err, 'refreshing indices');
    }
  }

  private async search(what: string, request: estypes.SearchRequest): Promise<estypes.SearchResponse<unknown, Agg>> {
    try {
      return await this.client.search<unknown, Agg>({ ignore_unavailable: true, allow_no_indices: true, ...request });
    } catch (err) {
      throw esError(err, what);
    }
  }

  /** Every page of a composite aggregation, each bucket handed to `each`; stops when it returns false. */
  private async composite(what: string, index: string, query: estypes.QueryDslQueryContainer, composite: estypes.AggregationsCompositeAggregation, aggs: Record<string, estypes.AggregationsAggregationContainer>, each: (bucket: Agg) => boolean): Promise<void> {
    let after: Record<string, unknown> | undefined;
    for (;;) {
      const res = await this.search(what, {
        index,
        size: 0,
        query,
        aggs: { c: { composite: { ...composite, size: PAGE, ...(after ? { after: after as estypes.AggregationsCompositeAggregateKey } : {}) }, aggs } },
      });
      const c = res.aggregations?.c as Agg | undefined;
      for (const b of (c?.buckets ?? []) as Agg[]) if (!each(b)) return;
      if (!c?.after_key || (c.buckets as Agg[]).length < PAGE) return;
      after = c.after_key as Record<string, unknown>;
    }
  }

  async histogram(q: HistogramQuery): Promise<HistogramBucket[]> {
    const spec = bucketSpec(q);
    const interval = 'fixedMs' in spec ? { fixed_interval: `${spec.fixedMs}ms` } : { calendar_interval: spec.calendar === 'week' ? '1w' : '1M' };
    const sources: Record<string, estypes.AggregationsCompositeAggregationSource>[] = [{ b: { date_histogram: { field: '@timestamp', time_zone: 'UTC', ...interval } } }];
    if (q.groupBy) sources.push({ k: { terms: { field: FIELD[q.groupBy], missing_bucket: true } } });
    const out: HistogramBucket[] = [];
    await this.composite('histogram', this.activity, eventQuery(q, q.filters, 'histogram'), { sources }, { ch: { cardinality: { field: 'channel.id', precision_threshold: PRECISION } } }, (b) => {
      out.push({ start: iso(b.key.b as number)!, key: (b.key.k as string | null | undefined) ?? null, events: b.doc_count as number, channels: b.ch.value as number });
      return true;
    });
    return sortBuckets(out);
  }

  async topN(q: TopNQuery): Promise<TermCount[]> {
    const res = await this.search('topN', {
      index: this.activity,
      size: 0,
      query: eventQuery(q, q.filters, 'topN'),
      // shard_size well above n keeps per-shard truncation from changing the top of the list.
      aggs: { t: { terms: { field: FIELD[q.field], size: q.n, shard_size: Math.max(q.n * 10, 1_000), order: [{ _count: 'desc' }, { _key: 'asc' }] } } },
    });
    return ((res.aggregations?.t as Agg | undefined)?.buckets ?? []).map((b: Agg) => ({ key: String(b.key), events: b.doc_count as number }));
  }

  async summary(q: TimeRange & { filters?: EventFilters } = {}): Promise<EventSummary> {
    const res = await this.search('summary', {
      index: this.activity,
      size: 0,
      track_total_hits: true,
      query: eventQuery(q, q.filters, 'summary'),
      aggs: {
        ch: { cardinality: { field: 'channel.id', precision_threshold: PRECISION } },
        first: { min: { field: '@timestamp' } },
        last: { max: { field: '@timestamp' } },
      },
    });
    const a = res.aggregations ?? {};
    const total = res.hits.total;
    return {
      events: typeof total === 'number' ? total : (total?.value ?? 0),
      channels: (a.ch?.value as number | undefined) ?? 0,
      firstAt: iso(a.first?.value as number | null),
      lastAt: iso(a.last?.value as number | null),
    };
  }

  async channels(q: { filters?: EventFilters; limit?: number } = {}): Promise<ChannelInfo[]> {
    const limit = Math.min(q.limit ?? MAX_CHANNELS, MAX_CHANNELS);
    const out: ChannelInfo[] = [];
    const sources = [{ platform: { terms: { field: 'platform' } } }, { id: { terms: { field: 'channel.id' } } }];
    await this.composite(
      'channels',
      this.activity,
      eventQuery({}, q.filters, 'channels'),
      { sources },
      {
        handle: latestOf('channel.handle'),
        title: latestOf('channel.title'),
        network: latestOf('channel.network'),
        language: latestOf('channel.language'),
        subscribers: latestOf('subscribers'),
        first: { min: { field: '@timestamp' } },
        last: { max: { field: '@timestamp' } },
        post: { filter: { term: { 'event.action': 'post' } }, aggs: { last: { max: { field: '@timestamp' } } } },
      },
      (b) => {
        out.push({
          platform: b.key.platform as string,
          id: b.key.id as string,
          handle: pick(b.handle, ['channel', 'handle']) as string | null,
          title: pick(b.title, ['channel', 'title']) as string | null,
          network: pick(b.network, ['channel', 'network']) as string | null,
          language: pick(b.language, ['channel', 'language']) as string | null,
          subscribers: pick(b.subscribers, ['subscribers']) as number | null,
          events: b.doc_count as number,
          firstSeenAt: iso(b.first.value as number)!,
          lastSeenAt: iso(b.last.value as number)!,
          lastPostAt: iso(b.post.last.value as number | null),
        });
        return out.length < limit;
      },
    );
    return out;
  }

  private findingQuery(type: FindingType, q: FindingQuery): estypes.QueryDslQueryContainer {
    const { fromMs, toMs } = rangeMs(q, 'findings');
    const filter: estypes.QueryDslQueryContainer[] = [{ term: { type } }];
    const mustNot: estypes.QueryDslQueryContainer[] = [];
    if (toMs !== undefined) filter.push({ range: { '@timestamp': { lt: toMs, format: 'epoch_millis' } } });
    if (fromMs !== undefined) {
      // Open findings have no @end: they reach into the future and overlap every later range.
      filter.push({ bool: { should: [{ range: { '@end': { gte: fromMs, format: 'epoch_millis' } } }, { bool: { must_not: { exists: { field: '@end' } } } }], minimum_should_match: 1 } });
    }
    if (q.subject !== undefined) filter.push({ term: { '@subjects': q.subject } });
    if (q.scope !== undefined) filter.push({ term: { scope: q.scope } });
    if (q.open === true) mustNot.push({ exists: { field: '@end' } });
    if (q.open === false) filter.push({ exists: { field: '@end' } });
    if (q.unprecedented !== undefined) filter.push({ term: { unprecedented: q.unprecedented } });
    if (q.platform !== undefined) filter.push({ term: { platform: q.platform } });
    return { bool: { filter, must_not: mustNot } };
  }

  async findings<T extends FindingType>(type: T, q: FindingQuery = {}): Promise<FindingOf<T>[]> {
    const sort = findingSort(q);
    const res = await this.search('findings', {
      index: findingsIndex(this.prefix, type),
      size: findingLimit(q),
      query: this.findingQuery(type, q),
      sort: [{ [sort.by === 'time' ? '@timestamp' : '@magnitude']: sort.order }, { id: 'asc' }],
    });
    return res.hits.hits.map((h) => findingOfHit<T>(h));
  }

  async countFindings(type: FindingType, q: Omit<FindingQuery, 'limit' | 'sort'> = {}): Promise<number> {
    try {
      const res = await this.client.count({ index: findingsIndex(this.prefix, type), query: this.findingQuery(type, q), ignore_unavailable: true, allow_no_indices: true });
      return res.count;
    } catch (err) {
      throw esError(err, 'counting findings');
    }
  }

  /** A point in time keeps the pages consistent while the indexer goes on writing. */
  async *scanEvents(q: TimeRange & { filters?: EventFilters } = {}, pageSize = 10_000): AsyncIterable<ActivityEvent[]> {
    let pit: string;
    try {
      pit = (await this.client.openPointInTime({ index: this.activity, keep_alive: '5m', ignore_unavailable: true })).id;
    } catch (err) {
      throw esError(err, 'opening a point in time over the activity indices');
    }
    try {
      let after: estypes.SortResults | undefined;
      for (;;) {
        let res: estypes.SearchResponse<ActivityEvent>;
        try {
          res = await this.client.search<ActivityEvent>({
            pit: { id: pit, keep_alive: '5m' },
            size: pageSize,
            query: eventQuery(q, q.filters, 'scanEvents'),
            sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }],
            track_total_hits: false,
            ...(after ? { search_after: after } : {}),
          });
        } catch (err) {
          throw esError(err, 'reading events in time order');
        }
        const hits = res.hits.hits;
        if (hits.length === 0) return;
        if (res.pit_id) pit = res.pit_id;
        yield hits.map((h) => h._source!);
        if (hits.length < pageSize) return;
        after = hits[hits.length - 1]!.sort;
      }
    } finally {
      await this.client.closePointInTime({ id: pit }).catch(() => {});
    }
  }

  async *scanFindings<T extends FindingType>(type: T, q: TimeRange = {}): AsyncIterable<FindingOf<T>[]> {
    const { fromMs, toMs } = rangeMs(q, 'scanFindings');
    const filter: estypes.QueryDslQueryContainer[] = [{ term: { type } }];
    if (fromMs !== undefined || toMs !== undefined) filter.push({ range: { '@timestamp': { gte: fromMs, lt: toMs, format: 'epoch_millis' } } });
    let after: estypes.SortResults | undefined;
    for (;;) {
      const res = await this.search('scanFindings', {
        index: findingsIndex(this.prefix, type),
        size: PAGE,
        query: { bool: { filter } },
        sort: [{ id: 'asc' }],
        ...(after ? { search_after: after } : {}),
      });
      const hits = res.hits.hits;
      if (hits.length === 0) return;
      yield hits.map((h) => findingOfHit<T>(h));
      if (hits.length < PAGE) return;
      after = hits[hits.length - 1]!.sort;
    }
  }

  deleteFindings(type: FindingType, ids: readonly string[]): Promise<ItemResult[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.findingsBulk(ids, ids.map((id) => ({ delete: { _index: findingsIndex(this.prefix, type), _id: `${type}:${id}` } })), 'deleting');
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}
