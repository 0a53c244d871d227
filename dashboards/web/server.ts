import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { bearerToken, checkRole, refusalHeaders, type Credentials } from '../../pipeline/auth.ts';
import { DEFAULT_DISPLAY, type DisplayOptions } from '../../pipeline/dates.ts';
import { ErrorCode, errorMessage, TidewatchError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/log.ts';
import type { Store } from '../../pipeline/store/types.ts';
import { isViewName, metaView, parseViewQuery, VIEWS, type PipelineStrip } from './api.ts';

/**
 * The built-in dashboard: a static page, its script and style, ECharts from node_modules (the
 * machines it runs on may have no internet), and the JSON API over the store. Channel titles,
 * handles and links are attacker-controlled: the page only ever sets them as text, and the CSP
 * below forbids inline script, so an injected tag can neither render nor run.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

const require = createRequire(import.meta.url);
const staticFile = (name: string) => new URL(`./static/${name}`, import.meta.url);

/** Every file the page may load, read once at start-up: no path from a request touches the disk. */
export function staticAssets(): Record<string, { body: Buffer; type: string }> {
  return {
    '/': { body: readFileSync(staticFile('index.html')), type: 'text/html; charset=utf-8' },
    '/static/app.js': { body: readFileSync(staticFile('app.js')), type: 'text/javascript; charset=utf-8' },
    '/static/app.css': { body: readFileSync(staticFile('app.css')), type: 'text/css; charset=utf-8' },
    '/static/echarts.min.js': { body: readFileSync(require.resolve('echarts/dist/echarts.min.js')), type: 'text/javascript; charset=utf-8' },
  };
}

export interface DashboardServerOptions {
  store: Store;
  host: string;
  port: number;
  log: Logger;
  /**
   * With a reader token, /api/* needs it as `Authorization: Bearer <token>`. The page and its
   * scripts stay public (they hold no data): the page asks for the token and sends it itself.
   */
  credentials?: Credentials;
  /** The zone the page shows times in (the config's `display`), sent with /api/meta; UTC without it. */
  display?: DisplayOptions;
  /** Mounted at /v1/ (the HTTP ingest endpoint of `tidewatch serve`; it checks the writer token itself). */
  ingest?: (req: IncomingMessage, res: ServerResponse) => void;
  /** The pipeline strip's values (/api/pipeline), where the consumers run in this process. */
  pipeline?: () => PipelineStrip;
}

export interface DashboardServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const { store, log } = options;
  const assets = staticAssets();

  const api = async (path: string, params: URLSearchParams, res: ServerResponse) => {
    if (path === '/api/meta') return sendJson(res, 200, { ...(await metaView(store)), display: options.display ?? DEFAULT_DISPLAY });
    if (path === '/api/pipeline') return options.pipeline ? sendJson(res, 200, options.pipeline()) : sendJson(res, 404, { error: 'the consumers do not run in this process: see their /metrics' });
    const view = path.slice('/api/view/'.length);
    if (path.startsWith('/api/view/') && isViewName(view)) return sendJson(res, 200, await VIEWS[view](store, parseViewQuery(params)));
    sendJson(res, 404, { error: `no such API: ${path}` });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path.startsWith('/v1/') && options.ingest) return options.ingest(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...SECURITY_HEADERS, allow: 'GET, HEAD' });
      return res.end();
    }
    if (path === '/healthz') return sendJson(res, 200, { ok: true, store: store.kind });
    if (path.startsWith('/api/')) {
      const refused = checkRole(options.credentials ?? {}, 'reader', bearerToken(req));
      if (refused) return sendJson(res, refused.status, { error: refused.error }, refusalHeaders(refused));
      api(path, url.searchParams, res).catch((err: unknown) => {
        const bad = err instanceof TidewatchError && err.code === ErrorCode.CONFIG_INVALID;
        if (!bad) log.error({ err, path }, 'dashboard API failed');
        if (!res.headersSent) sendJson(res, bad ? 400 : 500, { error: errorMessage(err) });
      });
      return;
    }
    const asset = assets[path];
    if (!asset) return sendJson(res, 404, { error: `not found: ${path}` });
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': asset.body.length, 'cache-control': path === '/' ? 'no-cache' : 'max-age=300' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new TidewatchError(ErrorCode.SERVICE_START, `dashboard: cannot listen on ${options.host}:${options.port} (${err.code ?? err.message}); choose another with --port or TIDEWATCH_PORT`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Browsers keep idle connections open; without this close() would wait for them.
        server.closeAllConnections();
      }),
  };
}
