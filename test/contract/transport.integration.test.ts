import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kafkaSchema } from '../../pipeline/config/index.ts';
import { buildEvent, eventKey, type ActivityEvent } from '../../pipeline/events/index.ts';
import { createLogger, setLogger } from '../../pipeline/log.ts';
import { KafkaTransport } from '../../pipeline/transport/kafka/transport.ts';
import { memoryTransportSchema } from '../../pipeline/transport/memory/options.ts';
import { partitionerFor } from '../../pipeline/transport/partitioner.ts';
import { MemoryTransport } from '../../pipeline/transport/memory/transport.ts';
import { caughtUp, type Batch, type DeadLetter, type Subscription, type Transport } from '../../pipeline/transport/types.ts';
import { testKafkaBrokers, uniqueName } from '../engines.ts';

/**
 * One contract, two transports: the embedded one and real Kafka must behave alike for
 * everything a consumer relies on. Each test gets fresh topics and groups.
 */
const PARTITIONS = 3;
// The redelivery test makes handlers fail on purpose: their warnings are expected.
setLogger(createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));

interface Impl {
  name: string;
  /** A transport on fresh topics; `topic` tells which partition count a key maps with. */
  create(): Promise<{ transport: Transport; topic: string; dlqTopic: string }>;
  /** Kafka needs seconds to join a group and rebalance; the embedded transport does not. */
  timeoutMs: number;
}

const impls: Impl[] = [
  {
    name: 'memory',
    timeoutMs: 10_000,
    async create() {
      const name = uniqueName('ct-mem');
      const options = memoryTransportSchema.parse({ topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: PARTITIONS, redeliveryInitialDelayMs: 50 });
      const transport = new MemoryTransport(options);
      await transport.ensureTopics();
      return { transport, topic: options.topic, dlqTopic: options.dlqTopic };
    },
  },
  {
    name: 'kafka',
    timeoutMs: 90_000,
    async create() {
      const name = uniqueName('ct-kafka');
      const config = kafkaSchema.parse({ brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: PARTITIONS });
      const transport = new KafkaTransport(config);
      await transport.ensureTopics();
      return { transport, topic: config.topic, dlqTopic: config.dlqTopic };
    },
  },
];

function events(channels: number, perChannel: number, tag: string): ActivityEvent[] {
  const out: ActivityEvent[] = [];
  for (let i = 0; i < perChannel; i++) {
    for (let c = 0; c < channels; c++) {
      out.push(buildEvent({
        timestamp: Date.UTC(2018, 0, 1) + i * 60_000 + c,
        action: 'post',
        channel: { id: `${tag}-ch-${c}` },
        message: { id: String(i) },
        source: { type: 'test' },
      }));
    }
  }
  return out;
}

async function waitFor(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Seen {
  key: string | null;
  partition: number;
  offset: string;
  value: Buffer;
}

const recordsOf = (b: Batch): Seen[] => b.records.map((r) => ({ key: r.key, partition: r.partition, offset: r.offset, value: r.value }));

for (const impl of impls) {
  describe(`transport contract: ${impl.name}`, { timeout: impl.timeoutMs * 4 }, () => {
    const open: Transport[] = [];
    const fresh = async () => {
      const t = await impl.create();
      open.push(t.transport);
      return t;
    };
    after(async () => {
      await Promise.allSettled(open.map((t) => t.close()));
    });

    test('events of one channel arrive in publish order, in the partition Kafka\'s partitioner picks', async () => {
      const { transport } = await fresh();
      const batch = events(7, 40, 'order');
      const seen: Seen[] = [];
      const sub = await transport.subscribe({ groupId: uniqueName('g-order'), maxBatchRecords: 25 }, async (b) => void seen.push(...recordsOf(b)));
      await (await transport.publisher()).publish(batch);
      await waitFor(() => seen.length >= batch.length, `${batch.length} records`, impl.timeoutMs);
      await sub.stop();

      assert.equal(seen.length, batch.length);
      const partitionOf = partitionerFor(PARTITIONS);
      const byKey = new Map<string, number[]>();
      for (const r of seen) {
        const e = JSON.parse(r.value.toString('utf8')) as ActivityEvent;
        assert.equal(r.key, eventKey(e));
        assert.equal(r.partition, partitionOf(r.key), `partition of ${r.key}`);
        byKey.set(r.key!, [...(byKey.get(r.key!) ?? []), Number(e.message!.id)]);
      }
      assert.equal(byKey.size, 7);
      for (const [key, ids] of byKey) assert.deepEqual(ids, Array.from({ length: 40 }, (_, i) => i), `order of ${key}`);
    });

    test('a batch whose handler throws is delivered again, and nothing after it is skipped', async () => {
      const { transport } = await fresh();
      const batch = events(1, 30, 'redeliver');
      const deliveries: string[][] = [];
      let failures = 0;
      const sub = await transport.subscribe({ groupId: uniqueName('g-redeliver'), maxBatchRecords: 10 }, async (b) => {
        deliveries.push(b.records.map((r) => r.offset));
        if (failures < 2 && b.records.some((r) => r.offset === '10')) {
          failures++;
          throw new Error('handler not ready yet');
        }
      });
      await (await transport.publisher()).publish(batch);
      await waitFor(() => deliveries.flat().includes('29') && failures === 2, 'the last offset after two failures', impl.timeoutMs);
      await sub.stop();

      const firsts = deliveries.map((d) => d[0]);
      assert.equal(firsts.filter((f) => f === '10').length, 3, `batch at offset 10 delivered three times: ${JSON.stringify(deliveries)}`);
      const handled = new Set(deliveries.flat());
      for (let i = 0; i < 30; i++) assert.ok(handled.has(String(i)), `offset ${i} delivered`);
    });

    test('a batch left uncommitted (deferCommit) is delivered again after a later failure, and committed by the next committed batch', async () => {
      const { transport } = await fresh();
      const groupId = uniqueName('g-defer');
      const deliveries: string[][] = [];
      let failed = false;
      const sub = await transport.subscribe({ groupId, maxBatchRecords: 10 }, async (b) => {
        const offsets = b.records.map((r) => r.offset);
        deliveries.push(offsets);
        if (!failed && offsets.includes('20')) {
          failed = true;
          throw new Error('handler not ready yet');
        }
        // Only the batch that holds the last record commits: every earlier one is deferred.
        return offsets.includes('29') ? undefined : 'deferCommit';
      });
      await (await transport.publisher()).publish(events(1, 30, 'defer'));
      await waitFor(() => failed && deliveries.flat().includes('29'), 'the last offset after the failure', impl.timeoutMs);
      const progress = async () => (await transport.progress(groupId)).find((p) => p.end === '30');
      let committed: string | null | undefined;
      const deadline = Date.now() + impl.timeoutMs;
      while ((committed = (await progress())?.committed) !== '30' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await sub.stop();
      assert.equal(deliveries.filter((d) => d.includes('0')).length, 2, `the deferred records delivered again from the start after the failure: ${JSON.stringify(deliveries)}`);
      assert.equal(committed, '30', 'the last batch commits the deferred ones too');
    });

    test('a `durable` batch is committed once its writes are, in partition order, while delivery goes on', async () => {
      const { transport } = await fresh();
      const groupId = uniqueName('g-durable');
      const writes: { offsets: string[]; done: () => void }[] = [];
      const sub = await transport.subscribe({ groupId, maxBatchRecords: 10 }, async (b) => {
        let done!: () => void;
        const durable = new Promise<void>((r) => (done = r));
        writes.push({ offsets: b.records.map((r) => r.offset), done });
        return { durable };
      });
      await (await transport.publisher()).publish(events(1, 30, 'durable'));
      // Every batch is delivered while none of them is durable yet.
      await waitFor(() => writes.some((w) => w.offsets.includes('29')), 'the last batch, before any write is done', impl.timeoutMs);
      const committed = async () => (await transport.progress(groupId)).find((p) => p.end === '30')?.committed ?? null;
      assert.equal(BigInt((await committed()) ?? 0), 0n, 'nothing committed before a write is done');
      // The last and the first batches are done, the middle one is not: only the first may commit.
      const seen: (string | null)[] = [];
      const until = async (target: string) => {
        const deadline = Date.now() + impl.timeoutMs;
        while (seen.at(-1) !== target && Date.now() < deadline) {
          seen.push(await committed());
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      writes.find((w) => w.offsets.includes('29'))!.done();
      writes.find((w) => w.offsets.includes('0'))!.done();
      await until('10');
      assert.equal(seen.at(-1), '10', `the first batch committed: ${JSON.stringify(seen)}`);
      assert.ok(seen.every((c) => c === null || BigInt(c) <= 10n), `nothing past a batch still being written: ${JSON.stringify(seen)}`);
      writes.find((w) => w.offsets.includes('10'))!.done();
      await until('30');
      assert.equal(seen.at(-1), '30', 'the rest committed once the middle batch is done');
      await sub.stop();
      assert.equal(writes.length, 3, `each batch delivered once: ${JSON.stringify(writes.map((w) => w.offsets[0]))}`);
    });

    test('a `durable` batch that fails is delivered again from the last commit, the batches after it too', async () => {
      const { transport } = await fresh();
      const groupId = uniqueName('g-durable-fail');
      const deliveries: string[][] = [];
      let fail!: (err: Error) => void;
      const sub = await transport.subscribe({ groupId, maxBatchRecords: 10 }, async (b) => {
        const offsets = b.records.map((r) => r.offset);
        deliveries.push(offsets);
        // The first delivery of the middle batch fails, once the last batch has been delivered too.
        if (offsets.includes('10') && !fail) return { durable: new Promise<void>((_, reject) => (fail = reject)) };
        return { durable: Promise.resolve() };
      });
      await (await transport.publisher()).publish(events(1, 30, 'durable-fail'));
      await waitFor(() => deliveries.flat().includes('29'), 'the last batch', impl.timeoutMs);
      fail(new Error('bulk write failed'));
      await waitFor(() => deliveries.filter((d) => d.includes('29')).length === 2, 'the last batch delivered again', impl.timeoutMs);
      const deadline = Date.now() + impl.timeoutMs;
      let committed: string | null | undefined;
      while ((committed = (await transport.progress(groupId)).find((p) => p.end === '30')?.committed) !== '30' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await sub.stop();
      assert.equal(committed, '30');
      assert.equal(deliveries.filter((d) => d.includes('0')).length, 1, `the committed first batch is not delivered again: ${JSON.stringify(deliveries)}`);
      assert.equal(deliveries.filter((d) => d.includes('10')).length, 2, `the failed batch delivered again: ${JSON.stringify(deliveries)}`);
    });

    test('stop() waits for the `durable` batches in flight and commits them', async () => {
      const { transport } = await fresh();
      const groupId = uniqueName('g-durable-stop');
      const delivered: string[] = [];
      const sub = await transport.subscribe({ groupId, maxBatchRecords: 10 }, async (b) => {
        delivered.push(...b.records.map((r) => r.offset));
        return { durable: new Promise<void>((r) => setTimeout(r, 500)) };
      });
      await (await transport.publisher()).publish(events(1, 30, 'durable-stop'));
      await waitFor(() => delivered.includes('29'), 'the last batch', impl.timeoutMs);
      await sub.stop();
      assert.equal((await transport.progress(groupId)).find((p) => p.end === '30')?.committed, '30');
    });

    test('a group that stops and subscribes again resumes after its last commit', async () => {
      const { transport } = await fresh();
      const groupId = uniqueName('g-resume');
      const publisher = await transport.publisher();
      const first = events(4, 5, 'resume-a');
      const second = events(4, 5, 'resume-b');
      const got: string[] = [];
      const consume = (): Promise<Subscription> =>
        transport.subscribe({ groupId }, async (b) => {
          for (const r of b.records) got.push((JSON.parse(r.value.toString('utf8')) as ActivityEvent).event.id);
        });

      let sub = await consume();
      await publisher.publish(first);
      await waitFor(() => got.length >= first.length, 'first round', impl.timeoutMs);
      await sub.stop();
      await publisher.publish(second);
      got.length = 0;
      sub = await consume();
      await waitFor(() => got.length >= second.length, 'second round', impl.timeoutMs);
      // Anything redelivered would have arrived with the rest: give it a moment to show up.
      await new Promise((r) => setTimeout(r, 1_000));
      await sub.stop();
      assert.deepEqual(new Set(got), new Set(second.map((e) => e.event.id)));
      assert.equal(got.length, second.length);
    });

    test('progress gives each partition\'s end and the group\'s commit; members are told their partitions after every rebalance', async () => {
      const { transport } = await fresh();
      const groupId = uniqueName('g-assign');
      const batch = events(6, 10, 'assign');
      await (await transport.publisher()).publish(batch);
      const before = await transport.progress(groupId);
      assert.deepEqual(before.map((p) => p.partition), Array.from({ length: PARTITIONS }, (_, i) => i));
      assert.equal(before.reduce((n, p) => n + Number(p.end) - Number(p.start), 0), batch.length);
      assert.ok(before.some((p) => !caughtUp(p)), 'nothing consumed yet');

      const told = { a: [] as number[][], b: [] as number[][] };
      const member = (name: 'a' | 'b') =>
        transport.subscribe({ groupId, onAssigned: (_topic, partitions) => void told[name].push(partitions) }, async () => {});
      const all = Array.from({ length: PARTITIONS }, (_, i) => i);
      const a = await member('a');
      await waitFor(() => told.a.at(-1)?.length === PARTITIONS, 'a to own every partition', impl.timeoutMs);
      // Committed to the end: caught up, by offsets.
      const deadline = Date.now() + impl.timeoutMs;
      while (!(await transport.progress(groupId)).every(caughtUp)) {
        if (Date.now() > deadline) throw new Error('the group never caught up');
        await new Promise((r) => setTimeout(r, 200));
      }
      const b = await member('b');
      await waitFor(() => (told.b.at(-1)?.length ?? 0) > 0 && (told.a.at(-1)?.length ?? 0) > 0 && told.a.at(-1)!.length + told.b.at(-1)!.length === PARTITIONS, 'the partitions shared out', impl.timeoutMs);
      assert.deepEqual([...told.a.at(-1)!, ...told.b.at(-1)!].sort(), all, 'each partition has exactly one owner');
      await b.stop();
      await waitFor(() => told.a.at(-1)?.length === PARTITIONS, 'a to own every partition again', impl.timeoutMs);
      await a.stop();
    });

    test('publishRaw delivers the exact bytes and key; dead letters read back as written', async () => {
      const { transport, topic } = await fresh();
      const raw = [
        { key: 'raw-1', value: Buffer.from([0xc3, 0x28, 0xa0, 0xa1]) },
        { key: 'raw-1', value: '{"not": "an event"' },
      ];
      const seen: Seen[] = [];
      const sub = await transport.subscribe({ groupId: uniqueName('g-raw') }, async (b) => void seen.push(...recordsOf(b)));
      await (await transport.publisher()).publishRaw(raw);
      await waitFor(() => seen.length >= 2, 'raw records', impl.timeoutMs);
      await sub.stop();
      assert.deepEqual(seen.map((s) => [s.key, s.value]), raw.map((r) => [r.key, Buffer.from(r.value)]));

      const letters: DeadLetter[] = seen.map((s, i) => ({
        originalBase64: s.value.toString('base64'),
        reason: `reason ${i}`,
        code: 'EVENT_INVALID',
        stage: 'decode',
        source: { topic, partition: s.partition, offset: s.offset },
        at: '2026-01-01T00:00:00.000Z',
      }));
      await (await transport.deadLetters()).write(letters);
      const back = await transport.readDeadLetters({ maxWaitMs: impl.timeoutMs });
      assert.deepEqual(back, letters);
    });
  });
}
