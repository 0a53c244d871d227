import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of Elasticsearch that answers some `_bulk` work with 429, the way an
 * overloaded node does when its write queue is full: whole requests (`rejectRequest`) and single
 * items (`rejectItem`). A rejected item is not forwarded, so, as with a real rejection, it is
 * not written; the other items of its request are, and the reply is spliced back into order.
 * Deterministic, unlike a tiny `thread_pool.write.queue_size` on a shared 2-core machine.
 */
export class RejectingProxy {
  readonly stats = { bulkRequests: 0, rejectedRequests: 0, rejectedItems: 0 };
  private readonly attempts = new Map<string, number>();
  private server: Server | undefined;

  constructor(
    private readonly target: string,
    private readonly rule: { rejectRequest: (n: number) => boolean; rejectItem: (id: string, attempt: number) => boolean },
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${err.message}`);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', this.target);
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'accept']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];

    if (req.method === 'POST' && url.pathname.endsWith('/_bulk')) {
      const n = ++this.stats.bulkRequests;
      if (this.rule.rejectRequest(n)) {
        this.stats.rejectedRequests++;
        return reply(res, 429, { error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of bulk request (fault injection)' }, status: 429 });
      }
      // The sink sends `create` actions only, each followed by its document.
      const lines = body.toString('utf8').split('\n').filter((l) => l.length > 0);
      const forwarded: string[] = [];
      const plan: { op: string; at: number | null }[] = [];
      for (let i = 0; i + 1 < lines.length; i += 2) {
        const action = JSON.parse(lines[i]!) as Record<string, { _id: string }>;
        const op = Object.keys(action)[0]!;
        const id = action[op]!._id;
        const attempt = (this.attempts.get(id) ?? 0) + 1;
        this.attempts.set(id, attempt);
        if (this.rule.rejectItem(id, attempt)) {
          this.stats.rejectedItems++;
          plan.push({ op, at: null });
        } else {
          plan.push({ op, at: forwarded.length / 2 });
          forwarded.push(lines[i]!, lines[i + 1]!);
        }
      }
      let upstream: { took?: number; errors?: boolean; items?: unknown[] } = { items: [] };
      if (forwarded.length) {
        const r = await fetch(url, { method: 'POST', headers, body: `${forwarded.join('\n')}\n` });
        if (!r.ok) return reply(res, r.status, await r.json());
        upstream = (await r.json()) as typeof upstream;
      }
      const rejected = { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution: write queue full (fault injection)' } };
      const items = plan.map((p) => (p.at === null ? { [p.op]: rejected } : upstream.items![p.at]));
      return reply(res, 200, { took: upstream.took ?? 0, errors: Boolean(upstream.errors) || plan.some((p) => p.at === null), items });
    }

    const r = await fetch(url, { method: req.method ?? 'GET', headers, ...(body.length ? { body } : {}) });
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json', 'x-elastic-product': 'Elasticsearch' });
    res.end(Buffer.from(await r.arrayBuffer()));
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
  res.end(JSON.stringify(body));
}
