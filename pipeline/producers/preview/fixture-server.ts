import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One canned answer; `file` is read from ./testdata. */
export interface FixtureRoute {
  status?: number;
  headers?: Record<string, string>;
  file?: string;
  body?: string;
  /**
   * Instead of a body: `chunk` written `times` times (Infinity: until the client goes away),
   * chunked, without Content-Length, as a page that keeps coming.
   */
  stream?: { chunk: string; times: number };
}

export interface FixtureServer {
  baseUrl: string;
  /** Every request as "path?query", in arrival order. */
  requests: string[];
  /** Keyed by "path?query". A list is answered in order, its last entry repeating. */
  routes: Map<string, FixtureRoute | FixtureRoute[]>;
  /** Shorthand for `routes.set(path, { file })`. */
  serve(path: string, file: string): void;
  close(): Promise<void>;
}

const testdata = new URL('./testdata/', import.meta.url);

/**
 * A stand-in for t.me on 127.0.0.1 (port 0) serving the fixture pages, for the preview and
 * collector tests. Unknown paths answer 404 so a test notices an unexpected request.
 */
export async function startFixtureServer(): Promise<FixtureServer> {
  const routes = new Map<string, FixtureRoute | FixtureRoute[]>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const key = req.url ?? '/';
    requests.push(key);
    const entry = routes.get(key);
    const route = Array.isArray(entry) ? (entry.length > 1 ? entry.shift() : entry[0]) : entry;
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no fixture for ${key}`);
      return;
    }
    if (route.stream) {
      res.writeHead(route.status ?? 200, { 'content-type': 'text/html; charset=utf-8', ...route.headers });
      streamBody(res, route.stream.chunk, route.stream.times);
      return;
    }
    const body = route.file ? readFileSync(new URL(route.file, testdata)) : (route.body ?? '');
    res.writeHead(route.status ?? 200, { 'content-type': 'text/html; charset=utf-8', ...route.headers }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    routes,
    serve: (path, file) => void routes.set(path, { file }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Write `chunk` `times` times, honouring back-pressure, and stop when the client hangs up. */
function streamBody(res: ServerResponse, chunk: string, times: number): void {
  let left = times;
  const pump = (): void => {
    while (left > 0) {
      if (res.destroyed) return;
      left--;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/**
 * A `t.me/s/<handle>` page with the given posts (newest last, as the preview lists them), cut from
 * the fixture of a real channel page: its header, then its first message block repeated per post
 * with the id, time and text changed.
 */
export function previewChannelPage(handle: string, title: string, posts: readonly { id: number; at: number }[]): string {
  const page = readFileSync(new URL('banned_before.html', testdata), 'utf8');
  const postsAt = page.indexOf('          <div class="tgme_widget_message_wrap');
  const postsEnd = page.indexOf('        </section>', postsAt);
  const block = page.slice(postsAt, page.indexOf('          <div class="tgme_widget_message_wrap', postsAt + 1));
  if (postsAt < 0 || postsEnd < postsAt || !block.includes('data-post="banned_channel/56"')) throw new Error('banned_before.html changed shape');
  const lowest = Math.min(...posts.map((p) => p.id));
  const head = page
    .slice(0, postsAt)
    .replace('?before=56', `?before=${lowest}`)
    .replace('data-before="56"', `data-before="${lowest}"`)
    .replaceAll('banned_channel', handle)
    .replaceAll('Soon Banned', title);
  const body = posts.map((p) =>
    block
      .replaceAll('banned_channel/56', `${handle}/${p.id}`)
      .replaceAll('banned_channel', handle)
      .replace('2024-08-01T10:00:00Z', new Date(p.at).toISOString())
      .replace('>first<', `>post ${p.id}<`),
  );
  return head + body.join('') + page.slice(postsEnd);
}
