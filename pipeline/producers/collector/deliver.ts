import type { ActivityEvent } from '../../events/index.ts';
import { ErrorCode, errorMessage, networkFailure, TidewatchError } from '../../errors.ts';
import { retry } from '../../retry.ts';
import type { Publisher } from '../../transport/types.ts';
import type { CollectorStatusUpdate } from '../../watch/status.ts';

/**
 * Where a collector's output goes: its events, acknowledged before the channel state advances,
 * and its status stream (for the analyzer's status core). Kafka, a running `tidewatch serve`
 * (over HTTP) and serve's own in-process pipeline each give one; the wiring picks it
 * (cli/commands/collect.ts), the collector never knows which.
 */
export interface CollectorDelivery {
  /** For logs and the `--once` summary: "kafka", "serve at http://...", "in-process". */
  readonly describe: string;
  /** Resolves once the destination has accepted every event; the collector's state advances only then. */
  readonly events: Publisher;
  /** In order, one call at a time; a failure is logged by the caller and the next update follows. */
  sendStatus(updates: readonly CollectorStatusUpdate[]): Promise<void>;
  close(): Promise<void>;
}

/** The ingest endpoints of `tidewatch serve` a collector writes to. */
export const SERVE_EVENTS_PATH = '/v1/events';
export const SERVE_STATUS_PATH = '/v1/collector/status';

export interface ServeDeliveryOptions {
  /** serve's address, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** serve's writer token (pipeline/auth.ts), sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  timeoutMs: number;
  retries: number;
  retryInitialDelayMs: number;
}

/**
 * Deliver to a running `tidewatch serve` over its ingest endpoint. `connect` checks that serve is
 * there and takes our token before a single channel is polled: a collector with nowhere to
 * deliver must not start (its state would move on while its posts go nowhere).
 */
export async function connectServe(options: ServeDeliveryOptions): Promise<CollectorDelivery> {
  const base = new URL(options.baseUrl);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;

  const post = async (path: string, body: unknown): Promise<{ accepted?: number; rejected?: number; results?: { status: string; reason?: string }[] }> => {
    const url = new URL(path, base).toString();
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      const failure = timedOut ? `no answer within ${options.timeoutMs} ms` : (networkFailure(err) ?? errorMessage(err));
      throw new TidewatchError(timedOut ? ErrorCode.TIMEOUT : ErrorCode.HTTP_UPSTREAM, `serve at ${base.origin}: ${failure}`, { retriable: true, cause: err, details: { failure } });
    }
    const text = await res.text();
    if (res.ok) return text ? (JSON.parse(text) as Record<string, never>) : {};
    const said = (() => {
      try {
        return (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        return text;
      }
    })();
    throw new TidewatchError(
      res.status === 401 ? ErrorCode.NOT_CONFIGURED : ErrorCode.HTTP_UPSTREAM,
      res.status === 401
        ? `serve at ${base.origin} refused the writer token (${said}): set TIDEWATCH_WRITER_TOKEN to serve's token`
        : `serve at ${base.origin}: ${path} answered ${res.status}: ${said}`,
      { retriable: res.status >= 500 || res.status === 429, details: { failure: `HTTP ${res.status}` } },
    );
  };
  const withRetry = <T>(fn: () => Promise<T>) => retry(fn, { retries: options.retries, initialDelayMs: options.retryInitialDelayMs, maxDelayMs: 30_000 });

  // An empty status batch: reachable, our token taken, and a serve new enough to take status records.
  try {
    await post(SERVE_STATUS_PATH, []);
  } catch (err) {
    throw new TidewatchError(ErrorCode.NOT_CONFIGURED, errorMessage(err), { cause: err });
  }

  const events: Publisher = {
    async publish(batch: readonly ActivityEvent[]) {
      if (batch.length === 0) return;
      const answer = await withRetry(() => post(SERVE_EVENTS_PATH, batch));
      const rejected = (answer.results ?? []).filter((r) => r.status === 'rejected');
      if (rejected.length > 0 || answer.accepted !== batch.length) {
        // The collector checked them with the same rules: this is a disagreement (clock skew, a
        // different version), and the poll must count as not delivered.
        throw new TidewatchError(ErrorCode.EVENT_INVALID, `serve at ${base.origin} accepted ${answer.accepted ?? 0} of ${batch.length} events: ${rejected.slice(0, 3).map((r) => r.reason).join('; ')}`);
      }
    },
    async publishRaw() {
      throw new TidewatchError(ErrorCode.INPUT_UNSUPPORTED, 'serve delivery takes events, not raw records');
    },
    async close() {},
  };
  return {
    describe: `serve at ${base.origin}`,
    events,
    async sendStatus(updates) {
      if (updates.length) await withRetry(() => post(SERVE_STATUS_PATH, updates));
    },
    async close() {},
  };
}
