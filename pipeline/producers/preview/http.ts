import { ErrorCode, isRetriable, networkFailure, TidewatchError } from '../../errors.ts';
import { logger } from '../../log.ts';
import { retry } from '../../retry.ts';
import { systemClock, type Clock } from '../../clock.ts';
import type { TokenBucket } from '../../rate-limit.ts';
import type { PreviewOptions } from './options.ts';

export type PreviewResponse = { kind: 'page'; url: string; body: string } | { kind: 'redirect'; url: string; location: string };

/** Retry-After is either delta-seconds or an HTTP date. */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/**
 * The preview's HTTP client: one User-Agent, every attempt (retries included) paid from the
 * collector's global token bucket, a timeout per request, and backoff with jitter on 429 / 5xx /
 * network failures that honours Retry-After. A 429 pauses the whole bucket, since the limit is on
 * this client, not on one channel. Redirects are returned, not followed: a redirect from
 * /s/<handle> is itself a signal.
 */
export class PreviewHttp {
  private readonly base: URL;

  constructor(
    private readonly opts: PreviewOptions,
    private readonly limiter: TokenBucket,
    private readonly clock: Clock = systemClock,
  ) {
    this.base = new URL(opts.baseUrl);
  }

  get(path: string, handle: string, signal: AbortSignal): Promise<PreviewResponse> {
    const url = new URL(path, this.base).toString();
    return retry(
      async () => {
        await this.limiter.take(signal);
        return this.once(url, handle, signal);
      },
      {
        retries: this.opts.retries,
        initialDelayMs: this.opts.retryInitialDelayMs,
        maxDelayMs: this.opts.retryMaxDelayMs,
        signal,
        // A wait longer than the poll may hold is better spent polling again later.
        retriable: (err) => isRetriable(err) && !(err instanceof TidewatchError && (err.retryAfterMs ?? 0) > this.opts.maxRetryAfterMs),
        onRetry: ({ attempt, delayMs, error }) =>
          logger().debug({ handle, url, attempt, delayMs, err: (error as Error).message }, 'preview request retried'),
      },
    );
  }

  private async once(url: string, handle: string, signal: AbortSignal): Promise<PreviewResponse> {
    let res: Response;
    try {
      res = await fetch(url, {
        redirect: 'manual',
        headers: { 'user-agent': this.opts.userAgent, 'accept-language': 'en' },
        // Also bounds reading the body: a page trickling in counts against the same timeout.
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.opts.requestTimeoutMs)]),
      });
    } catch (err) {
      throw this.failed(err, url, handle, signal);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await discard(res);
      return { kind: 'redirect', url, location: new URL(location, url).toString() };
    }
    if (res.ok) {
      try {
        return { kind: 'page', url, body: await this.readBody(res, url, handle) };
      } catch (err) {
        if (err instanceof TidewatchError) throw err;
        throw this.failed(err, url, handle, signal);
      }
    }
    // Nothing in an error page is used: it is not read, so its size cannot matter either.
    await discard(res);
    const wait = retryAfterMs(res.headers.get('retry-after'), this.clock.now());
    if (res.status === 429) {
      this.limiter.pauseFor(wait ?? this.opts.retryInitialDelayMs);
      throw new TidewatchError(ErrorCode.RATE_LIMITED, `preview of @${handle}: ${url} answered 429 Too Many Requests${wait === undefined ? '' : ` (Retry-After ${Math.round(wait / 1000)} s)`}`, {
        retriable: true,
        details: { handle, url, failure: 'HTTP 429' },
        ...(wait === undefined ? {} : { retryAfterMs: wait }),
      });
    }
    throw new TidewatchError(ErrorCode.HTTP_UPSTREAM, `preview of @${handle}: ${url} answered ${res.status} ${res.statusText}`, {
      retriable: res.status >= 500 || res.status === 408,
      details: { handle, url, failure: `HTTP ${res.status}` },
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    });
  }

  /**
   * The body as text, read at most up to `maxResponseBytes` (decoded bytes): beyond it reading
   * stops and the poll fails. Not retriable, since the same URL would send the same oversized
   * answer; the collector then records the channel's status as unknown, never as banned or silent.
   */
  private async readBody(res: Response, url: string, handle: string): Promise<string> {
    const limit = this.opts.maxResponseBytes;
    const tooLarge = (size: string) =>
      new TidewatchError(ErrorCode.HTTP_UPSTREAM, `preview of @${handle}: ${url} sent ${size}, over the limit of ${limit} bytes (collector.preview.maxResponseBytes); not read as a page`, {
        details: { handle, url, maxResponseBytes: limit, failure: 'response too large' },
      });
    // Content-Length counts encoded bytes: only without a content coding does it bound the text in advance.
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (!res.headers.get('content-encoding') && declared > limit) {
      await discard(res);
      throw tooLarge(`${declared} bytes (Content-Length)`);
    }
    if (!res.body) return '';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge(`more than ${limit} bytes`);
      }
      text += decoder.decode(value, { stream: true });
    }
    return text + decoder.decode();
  }

  private failed(err: unknown, url: string, handle: string, signal: AbortSignal): unknown {
    if (signal.aborted) return err;
    // fetch reports resets, refusals and cut bodies as TypeError "fetch failed", which retry()
    // would treat as a bug and which names nothing: the cause says what happened.
    const timedOut = (err as Error).name === 'TimeoutError';
    const failure = timedOut ? 'timeout' : (networkFailure(err) ?? 'network error');
    return new TidewatchError(
      timedOut ? ErrorCode.TIMEOUT : ErrorCode.HTTP_UPSTREAM,
      timedOut
        ? `preview of @${handle}: no answer from ${url} within ${this.opts.requestTimeoutMs} ms`
        : `preview of @${handle}: ${url} failed: ${failure === 'network error' ? (err as Error).message : failure}`,
      { retriable: true, cause: err, details: { handle, url, failure } },
    );
  }
}

/** Let go of a body that is not used, without reading it. */
async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}
