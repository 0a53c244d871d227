import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActivityEvent, EventDefaults } from '../../events/index.ts';
import { errorMessage, isRetriable } from '../../errors.ts';
import { mapBotUpdate } from '../bot-api/update.ts';
import { checkEvent } from '../common.ts';
import type { SourceItem, SourceOptions } from '../types.ts';

/** What an event posted without `source` (or `platform`) came in through. */
const INGEST_DEFAULTS: EventDefaults = { source: { type: 'http', name: 'POST /v1/events' } };

export interface IngestHandlerOptions {
  /** Hand accepted events to the transport; the response waits for it (webhook semantics). */
  publish: (events: readonly ActivityEvent[]) => Promise<void>;
  maxBodyBytes: number;
  /** When set, requests must carry `Authorization: Bearer <token>` (or Telegram's secret-token header). */
  token?: string | undefined;
  storeText: boolean;
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

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const telegram = req.headers['x-telegram-bot-api-secret-token'];
  const presented = bearer ?? (typeof telegram === 'string' ? telegram : undefined);
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
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
 * 401 without the token when one is configured, 413 over `maxBodyBytes`.
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

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/v1/events' && path !== '/v1/telegram/updates') return send(res, 404, { error: `no such endpoint: ${path}` });
    if (req.method !== 'POST') return send(res, 405, { error: `${path} takes POST` }, { allow: 'POST' });
    if (!authorized(req, options.token)) return send(res, 401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
    let body: Buffer;
    try {
      body = await readBody(req, options.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) return send(res, 413, { error: `body over the ${options.maxBodyBytes}-byte limit` }, { connection: 'close' });
      throw err;
    }
    const ndjson = /ndjson|jsonl|json-seq/i.test(req.headers['content-type'] ?? '');
    const parts = splitItems(body.toString('utf8'), ndjson);
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
