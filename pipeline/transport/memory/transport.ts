import { eventKey, type ActivityEvent } from '../../events/index.ts';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import { logger } from '../../log.ts';
import { backoffDelayMs } from '../../retry.ts';
import type {
  BatchHandler, DeadLetter, DeadLetterWriter, PartitionProgress, Publisher, SubscribeOptions, Subscription, Transport, TransportRecord,
} from '../types.ts';
import type { MemoryTransportOptions } from './options.ts';
import { Topic } from './topic.ts';

const log = () => logger().child({ component: 'memory-transport' });

interface Member {
  running: boolean;
}

/** A consumer group on one topic: committed offsets survive its members, as in Kafka. */
class Group {
  readonly committed: number[];
  /** The next offset to deliver: past `committed` while handlers defer their commits. */
  readonly position: number[];
  readonly members: Member[] = [];
  /** Partitions with a batch in a handler: a new owner waits for it, so a partition never runs twice at once. */
  readonly inFlight = new Set<number>();

  constructor(topic: Topic, fromBeginning: boolean) {
    this.committed = topic.partitions.map((p) => (fromBeginning ? p.firstOffset : p.nextOffset));
    this.position = [...this.committed];
  }

  owner(partition: number): Member | undefined {
    return this.members[partition % this.members.length];
  }

  assigned(member: Member, partitions: number): number[] {
    return Array.from({ length: partitions }, (_, p) => p).filter((p) => this.owner(p) === member);
  }
}

type RawRecord = { key: string | null; value: Buffer };

/**
 * The embedded transport: Kafka's semantics in one process. Records are keyed to partitions with
 * Kafka's own partitioner (per-channel order), consumer groups commit offsets after each handled
 * batch and resume there, a batch whose handler throws is delivered again after a backoff, and
 * publishers wait while a topic holds `maxBufferedBytes` that some group has not committed yet.
 *
 * Records live in memory only. A record is kept until every group that ever subscribed to its
 * topic has committed it, so subscribe every consumer before publishing; close() drains what the
 * running consumers have not handled yet before it resolves.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Map<string, Group>>();
  private readonly subscriptions = new Set<() => Promise<void>>();
  private readonly publishing = new Set<Promise<void>>();
  private closed = false;
  /** Set when close() gave up waiting: blocked publishers fail instead of waiting forever. */
  private abandoned = false;
  private closing: Promise<void> | undefined;

  constructor(readonly options: MemoryTransportOptions) {}

  private topic(name: string): Topic {
    let t = this.topics.get(name);
    if (!t) {
      const dlq = name === this.options.dlqTopic;
      // One dead-letter partition, as the Kafka transport creates it.
      t = dlq
        ? new Topic(name, 1, 'evict', this.options.maxDeadLetterBytes)
        : new Topic(name, this.options.partitions, 'block', this.options.maxBufferedBytes);
      this.topics.set(name, t);
      this.groups.set(name, new Map());
    }
    return t;
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new TidewatchError(ErrorCode.SHUTTING_DOWN, `memory transport: cannot ${what}, the transport is closing`);
  }

  async ensureTopics(): Promise<void> {
    this.topic(this.options.topic);
    this.topic(this.options.dlqTopic);
  }

  /**
   * `fromConsumer`: dead letters written by a handler while close() drains must still be
   * accepted, or the draining batch could never finish.
   */
  private async send(topicName: string, records: readonly RawRecord[], fromConsumer = false): Promise<void> {
    if (!fromConsumer) this.assertOpen(`publish to ${topicName}`);
    const topic = this.topic(topicName);
    const sending = (async () => {
      for (const r of records) {
        while (!topic.fits(r.value.length)) {
          if (this.abandoned) {
            throw new TidewatchError(ErrorCode.SHUTTING_DOWN, `memory transport: ${topicName} stayed full until shutdown; the publish was not accepted`, { retriable: false });
          }
          await topic.space.wait();
        }
        const evicted = topic.append(r.key, r.value);
        if (evicted) log().warn({ topic: topicName, evicted, maxBytes: topic.maxBytes }, 'dead-letter queue full: oldest letters dropped');
      }
    })();
    this.publishing.add(sending);
    try {
      await sending;
    } finally {
      this.publishing.delete(sending);
    }
  }

  async publisher(): Promise<Publisher> {
    return {
      publish: (events: readonly ActivityEvent[]) =>
        this.send(this.options.topic, events.map((e) => ({ key: eventKey(e), value: Buffer.from(JSON.stringify(e)) }))),
      // Copied: the caller may reuse its buffers once the publish resolves.
      publishRaw: (records) => this.send(this.options.topic, records.map((r) => ({ key: r.key, value: Buffer.from(r.value) }))),
      close: async () => {},
    };
  }

  async progress(groupId: string, topicName = this.options.topic): Promise<PartitionProgress[]> {
    const topic = this.topic(topicName);
    const group = this.groups.get(topicName)!.get(groupId);
    return topic.partitions.map((p, partition) => ({
      partition,
      start: String(p.firstOffset),
      end: String(p.nextOffset),
      committed: group ? String(group.committed[partition]!) : null,
    }));
  }

  /**
   * Resolves once `groupId` has handled and committed everything published to the topic so far:
   * on the embedded default, where records live in memory only, that is what "delivered" means to
   * a producer that moves its own state on afterwards (the live collector). Rejects, retriable,
   * after `timeoutMs`.
   */
  async handled(groupId: string, timeoutMs: number, topicName = this.options.topic): Promise<void> {
    const topic = this.topic(topicName);
    const targets = topic.partitions.map((p) => p.nextOffset);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const group = this.groups.get(topicName)!.get(groupId);
      if (group && targets.every((t, p) => group.committed[p]! >= t)) return;
      if (this.abandoned || Date.now() >= deadline) {
        throw new TidewatchError(ErrorCode.TIMEOUT, `memory transport: ${groupId} did not handle what was published to ${topicName} within ${timeoutMs} ms`, { retriable: true });
      }
      await topic.changed.wait(deadline - Date.now());
    }
  }

  async deadLetters(): Promise<DeadLetterWriter> {
    return {
      write: (letters: readonly DeadLetter[]) =>
        this.send(
          this.options.dlqTopic,
          letters.map((l) => ({ key: `${l.source.topic}:${l.source.partition}:${l.source.offset}`, value: Buffer.from(JSON.stringify(l)) })),
          true,
        ),
    };
  }

  private group(topic: Topic, groupId: string, fromBeginning: boolean): Group {
    const groups = this.groups.get(topic.name)!;
    let g = groups.get(groupId);
    if (!g) {
      g = new Group(topic, fromBeginning);
      groups.set(groupId, g);
    }
    return g;
  }

  /** Records every group has committed are no longer needed: that is what frees the bounded log. */
  private trim(topic: Topic, partition: number): void {
    let min = Number.POSITIVE_INFINITY;
    for (const g of this.groups.get(topic.name)!.values()) min = Math.min(min, g.committed[partition]!);
    if (Number.isFinite(min)) topic.trim(partition, min);
  }

  async subscribe(options: SubscribeOptions, handler: BatchHandler): Promise<Subscription> {
    this.assertOpen('subscribe');
    const topic = this.topic(options.topic ?? this.options.topic);
    const group = this.group(topic, options.groupId, options.fromBeginning ?? true);
    const maxRecords = options.maxBatchRecords ?? 10_000;
    const member: Member = { running: true };
    group.members.push(member);
    // A rebalance: partitions change owners, and a new owner starts from the last commit.
    group.position.splice(0, Infinity, ...group.committed);
    topic.changed.notify();

    const attempts = new Map<number, number>();
    const retryAt = new Map<number, number>();
    // Per partition: the chain that commits `durable` batches in order, and an epoch that voids
    // its waiting commits when the partition is delivered again from its last commit.
    const chains = new Map<number, { epoch: number; tail: Promise<void> }>();
    const chain = (p: number) => {
      let c = chains.get(p);
      if (!c) chains.set(p, (c = { epoch: 0, tail: Promise.resolve() }));
      return c;
    };

    const failed = (p: number, err: unknown): void => {
      // Delivered again from the last commit, deferred batches included.
      chain(p).epoch++;
      group.position[p] = group.committed[p]!;
      const attempt = (attempts.get(p) ?? 0) + 1;
      const delayMs = backoffDelayMs(attempt, { initialDelayMs: this.options.redeliveryInitialDelayMs, maxDelayMs: this.options.redeliveryMaxDelayMs, factor: 2, jitter: 0.5 });
      attempts.set(p, attempt);
      retryAt.set(p, Date.now() + delayMs);
      log().warn({ err, groupId: options.groupId, topic: topic.name, partition: p, attempt, delayMs }, 'handler failed: the batch will be delivered again');
    };

    const deliver = async (p: number): Promise<void> => {
      const entries = topic.partitions[p]!.read(group.position[p]!, maxRecords);
      const records: TransportRecord[] = entries.map((e) => ({ topic: topic.name, partition: p, offset: String(e.offset), key: e.key, value: e.value }));
      const isStale = () => group.owner(p) !== member;
      const c = chain(p);
      const epoch = c.epoch;
      group.inFlight.add(p);
      try {
        const result = await handler({ topic: topic.name, partition: p, records, heartbeat: async () => {}, isStale, end: String(topic.partitions[p]!.nextOffset) });
        // Handled by the commit chain, which may reach it only after earlier batches (see kafka).
        if (result && result !== 'deferCommit') result.durable.catch(() => {});
        // Revoked meanwhile: the new owner re-reads from the last commit; committing here could
        // skip work. An earlier batch failed meanwhile: the partition is read again from there.
        if (isStale() || c.epoch !== epoch) {
          if (isStale()) group.position[p] = group.committed[p]!;
          return;
        }
        group.position[p] = entries[entries.length - 1]!.offset + 1;
        // A `durable` batch is done only once committed: until then its failure still backs off.
        if (!result || result === 'deferCommit') {
          attempts.delete(p);
          retryAt.delete(p);
        }
        if (result === 'deferCommit') return;
        const next = group.position[p];
        const commit = () => {
          if (c.epoch !== epoch || isStale()) return;
          attempts.delete(p);
          retryAt.delete(p);
          group.committed[p] = next;
          this.trim(topic, p);
          topic.changed.notify();
        };
        if (!result) {
          // Handled in full: committed now, after the `durable` batches before it.
          await c.tail;
          commit();
          return;
        }
        c.tail = c.tail.then(() => result.durable).then(commit, (err: unknown) => {
          if (c.epoch === epoch && !isStale()) failed(p, err);
          topic.changed.notify();
        });
      } catch (err) {
        failed(p, err);
      } finally {
        group.inFlight.delete(p);
        topic.changed.notify();
      }
    };

    // One batch at a time per subscription, partitions taken in turn, like the Kafka transport's
    // partitionsConsumedConcurrently = 1.
    const loop = (async () => {
      let turn = 0;
      let told: string | undefined;
      while (member.running) {
        const mine = group.assigned(member, topic.partitions.length);
        if (options.onAssigned && mine.join(',') !== told) {
          told = mine.join(',');
          options.onAssigned(topic.name, mine);
        }
        let next: number | undefined;
        let waitMs: number | undefined;
        for (let i = 0; i < mine.length && next === undefined; i++) {
          const p = mine[(turn + i) % mine.length]!;
          if (group.inFlight.has(p) || group.position[p]! >= topic.partitions[p]!.nextOffset) continue;
          const due = (retryAt.get(p) ?? 0) - Date.now();
          if (due > 0) waitMs = Math.min(waitMs ?? due, due);
          else next = p;
        }
        if (next === undefined) {
          await topic.changed.wait(waitMs);
          continue;
        }
        turn = (mine.indexOf(next) + 1) % mine.length;
        await deliver(next);
      }
    })();

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        member.running = false;
        topic.changed.notify();
        await loop;
        // The commits still waiting on `durable` batches land before this member leaves.
        await Promise.allSettled([...chains.values()].map((c) => c.tail));
        group.members.splice(group.members.indexOf(member), 1);
        group.position.splice(0, Infinity, ...group.committed);
        this.subscriptions.delete(stop);
        topic.changed.notify();
      })();
      return stopping;
    };
    this.subscriptions.add(stop);
    // Nothing outside the process can fail here; a failing handler is retried, never fatal.
    return { stop, crashed: new Promise<Error>(() => {}) };
  }

  async readDeadLetters(options: { fromBeginning?: boolean; maxWaitMs?: number; limit?: number } = {}): Promise<DeadLetter[]> {
    const topic = this.topic(this.options.dlqTopic);
    const partition = topic.partitions[0]!;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const from = (options.fromBeginning ?? true) ? partition.firstOffset : partition.nextOffset;
    // Letters are in the log once write() resolves: wait only while there are none yet.
    const deadline = Date.now() + (options.maxWaitMs ?? 15_000);
    while (partition.nextOffset === from && Date.now() < deadline) await topic.changed.wait(deadline - Date.now());
    const entries = partition.read(from, Math.min(limit, partition.nextOffset - from));
    return entries.map((e) => JSON.parse(e.value.toString('utf8')) as DeadLetter);
  }

  /** Records published but not yet committed by a running group. */
  private undelivered(): number {
    let n = 0;
    for (const [name, groups] of this.groups) {
      const topic = this.topics.get(name)!;
      for (const g of groups.values()) {
        if (g.members.length === 0) continue;
        topic.partitions.forEach((p, i) => (n += p.nextOffset - g.committed[i]!));
      }
    }
    return n;
  }

  /**
   * Stop accepting publishes, let running consumers handle everything already published (and the
   * publishes still waiting for room), then stop them. Gives up after closeTimeoutMs and logs
   * what was not consumed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      const deadline = Date.now() + this.options.closeTimeoutMs;
      const topics = [...this.topics.values()];
      while ((this.publishing.size > 0 || this.undelivered() > 0) && Date.now() < deadline) {
        await Promise.race(topics.map((t) => t.changed.wait(Math.min(100, deadline - Date.now()))));
      }
      const left = this.undelivered();
      this.abandoned = true;
      for (const t of topics) t.space.notify();
      await Promise.allSettled([...this.publishing]);
      await Promise.allSettled([...this.subscriptions].map((stop) => stop()));
      if (left > 0) log().warn({ undelivered: left, closeTimeoutMs: this.options.closeTimeoutMs }, 'closed with records the consumers did not handle in time: they are lost');
    })();
    return this.closing;
  }
}
