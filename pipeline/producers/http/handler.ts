import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, checkRole, refusalHeaders, type Credentials } from '../../auth.ts';
import type { ActivityEvent, EventDefaults } from '../../events/index.ts';
import { errorMessage, isRetriable } from '../../errors.ts';
import type { PerClientLimit } from '../../rate-limit.ts';
import { mapBotUpdate } from '../bot-api/update.ts';
import { checkEvent } from '../common.ts';
import type { SourceItem, SourceOptions } from '../types.ts';
import { parseStatusRecord, type CollectorStatusUpdate } from '../../watch/status.ts';

/** What an event posted without `source` (or `platform`) came in through. */
const INGEST_DEFAULTS: EventDefaults = { source: { type: 'http', name: 'POST /v1/events' } };

export interface IngestHandlerOptions {
  /** Hand accepted events to the transport; the response waits for it (webhook semantics). */
  publish: (events: readonly ActivityEvent[]) => Promise<void>;
  maxBodyBytes: number;
  /** Items (events, NDJSON lines) in one request. */
  maxEventsPerRequest: number;
  /**
   * With a writer token, requests must carry `Authorization: Bearer <token>` (or Telegram's
   * secret-token header); without one ingest is open (serve allows that on the loopback only).
   */
  credentials?: Credentials;
  /** Each client's request budget; a client over it is answered 429 with Retry-After. */
  limit?: PerClientLimit | undefined;
  /** Behind a reverse proxy: the client is the last X-Forwarded-For address (the proxy's own entry). */
  trustProxy?: boolean;
  storeText: boolean;
  /**
   * Takes a collector's status records (`POST /v1/collector/status`) to the status core; the
   * endpoint exists only when set.
   */
  publishStatus?: ((updates: readonly CollectorStatusUpdate[]) => Promise<void>) | undefined;
  /** Injected clock for validation. */
  nowMs?: (() => number) | undefined;
}

export interface ItemResult {
  index: number;
  status: 'accepted' | 'rejected';
  id?: string;
  reason?: string;
}

class BodyTooLarge extends Error {}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** A JSON object, a JSON array of objects, or NDJSON: one value per item, or the parse problem. */
function splitItems(text: string, ndjson: boolean): ({ value: unknown } | { error: string })[] {
  if (!ndjson) {
    try {
      const value: unknown = JSON.parse(text);
      return Array.isArray(value) ? value.map((v) => ({ value: v })) : [{ value }];
    } catch (err) {
      if (!text.includes('\n')) return [{ error: `not valid JSON: ${errorMessage(err)}` }];
    }
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return { value: JSON.parse(line) as unknown };
      } catch (err) {
        return { error: `not valid JSON: ${errorMessage(err)}` };
      }
    });
}

function presentedToken(req: IncomingMessage): string | undefined {
  const telegram = req.headers['x-telegram-bot-api-secret-token'];
  return bearerToken(req) ?? (typeof telegram === 'string' ? telegram : undefined);
}

/** Who a request is from, for the rate limit. Only the last X-Forwarded-For entry is the proxy's: earlier ones are the client's say. */
function clientOf(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = req.headers['x-forwarded-for'];
  if (trustProxy && typeof forwarded === 'string') {
    const last = forwarded.split(',').at(-1)!.trim();
    if (last !== '') return last;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * The HTTP ingest endpoint as a plain `node:http` request handler, mounted by `tidewatch serve`:
 *
 * - `POST /v1/events`: canonical events as one JSON object, a JSON array, or NDJSON. Every item
 *   gets a result `{index, status: 'accepted'|'rejected', id|reason}`; the response is sent only
 *   after the accepted events are published (503 if the transport failed, so clients retry).
 * - `POST /v1/telegram/updates`: a Bot API webhook. A rejected or irrelevant update is answered
 *   200 (Telegram would otherwise resend it forever); a transport failure is 503 so it resends.
 *
 * - `POST /v1/collector/status`: a JSON array of a collector's status records (`tidewatch collect`
 *   delivering to serve); all or nothing: 400 names the first bad one, 503 if not published.
 *
 * In this order: 429 + Retry-After over the client's rate limit (before the token is checked, so
 * guessing tokens is throttled too), 401 without the writer token when one is configured (403 with
 * the reader's), 413 over `maxBodyBytes` or `maxEventsPerRequest`. Every refusal is a JSON
 * `{error}` saying why.
 */
export function createIngestHandler(options: IngestHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const sourceOptions = (): SourceOptions => ({ format: 'jsonl', storeText: options.storeText, nowMs: options.nowMs?.() });

  const publishItems = async (res: ServerResponse, items: SourceItem[], extra: Record<string, unknown> = {}) => {
    const events = items.flatMap((i) => (i.kind === 'event' ? [i.event] : []));
    const results: ItemResult[] = items.map((item, index) =>
      item.kind === 'event' ? { index, status: 'accepted', id: item.event.event.id } : { index, status: 'rejected', reason: item.reason },
    );
    if (events.length > 0) {
      try {
        await options.publish(events);
      } catch (err) {
        send(res, 503, { error: `the transport did not accept the events: ${errorMessage(err)}`, retriable: isRetriable(err) }, { 'retry-after': '5' });
        return;
      }
    }
    send(res, 200, { accepted: events.length, rejected: items.length - events.length, ...extra, results });
  };

  const publishStatus = async (res: ServerResponse, text: string) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return send(res, 400, { error: `not valid JSON: ${errorMessage(err)}` });
    }
    if (!Array.isArray(value)) return send(res, 400, { error: 'the body must be a JSON array of collector status records' });
    const updates: CollectorStatusUpdate[] = [];
    for (const [index, item] of value.entries()) {
      const u = parseStatusRecord(JSON.stringify(item));
      if (u === null) return send(res, 400, { error: `item ${index} is not a collector status record (type "channel" or "heartbeat" with collector, at, ...)` });
      updates.push(u);
    }
    try {
      if (updates.length) await options.publishStatus!(updates);
    } catch (err) {
      return send(res, 503, { error: `the status records were not published: ${errorMessage(err)}`, retriable: isRetriable(err) }, { 'retry-after': '5' });
    }
    send(res, 200, { accepted: updates.length });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const statusPath = path === '/v1/collector/status' && options.publishStatus !== undefined;
    if (path !== '/v1/events' && path !== '/v1/telegram/updates' && !statusPath) return send(res, 404, { error: `no such endpoint: ${path}` });
    if (req.method !== 'POST') return send(res, 405, { error: `${path} takes POST` }, { allow: 'POST' });
    const waitMs = options.limit?.take(clientOf(req, options.trustProxy ?? false)) ?? 0;
    if (waitMs > 0) {
      const secs = Math.ceil(waitMs / 1000);
      return send(res, 429, { error: `rate limit: too many requests from this client; retry in ${secs} s`, retryAfterSecs: secs }, { 'retry-after': String(secs) });
    }
    const refused = checkRole(options.credentials ?? {}, 'writer', presentedToken(req));
    if (refused) return send(res, refused.status, { error: refused.error }, refusalHeaders(refused));
    let body: Buffer;
    try {
      body = await readBody(req, options.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) return send(res, 413, { error: `body over the ${options.maxBodyBytes}-byte limit` }, { connection: 'close' });
      throw err;
    }
    if (statusPath) return publishStatus(res, body.toString('utf8'));
    const ndjson = /ndjson|jsonl|json-seq/i.test(req.headers['content-type'] ?? '');
    const parts = splitItems(body.toString('utf8'), ndjson);
    if (parts.length > options.maxEventsPerRequest) {
      return send(res, 413, { error: `${parts.length} items in one request, over the limit of ${options.maxEventsPerRequest}; send them in several requests` });
    }
    const opts = sourceOptions();
    if (path === '/v1/events') {
      const items = parts.map((p, index): SourceItem =>
        'error' in p ? { kind: 'rejected', reason: p.error, location: `request item ${index}` } : checkEvent(p.value, opts, INGEST_DEFAULTS, `request item ${index}`),
      );
      return publishItems(res, items);
    }
    const part = parts.length === 1 ? parts[0]! : { error: 'a webhook body is one Update object' };
    if ('error' in part) return publishItems(res, [{ kind: 'rejected', reason: part.error, location: 'webhook update' }]);
    const mapped = mapBotUpdate(part.value, opts, 'webhook update');
    return publishItems(res, mapped.items, mapped.ignored !== undefined ? { ignored: mapped.ignored } : {});
  };

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: errorMessage(err) });
      else res.destroy();
    });
  };
}
