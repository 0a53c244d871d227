import { systemClock, type Clock } from './clock.ts';

export interface RateLimitOptions {
  requestsPerMinute: number;
  /** Requests allowed back to back after a quiet spell. */
  burstRequests: number;
}

/**
 * A request budget (a token bucket): the collector's one global budget, and each ingest client's.
 * In any window of W minutes at most `burstRequests + requestsPerMinute * W` requests start,
 * whatever the number of channels or concurrent polls. Waiters are served first come, first
 * served so no channel starves.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  private pausedUntil = 0;
  private tail: Promise<void> = Promise.resolve();
  private granted = 0;

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly clock: Clock = systemClock,
  ) {
    this.tokens = opts.burstRequests;
    this.refilledAt = clock.now();
  }

  /** Resolves when one request may start. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.tail.then(() => this.acquire(signal));
    // A waiter that was aborted must not block the ones behind it.
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Take one token now or not at all, for a server that answers 429 instead of waiting: 0 when
   * granted, else the milliseconds until a token will be there. Not for a bucket with waiters.
   */
  tryTake(): number {
    const now = this.clock.now();
    this.refill(now);
    if (this.pausedUntil > now) return this.pausedUntil - now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.granted++;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 60_000) / this.opts.requestsPerMinute);
  }

  /** Whether the bucket has refilled to its burst: forgetting it changes nothing. */
  isFull(): boolean {
    this.refill(this.clock.now());
    return this.tokens >= this.opts.burstRequests;
  }

  /**
   * Stop everyone for `ms`: a 429 or a FLOOD_WAIT is about this client (IP or account), not about
   * the one channel that happened to receive it.
   */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ms);
  }

  /** Requests granted since start (for heartbeats and the capacity measurement). */
  get grantedCount(): number {
    return this.granted;
  }

  /** Requests that may start now: whole tokens in the bucket, 0 while paused (for the metrics). */
  get available(): number {
    const now = this.clock.now();
    this.refill(now);
    return this.pausedUntil > now ? 0 : Math.floor(this.tokens);
  }

  private refill(now: number): void {
    const perMs = this.opts.requestsPerMinute / 60_000;
    this.tokens = Math.min(this.opts.burstRequests, this.tokens + (now - this.refilledAt) * perMs);
    this.refilledAt = now;
  }

  private async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      this.refill(now);
      if (this.pausedUntil > now) {
        await this.clock.sleep(this.pausedUntil - now, signal);
        continue;
      }
      if (this.tokens >= 1) {
        this.tokens -= 1;
        this.granted++;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) * 60_000) / this.opts.requestsPerMinute), signal);
    }
  }
}

/**
 * One token bucket per client (the ingest endpoint's per-address limit). Buckets that have
 * refilled are forgotten once there are many, so a scan from many addresses cannot grow memory
 * without bound: a full bucket is exactly what a new client gets.
 */
export class PerClientLimit {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly clock: Clock = systemClock,
    private readonly sweepAbove = 10_000,
  ) {}

  /** 0 when `client` may go ahead now, else the milliseconds until it may. */
  take(client: string): number {
    let bucket = this.buckets.get(client);
    if (!bucket) {
      if (this.buckets.size >= this.sweepAbove) this.sweep();
      bucket = new TokenBucket(this.opts, this.clock);
      this.buckets.set(client, bucket);
    }
    return bucket.tryTake();
  }

  /** Clients currently remembered (for the memory bound's test). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    for (const [client, bucket] of this.buckets) if (bucket.isFull()) this.buckets.delete(client);
  }
}
