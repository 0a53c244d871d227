import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import type { EventSink, IndexedEvent, ItemResult } from '../../pipeline/store/types.ts';
import { memoryTransportSchema } from '../../pipeline/transport/memory/options.ts';
import { MemoryTransport } from '../../pipeline/transport/memory/transport.ts';
import type { Batch, DeadLetter, Transport } from '../../pipeline/transport/types.ts';
import { Indexer } from './indexer.ts';

const event = (i: number) =>
  buildEvent({ timestamp: Date.UTC(2017, 10, 22, 9, 0, i), action: 'post', channel: { id: `c${i % 3}` }, message: { id: String(i) }, source: { type: 'test' } });

function batchOf(values: (string | Buffer)[]): Batch {
  return {
    topic: 't',
    partition: 0,
    records: values.map((v, i) => ({ topic: 't', partition: 0, offset: String(100 + i), key: null, value: Buffer.isBuffer(v) ? v : Buffer.from(v) })),
    heartbeat: async () => {},
    isStale: () => false,
  };
}

/** A sink scripted per call: each call answers with a function of the events it got. */
function scriptedSink(script: ((events: readonly ActivityEvent[]) => ItemResult[])[]): EventSink & { calls: number; seen: string[][] } {
  const sink = {
    calls: 0,
    seen: [] as string[][],
    async writeEvents(events: readonly ActivityEvent[]) {
      sink.seen.push(events.map((e) => e.event.id));
      const step = script[Math.min(sink.calls++, script.length - 1)]!;
      return step(events);
    },
    async close() {},
  };
  return sink;
}

function indexerWith(sink: EventSink, letters: DeadLetter[]) {
  return new Indexer({
    transport: {} as Transport,
    sink,
    deadLetters: { write: async (l) => void letters.push(...l) },
    options: { groupId: 'g', storeText: false, retries: 3, retryInitialDelayMs: 1, retryMaxDelayMs: 2, maxBatchRecords: 100, concurrentPartitions: 1, flushBytes: 4_000_000, concurrency: 3 },
    log: createLogger('silent'),
    now: () => Date.UTC(2020, 0, 1),
  });
}

test('retriable item failures are retried alone until written; permanent ones are dead-lettered with their offset', async () => {
  const events = [event(1), event(2), event(3)];
  const sink = scriptedSink([
    (evs) => evs.map((e, i): ItemResult => (i === 0 ? { id: e.event.id, status: 'written' } : i === 1 ? { id: e.event.id, status: 'failed', retriable: true, code: 'ES_OVERLOADED', reason: '429' } : { id: e.event.id, status: 'failed', retriable: false, code: 'ES_REJECTED', reason: '400 mapper_parsing_exception' })),
    (evs) => evs.map((e): ItemResult => ({ id: e.event.id, status: 'written' })),
  ]);
  const letters: DeadLetter[] = [];
  const ix = indexerWith(sink, letters);
  await ix.handle(batchOf(events.map((e) => JSON.stringify(e))));
  assert.deepEqual(sink.seen, [events.map((e) => e.event.id), [events[1]!.event.id]]);
  assert.equal(ix.stats.indexed, 2);
  assert.equal(ix.stats.retried, 1);
  assert.equal(letters.length, 1);
  assert.equal(letters[0]!.source.offset, '102');
  assert.equal(letters[0]!.stage, 'index');
  assert.match(letters[0]!.reason, /mapper_parsing_exception/);
});

test('undecodable records go to the DLQ with the original bytes; duplicates in one batch are written once', async () => {
  const e = event(7);
  const invalidUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
  const sink = scriptedSink([(evs) => evs.map((x): ItemResult => ({ id: x.event.id, status: 'written' }))]);
  const letters: DeadLetter[] = [];
  const ix = indexerWith(sink, letters);
  await ix.handle(batchOf([JSON.stringify(e), '{not json', JSON.stringify({ ...e, channel: {} }), JSON.stringify(e), invalidUtf8]));
  assert.equal(sink.seen[0]!.length, 1);
  assert.deepEqual(ix.stats, { batches: 1, received: 5, indexed: 1, duplicates: 1, retried: 0, deadLettered: 3 });
  assert.deepEqual(letters.map((l) => [l.source.offset, l.stage]), [['101', 'decode'], ['102', 'decode'], ['104', 'decode']]);
  assert.match(letters[1]!.reason, /channel\.id/);
  assert.deepEqual(Buffer.from(letters[2]!.originalBase64, 'base64'), invalidUtf8);
});

test('when retriable failures outlast the retries the batch fails, so the transport delivers it again', async () => {
  const sink = scriptedSink([(evs) => evs.map((x): ItemResult => ({ id: x.event.id, status: 'failed', retriable: true, code: 'ES_UNAVAILABLE', reason: 'connection refused' }))]);
  const letters: DeadLetter[] = [];
  const ix = indexerWith(sink, letters);
  await assert.rejects(ix.handle(batchOf([JSON.stringify(event(1))])), /not written yet: connection refused/);
  assert.equal(sink.calls, 4);
  assert.equal(ix.stats.batches, 0);
  assert.equal(letters.length, 0);
});

test('links are stored with their normalised domains and platforms, in the fast-path text too', async () => {
  const withLinks = buildEvent({
    timestamp: Date.UTC(2017, 10, 22, 9, 0, 0), action: 'post', channel: { id: 'c1' }, message: { id: '1' }, source: { type: 'test' },
    links: ['https://www.TamTam.chat/nashir_1', 'https://tt.me/ansar_2', 'https://T.me/s/news', 'mailto:x@example.org'],
  });
  const plain = event(2);
  let got: { events: readonly IndexedEvent[]; json: readonly (string | undefined)[] } | undefined;
  const sink: EventSink = {
    async writeEvents(events, json) {
      got = { events, json: json ?? [] };
      return events.map((e): ItemResult => ({ id: e.event.id, status: 'written' }));
    },
    async close() {},
  };
  const texts = [`${JSON.stringify(withLinks)} \r`, JSON.stringify(plain)];
  await indexerWith(sink, []).handle(batchOf(texts));
  const link = { domain: ['tamtam.chat', 'tt.me', 't.me'], platform: ['tamtam', 'telegram'] };
  assert.deepEqual(got!.events[0]!.link, link);
  // The sink stores the text as it is: it must be the event with the link fields, nothing else.
  assert.deepEqual(JSON.parse(got!.json[0]!), { ...withLinks, link });
  assert.equal(got!.events[1]!.link, undefined);
  assert.equal(got!.json[1], texts[1]);
});

/** A sink whose every request waits until the test answers it. */
function heldSink() {
  const writes: { ids: string[]; done: () => void }[] = [];
  let writing = 0;
  const sink: EventSink & { writes: typeof writes; most: number } = {
    writes,
    most: 0,
    async writeEvents(events) {
      writing++;
      sink.most = Math.max(sink.most, writing);
      await new Promise<void>((done) => writes.push({ ids: events.map((e) => e.event.id), done }));
      writing--;
      return events.map((e): ItemResult => ({ id: e.event.id, status: 'written' }));
    },
    async close() {},
  };
  return sink;
}

async function until(what: string, cond: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function subscribed(sink: EventSink, options: { concurrentPartitions: number; concurrency: number }, events: ActivityEvent[]) {
  const transport = new MemoryTransport(memoryTransportSchema.parse({ topic: 'ix.activity', dlqTopic: 'ix.dlq', partitions: 1 }));
  const ix = new Indexer({
    transport,
    sink,
    deadLetters: await transport.deadLetters(),
    options: { groupId: 'g', storeText: false, retries: 3, retryInitialDelayMs: 1, retryMaxDelayMs: 2, maxBatchRecords: 2, flushBytes: 1_000_000, ...options },
    log: createLogger('silent'),
  });
  const sub = await ix.start();
  await (await transport.publisher()).publish(events);
  const committed = async () => (await transport.progress('g'))[0]!.committed;
  return { ix, committed, stop: async () => (await sub.stop(), await transport.close()) };
}

test('subscribed, the indexer keeps at most concurrentPartitions x concurrency requests in flight over all batches, and commits each batch only once written, in order', async () => {
  const sink = heldSink();
  const { writes } = sink;
  const { ix, committed, stop } = await subscribed(sink, { concurrentPartitions: 2, concurrency: 1 }, [1, 2, 3, 4, 5, 6].map(event));
  // The second batch is sent while the first is being written; the third waits for a request.
  await until('two writes', () => writes.length === 2);
  assert.equal(await committed(), '0', 'nothing committed before it is written');
  writes[1]!.done();
  await until('the third batch written', () => writes.length === 3);
  assert.equal(await committed(), '0', 'the second batch waits for the first to commit');
  writes[0]!.done();
  await until('the first two batches committed', async () => (await committed()) === '4');
  writes[2]!.done();
  await until('everything committed', async () => (await committed()) === '6');
  await stop();
  assert.equal(sink.most, 2);
  assert.deepEqual(ix.stats, { batches: 3, received: 6, indexed: 6, duplicates: 0, retried: 0, deadLettered: 0 });
});

test('bodies are cut across batch boundaries, and no more than concurrentPartitions batches wait for a request', async () => {
  const sink = heldSink();
  const { writes } = sink;
  const events = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(event);
  const ids = (from: number, to: number) => events.slice(from, to).map((e) => e.event.id);
  const { committed, stop } = await subscribed(sink, { concurrentPartitions: 2, concurrency: 1 }, events);
  await until('two requests', () => writes.length === 2);
  assert.deepEqual(writes.map((w) => w.ids), [ids(0, 2), ids(2, 4)]);
  writes[0]!.done();
  // Batches 3 and 4 waited together in the queue (batch 5 waited for room): one body.
  await until('the third request', () => writes.length === 3);
  assert.deepEqual(writes[2]!.ids, ids(4, 8));
  writes[1]!.done();
  await until('the fourth request', () => writes.length === 4);
  assert.deepEqual(writes[3]!.ids, ids(8, 10));
  writes[2]!.done();
  writes[3]!.done();
  await until('everything committed', async () => (await committed()) === '10');
  await stop();
});

test('a body holds events up to flushBytes (at least one each)', async () => {
  const events = [1, 2, 3].map(event);
  const sink = scriptedSink([(evs) => evs.map((e): ItemResult => ({ id: e.event.id, status: 'written' }))]);
  const ix = new Indexer({
    transport: {} as Transport,
    sink,
    deadLetters: { write: async () => {} },
    options: { groupId: 'g', storeText: false, retries: 3, retryInitialDelayMs: 1, retryMaxDelayMs: 2, maxBatchRecords: 100, concurrentPartitions: 1, flushBytes: 1, concurrency: 1 },
    log: createLogger('silent'),
  });
  await ix.handle(batchOf(events.map((e) => JSON.stringify(e))));
  assert.deepEqual(sink.seen, events.map((e) => [e.event.id]));
  assert.equal(ix.stats.indexed, 3);
});

test('an event in two batches (a redelivery) is never twice in one body: one copy counts as indexed, the other as a duplicate', async () => {
  // Answers by id like the Elasticsearch sink: a second copy in one body would overwrite the
  // first copy's answer with its 409.
  const stored = new Set<string>();
  const held: (() => void)[] = [];
  const bodies: string[][] = [];
  const sink: EventSink = {
    async writeEvents(events) {
      bodies.push(events.map((e) => e.event.id));
      if (bodies.length <= 2) await new Promise<void>((done) => held.push(done));
      const answer = new Map<string, ItemResult>();
      for (const e of events) {
        const id = e.event.id;
        answer.set(id, stored.has(id) ? { id, status: 'written', duplicate: true } : { id, status: 'written' });
        stored.add(id);
      }
      return events.map((e) => answer.get(e.event.id)!);
    },
    async close() {},
  };
  // Batches of 2: [1 2] [3 4] [5 6] [6 7]; the last two wait in the queue together.
  const events = [1, 2, 3, 4, 5, 6, 6, 7].map(event);
  const { ix, committed, stop } = await subscribed(sink, { concurrentPartitions: 2, concurrency: 1 }, events);
  await until('two requests held', () => held.length === 2);
  held.splice(0).forEach((done) => done());
  await until('everything committed', async () => (await committed()) === '8');
  await stop();
  for (const body of bodies) assert.equal(new Set(body).size, body.length, `one id twice in a body: ${body.join(' ')}`);
  assert.equal(ix.stats.indexed, 7);
  assert.equal(ix.stats.duplicates, 1);
});
