/**
 * The one error module. Every failure tidewatch raises on purpose carries a stable code and
 * says whether trying again can help; the retry helper and the consumers decide from that alone.
 */
export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  EVENT_INVALID: 'EVENT_INVALID',
  EVENT_TOO_LARGE: 'EVENT_TOO_LARGE',
  INPUT_PARSE: 'INPUT_PARSE',
  INPUT_UNSUPPORTED: 'INPUT_UNSUPPORTED',
  NOT_CONFIGURED: 'NOT_CONFIGURED',
  KAFKA_UNAVAILABLE: 'KAFKA_UNAVAILABLE',
  KAFKA_PUBLISH: 'KAFKA_PUBLISH',
  ES_UNAVAILABLE: 'ES_UNAVAILABLE',
  ES_REJECTED: 'ES_REJECTED',
  ES_OVERLOADED: 'ES_OVERLOADED',
  STORE_FAILED: 'STORE_FAILED',
  HTTP_UPSTREAM: 'HTTP_UPSTREAM',
  RATE_LIMITED: 'RATE_LIMITED',
  TIMEOUT: 'TIMEOUT',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  SERVICE_START: 'SERVICE_START',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface TidewatchErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Structured context for logs: never put secrets here. */
  details?: Record<string, unknown>;
  /** Milliseconds the remote side asked us to wait (Retry-After, FLOOD_WAIT). */
  retryAfterMs?: number;
}

export class TidewatchError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, opts: TidewatchErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TidewatchError';
    this.code = code;
    this.retriable = opts.retriable ?? false;
    this.details = opts.details;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Programmer errors: retrying the same code with the same input cannot succeed. */
export function isProgrammerError(err: unknown): boolean {
  return (
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof SyntaxError ||
    err instanceof ReferenceError ||
    err instanceof EvalError
  );
}

/**
 * Whether an error is worth retrying. Our own errors say so; library errors that expose
 * `retriable` (kafkajs) are trusted; anything else unknown is treated as transient unless it is a
 * programmer error, because network stacks throw plain Errors for resets and refusals.
 */
export function isRetriable(err: unknown): boolean {
  if (isProgrammerError(err)) return false;
  if (err instanceof TidewatchError) return err.retriable;
  if (err !== null && typeof err === 'object' && 'retriable' in err) {
    return Boolean((err as { retriable: unknown }).retriable);
  }
  return err instanceof Error;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** System error codes of failed connections, as an operator would say them. */
const NETWORK_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed by the other side',
};

/**
 * What went wrong with a connection: fetch (undici) reports every network failure as a TypeError
 * "fetch failed" whose `cause` (sometimes an AggregateError of one per address) holds the system
 * code. Undefined when no known code is found.
 */
export function networkFailure(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && Object.hasOwn(NETWORK_FAILURES, code)) return NETWORK_FAILURES[code];
    queue.push((e as { cause?: unknown }).cause);
    if (e instanceof AggregateError) queue.push(...e.errors);
  }
  return undefined;
}
