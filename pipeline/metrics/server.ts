import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, TidewatchError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from './registry.ts';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * GET /metrics (Prometheus text format), GET /healthz (live: 200, or 503 with the failing checks
 * and their reasons), GET /healthz/ready (ready: every check passes now). JSON bodies, so an
 * operator's curl shows why.
 */
export async function serveMetrics(metrics: Metrics, host: string, port: number, log: Logger): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      metrics.exposition().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(text),
        (err: unknown) => {
          log.error({ err }, 'metrics exposition failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics exposition failed\n');
        },
      );
      return;
    }
    if (path === '/healthz' || path === '/healthz/ready') {
      const verdict = metrics.health.verdict();
      const ok = path === '/healthz' ? verdict.live : verdict.ready;
      const body = JSON.stringify({ status: ok ? 'ok' : 'unhealthy', ...verdict });
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new TidewatchError(ErrorCode.SERVICE_START, `metrics: cannot listen on ${host}:${port} (${err.code ?? err.message}); choose another port with metrics.port or TIDEWATCH_METRICS_PORT (0 turns the endpoint off)`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // The endpoint never keeps a process alive that has finished (or failed) its work.
  server.unref();
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
