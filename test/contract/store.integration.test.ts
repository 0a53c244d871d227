import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_TAKEDOWN_SUBJECTS, type GapFinding, type LinkDayFinding, type ResurrectionFinding, type SpikeFinding, type TakedownFinding } from '../../pipeline/analytics/types.ts';
import { elasticsearchSchema } from '../../pipeline/config/index.ts';
import { buildEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { EsStore } from '../../pipeline/store/elasticsearch/store.ts';
import type { AlertRecord, EventDimension, HistogramBucket, Store } from '../../pipeline/store/types.ts';
import { testElasticsearchUrl, uniqueName } from '../engines.ts';

/**
 * One contract, two stores: DuckDB and real Elasticsearch answer every dashboard and alerter
 * question identically. Expected answers are computed here from the fixture, so each store is
 * held to the same truth rather than to the other.
 */

const NETWORKS = ['net-a', 'net-b'];
const LANGS = ['ar', 'en', undefined];

/** 3 weeks over a month boundary (two monthly ES indices), 6 channels, titles that change, links. */
function fixture(): ActivityEvent[] {
  const out: ActivityEvent[] = [];
  const start = Date.UTC(2018, 10, 20);
  for (let i = 0; i < 1_500; i++) {
    const c = (i * 7) % 6;
    const t = start + i * 20 * 60_000 + (c * 13 * 60_000) % 3_600_000;
    out.push(buildEvent({
      timestamp: t,
      action: i % 50 === 0 ? 'subscribers' : 'post',
      channel: {
        id: `ch-${c}`,
        handle: `handle_${c}`,
        // The title changes halfway: the latest one must win.
        title: i < 750 ? `قناة ${c}` : `channel ${c} v2`,
        network: NETWORKS[c % 2]!,
        ...(LANGS[c % 3] ? { language: LANGS[c % 3]! } : {}),
      },
      message: { id: String(i) },
      links: i % 5 === 0 ? [`https://tamtam.chat/x${i % 3}`, 'https://example.org/a'] : undefined,
      subscribers: i % 50 === 0 ? 1_000 + i : undefined,
      source: { type: 'test' },
    }));
  }
  return out;
}

const FIELD: Record<EventDimension, (e: ActivityEvent) => string | null> = {
  network: (e) => e.channel.network ?? null,
  language: (e) => e.channel.language ?? null,
  channel: (e) => e.channel.id,
  action: (e) => e.event.action,
  platform: (e) => e.platform,
};

function expectedHistogram(events: ActivityEvent[], bucketMs: number, groupBy?: EventDimension, keep: (e: ActivityEvent) => boolean = () => true): HistogramBucket[] {
  const cells = new Map<string, { start: string; key: string | null; ids: number; channels: Set<string> }>();
  for (const e of events.filter(keep)) {
    const start = new Date(Math.floor(Date.parse(e['@timestamp']) / bucketMs) * bucketMs).toISOString();
    const key = groupBy ? FIELD[groupBy](e) : null;
    const id = `${start}|${key}`;
    const cell = cells.get(id) ?? { start, key, ids: 0, channels: new Set<string>() };
    cell.ids++;
    cell.channels.add(e.channel.id);
    cells.set(id, cell);
  }
  return [...cells.values()]
    .map((c) => ({ start: c.start, key: c.key, events: c.ids, channels: c.channels.size }))
    .sort((a, b) => (a.start !== b.start ? (a.start < b.start ? -1 : 1) : a.key === b.key ? 0 : a.key === null ? -1 : b.key === null ? 1 : a.key < b.key ? -1 : 1));
}

const gap = (over: Partial<GapFinding> = {}): GapFinding => ({
  type: 'gap', id: 'gap-1', scope: 'channel', subject: 'handle_1', start: '2018-11-25T10:00:00.000Z', end: null,
  hours: 12, baselineHours: 8, unprecedented: true, previousLongestHours: 9, ...over,
});

const spike = (id: string, count: number, expected: number, start: string): SpikeFinding => ({
  type: 'spike', id, scope: 'network', subject: 'net-a', start, end: start, count, expected, pValue: 1e-9,
});

const linkDay: LinkDayFinding = {
  type: 'link_day', id: 'ld-2018-12-01', day: '2018-12-01T00:00:00.000Z', links: 40, offPlatform: 30, offPlatformShare: 0.75,
  platforms: { tamtam: 20, telegram: 10, 'example.org': 10 },
};

const resurrection: ResurrectionFinding = {
  type: 'resurrection', id: 'res-1', banned: 'old_handle', successor: 'old_handle_new', bannedAt: '2018-11-22T08:00:00.000Z',
  createdAt: '2018-11-22T09:30:00.000Z', delayMinutes: 90, minutesTo1000: null, regainedShare: 0.4,
};

/** A wave as the detector emits it: first at 12 channels, then grown past the cap of its list. */
const takedown = (channels: number): TakedownFinding => ({
  type: 'takedown', id: 'takedown:2018-11-22', day: '2018-11-22T00:00:00.000Z', channels, languages: 3, networks: ['net-a', 'net-b'],
  subjects: Array.from({ length: Math.min(channels, MAX_TAKEDOWN_SUBJECTS) }, (_, i) => (i % 4 === 0 ? `ch-${i}` : `handle_${String(i).padStart(4, '0')}`)).sort(),
  reported: channels > 100 ? 2_500 : null,
  wave: true,
});

const alert = (over: Partial<AlertRecord> = {}): AlertRecord => ({
  type: 'alert', id: 'silence:gap-1', rule: 'silence', state: 'firing', severity: 'warning', subject: 'handle_1',
  findingId: 'gap-1', findingType: 'gap', message: 'handle_1 silent for 12 h', firedAt: '2018-11-25T22:00:00.000Z',
  resolvedAt: null, updatedAt: '2018-11-25T22:00:00.000Z',
  deliveries: [{ sink: 'webhook', status: 'failed', attempts: 2, lastError: 'HTTP 503', at: '2018-11-25T22:01:00.000Z' }],
  ...over,
});

interface Impl {
  name: string;
  open(): Promise<{ store: Store; cleanup: () => Promise<void> }>;
}

const impls: Impl[] = [
  {
    name: 'duckdb',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'tidewatch-ct-'));
      const store = await DuckDbStore.open(dir);
      return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'elasticsearch',
    async open() {
      const config = elasticsearchSchema.parse({ url: testElasticsearchUrl(), indexPrefix: uniqueName('ct-store') });
      const store = new EsStore(createEsClient(config), config, { flushBytes: 500_000, concurrency: 2 });
      await store.setup();
      const admin = createEsClient(config);
      return {
        store,
        cleanup: async () => {
          await admin.indices.delete({ index: `${config.indexPrefix}-*` }).catch(() => {});
          await admin.indices.deleteIndexTemplate({ name: `${config.indexPrefix}-*` }).catch(() => {});
          await admin.close();
        },
      };
    },
  },
];

for (const impl of impls) {
  describe(`store contract: ${impl.name}`, { timeout: 120_000 }, () => {
    const events = fixture();
    let store: Store;
    let cleanup: () => Promise<void>;

    before(async () => {
      ({ store, cleanup } = await impl.open());
    });
    after(async () => {
      await store?.close();
      await cleanup?.();
    });

    test('writes are idempotent by id: the second copy is reported as a duplicate, never stored twice', async () => {
      const first = await store.writeEvents([...events.slice(0, 1_000), events[0]!]);
      assert.equal(first.length, 1_001);
      assert.ok(first.slice(0, 1_000).every((r) => r.status === 'written' && !r.duplicate));
      assert.deepEqual(first[1_000], { id: events[0]!.event.id, status: 'written', duplicate: true });

      const second = await store.writeEvents(events);
      assert.equal(second.filter((r) => r.status === 'written' && r.duplicate).length, 1_000);
      assert.equal(second.filter((r) => r.status === 'written' && !r.duplicate).length, events.length - 1_000);
      await store.refresh();
      const summary = await store.summary();
      const times = events.map((e) => Date.parse(e['@timestamp']));
      assert.deepEqual(summary, { events: events.length, channels: 6, firstAt: new Date(Math.min(...times)).toISOString(), lastAt: new Date(Math.max(...times)).toISOString() });
    });

    test('histograms: fixed buckets by every dimension, with filters and time range, match the data', async () => {
      for (const groupBy of [undefined, 'network', 'language', 'channel', 'action', 'platform'] as const) {
        const got = await store.histogram({ bucket: { secs: 86_400 }, ...(groupBy ? { groupBy } : {}) });
        assert.deepEqual(got, expectedHistogram(events, 86_400_000, groupBy), `by ${groupBy ?? 'nothing'}`);
      }
      const from = '2018-11-25T00:00:00.000Z';
      const to = '2018-11-27T12:00:00.000Z';
      const inRange = (e: ActivityEvent) => e['@timestamp'] >= from.slice(0, 19) && Date.parse(e['@timestamp']) < Date.parse(to);
      const hourly = await store.histogram({ bucket: { secs: 3_600 }, groupBy: 'channel', from, to, filters: { network: 'net-a', action: ['post'] } });
      assert.deepEqual(hourly, expectedHistogram(events, 3_600_000, 'channel', (e) => inRange(e) && e.channel.network === 'net-a' && e.event.action === 'post'));
      assert.ok(hourly.length > 50);
      assert.deepEqual(await store.histogram({ bucket: { secs: 3_600 }, filters: { network: [] } }), []);
    });

    test('calendar buckets: ISO weeks start on Monday, months on the 1st (UTC)', async () => {
      const weeks = await store.histogram({ bucket: { calendar: 'week' } });
      const mondays = new Set(events.map((e) => {
        const d = new Date(e['@timestamp'].slice(0, 10));
        return new Date(d.getTime() - ((d.getUTCDay() + 6) % 7) * 86_400_000).toISOString();
      }));
      assert.deepEqual(weeks.map((b) => b.start), [...mondays].sort());
      assert.equal(weeks[0]!.start, '2018-11-19T00:00:00.000Z');
      assert.equal(weeks.reduce((n, b) => n + b.events, 0), events.length);
      const months = await store.histogram({ bucket: { calendar: 'month' }, groupBy: 'network' });
      assert.deepEqual(months.map((b) => [b.start, b.key]), [
        ['2018-11-01T00:00:00.000Z', 'net-a'], ['2018-11-01T00:00:00.000Z', 'net-b'],
        ['2018-12-01T00:00:00.000Z', 'net-a'], ['2018-12-01T00:00:00.000Z', 'net-b'],
      ]);
    });

    test('top-N by count, ties by key; links count once per event', async () => {
      const channels = await store.topN({ field: 'channel', n: 3 });
      assert.deepEqual(channels, [{ key: 'ch-0', events: 250 }, { key: 'ch-1', events: 250 }, { key: 'ch-2', events: 250 }]);
      const links = await store.topN({ field: 'link', n: 2, filters: { channel: ['ch-1', 'ch-2'] } });
      const linked = events.filter((e) => e.links && ['ch-1', 'ch-2'].includes(e.channel.id));
      assert.deepEqual(links[0], { key: 'https://example.org/a', events: linked.length });
      assert.equal(links.length, 2);
      assert.deepEqual(await store.topN({ field: 'language', n: 5 }), [{ key: 'ar', events: 500 }, { key: 'en', events: 500 }]);
    });

    test('channels: the latest known descriptors, counts and activity times', async () => {
      const list = await store.channels({ filters: { network: 'net-a' } });
      assert.deepEqual(list.map((c) => c.id), ['ch-0', 'ch-2', 'ch-4']);
      const mine = events.filter((e) => e.channel.id === 'ch-0');
      const times = mine.map((e) => Date.parse(e['@timestamp']));
      const lastSubs = mine.filter((e) => e.subscribers !== undefined).at(-1)!;
      assert.deepEqual(list[0], {
        platform: 'telegram', id: 'ch-0', handle: 'handle_0', title: 'channel 0 v2', network: 'net-a', language: 'ar',
        subscribers: lastSubs.subscribers, events: mine.length,
        firstSeenAt: new Date(Math.min(...times)).toISOString(), lastSeenAt: new Date(Math.max(...times)).toISOString(),
        lastPostAt: new Date(Math.max(...mine.filter((e) => e.event.action === 'post').map((e) => Date.parse(e['@timestamp'])))).toISOString(),
      });
      assert.equal(list[1]!.language, null);
      assert.equal((await store.channels({ filters: { network: 'net-b' } }))[0]!.subscribers, null);
      assert.equal((await store.channels({ limit: 2 })).length, 2);
    });

    test('findings: an open gap is updated in place when it closes; filters and sorting', async () => {
      const open = gap();
      assert.deepEqual(await store.writeFindings([open, gap({ id: 'gap-2', subject: 'handle_2', start: '2018-11-20T00:00:00.000Z', end: '2018-11-20T07:00:00.000Z', hours: 7, unprecedented: false })]), [
        { id: 'gap-1', status: 'written' }, { id: 'gap-2', status: 'written' },
      ]);
      await store.refresh();
      assert.deepEqual(await store.findings('gap', { open: true }), [open]);
      assert.deepEqual((await store.findings('gap', { from: '2030-01-01T00:00:00Z' })).map((g) => g.id), ['gap-1'], 'an open gap reaches into the future');

      const closed = gap({ end: '2018-11-26T01:00:00.000Z', hours: 15 });
      await store.writeFindings([closed]);
      await store.refresh();
      assert.equal(await store.countFindings('gap'), 2);
      assert.deepEqual(await store.findings('gap', { open: true }), []);
      assert.deepEqual(await store.findings('gap', { subject: 'handle_1' }), [closed]);
      assert.deepEqual((await store.findings('gap', { unprecedented: true })).map((g) => g.id), ['gap-1']);
      assert.deepEqual((await store.findings('gap', { from: '2018-11-21T00:00:00Z', to: '2018-12-01T00:00:00Z' })).map((g) => g.id), ['gap-1']);
      assert.deepEqual((await store.findings('gap', { sort: { by: 'time', order: 'asc' } })).map((g) => g.id), ['gap-2', 'gap-1']);
      assert.deepEqual((await store.findings('gap', { sort: { by: 'magnitude' }, limit: 1 })).map((g) => g.id), ['gap-1']);
      assert.equal(await store.countFindings('gap', { scope: 'network' }), 0);
    });

    test('findings of every index round-trip exactly, and alerts update in place', async () => {
      const spikes = [spike('s-1', 40, 4, '2018-11-23T10:00:00.000Z'), spike('s-2', 30, 1, '2018-11-24T10:00:00.000Z'), spike('s-3', 30, 1, '2018-11-22T10:00:00.000Z')];
      const written = await store.writeFindings([...spikes, linkDay, resurrection, alert()]);
      assert.ok(written.every((r) => r.status === 'written'), JSON.stringify(written));
      await store.refresh();
      // Ties by magnitude break by id.
      assert.deepEqual((await store.findings('spike', { sort: { by: 'magnitude', order: 'desc' } })).map((s) => s.id), ['s-2', 's-3', 's-1']);
      assert.deepEqual(await store.findings('link_day'), [linkDay]);
      assert.deepEqual(await store.findings('resurrection', { subject: 'old_handle_new' }), [resurrection]);
      assert.deepEqual(await store.findings('resurrection', { subject: 'old_handle' }), [resurrection]);
      assert.deepEqual(await store.findings('alert', { open: true }), [alert()]);

      const resolved = alert({ state: 'resolved', resolvedAt: '2018-11-26T01:05:00.000Z', updatedAt: '2018-11-26T01:05:00.000Z', deliveries: [{ sink: 'webhook', status: 'delivered', attempts: 3, lastError: null, at: '2018-11-26T01:05:00.000Z' }] });
      await store.writeFindings([resolved]);
      await store.refresh();
      assert.deepEqual(await store.findings('alert'), [resolved]);
      assert.equal(await store.countFindings('alert', { open: true }), 0);
      assert.deepEqual(await store.findings('takedown'), []);
    });

    test('scanEvents reads history back exactly, in (time, id) order, in pages, with range and filters', async () => {
      const all: ActivityEvent[] = [];
      for await (const page of store.scanEvents({}, 333)) {
        assert.ok(page.length <= 333);
        all.push(...page);
      }
      const canon = (e: ActivityEvent) => ({ ...e, '@timestamp': new Date(e['@timestamp']).toISOString() });
      const byTimeId = [...events].sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']) || (a.event.id < b.event.id ? -1 : 1));
      assert.equal(all.length, events.length);
      assert.deepEqual(all.map((e) => e.event.id), byTimeId.map((e) => e.event.id));
      assert.deepEqual(all.map(canon), byTimeId.map(canon), 'every field round-trips');
      const from = byTimeId[100]!['@timestamp'];
      const to = byTimeId[900]!['@timestamp'];
      const network = byTimeId[0]!.channel.network!;
      const some: string[] = [];
      for await (const page of store.scanEvents({ from, to, filters: { network } })) some.push(...page.map((e) => e.event.id));
      const want = byTimeId.filter((e) => e.channel.network === network && Date.parse(e['@timestamp']) >= Date.parse(from) && Date.parse(e['@timestamp']) < Date.parse(to));
      assert.ok(want.length > 0);
      assert.deepEqual(some, want.map((e) => e.event.id));
    });

    test('scanFindings pages by id over a start range; deleteFindings removes by id', async () => {
      const many = Array.from({ length: 1_205 }, (_, i) => gap({ id: `scan-${String(i).padStart(5, '0')}`, subject: 'scan_subject', start: new Date(Date.UTC(2019, 0, 1) + i * 3_600_000).toISOString(), end: new Date(Date.UTC(2019, 0, 1) + i * 3_600_000 + 1_800_000).toISOString(), hours: 0.5 }));
      assert.ok((await store.writeFindings(many)).every((r) => r.status === 'written'));
      await store.refresh();
      const seen: string[] = [];
      for await (const page of store.scanFindings('gap', { from: '2019-01-01T00:00:00Z' })) seen.push(...page.map((g) => g.id));
      assert.deepEqual(seen, many.map((g) => g.id));
      const ranged: string[] = [];
      for await (const page of store.scanFindings('gap', { from: many[10]!.start, to: many[20]!.start })) ranged.push(...page.map((g) => g.id));
      assert.deepEqual(ranged, many.slice(10, 20).map((g) => g.id));
      const removed = await store.deleteFindings('gap', [...many.map((g) => g.id), 'never-stored']);
      assert.ok(removed.every((r) => r.status === 'written'), JSON.stringify(removed.filter((r) => r.status !== 'written').slice(0, 3)));
      await store.refresh();
      const left: string[] = [];
      for await (const page of store.scanFindings('gap', { from: '2019-01-01T00:00:00Z' })) left.push(...page.map((g) => g.id));
      assert.deepEqual(left, []);
    });

    test('writeFindings with refresh: the findings are visible to queries when it resolves', async () => {
      const due = gap({ id: 'refresh-at-once', subject: 'refresh_subject', start: '2020-02-01T00:00:00.000Z', end: null, hours: 7 });
      assert.deepEqual(await store.writeFindings([due], { refresh: true }), [{ id: due.id, status: 'written' }]);
      assert.deepEqual((await store.findings('gap', { subject: 'refresh_subject' })).map((g) => g.id), [due.id]);
    });

    test('a takedown wave round-trips with the channels it names, and its growth replaces it in place', async () => {
      const first = takedown(12);
      assert.deepEqual(await store.writeFindings([first]), [{ id: first.id, status: 'written' }]);
      await store.refresh();
      assert.deepEqual(await store.findings('takedown'), [first]);

      const grown = takedown(MAX_TAKEDOWN_SUBJECTS + 250);
      assert.equal(grown.subjects.length, MAX_TAKEDOWN_SUBJECTS);
      assert.deepEqual(await store.writeFindings([grown]), [{ id: grown.id, status: 'written' }]);
      await store.refresh();
      assert.equal(await store.countFindings('takedown'), 1);
      const [read] = await store.findings('takedown', { from: '2018-11-22T00:00:00Z', to: '2018-11-23T00:00:00Z' });
      assert.deepEqual(read, grown);
    });
  });
}

test('Elasticsearch setup over a findings index from an older version puts the current mapping on it', async () => {
  const prefix = uniqueName('st-upgrade');
  const config = elasticsearchSchema.parse({ url: testElasticsearchUrl(), indexPrefix: prefix });
  const client = createEsClient(config);
  try {
    // The lifecycle index as a version without takedown `subjects` left it: strict, field absent.
    await client.indices.create({ index: `${prefix}-lifecycle`, mappings: { dynamic: 'strict', properties: { type: { type: 'keyword' }, id: { type: 'keyword' } } } });
    const store = new EsStore(client, config, { flushBytes: 1_000_000, concurrency: 1 });
    await store.setup();
    await store.setup();
    const wave = takedown(3);
    assert.deepEqual(await store.writeFindings([wave]), [{ id: wave.id, status: 'written' }]);
    await store.refresh();
    assert.deepEqual(await store.findings('takedown'), [wave]);
  } finally {
    await client.indices.delete({ index: `${prefix}-*` }).catch(() => {});
    await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
    await client.close();
  }
});
