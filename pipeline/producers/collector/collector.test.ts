import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setLogger, createLogger } from '../../log.ts';
import { previewChannelPage, startFixtureServer, type FixtureServer } from '../preview/fixture-server.ts';
import { PreviewSource } from '../preview/source.ts';
import { createCollector, type Collector } from './collector.ts';
import { collectorSchema } from './options.ts';
import { TokenBucket } from '../../rate-limit.ts';
import type { CollectorStatusUpdate } from '../../watch/status.ts';
import { FakeClock, RecordingPublisher } from './testing.ts';
import { WatchListFile, watchListSchema } from '../../watch/watch-list.ts';

setLogger(createLogger('silent'));

let server: FixtureServer;
before(async () => {
  server = await startFixtureServer();
});
after(() => server.close());

const NOW = Date.parse('2024-10-01T12:00:00Z');

interface Setup {
  collector: Collector;
  publisher: RecordingPublisher;
  statuses: CollectorStatusUpdate[];
  stateFile: string;
  clock: FakeClock;
}

async function setup(watch: unknown[], opts: { stateFile?: string; watchListFile?: WatchListFile; preview?: Record<string, unknown>; collector?: Record<string, unknown>; clock?: FakeClock } = {}): Promise<Setup> {
  const options = collectorSchema.parse({
    name: 'test',
    ...opts.collector,
    preview: { baseUrl: server.baseUrl, retryInitialDelayMs: 10, retryMaxDelayMs: 50, requestsPerMinute: 6000, burstRequests: 100, ...opts.preview },
  });
  const clock = opts.clock ?? new FakeClock(NOW);
  const limiter = new TokenBucket(options.preview, clock);
  const publisher = new RecordingPublisher();
  const statuses: CollectorStatusUpdate[] = [];
  const stateFile = opts.stateFile ?? join(mkdtempSync(join(tmpdir(), 'tidewatch-collector-')), 'collector', 'test.json');
  const collector = await createCollector({
    options,
    watchList: watchListSchema.parse(watch),
    watchListFile: opts.watchListFile,
    source: new PreviewSource(options.preview, limiter, clock),
    limiter,
    publisher,
    stateFile,
    storeText: false,
    clock,
    random: () => 0.5,
    onStatus: (s) => statuses.push(s),
  });
  return { collector, publisher, statuses, stateFile, clock };
}

const channelStatus = (s: Setup, handle: string) => s.collector.channels().find((c) => c.handle === handle)!;

function requestsSince(mark: number): string[] {
  return server.requests.slice(mark);
}

test('a normal channel first seen mid-life: every post, then a first-seen marker (not a creation) and a subscriber snapshot, in event-time order', async () => {
  server.serve('/s/example_news', 'channel_first.html');
  const s = await setup([{ handle: '@Example_News', network: 'test-net', language: 'en', labels: ['watch'] }]);
  const summary = await s.collector.runOnce();
  assert.deepEqual(s.publisher.events.map((e) => [e.event.action, e.message?.id ?? null]), [
    ['post', '121'], ['post', '122'], ['post', '123'], ['post', '124'], ['post', '125'], ['channel_first_seen', null], ['subscribers', null],
  ]);
  const times = s.publisher.events.map((e) => Date.parse(e['@timestamp']));
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  const [first, , , , , created, subs] = s.publisher.events;
  assert.deepEqual(created!.channel, { id: 'tg:example_news', handle: 'example_news', title: 'Example News', language: 'en', network: 'test-net' });
  assert.equal(created!['@timestamp'], '2024-10-01T12:00:00.000Z');
  assert.equal(created!.subscribers, 12_300);
  assert.deepEqual(created!.source, { type: 'preview', name: 'example_news' });
  assert.deepEqual(created!.labels, ['watch']);
  assert.equal(subs!.subscribers, 12_300);
  assert.deepEqual(first!.message, { id: '121', media: 'text', length: 27, views: 1200 });
  assert.equal(first!['@timestamp'], '2024-05-01T01:01:00.000Z');
  assert.equal(first!.event.ingested, '2024-10-01T12:00:00.000Z');
  assert.equal(s.publisher.events[1]!.message?.media, 'photo');
  assert.equal(s.publisher.events[3]!.message?.media, 'video');
  assert.deepEqual(summary, { polled: 1, health: { ok: 1, unknown: 0, gone: 0 }, eventsPublished: 7, eventsRejected: 0, pollErrors: 0, failures: {}, requests: 2 });
  const status = channelStatus(s, 'example_news');
  assert.equal(status.health, 'ok');
  assert.equal(status.lastPostAt, '2024-05-01T05:05:00.000Z');
  assert.ok(s.statuses.some((u) => u.type === 'channel' && u.handle === 'example_news' && u.events === 7));
  assert.ok(s.statuses.some((u) => u.type === 'heartbeat' && u.channels === 1));
});

test('paging back to the last seen post, gaps kept across a restart, no re-emit and no miss', async () => {
  server.serve('/s/example_news', 'channel_oldest.html');
  const first = await setup(['example_news'], { preview: { maxPagesPerPoll: 1 } });
  await first.collector.runOnce();
  assert.deepEqual(first.publisher.drain(), [
    ...[116, 117, 118, 119, 120].map((id) => `post tg:example_news ${id}`),
    'channel_first_seen tg:example_news 12400', 'subscribers tg:example_news 12400',
  ]);

  // 131..135 are new; 121..130 are older than the newest page and the page budget is spent.
  server.serve('/s/example_news', 'channel_later.html');
  server.serve('/s/example_news?before=131', 'channel_before_131.html');
  server.serve('/s/example_news?before=126', 'channel_before_126.html');
  let mark = server.requests.length;
  await first.collector.runOnce();
  await first.collector.stop();
  assert.deepEqual(requestsSince(mark), ['/s/example_news']);
  assert.deepEqual(first.publisher.drain(), [131, 132, 133, 134, 135].map((id) => `post tg:example_news ${id}`));
  const saved = JSON.parse(readFileSync(first.stateFile, 'utf8'));
  assert.deepEqual(saved.channels.example_news.gaps, [{ afterId: 120, beforeId: 131 }]);
  assert.equal(saved.channels.example_news.lastMessageId, 135);

  // A restart with a larger budget fills the gap: ?before=131 has no "more" link, so the next
  // request goes before its lowest id (126).
  const second = await setup(['example_news'], { stateFile: first.stateFile, preview: { maxPagesPerPoll: 5 } });
  mark = server.requests.length;
  await second.collector.runOnce();
  assert.deepEqual(requestsSince(mark), ['/s/example_news', '/s/example_news?before=131', '/s/example_news?before=126']);
  assert.deepEqual(second.publisher.drain(), [121, 122, 123, 124, 125, 126, 127, 128, 129, 130].map((id) => `post tg:example_news ${id}`));

  mark = server.requests.length;
  await second.collector.runOnce();
  assert.deepEqual(second.publisher.drain(), []);
  assert.deepEqual(requestsSince(mark), ['/s/example_news']);
  await second.collector.stop();

  // A third process from the same file: nothing again, and the title change is seen once.
  server.serve('/s/example_news', 'channel_first.html');
  const third = await setup(['example_news'], { stateFile: first.stateFile });
  await third.collector.runOnce();
  assert.deepEqual(third.publisher.drain(), ['title_changed tg:example_news Example News', 'subscribers tg:example_news 12300']);
});

test('exact subscribers from t.me/<handle> every subscribersRefreshMins; the rounded counter in between changes nothing while it agrees', async () => {
  server.serve('/s/example_news', 'channel_first.html');
  // "12 345 subscribers" on the channel page; the preview's counter says "12.3K".
  server.routes.set('/example_news', { body: readFileSync(new URL('../preview/testdata/contact_exists.html', import.meta.url), 'utf8').replaceAll('Adults Only', 'Example News') });
  const clock = new FakeClock(NOW);
  const s = await setup(['example_news'], { clock, collector: { subscribersRefreshMins: 60 } });
  const mark = server.requests.length;
  await s.collector.runOnce();
  assert.deepEqual(requestsSince(mark), ['/s/example_news', '/example_news']);
  const counts = () => s.publisher.events.filter((e) => e.event.action === 'subscribers' || e.event.action === 'channel_first_seen').map((e) => e.subscribers);
  assert.deepEqual(counts(), [12_345, 12_345]);
  s.publisher.drain();

  clock.ms += 30 * 60_000;
  const mark2 = server.requests.length;
  await s.collector.runOnce();
  assert.deepEqual(requestsSince(mark2), ['/s/example_news'], 'not due: the counter only');
  assert.deepEqual(counts(), [], '12.3K agrees with 12,345: no snapshot');

  clock.ms += 31 * 60_000;
  const mark3 = server.requests.length;
  await s.collector.runOnce();
  assert.deepEqual(requestsSince(mark3), ['/s/example_news', '/example_news']);
  assert.deepEqual(counts(), [12_345], 'due again: read exactly, and the flat line recorded');
});

test('Arabic / RTL channel: titles kept as written, forwards named by handle, service messages skipped', async () => {
  server.serve('/s/amaq_agency', 'arabic.html');
  const s = await setup([{ handle: 'amaq_agency', language: 'ar' }]);
  await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain(), ['post tg:amaq_agency 7', 'post tg:amaq_agency 8', 'channel_first_seen tg:amaq_agency 5234', 'subscribers tg:amaq_agency 5234']);
  await s.collector.runOnce();
  const status = channelStatus(s, 'amaq_agency');
  assert.equal(status.title, 'وكالة أعماق الإخبارية');
});

test('a post with several links: decoded, deduplicated outlinks on the event, text not kept', async () => {
  server.serve('/s/link_hub', 'links.html');
  const s = await setup(['link_hub']);
  await s.collector.runOnce();
  const post = s.publisher.events.find((e) => e.event.action === 'post')!;
  assert.deepEqual(post.links, [
    'https://tamtam.chat/link_hub?utm=1&ref=tg',
    'https://example.org/a?x=1&y=2&z=%D8%A7',
    'https://t.me/link_hub_2',
    'https://rocket.chat/invite/abc?x=1&y=2',
  ]);
  assert.equal(post.message?.text, undefined);
  assert.equal(post.message?.media, 'link');
});

test('terms-of-service ban: confirmed by the post embed, emitted once; the handle coming back is a new channel', async () => {
  server.serve('/s/banned_channel', 'banned_before.html');
  const s = await setup(['banned_channel']);
  await s.collector.runOnce();
  s.publisher.drain();

  server.routes.set('/s/banned_channel', { status: 302, headers: { location: '/banned_channel' } });
  server.serve('/banned_channel/57?embed=1&mode=tme', 'embed_tos.html');
  const mark = server.requests.length;
  await s.collector.runOnce();
  assert.deepEqual(requestsSince(mark), ['/s/banned_channel', '/banned_channel/57?embed=1&mode=tme']);
  const banned = s.publisher.events;
  assert.deepEqual(s.publisher.drain(), ['channel_banned tg:banned_channel 1200000']);
  assert.equal(banned[0]!.channel.title, 'Soon Banned');
  assert.equal(channelStatus(s, 'banned_channel').health, 'gone');
  assert.match(channelStatus(s, 'banned_channel').reason, /Terms of Service/);

  await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain(), []);

  // The new channel's first message is on its page: that dates its creation (not the poll).
  server.serve('/s/banned_channel', 'banned_after.html');
  await s.collector.runOnce();
  const reborn = s.publisher.events;
  assert.deepEqual(s.publisher.drain(), ['channel_created tg:banned_channel~2 150', 'post tg:banned_channel~2 1', 'subscribers tg:banned_channel~2 150']);
  assert.equal(reborn[0]!['@timestamp'], reborn[1]!['@timestamp']);
});

test('ban-stub texts never overwrite what was stored: the post list of stubs is a ban, no posts emitted', async () => {
  server.serve('/s/stub_target', 'banned_before.html');
  const s = await setup(['stub_target']);
  await s.collector.runOnce();
  s.publisher.drain();
  server.serve('/s/stub_target', 'stubbed.html');
  await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain(), ['channel_banned tg:stub_target 1200000']);
  assert.equal(channelStatus(s, 'stub_target').title, 'Soon Banned');
});

test('a missing handle: channel_deleted when it was known, an error (not an event) when never seen', async () => {
  server.serve('/s/gone_channel', 'banned_before.html');
  const s = await setup(['gone_channel', 'no_such_handle']);
  server.routes.set('/s/no_such_handle', { status: 302, headers: { location: '/no_such_handle' } });
  server.serve('/no_such_handle', 'contact_missing.html');
  await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain().filter((l) => !l.includes('gone_channel')), []);
  const missing = channelStatus(s, 'no_such_handle');
  assert.equal(missing.health, 'unknown');
  assert.equal(missing.reason, 'handle @no_such_handle does not exist');
  assert.equal(missing.errors, 1);

  server.routes.set('/s/gone_channel', { status: 302, headers: { location: '/gone_channel' } });
  server.serve('/gone_channel/57?embed=1&mode=tme', 'embed_not_found.html');
  server.serve('/gone_channel', 'contact_missing.html');
  await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain(), ['channel_deleted tg:gone_channel 1200000']);
  assert.equal(channelStatus(s, 'gone_channel').health, 'gone');
});

test('no preview (302) and "No posts found" are unknown status, never a ban or silence', async () => {
  server.routes.set('/s/adult_channel', { status: 302, headers: { location: '/adult_channel' } });
  server.serve('/adult_channel', 'contact_exists.html');
  for (const id of [1, 2, 3]) server.serve(`/adult_channel/${id}?embed=1&mode=tme`, 'embed_not_found.html');
  server.serve('/s/quiet_channel', 'no_posts.html');
  const s = await setup(['adult_channel', 'quiet_channel']);
  await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain(), []);
  assert.equal(channelStatus(s, 'adult_channel').health, 'unknown');
  assert.match(channelStatus(s, 'adult_channel').reason, /no preview.*decide nothing.*cannot tell a ban from 18\+/);
  assert.equal(channelStatus(s, 'quiet_channel').health, 'unknown');
  assert.match(channelStatus(s, 'quiet_channel').reason, /No posts found/);
  assert.equal(channelStatus(s, 'quiet_channel').errors, 0);
});

test('banned before first sight: the first posts\' embeds tell a terms-of-service ban (gone, no takedown event) from an 18+ channel (unknown)', async () => {
  for (const handle of ['early_ban', 'adult_only']) {
    server.routes.set(`/s/${handle}`, { status: 302, headers: { location: `/${handle}` } });
    server.serve(`/${handle}`, 'contact_exists.html');
  }
  server.serve('/early_ban/1?embed=1&mode=tme', 'embed_not_found.html');
  server.serve('/early_ban/2?embed=1&mode=tme', 'embed_tos.html');
  server.routes.set('/adult_only/1?embed=1&mode=tme', { body: previewChannelPage('adult_only', 'Adults Only', [{ id: 1, at: NOW - 3_600_000 }]) });
  const s = await setup(['early_ban', 'adult_only']);
  const mark = server.requests.length;
  const summary = await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain(), [], 'when the ban happened is unknown: no takedown event');
  assert.equal(summary.pollErrors, 0);
  const banned = channelStatus(s, 'early_ban');
  assert.equal(banned.health, 'gone');
  assert.match(banned.reason, /Terms of Service \(post 2\); banned before it was first seen/);
  const adult = channelStatus(s, 'adult_only');
  assert.equal(adult.health, 'unknown');
  assert.match(adult.reason, /post 1 shows in its embed: 18\+.*not a ban/);
  assert.deepEqual(requestsSince(mark).filter((r) => r.includes('early_ban')), ['/s/early_ban', '/early_ban', '/early_ban/1?embed=1&mode=tme', '/early_ban/2?embed=1&mode=tme']);
});

test('truncated and unknown-shape pages: unknown status with a clear reason and an error count, nothing emitted', async () => {
  server.serve('/s/cut_channel', 'truncated.html');
  server.serve('/s/odd_channel', 'unknown_shape.html');
  const s = await setup(['cut_channel', 'odd_channel']);
  const summary = await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain(), []);
  assert.equal(summary.pollErrors, 2);
  const cut = channelStatus(s, 'cut_channel');
  assert.equal(cut.health, 'unknown');
  assert.match(cut.reason, /preview page of @cut_channel is not in a recognised shape: post 2 has no/);
  assert.equal(cut.consecutiveErrors, 1);
  assert.match(channelStatus(s, 'odd_channel').reason, /@odd_channel is not in a recognised shape/);
});

test('an oversized answer is unknown status, never a ban: not retried, nothing emitted, the channel kept', async () => {
  server.serve('/s/bloated_channel', 'banned_before.html');
  const s = await setup(['bloated_channel'], { preview: { maxResponseBytes: 16 * 1024 } });
  await s.collector.runOnce();
  s.publisher.drain();

  // A known channel whose preview, and then whose post embed, come back far too large.
  server.routes.set('/s/bloated_channel', { stream: { chunk: 'x'.repeat(4096), times: Number.POSITIVE_INFINITY } });
  let mark = server.requests.length;
  const summary = await s.collector.runOnce();
  assert.deepEqual(requestsSince(mark), ['/s/bloated_channel']);
  assert.deepEqual(s.publisher.drain(), []);
  assert.equal(summary.pollErrors, 1);
  let status = channelStatus(s, 'bloated_channel');
  assert.equal(status.health, 'unknown');
  assert.equal(status.reason, `preview of @bloated_channel: ${server.baseUrl}/s/bloated_channel sent more than 16384 bytes, over the limit of 16384 bytes (collector.preview.maxResponseBytes); not read as a page`);

  server.routes.set('/s/bloated_channel', { status: 302, headers: { location: '/bloated_channel' } });
  server.routes.set('/bloated_channel/57?embed=1&mode=tme', { body: 'x'.repeat(20_000) });
  mark = server.requests.length;
  await s.collector.runOnce();
  assert.deepEqual(requestsSince(mark), ['/s/bloated_channel', '/bloated_channel/57?embed=1&mode=tme']);
  assert.deepEqual(s.publisher.drain(), []);
  status = channelStatus(s, 'bloated_channel');
  assert.equal(status.health, 'unknown');
  assert.match(status.reason, /bloated_channel\/57\?embed=1&mode=tme sent more than 16384 bytes/);
  assert.equal(status.consecutiveErrors, 2);

  // Readable again: the same channel, nothing re-emitted.
  server.serve('/s/bloated_channel', 'banned_before.html');
  await s.collector.runOnce();
  assert.deepEqual(s.publisher.drain(), []);
  assert.equal(channelStatus(s, 'bloated_channel').health, 'ok');
});

test('429 with Retry-After and a 503 are retried (pausing the whole bucket), then the page is read', async () => {
  server.routes.set('/s/busy_channel', [{ status: 429, headers: { 'retry-after': '1' }, body: 'slow down' }, { status: 503 }, { file: 'channel_first.html' }]);
  const clock = new FakeClock(NOW);
  const s = await setup(['busy_channel'], { clock });
  const mark = server.requests.length;
  await s.collector.runOnce();
  assert.deepEqual(requestsSince(mark), ['/s/busy_channel', '/s/busy_channel', '/s/busy_channel', '/busy_channel']);
  assert.equal(s.publisher.events.filter((e) => e.event.action === 'post').length, 5);
  // The 429 paused the bucket for the Retry-After second: the next request started after it.
  assert.ok(clock.now() >= NOW + 1000);
});

test('a failed publish leaves the state alone: the same events come again on the next poll', async () => {
  server.serve('/s/example_news', 'channel_first.html');
  const s = await setup(['example_news']);
  s.publisher.failNext = true;
  const summary = await s.collector.runOnce();
  assert.equal(summary.pollErrors, 1);
  assert.deepEqual(summary.failures, { 'delivery: error': 1 });
  assert.deepEqual(s.publisher.drain(), []);
  // Saved as it was before the poll: a restart now would fetch the same posts again.
  const saved = JSON.parse(readFileSync(s.stateFile, 'utf8')) as { channels: Record<string, { seen: boolean; lastMessageId?: number }> };
  assert.equal(saved.channels.example_news?.seen, false);
  assert.equal(saved.channels.example_news?.lastMessageId, undefined);
  await s.collector.runOnce();
  assert.equal(s.publisher.drain().length, 7);
  const after = JSON.parse(readFileSync(s.stateFile, 'utf8')) as { channels: Record<string, { lastMessageId?: number }> };
  assert.equal(after.channels.example_news?.lastMessageId, 125);
});

test('failed polls are counted by what failed: HTTP status, connection refused (not "fetch failed"), with the reason on the channel', async () => {
  server.routes.set('/s/down_channel', { status: 503, body: 'busy' });
  const s = await setup(['down_channel'], { preview: { retries: 0 } });
  const summary = await s.collector.runOnce();
  assert.deepEqual(summary.failures, { 'HTTP 503': 1 });
  assert.equal(summary.pollErrors, summary.polled);
  assert.match(channelStatus(s, 'down_channel').reason, /answered 503/);

  const closed = await startFixtureServer();
  await closed.close();
  const refused = await setup(['down_channel', 'example_news'], { preview: { retries: 0, baseUrl: closed.baseUrl } });
  const r = await refused.collector.runOnce();
  assert.deepEqual(r.failures, { 'connection refused': 2 });
  const status = channelStatus(refused, 'example_news');
  assert.equal(status.health, 'unknown');
  assert.match(status.reason, /connection refused/);
  assert.doesNotMatch(status.reason, /fetch failed/);
});

test('the scheduler: due channels polled on ticks, quiet ones later, the watch list picked up without a restart', async () => {
  server.serve('/s/example_news', 'channel_first.html');
  server.serve('/s/amaq_agency', 'arabic.html');
  const listFile = join(mkdtempSync(join(tmpdir(), 'tidewatch-watch-')), 'watch.json');
  writeFileSync(listFile, JSON.stringify(['example_news']));
  const clock = new FakeClock(NOW);
  const s = await setup([], { clock, watchListFile: new WatchListFile(listFile), collector: { minIntervalSecs: 60, maxIntervalSecs: 3600, jitterRatio: 0 } });
  await s.collector.tick();
  await until(() => s.publisher.events.length === 7);
  await s.collector.tick();
  assert.equal(s.collector.heartbeat().due, 0);
  // Last post 153 days ago: dormant, so polled again at the maximum interval.
  assert.equal(channelStatus(s, 'example_news').nextPollAt, new Date(NOW + 3600_000).toISOString());

  writeFileSync(listFile, JSON.stringify(['example_news', { handle: 'amaq_agency', language: 'ar' }]));
  await s.collector.tick();
  await until(() => s.publisher.events.some((e) => e.channel.id === 'tg:amaq_agency' && e.message?.id === '8'));
  assert.equal(s.publisher.events.filter((e) => e.channel.id === 'tg:example_news').length, 7);

  clock.ms += 3600_000;
  assert.equal(s.collector.heartbeat().due, 2);
  await s.collector.stop();
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition not reached');
}
