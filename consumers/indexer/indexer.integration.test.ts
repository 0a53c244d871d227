import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@elastic/elasticsearch';
import { buildEvent, LIMITS, type ActivityEvent } from '../../pipeline/events/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import { kafkaSchema, elasticsearchSchema } from '../../pipeline/config/index.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { EsEventSink } from '../../pipeline/store/elasticsearch/sink.ts';
import { installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { KafkaTransport } from '../../pipeline/transport/kafka/transport.ts';
import type { Subscription } from '../../pipeline/transport/types.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from '../../test/engines.ts';
import { Indexer } from './indexer.ts';

const N = 5_000;
const name = uniqueName('it-indexer');
const kafka = kafkaSchema.parse({ brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 3 });
const es = elasticsearchSchema.parse({ url: testElasticsearchUrl(), indexPrefix: name });
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

let client: Client;
let transport: KafkaTransport;
let indexer: Indexer;
let sub: Subscription;

function events(count: number, from = 0): ActivityEvent[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return buildEvent({
      // Spread over two months so both monthly indices are used.
      timestamp: Date.UTC(2017, 10, 20, 0, 0, 0) + i * 900_000,
      action: 'post',
      channel: { id: `chan-${i % 40}`, handle: `chan_${i % 40}`, title: 'قناة', language: 'ar', network: 'net-a' },
      message: { id: String(i), media: 'text', length: 100 + (i % 50) },
      links: i % 10 === 0 ? ['https://tamtam.chat/somewhere'] : undefined,
      source: { type: 'test', name },
    });
  });
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(indexer.stats)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function countDocs(): Promise<number> {
  await client.indices.refresh({ index: `${name}-activity-*` });
  return (await client.count({ index: `${name}-activity-*` })).count;
}

before(async () => {
  client = createEsClient(es);
  await installTemplates(client, es);
  // A month index created by hand with a conflicting type: ES itself rejects items bound for it.
  await client.indices.create({ index: `${name}-activity-2016.01`, mappings: { dynamic: 'strict', properties: { channel: { properties: { handle: { type: 'date' } } } } } });
  transport = new KafkaTransport(kafka);
  await transport.ensureTopics();
  indexer = new Indexer({
    transport,
    sink: new EsEventSink(client, es, { flushBytes: 500_000, concurrency: 2 }),
    deadLetters: await transport.deadLetters(),
    options: { groupId: `${name}-indexer`, storeText: false, retries: 5, retryInitialDelayMs: 100, retryMaxDelayMs: 2_000, maxBatchRecords: 2_000, concurrentPartitions: 2, flushBytes: 4_000_000, concurrency: 3 },
    log,
  });
  sub = await indexer.start();
});

after(async () => {
  await sub?.stop();
  await transport?.close();
  await client?.indices.delete({ index: `${name}-*` }).catch(() => {});
  await client?.indices.deleteIndexTemplate({ name: `${name}-*` }).catch(() => {});
  await client?.close();
});

test('N events produced -> exactly N documents, found by id; producing them again changes nothing', async () => {
  const batch = events(N);
  const publisher = await transport.publisher();
  const t0 = performance.now();
  await publisher.publish(batch);
  await waitFor(() => indexer.stats.indexed >= N, `${N} indexed`);
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(`# skeleton end to end: ${N} events in ${secs.toFixed(2)} s = ${Math.round(N / secs)} events/s (produce + consume + bulk)\n`);
  assert.equal(await countDocs(), N);
  const ids = batch.map((e) => e.event.id);
  const found = await client.search({ index: `${name}-activity-*`, size: 0, query: { ids: { values: ids } } });
  assert.equal((found.hits.total as { value: number }).value, N);

  await publisher.publish(batch);
  await waitFor(() => indexer.stats.received >= 2 * N, `${2 * N} received`);
  assert.equal(await countDocs(), N);
  assert.equal(indexer.stats.duplicates, N);
  assert.equal(indexer.stats.indexed, N);
});

test('malformed messages land in the DLQ with reasons and offsets while valid ones around them are indexed', async () => {
  const before = { ...indexer.stats };
  const good = events(20, N + 1000);
  const conflicting = buildEvent({ timestamp: '2016-01-15T12:00:00Z', action: 'post', channel: { id: 'x', handle: 'not_a_date' }, message: { id: '1' }, source: { type: 'test' } });
  const bad: { key: string; value: Buffer | string; why: RegExp }[] = [
    { key: 'k1', value: '{"@timestamp": "2017-11-22T09:00:00Z", oops', why: /not valid JSON/ },
    { key: 'k2', value: JSON.stringify({ ...good[0], channel: { id: '' } }), why: /channel\.id: must not be empty/ },
    { key: 'k3', value: JSON.stringify({ ...good[1], surprise: true }), why: /unknown field\(s\) "surprise"/ },
    { key: 'k4', value: Buffer.alloc(400 * 1024, 0x61), why: /over the 262144-byte limit/ },
    { key: 'k5', value: Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), why: /not valid JSON/ },
    { key: 'x', value: JSON.stringify(conflicting), why: /mapper_parsing_exception|document_parsing_exception/ },
  ];
  const publisher = await transport.publisher();
  const mixed = [...good.slice(0, 10).map((e) => ({ key: e.channel.id, value: JSON.stringify(e) })), ...bad, ...good.slice(10).map((e) => ({ key: e.channel.id, value: JSON.stringify(e) }))];
  await publisher.publishRaw(mixed);
  await waitFor(() => indexer.stats.received >= before.received + mixed.length, 'mixed batch received');

  assert.equal(indexer.stats.indexed - before.indexed, good.length);
  assert.equal(indexer.stats.deadLettered - before.deadLettered, bad.length);
  const letters = await transport.readDeadLetters({ maxWaitMs: 20_000 });
  assert.equal(letters.length, bad.length);
  for (const b of bad) {
    const bytes = Buffer.isBuffer(b.value) ? b.value : Buffer.from(b.value);
    // Oversized records are kept up to the event size limit (see Indexer: the DLQ has a size limit too).
    const kept = bytes.subarray(0, LIMITS.eventBytes);
    const l = letters.find((x) => Buffer.from(x.originalBase64, 'base64').equals(kept));
    assert.ok(l, `dead letter for ${b.key}`);
    assert.match(l.reason, b.why);
    assert.equal(l.source.topic, kafka.topic);
    assert.match(l.source.offset, /^\d+$/);
  }
  assert.equal(letters.find((l) => /parsing_exception/.test(l.reason))?.stage, 'index');
  assert.equal(await countDocs(), N + good.length);
});
