import { randomUUID } from 'node:crypto';
import { CompressionTypes, type Admin, type Consumer, type EachBatchPayload, type Kafka, type Producer } from 'kafkajs';
import type { KafkaConfig } from '../../config/index.ts';
import { eventKey, type ActivityEvent } from '../../events/index.ts';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import { logger } from '../../log.ts';
import type {
  BatchHandler, BatchResult, DeadLetter, DeadLetterWriter, PartitionProgress, Publisher, SubscribeOptions, Subscription, Transport, TransportRecord,
} from '../types.ts';
import { createKafka } from './client.ts';

const log = () => logger().child({ component: 'kafka-transport' });

/** Below the broker's default message.max.bytes (1,048,588) with room for the batch header. */
const MAX_REQUEST_BYTES = 1_000_000;
/** Upper bound of a record's framing in a v2 batch (lengths, deltas, attributes as varints). */
const RECORD_OVERHEAD_BYTES = 32;

/** Kafka implementation of the transport: keyed by channel, acks=all, idempotent producer. */
export class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  readonly config: KafkaConfig;
  private readonly kafka: Kafka;
  private readonly closers = new Set<() => Promise<void>>();
  private sharedProducer: Promise<Producer> | undefined;
  private sharedAdmin: Promise<Admin> | undefined;

  constructor(config: KafkaConfig) {
    this.config = config;
    this.kafka = createKafka(config);
  }

  async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const wanted = [this.config.topic, this.config.dlqTopic].filter((t) => !existing.has(t));
      if (wanted.length) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: wanted.map((topic) => ({
            topic,
            numPartitions: topic === this.config.dlqTopic ? 1 : this.config.partitions,
            replicationFactor: this.config.replicationFactor,
          })),
        });
      }
    } catch (err) {
      throw new TidewatchError(ErrorCode.KAFKA_UNAVAILABLE, `Kafka at ${this.config.brokers.join(',')}: cannot create topics (${(err as Error).message})`, { cause: err, retriable: true });
    } finally {
      await admin.disconnect();
    }
  }

  /** One admin connection for progress(), which the analyzer asks at every tick. */
  private admin(): Promise<Admin> {
    this.sharedAdmin ??= (async () => {
      const admin = this.kafka.admin();
      try {
        await admin.connect();
      } catch (err) {
        this.sharedAdmin = undefined;
        throw new TidewatchError(ErrorCode.KAFKA_UNAVAILABLE, `Kafka at ${this.config.brokers.join(',')}: cannot connect the admin client (${(err as Error).message})`, { cause: err, retriable: true });
      }
      this.closers.add(() => admin.disconnect());
      return admin;
    })();
    return this.sharedAdmin;
  }

  async progress(groupId: string, topic = this.config.topic): Promise<PartitionProgress[]> {
    const admin = await this.admin();
    try {
      const [ends, groups] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      const committed = new Map(groups[0]?.partitions.map((p) => [p.partition, p.offset]) ?? []);
      return ends
        .map((e) => {
          const c = committed.get(e.partition);
          // kafkajs answers -1 for a partition the group never committed.
          return { partition: e.partition, start: e.low, end: e.high, committed: c === undefined || BigInt(c) < 0n ? null : c };
        })
        .sort((a, b) => a.partition - b.partition);
    } catch (err) {
      throw new TidewatchError(ErrorCode.KAFKA_UNAVAILABLE, `Kafka at ${this.config.brokers.join(',')}: cannot read the offsets of ${groupId} on ${topic} (${(err as Error).message})`, { cause: err, retriable: true });
    }
  }

  private producer(): Promise<Producer> {
    this.sharedProducer ??= (async () => {
      // Idempotent producer: broker-side dedup of retried sends, acks=all required by it.
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
      try {
        await producer.connect();
      } catch (err) {
        this.sharedProducer = undefined;
        throw new TidewatchError(ErrorCode.KAFKA_UNAVAILABLE, `Kafka at ${this.config.brokers.join(',')}: cannot connect producer (${(err as Error).message})`, { cause: err, retriable: true });
      }
      this.closers.add(() => producer.disconnect());
      return producer;
    })();
    return this.sharedProducer;
  }

  private async send(topic: string, messages: { key: string; value: Buffer | string }[]): Promise<void> {
    const producer = await this.producer();
    const step = this.config.producerBatchEvents;
    for (let i = 0, end = 0; i < messages.length; i = end) {
      // A request is cut by bytes as well as by count: the broker refuses a partition's record
      // batch over message.max.bytes (1 MB by default), and on a one-partition topic (the DLQ)
      // the whole request is one batch. A single larger record still goes, alone.
      let bytes = 0;
      for (end = i; end < messages.length && end - i < step; end++) {
        const m = messages[end]!;
        bytes += Buffer.byteLength(m.key) + (typeof m.value === 'string' ? Buffer.byteLength(m.value) : m.value.length) + RECORD_OVERHEAD_BYTES;
        if (bytes > MAX_REQUEST_BYTES && end > i) break;
      }
      try {
        await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages: messages.slice(i, end) });
      } catch (err) {
        throw new TidewatchError(ErrorCode.KAFKA_PUBLISH, `Kafka: publishing ${messages.length} record(s) to ${topic} failed after retries (${(err as Error).message})`, {
          cause: err,
          retriable: Boolean((err as { retriable?: boolean }).retriable ?? true),
          details: { sent: i },
        });
      }
    }
  }

  async publisher(): Promise<Publisher> {
    await this.producer();
    return {
      publish: (events: readonly ActivityEvent[]) =>
        this.send(this.config.topic, events.map((e) => ({ key: eventKey(e), value: JSON.stringify(e) }))),
      publishRaw: (records) => this.send(this.config.topic, records.map((r) => ({ key: r.key, value: r.value }))),
      // The producer is shared by every publisher of this transport; it closes with the transport.
      close: async () => {},
    };
  }

  async deadLetters(): Promise<DeadLetterWriter> {
    await this.producer();
    return {
      write: (letters: readonly DeadLetter[]) =>
        this.send(
          this.config.dlqTopic,
          letters.map((l) => ({ key: `${l.source.topic}:${l.source.partition}:${l.source.offset}`, value: JSON.stringify(l) })),
        ),
    };
  }

  async subscribe(options: SubscribeOptions, handler: BatchHandler): Promise<Subscription> {
    const topic = options.topic ?? this.config.topic;
    const maxRecords = options.maxBatchRecords ?? 10_000;
    const consumer: Consumer = this.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      // Big fetches: kafkajs fetches again only once every batch of the last fetch is handled, so
      // each fetch is a pause in the indexer's bulk stream (measured: 4 MB / 10 MB fetches kept
      // Elasticsearch at ~0.6 of its raw ceiling). Bounded: at most this much raw data in memory.
      maxBytesPerPartition: options.fetchBytesPerPartition ?? 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
      sessionTimeout: 45_000,
      // A member hears of a rebalance at its next heartbeat: at Kafka's usual 3 s, an analyzer
      // instance joining a running group waited 3.1-3.6 s (the others analysing on meanwhile, work
      // the new owners then did again from the last snapshot); at 0.5 s, in 1.1 s (bench run).
      heartbeatInterval: 500,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 30_000 },
    });
    let crash!: (err: Error) => void;
    const crashed = new Promise<Error>((resolve) => (crash = resolve));
    consumer.on(consumer.events.CRASH, (e) => {
      const { error, restart } = e.payload;
      log().warn({ err: error, restart, groupId: options.groupId }, 'consumer crashed');
      if (!restart) crash(error);
    });
    // Per partition: the first offset handled but not committed yet ('deferCommit' or `durable`
    // batches), the offset after the last batch handed to the handler, the chain that commits
    // batches in order, and an epoch that voids the chain's waiting commits on a redelivery.
    const parts = new Map<number, { from?: string; handedTo?: string; epoch: number; tail: Promise<void> }>();
    const part = (p: number) => {
      let s = parts.get(p);
      if (!s) parts.set(p, (s = { epoch: 0, tail: Promise.resolve() }));
      return s;
    };
    /** Read the partition again from its last commit; commits still waiting in its chain are void. */
    const redeliver = (partition: number) => {
      const s = part(partition);
      s.epoch++;
      try {
        if (s.from !== undefined) consumer.seek({ topic, partition, offset: s.from });
      } catch (err) {
        // No longer running (crashed or stopping): a restart reads from the last commit anyway.
        log().warn({ err, groupId: options.groupId, partition }, 'cannot seek back to the last commit');
      }
      s.from = undefined;
    };
    const onAssigned = options.onAssigned;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      // After a rebalance kafkajs reads every partition from its last commit: a commit still
      // waiting would only move the group's offset back under a new owner's.
      for (const s of parts.values()) {
        s.epoch++;
        s.from = undefined;
      }
      onAssigned?.(topic, [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b));
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? true });
    } catch (err) {
      await consumer.disconnect().catch(() => {});
      throw new TidewatchError(ErrorCode.KAFKA_UNAVAILABLE, `Kafka at ${this.config.brokers.join(',')}: cannot subscribe to ${topic} (${(err as Error).message})`, { cause: err, retriable: true });
    }
    let stopping = false;
    const active = new Set<Promise<void>>();
    const eachBatch = async ({ batch, resolveOffset, heartbeat, isStale, isRunning }: EachBatchPayload): Promise<void> => {
      const all = batch.messages;
      const partition = batch.partition;
      for (let i = 0; i < all.length && isRunning() && !isStale() && !stopping; i += maxRecords) {
        const chunk = all.slice(i, i + maxRecords);
        const records: TransportRecord[] = chunk.map((m) => ({
          topic: batch.topic,
          partition,
          offset: m.offset,
          key: m.key ? m.key.toString('utf8') : null,
          value: m.value ?? Buffer.alloc(0),
        }));
        const s = part(partition);
        const epoch = s.epoch;
        let result: BatchResult;
        try {
          result = await handler({ topic: batch.topic, partition, records, heartbeat, isStale, end: batch.highWatermark });
          // Its failure is handled by the commit chain, which may reach it only after earlier
          // batches: marked handled now, or a rejection before then would be unhandled.
          if (result && result !== 'deferCommit') result.durable.catch(() => {});
        } catch (err) {
          // The failed batch is read again from the last commit, deferred batches included.
          if (!isStale()) redeliver(partition);
          throw err;
        }
        // Revoked meanwhile: the new owner re-reads from the last commit; committing here could
        // skip work. An earlier batch failed or the group rebalanced meanwhile: read again from there.
        if (isStale() || s.epoch !== epoch) break;
        const last = chunk[chunk.length - 1]!.offset;
        resolveOffset(last);
        s.from ??= chunk[0]!.offset;
        const next = (BigInt(last) + 1n).toString();
        s.handedTo = next;
        if (result !== 'deferCommit') {
          // Commit exactly what the handler finished, the next offset after the last record, once
          // every batch before it in this partition is committed.
          let commitError: unknown;
          const committed = s.tail.then(() => result?.durable).then(
            async () => {
              if (s.epoch !== epoch) return;
              try {
                await consumer.commitOffsets([{ topic, partition, offset: next }]);
              } catch (err) {
                // Left uncommitted: a later commit covers it, a restart delivers it again.
                commitError = err;
                if (result) log().warn({ err, groupId: options.groupId, partition, offset: next }, 'commit failed');
                return;
              }
              if (s.epoch === epoch) s.from = BigInt(next) < BigInt(s.handedTo ?? next) ? next : undefined;
            },
            (err: unknown) => {
              if (s.epoch !== epoch) return;
              log().warn({ err, groupId: options.groupId, partition }, 'batch not made durable: the partition is delivered again from its last commit');
              redeliver(partition);
            },
          );
          s.tail = committed;
          // A batch handled in full is committed before the next one is handed over, as before;
          // a failed commit fails the batch, and kafkajs rejoins if the group moved on.
          if (!result) {
            await committed;
            if (commitError) throw commitError;
          }
        }
        await heartbeat();
      }
    };
    await consumer.run({
      // Commits are explicit, above: kafkajs would otherwise commit deferred batches on its own.
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.concurrentPartitions ?? 1,
      eachBatch: (payload) => {
        const running = eachBatch(payload);
        active.add(running);
        return running.finally(() => active.delete(running));
      },
    });
    const stop = async () => {
      this.closers.delete(stop);
      // Stop fetching, let the batches in the handler finish and the commits they wait on land
      // while this is still a member of the group, then leave it.
      stopping = true;
      try {
        consumer.pause([{ topic }]);
      } catch {
        // Not running (it crashed for good): nothing is fetched anyway.
      }
      await Promise.allSettled([...active]);
      await Promise.allSettled([...parts.values()].map((s) => s.tail));
      await consumer.disconnect();
    };
    this.closers.add(stop);
    return { stop, crashed };
  }

  async readDeadLetters(options: { fromBeginning?: boolean; maxWaitMs?: number; limit?: number } = {}): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    // Joining the group takes a moment: wait up to maxWaitMs for the first letter, then stop
    // once the topic has been quiet for a short while.
    const deadline = Date.now() + (options.maxWaitMs ?? 15_000);
    const idleMs = 1_500;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let lastSeen = 0;
    const sub = await this.subscribe(
      { groupId: `tidewatch-dlq-reader-${randomUUID()}`, topic: this.config.dlqTopic, fromBeginning: options.fromBeginning ?? true },
      async (batch) => {
        for (const r of batch.records) letters.push(JSON.parse(r.value.toString('utf8')) as DeadLetter);
        lastSeen = Date.now();
      },
    );
    try {
      while (letters.length < limit && Date.now() < deadline && (lastSeen === 0 || Date.now() - lastSeen < idleMs)) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await sub.stop();
    }
    return letters.slice(0, limit);
  }

  async close(): Promise<void> {
    const closers = [...this.closers];
    this.closers.clear();
    this.sharedProducer = undefined;
    this.sharedAdmin = undefined;
    await Promise.allSettled(closers.map((c) => c()));
  }
}
