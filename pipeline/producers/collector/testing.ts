import type { ActivityEvent } from '../../events/index.ts';
import type { Publisher } from '../../transport/types.ts';
import type { Clock } from '../../clock.ts';

/**
 * Test doubles for the collector tests. A clock whose sleeps advance time at once (resolving on
 * the next macrotask, after pending I/O callbacks) so rate limits are checked without waiting.
 */
export class FakeClock implements Clock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.ms += ms;
    return new Promise((resolve) => setImmediate(resolve));
  }
}

/** A Publisher that keeps what it is given; `failNext` makes the next publish reject. */
export class RecordingPublisher implements Publisher {
  events: ActivityEvent[] = [];
  failNext = false;
  async publish(events: readonly ActivityEvent[]): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('transport down');
    }
    this.events.push(...events);
  }
  async publishRaw(): Promise<void> {
    throw new Error('not used by the collector');
  }
  async close(): Promise<void> {}
  /** Take the events recorded so far, as "action:channel:message" lines. */
  drain(): string[] {
    const out = this.events.map((e) => [e.event.action, e.channel.id, e.message?.id ?? e.subscribers ?? e.channel.title ?? ''].join(' '));
    this.events = [];
    return out;
  }
}
