import { setTimeout as sleep } from 'node:timers/promises';
import { isRetriable, TidewatchError } from './errors.ts';

export interface RetryOptions {
  /** Attempts after the first one. */
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** 0..1: share of each delay that is randomised ("full jitter" at 1). */
  jitter: number;
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Override the error classification (e.g. treat a specific 409 as final). */
  retriable?: (err: unknown) => boolean;
  /** Injected for tests: defaults to Math.random. */
  random?: () => number;
}

export const DEFAULT_RETRY: RetryOptions = {
  retries: 8,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

/** Delay before retry number `attempt` (1-based): exponential, capped, with jitter. */
export function backoffDelayMs(attempt: number, opts: Pick<RetryOptions, 'initialDelayMs' | 'maxDelayMs' | 'factor' | 'jitter'>, random: () => number = Math.random): number {
  const base = Math.min(opts.maxDelayMs, opts.initialDelayMs * opts.factor ** (attempt - 1));
  const jittered = base * (1 - opts.jitter) + base * opts.jitter * random();
  return Math.round(jittered);
}

/**
 * Run `fn` until it succeeds, retrying retriable failures with exponential backoff and jitter.
 * Programmer errors and errors marked non-retriable are thrown at once. A server's own wait hint
 * (`retryAfterMs`) wins over the computed delay when it is longer.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: Partial<RetryOptions> = {}): Promise<T> {
  const opts = { ...DEFAULT_RETRY, ...options };
  const classify = opts.retriable ?? isRetriable;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= opts.retries || !classify(error) || opts.signal?.aborted) throw error;
      const hinted = error instanceof TidewatchError ? (error.retryAfterMs ?? 0) : 0;
      const delayMs = Math.max(hinted, backoffDelayMs(attempt + 1, opts, opts.random));
      opts.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, undefined, opts.signal ? { signal: opts.signal } : undefined);
    }
  }
}

/**
 * The longest a retry loop with these options waits in total before it gives up (delays without
 * jitter, which only shortens them): how long an outage is ridden out before it is reported.
 */
export function retryWindowMs(options: Pick<RetryOptions, 'retries' | 'initialDelayMs' | 'maxDelayMs'> & { factor?: number }): number {
  let total = 0;
  for (let attempt = 1; attempt <= options.retries; attempt++) total += backoffDelayMs(attempt, { ...options, factor: options.factor ?? DEFAULT_RETRY.factor, jitter: 0 });
  return total;
}
