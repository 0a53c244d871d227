import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createLogger } from '../../pipeline/log.ts';
import type { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';
import { bucketSecs, type GapsView, type MetaView, type OverviewView, type TakedownsView } from './api.ts';
import { startDashboardServer, type DashboardServer } from './server.ts';
import { sampleStore, WAVE, XSS_TITLE } from './testing.ts';

let store: DuckDbStore;
let dir: string;
let server: DashboardServer;

before(async () => {
  ({ store, dir } = await sampleStore());
  server = await startDashboardServer({ store, host: '127.0.0.1', port: 0, log: createLogger('silent') });
});

after(async () => {
  await server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string) => fetch(new URL(path, server.url));

test('the page, its script and ECharts are served with a strict CSP; nothing else is', async () => {
  const page = await get('/');
  assert.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  const html = await page.text();
  assert.doesNotMatch(html, /<script>(?!<\/)/, 'no inline script');
  const echarts = await get('/static/echarts.min.js');
  assert.equal(echarts.status, 200);
  assert.ok((await echarts.text()).length > 500_000);
  for (const path of ['/static/../server.ts', '/static/%2e%2e/server.ts', '/package.json']) assert.equal((await get(path)).status, 404, path);
  assert.equal((await fetch(new URL('/api/meta', server.url), { method: 'POST' })).status, 405);
});

test('meta: totals, networks, channels for the filter, and the display zone of the page', async () => {
  const meta = (await (await get('/api/meta')).json()) as MetaView & { display: { timezone: string } };
  assert.deepEqual(meta.display, { timezone: 'UTC' });
  assert.equal(meta.summary.channels, 3);
  assert.deepEqual(meta.networks, ['amaq', 'is-official', 'supporters']);
  assert.ok(meta.channels.some((c) => c.title === XSS_TITLE));
});

test('overview: timelines by network, filters narrow them, every channel counted under one watch-list status', async () => {
  const all = (await (await get('/api/view/overview')).json()) as OverviewView;
  assert.deepEqual(all.byNetwork!.series.map((s) => s.key).sort(), ['amaq', 'is-official', 'supporters']);
  assert.equal(all.byNetwork!.bucketSecs, 300);
  assert.equal(Object.values(all.statuses).reduce((a, b) => a + b, 0), 3);
  const one = (await (await get('/api/view/overview?network=amaq')).json()) as OverviewView;
  assert.deepEqual(one.byNetwork!.series.map((s) => s.key), ['amaq']);
  assert.deepEqual(one.channels.map((c) => c.id), ['2']);
  const channel = (await (await get('/api/view/overview?channel=3')).json()) as OverviewView;
  assert.deepEqual(channel.channels.map((c) => c.title), [XSS_TITLE]);
});

test('gaps: the network gap within the range, marked unprecedented; a channel filter keeps only its own', async () => {
  const gaps = (await (await get('/api/view/gaps?from=2017-11-22&to=2017-11-24')).json()) as GapsView;
  assert.deepEqual(gaps.gaps.map((g) => g.subject), ['is-official']);
  const other = (await (await get('/api/view/gaps?network=amaq')).json()) as GapsView;
  assert.deepEqual(other.gaps, []);
  const before = (await (await get('/api/view/gaps?to=2017-11-20')).json()) as GapsView;
  assert.deepEqual(before.gaps, []);
});

test('takedowns: a wave comes with the channels it names; a network filter keeps it (a day-wide tally); ban days under the thresholds are no waves', async () => {
  const all = (await (await get('/api/view/takedowns')).json()) as TakedownsView;
  assert.deepEqual(all.waves, [WAVE], 'the stored ban day of 2017-11-21 is not a wave');
  assert.equal(all.waves[0]!.subjects.length, 14);
  const filtered = (await (await get('/api/view/takedowns?network=supporters')).json()) as TakedownsView;
  assert.deepEqual(filtered.waves.map((w) => w.id), [WAVE.id]);
});

test('bad parameters are a 400 that says what is wrong; unknown views a 404', async () => {
  const bad = await get('/api/view/gaps?from=yesterday');
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /from=yesterday: not a date/);
  const reversed = await get('/api/view/gaps?from=2018-01-01&to=2017-01-01');
  assert.equal(reversed.status, 400);
  assert.equal((await get('/api/view/constructor')).status, 404);
});

test('timelines pick buckets that keep a chart under 2,000 points', () => {
  assert.equal(bucketSecs(3 * 86_400_000), 300);
  assert.equal(bucketSecs(30 * 86_400_000), 3600);
  assert.equal(bucketSecs(4.3 * 365 * 86_400_000), 86_400);
});

test('overview: the watch list status, one row per watched member, mutes laid over it, filtered by network', async () => {
  const doc = (subject: string, network: string, status: 'active' | 'silent', reason: string) => ({
    type: 'status' as const, id: subject, subject, watched: true, network, language: 'ar', status, since: '2017-11-22T09:00:00.000Z', reason,
    lastActivityAt: null, collector: null, override: null, updatedAt: '2017-11-23T00:00:00.000Z',
  });
  await store.writeFindings([
    doc('nashir', 'is-official', 'active', 'activity within its cadence'),
    doc('amaq_agency', 'amaq', 'silent', XSS_TITLE),
    { ...doc('discovered_one', 'amaq', 'active', 'x'), watched: false },
    { type: 'status_override', id: 'nashir:2017-11-23T00:00:00.000Z', subject: 'nashir', action: 'mute', by: 'ana', at: '2017-11-23T00:00:00.000Z', reason: 'test', until: null },
  ]);
  const all = (await (await get('/api/view/overview')).json()) as OverviewView;
  assert.deepEqual(all.watchList.map((r) => [r.subject, r.status]), [['amaq_agency', 'silent'], ['nashir', 'muted']]);
  const amaq = all.watchList.find((r) => r.subject === 'amaq_agency')!;
  assert.equal(amaq.reason, XSS_TITLE);
  assert.equal(amaq.lastActivityAt, '2017-11-23T23:00:00.000Z', 'last activity from the events when the document has none');
  const one = (await (await get('/api/view/overview?network=amaq')).json()) as OverviewView;
  assert.deepEqual(one.watchList.map((r) => r.subject), ['amaq_agency']);
});
