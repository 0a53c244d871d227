import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { buildEvent, type ActivityEvent } from '../../events/index.ts';
import { fixture, NOW_MS } from '../testkit.ts';
import { createIngestHandler, type IngestHandlerOptions } from './handler.ts';

const TOKEN = 'test-token-0123456789';

async function withServer(opts: Partial<IngestHandlerOptions>, fn: (url: string, published: ActivityEvent[][]) => Promise<void>): Promise<void> {
  const published: ActivityEvent[][] = [];
  const handler = createIngestHandler({
    publish: async (events) => void published.push([...events]),
    maxBodyBytes: 64 * 1024,
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
  await withServer({ token: TOKEN, maxBodyBytes: 2_000, publish: async () => Promise.reject(new Error('broker down')) }, async (url) => {
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
  await withServer({ token: TOKEN }, async (url, published) => {
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
