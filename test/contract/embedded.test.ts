import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Indexer } from '../../consumers/indexer/indexer.ts';
import { configSchema } from '../../pipeline/config/index.ts';
import { buildEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { createLogger, setLogger } from '../../pipeline/log.ts';
import { createStore } from '../../pipeline/store/index.ts';
import { createTransport } from '../../pipeline/transport/index.ts';
import { memoryTransportSchema } from '../../pipeline/transport/memory/options.ts';
import { MemoryTransport } from '../../pipeline/transport/memory/transport.ts';
import { TidewatchError } from '../../pipeline/errors.ts';

/** The embedded path without any engine: memory transport -> Indexer -> DuckDB file. */
setLogger(createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));

function events(count: number): ActivityEvent[] {
  return Array.from({ length: count }, (_, i) =>
    buildEvent({
      timestamp: Date.UTC(2018, 10, 20) + i * 60_000,
      action: 'post',
      channel: { id: `chan-${i % 50}`, handle: `chan_${i % 50}`, title: 'قناة', language: 'ar', network: 'net-a' },
      message: { id: String(i), media: 'text', length: 100 },
      links: i % 10 === 0 ? ['https://tamtam.chat/somewhere'] : undefined,
      source: { type: 'test' },
    }));
}

test('without Kafka or Elasticsearch configured, events flow through the indexer into the DuckDB file and survive a restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tidewatch-embedded-'));
  try {
    const config = configSchema.parse({ dataDir });
    const transport = await createTransport(config);
    const store = await createStore(config);
    assert.equal(transport.kind, 'memory');
    assert.equal(store.kind, 'duckdb');
    await transport.ensureTopics();
    const indexer = new Indexer({
      transport,
      sink: store,
      deadLetters: await transport.deadLetters(),
      options: { ...config.indexer, storeText: false },
      log: createLogger('silent'),
    });
    await indexer.start();
    const batch = events(20_000);
    const publisher = await transport.publisher();
    const t0 = performance.now();
    await publisher.publish(batch);
    await publisher.publishRaw([{ key: 'bad', value: '{"not json' }]);
    // close() drains: everything published is handled before it resolves.
    await transport.close();
    const secs = (performance.now() - t0) / 1000;
    process.stdout.write(`# embedded: ${batch.length} events published, indexed into DuckDB and drained in ${secs.toFixed(2)} s = ${Math.round(batch.length / secs)} events/s\n`);
    assert.equal(indexer.stats.indexed, batch.length);
    assert.equal(indexer.stats.deadLettered, 1);
    assert.match((await transport.readDeadLetters({ maxWaitMs: 0 }))[0]!.reason, /not valid JSON/);
    await store.close();

    const reopened = await createStore(config);
    assert.deepEqual(await reopened.summary(), { events: batch.length, channels: 50, firstAt: batch[0]!['@timestamp'], lastAt: batch.at(-1)!['@timestamp'] });
    await reopened.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('DuckDB write throughput: 100k events in batches of 10k', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tidewatch-duckdb-bench-'));
  try {
    const store = await createStore(configSchema.parse({ dataDir }));
    const batch = events(100_000);
    const t0 = performance.now();
    for (let i = 0; i < batch.length; i += 10_000) {
      const results = await store.writeEvents(batch.slice(i, i + 10_000));
      assert.ok(results.every((r) => r.status === 'written' && !r.duplicate));
    }
    const secs = (performance.now() - t0) / 1000;
    process.stdout.write(`# duckdb: ${batch.length} events written in ${secs.toFixed(2)} s = ${Math.round(batch.length / secs)} events/s\n`);
    const again = await store.writeEvents(batch.slice(0, 10_000));
    assert.ok(again.every((r) => r.status === 'written' && r.duplicate));
    assert.equal((await store.summary()).events, batch.length);
    await store.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('memory transport back-pressure: publish waits while a lagging group holds the buffer, and resumes as it commits', async () => {
  const transport = new MemoryTransport(memoryTransportSchema.parse({ topic: 'bp', dlqTopic: 'bp.dlq', partitions: 1, maxBufferedBytes: 4_096 }));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let handled = 0;
  await transport.subscribe({ groupId: 'slow', maxBatchRecords: 5 }, async (b) => {
    await gate;
    handled += b.records.length;
  });
  const publisher = await transport.publisher();
  let published = false;
  const publishing = publisher.publishRaw(Array.from({ length: 100 }, (_, i) => ({ key: 'k', value: Buffer.alloc(200, i) }))).then(() => (published = true));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(published, false, 'publish must wait: 100 x 200 bytes exceed the 4,096-byte buffer');
  release();
  await publishing;
  await transport.close();
  assert.equal(handled, 100);
  await assert.rejects(publisher.publishRaw([{ key: 'k', value: 'late' }]), /transport is closing/);
});

test('memory transport handled(): resolves once the group committed what was published, and times out (retriable) while it has not', async () => {
  const transport = new MemoryTransport(memoryTransportSchema.parse({ topic: 'acked', dlqTopic: 'acked.dlq', partitions: 2 }));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let handled = 0;
  await transport.subscribe({ groupId: 'indexer', maxBatchRecords: 3 }, async (b) => {
    await gate;
    handled += b.records.length;
  });
  const publisher = await transport.publisher();
  await publisher.publishRaw(Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: String(i) })));
  await assert.rejects(transport.handled('indexer', 50), (err: unknown) => err instanceof TidewatchError && err.retriable && /did not handle/.test(err.message));
  assert.equal(handled, 0);
  release();
  await transport.handled('indexer', 10_000);
  assert.equal(handled, 10, 'every published record handled and committed when it resolves');
  await transport.close();
});
