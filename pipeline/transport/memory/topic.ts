import { partitionerFor } from '../partitioner.ts';

export interface Entry {
  offset: number;
  key: string | null;
  value: Buffer;
}

/** A promise-based wake-up: waiters resolve on the next notify() or after their timeout. */
export class Signal {
  private waiters = new Set<() => void>();

  wait(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.add(done);
    });
  }

  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** One partition's retained records, oldest first; offsets only grow, as in Kafka. */
export class Partition {
  private items: Entry[] = [];
  private head = 0;
  nextOffset = 0;
  bytes = 0;

  get firstOffset(): number {
    return this.items[this.head]?.offset ?? this.nextOffset;
  }

  get retained(): number {
    return this.items.length - this.head;
  }

  append(key: string | null, value: Buffer): number {
    const offset = this.nextOffset++;
    this.items.push({ offset, key, value });
    this.bytes += value.length;
    return offset;
  }

  /** Up to `max` records from `from` on; a trimmed start reads from the oldest retained one. */
  read(from: number, max: number): Entry[] {
    const start = this.head + Math.max(0, from - this.firstOffset);
    return this.items.slice(start, start + max);
  }

  /** Drop records before `offset`. */
  trimTo(offset: number): void {
    while (this.head < this.items.length && this.items[this.head]!.offset < offset) this.dropOldest();
  }

  dropOldest(): void {
    const e = this.items[this.head];
    if (!e) return;
    this.bytes -= e.value.length;
    this.items[this.head++] = undefined as unknown as Entry;
    // Compact now and then instead of shifting on every trim: O(1) amortised per record.
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * A topic: its partitions and what they hold. `block` topics keep a record until every consumer
 * group has committed it and make publishers wait when full; the `evict` topic (dead letters)
 * is read by inspection, not consumed, so it drops its oldest records instead.
 */
export class Topic {
  readonly partitions: Partition[];
  readonly partitionOf: (key: string | null) => number;
  /** Consumers look again: a record was appended, a batch finished, or a member came or went. */
  readonly changed = new Signal();
  /** Publishers look again: records were trimmed. */
  readonly space = new Signal();

  constructor(
    readonly name: string,
    partitions: number,
    readonly policy: 'block' | 'evict',
    readonly maxBytes: number,
  ) {
    this.partitions = Array.from({ length: partitions }, () => new Partition());
    this.partitionOf = partitionerFor(partitions);
  }

  get bytes(): number {
    return this.partitions.reduce((n, p) => n + p.bytes, 0);
  }

  /** Records not yet consumed by every group (block) or still kept (evict). */
  get retained(): number {
    return this.partitions.reduce((n, p) => n + p.retained, 0);
  }

  /** Whether `bytes` more fit now; an empty topic takes any one record so huge ones cannot wedge it. */
  fits(bytes: number): boolean {
    const used = this.bytes;
    return this.policy === 'evict' || used === 0 || used + bytes <= this.maxBytes;
  }

  /** Returns how many old records an `evict` topic dropped to make room. */
  append(key: string | null, value: Buffer): number {
    this.partitions[this.partitionOf(key)]!.append(key, value);
    let evicted = 0;
    if (this.policy === 'evict') {
      while (this.bytes > this.maxBytes && this.retained > 1) {
        const fullest = this.partitions.reduce((a, b) => (b.bytes > a.bytes ? b : a));
        fullest.dropOldest();
        evicted++;
      }
    }
    this.changed.notify();
    return evicted;
  }

  trim(partition: number, offset: number): void {
    if (this.policy !== 'block') return;
    this.partitions[partition]!.trimTo(offset);
    this.space.notify();
  }
}
