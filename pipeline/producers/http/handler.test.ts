import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { buildEvent, type ActivityEvent } from '../../events/index.ts';
import { PerClientLimit } from '../../rate-limit.ts';
import { FakeClock } from '../collector/testing.ts';
import { fixture, NOW_MS } from '../testkit.ts';
import { createIngestHandler, type IngestHandlerOptions } from './handler.ts';

const TOKEN = 'test-token-0123456789';

async function withServer(opts: Partial<IngestHandlerOptions>, fn: (url: string, published: ActivityEvent[][]) => Promise<void>): Promise<void> {
  const published: ActivityEvent[][] = [];
  const handler = createIngestHandler({
    publish: async (events) => void published.push([...events]),
    maxBodyBytes: 64 * 1024,
    maxEventsPerRequest: 100,
    storeText: false,
    nowMs: () => NOW_MS,
    ...opts,
  });
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, published);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const event = (id: string) =>
  buildEvent({ timestamp: '2017-11-23T10:01:00Z', action: 'post', channel: { id: '42', title: 'إذاعة البيان' }, message: { id, media: 'audio', text: 'secret' }, source: { type: 'http' } });

test('POST /v1/events: object, array and NDJSON; per-item results; published before the answer', async () => {
  await withServer({}, async (url, published) => {
    const one = await fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify(event('1')) });
    assert.equal(one.status, 200);
    assert.deepEqual(await one.json(), { accepted: 1, rejected: 0, results: [{ index: 0, status: 'accepted', id: event('1').event.id }] });
    assert.equal(published[0]![0]!.message?.text, undefined, 'text dropped without storeText');

    const many = await fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify([event('2'), { ...event('3'), channel: { id: '' } }]) });
    const body = (await many.json()) as { accepted: number; rejected: number; results: { status: string; reason?: string }[] };
    assert.deepEqual([body.accepted, body.rejected, body.results[1]!.status], [1, 1, 'rejected']);
    assert.match(body.results[1]!.reason!, /^channel\.id: must not be empty/);

    const nd = `${JSON.stringify(event('4'))}\n{"broken"\n${JSON.stringify(event('5'))}\n`;
    const res = await fetch(`${url}/v1/events`, { method: 'POST', body: nd, headers: { 'content-type': 'application/x-ndjson' } });
    const r = (await res.json()) as { results: { index: number; status: string }[] };
    assert.deepEqual(r.results.map((x) => `${x.index}:${x.status}`), ['0:accepted', '1:rejected', '2:accepted']);
    assert.deepEqual(published.map((b) => b.length), [1, 1, 2]);
  });
});

test('POST /v1/events takes events as users write them: no id, platform or source; numeric ids', async () => {
  await withServer({}, async (url, published) => {
    const written = { '@timestamp': '2017-11-23T10:01:00Z', event: { action: 'post' }, channel: { id: 42 }, message: { id: 7 } };
    const res = await fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify(written) });
    const body = (await res.json()) as { accepted: number; results: { id: string }[] };
    assert.equal(body.accepted, 1, JSON.stringify(body));
    const expected = buildEvent({ timestamp: '2017-11-23T10:01:00Z', action: 'post', channel: { id: '42' }, message: { id: '7' }, source: { type: 'test' } });
    assert.equal(body.results[0]!.id, expected.event.id);
    assert.deepEqual([published[0]![0]!.platform, published[0]![0]!.source], ['telegram', { type: 'http', name: 'POST /v1/events' }]);

    const wrong = await fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify({ ...written, event: { id: 'f'.repeat(32), action: 'post' } }) });
    const rejected = (await wrong.json()) as { results: { reason: string }[] };
    assert.match(rejected.results[0]!.reason, new RegExp(`event\\.id: does not match .*\\(given ${'f'.repeat(32)}, expected ${expected.event.id}\\)`));
  });
});

test('token, body limit, routing and transport failure', async () => {
  await withServer({ credentials: { writer: TOKEN }, maxBodyBytes: 2_000, publish: async () => Promise.reject(new Error('broker down')) }, async (url) => {
    assert.equal((await fetch(`${url}/v1/events`, { method: 'POST', body: '{}' })).status, 401);
    assert.equal((await fetch(`${url}/v1/events`, { method: 'POST', body: '{}', headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    assert.equal((await fetch(`${url}/v1/events`, { method: 'POST', body: 'x'.repeat(3_000), headers: auth })).status, 413);
    assert.equal((await fetch(`${url}/v1/nope`, { method: 'POST', body: '{}', headers: auth })).status, 404);
    assert.equal((await fetch(`${url}/v1/events`, { headers: auth })).status, 405);
    const failed = await fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify(event('1')), headers: auth });
    assert.equal(failed.status, 503);
    assert.match(((await failed.json()) as { error: string }).error, /broker down/);
  });
});

test('POST /v1/telegram/updates: a Bot API webhook, with Telegram\'s secret-token header', async () => {
  const [post, , , lost, privateMessage] = readFileSync(fixture('updates.jsonl'), 'utf8').split('\n');
  await withServer({ credentials: { writer: TOKEN } }, async (url, published) => {
    const headers = { 'x-telegram-bot-api-secret-token': TOKEN, 'content-type': 'application/json' };
    const ok = await fetch(`${url}/v1/telegram/updates`, { method: 'POST', body: post, headers });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { accepted: number }).accepted, 1);
    await fetch(`${url}/v1/telegram/updates`, { method: 'POST', body: lost, headers });
    const ignored = await fetch(`${url}/v1/telegram/updates`, { method: 'POST', body: privateMessage, headers });
    assert.deepEqual(await ignored.json(), { accepted: 0, rejected: 0, ignored: 'message', results: [] });
    assert.deepEqual(published.flat().map((e) => `${e.event.action} ${e.channel.id}`), ['post 1062301884', 'access_lost 1062301884']);
  });
});

test('roles: the reader token cannot write (403); no token or a wrong one is 401; every refusal says why', async () => {
  const READER = 'reader-token-0123456789';
  await withServer({ credentials: { reader: READER, writer: TOKEN } }, async (url, published) => {
    const post = (headers: Record<string, string>) => fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify(event('1')), headers });
    const none = await post({});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="tidewatch"');
    assert.match(((await none.json()) as { error: string }).error, /needs the writer token/);
    const wrong = await post({ authorization: 'Bearer not-the-token-0123456789' });
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(await wrong.text(), /not-the-token|0123456789/, 'the refusal never echoes a token');
    const reader = await post({ authorization: `Bearer ${READER}` });
    assert.equal(reader.status, 403);
    assert.match(((await reader.json()) as { error: string }).error, /reader token, which cannot write/);
    assert.equal(published.length, 0);
    assert.equal((await post({ authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal(published.length, 1);
  });
});

test('events per request: over the limit is 413 and nothing is published', async () => {
  await withServer({ maxEventsPerRequest: 3 }, async (url, published) => {
    const nd = ['1', '2', '3', '4'].map((id) => JSON.stringify(event(id))).join('\n');
    const res = await fetch(`${url}/v1/events`, { method: 'POST', body: nd, headers: { 'content-type': 'application/x-ndjson' } });
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { error: string }).error, /^4 items in one request, over the limit of 3/);
    assert.equal(published.length, 0);
    const three = await fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify([event('1'), event('2'), event('3')]) });
    assert.equal(((await three.json()) as { accepted: number }).accepted, 3);
  });
});

test('rate limit: a client over its budget gets 429 with Retry-After, before its token is even looked at', async () => {
  const clock = new FakeClock(0);
  const limit = new PerClientLimit({ requestsPerMinute: 6, burstRequests: 2 }, clock);
  await withServer({ credentials: { writer: TOKEN }, limit }, async (url, published) => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const post = (headers: Record<string, string> = auth) => fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify(event('1')), headers });
    assert.equal((await post()).status, 200);
    assert.equal((await post({})).status, 401, 'a refused token still spends the budget');
    const limited = await post();
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '10');
    assert.deepEqual(await limited.json(), { error: 'rate limit: too many requests from this client; retry in 10 s', retryAfterSecs: 10 });
    clock.ms += 10_000;
    assert.equal((await post()).status, 200, 'allowed again once the bucket has a token');
    assert.equal(published.length, 2);
  });
});

test('rate limit behind a proxy: clients are told apart by the address the proxy adds, not by what they claim', async () => {
  const clock = new FakeClock(0);
  await withServer({ limit: new PerClientLimit({ requestsPerMinute: 1, burstRequests: 1 }, clock), trustProxy: true }, async (url) => {
    const post = (xff: string) => fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify(event('1')), headers: { 'x-forwarded-for': xff } });
    assert.equal((await post('203.0.113.7')).status, 200);
    assert.equal((await post('203.0.113.8')).status, 200, 'another client');
    assert.equal((await post('198.51.100.1, 203.0.113.7')).status, 429, 'a forged first entry does not make a new client');
  });
  await withServer({ limit: new PerClientLimit({ requestsPerMinute: 1, burstRequests: 1 }, clock) }, async (url) => {
    const post = (xff: string) => fetch(`${url}/v1/events`, { method: 'POST', body: JSON.stringify(event('1')), headers: { 'x-forwarded-for': xff } });
    assert.equal((await post('203.0.113.7')).status, 200);
    assert.equal((await post('203.0.113.8')).status, 429, 'without trustProxy the header is ignored');
  });
});

const channelUpdate = (handle: string, health: 'ok' | 'unknown') => ({
  type: 'channel', collector: 'c1', at: '2024-10-01T12:00:00.000Z', handle, channelId: `tg:${handle}`, health, reason: health === 'ok' ? 'visible' : 'HTTP 503',
  errors: 0, consecutiveErrors: 0, events: 0,
});

test('POST /v1/collector/status: a collector\'s status records published all or nothing, behind the token; absent unless wired', async () => {
  const got: unknown[][] = [];
  await withServer({ credentials: { writer: TOKEN }, publishStatus: async (updates) => void got.push([...updates]) }, async (url) => {
    const post = (body: unknown, token = TOKEN) => fetch(`${url}/v1/collector/status`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    assert.equal((await post([channelUpdate('a_chan', 'ok')], 'wrong-token-0123456789')).status, 401);
    const ok = await post([channelUpdate('a_chan', 'ok'), channelUpdate('b_chan', 'unknown')]);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { accepted: 2 });
    assert.deepEqual(got.flat().map((u) => (u as { handle: string }).handle), ['a_chan', 'b_chan']);
    // The connectivity check of a collector: an empty batch, accepted, nothing published.
    assert.equal((await post([])).status, 200);
    const bad = await post([channelUpdate('c_chan', 'ok'), { type: 'channel' }]);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /item 1/);
    assert.equal(got.length, 1, 'nothing of a bad batch published');
  });
  await withServer({ publishStatus: async () => { throw new Error('transport closing'); } }, async (url) => {
    const res = await fetch(`${url}/v1/collector/status`, { method: 'POST', body: JSON.stringify([channelUpdate('a_chan', 'ok')]) });
    assert.equal(res.status, 503);
  });
  await withServer({}, async (url) => {
    assert.equal((await fetch(`${url}/v1/collector/status`, { method: 'POST', body: '[]' })).status, 404);
  });
});
