import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildEvent } from '../../events/index.ts';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import { createLogger, setLogger } from '../../log.ts';
import { createIngestHandler } from '../http/handler.ts';
import { connectServe } from './deliver.ts';

setLogger(createLogger('silent'));

const TOKEN = 'writer-token-0123456789';
const NOW_MS = Date.parse('2024-10-01T12:00:00Z');

async function withServe(publish: () => Promise<void>, fn: (url: string, got: { events: number; status: number }) => Promise<void>): Promise<void> {
  const got = { events: 0, status: 0 };
  const handler = createIngestHandler({
    publish: async (events) => {
      await publish();
      got.events += events.length;
    },
    publishStatus: async (updates) => void (got.status += updates.length),
    maxBodyBytes: 1 << 20,
    maxEventsPerRequest: 10_000,
    credentials: { writer: TOKEN },
    storeText: false,
    nowMs: () => NOW_MS,
  });
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, got);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const post = (id: string) => buildEvent({ timestamp: '2024-10-01T11:00:00Z', action: 'post', channel: { id: 'tg:a_chan', handle: 'a_chan' }, message: { id }, source: { type: 'preview' } });
const options = (baseUrl: string, token?: string) => ({ baseUrl, token, timeoutMs: 5_000, retries: 2, retryInitialDelayMs: 10 });

test('delivering to serve: events acknowledged only once serve published them; a transport failure retried, then the delivery fails', async () => {
  let failures = 0;
  await withServe(async () => {
    if (failures > 0) {
      failures--;
      throw new Error('transport busy');
    }
  }, async (url, got) => {
    const delivery = await connectServe(options(url, TOKEN));
    assert.equal(delivery.describe, `serve at ${url}`);
    await delivery.events.publish([post('1'), post('2')]);
    assert.equal(got.events, 2);
    failures = 1;
    await delivery.events.publish([post('3')]);
    assert.equal(got.events, 3, 'a 503 is retried');
    failures = 10;
    await assert.rejects(delivery.events.publish([post('4')]), /answered 503/);
    assert.equal(got.events, 3);
    await delivery.sendStatus([{ type: 'heartbeat', collector: 'c', at: '2024-10-01T12:00:00Z', source: 'preview', channels: 1, due: 0, inFlight: 0, health: { ok: 1, unknown: 0, gone: 0 }, polls: 1, pollErrors: 0, eventsPublished: 3, eventsRejected: 0, requests: 1 }]);
    assert.equal(got.status, 1);
  });
});

test('connecting to serve checks the token and the address first, and names what is wrong', async () => {
  await withServe(async () => {}, async (url) => {
    await assert.rejects(connectServe(options(url, 'not-the-token-0123456')), (err: unknown) => {
      assert.ok(err instanceof TidewatchError);
      assert.equal(err.code, ErrorCode.NOT_CONFIGURED);
      assert.match(err.message, /refused the writer token.*TIDEWATCH_WRITER_TOKEN/);
      return true;
    });
  });
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(connectServe(options(`http://127.0.0.1:${port}`)), /connection refused/);
});
