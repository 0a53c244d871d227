import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import { createLogger, setLogger } from '../../log.ts';
import { TokenBucket } from '../../rate-limit.ts';
import { startFixtureServer, type FixtureServer } from './fixture-server.ts';
import { PreviewHttp } from './http.ts';
import { previewOptionsSchema } from './options.ts';

setLogger(createLogger('silent'));

let server: FixtureServer;
before(async () => {
  server = await startFixtureServer();
});
after(() => server.close());

const LIMIT = 64 * 1024;

function client(preview: Record<string, unknown> = {}): PreviewHttp {
  const opts = previewOptionsSchema.parse({
    baseUrl: server.baseUrl,
    maxResponseBytes: LIMIT,
    retryInitialDelayMs: 10,
    retryMaxDelayMs: 20,
    requestsPerMinute: 6000,
    burstRequests: 100,
    ...preview,
  });
  return new PreviewHttp(opts, new TokenBucket(opts));
}

async function tooLarge(path: string, handle: string): Promise<TidewatchError> {
  const mark = server.requests.length;
  const err = await client().get(path, handle, new AbortController().signal).then(
    () => assert.fail('an oversized answer must not be read as a page'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TidewatchError, String(err));
  assert.equal(err.code, ErrorCode.HTTP_UPSTREAM);
  assert.equal(err.retriable, false);
  assert.ok(err.message.includes(`@${handle}`), err.message);
  assert.ok(err.message.includes(`${server.baseUrl}${path}`), err.message);
  assert.ok(err.message.includes(`${LIMIT} bytes`), err.message);
  assert.deepEqual(err.details, { handle, url: `${server.baseUrl}${path}`, maxResponseBytes: LIMIT, failure: 'response too large' });
  // The same URL would send the same answer: not retried.
  assert.deepEqual(server.requests.slice(mark), [path]);
  return err;
}

test('the default response cap is about 2 MB', () => {
  assert.equal(previewOptionsSchema.parse({}).maxResponseBytes, 2 * 1024 * 1024);
});

test('a page up to the cap is read whole, multi-byte text intact', async () => {
  // "ع" is 2 bytes in UTF-8: the page is exactly LIMIT bytes.
  const body = 'ع'.repeat(LIMIT / 2);
  server.routes.set('/s/fits', { body });
  const res = await client().get('/s/fits', 'fits', new AbortController().signal);
  assert.equal(res.kind, 'page');
  assert.equal(res.kind === 'page' && res.body, body);

  server.routes.set('/s/fits_streamed', { stream: { chunk: 'ع'.repeat(1024), times: LIMIT / 2048 } });
  const streamed = await client().get('/s/fits_streamed', 'fits_streamed', new AbortController().signal);
  assert.equal(streamed.kind === 'page' && streamed.body, 'ع'.repeat(LIMIT / 2));
});

test('a Content-Length over the cap fails before reading, naming the handle, the URL and the limit', async () => {
  server.routes.set('/s/huge_page', { headers: { 'content-length': String(LIMIT + 1) }, body: 'x'.repeat(LIMIT + 1) });
  const err = await tooLarge('/s/huge_page', 'huge_page');
  assert.match(err.message, new RegExp(`sent ${LIMIT + 1} bytes \\(Content-Length\\)`));
});

test('a body without Content-Length stops being read at the cap, even one that never ends', async () => {
  server.routes.set('/s/endless', { stream: { chunk: 'y'.repeat(4096), times: Number.POSITIVE_INFINITY } });
  const started = Date.now();
  const err = await tooLarge('/s/endless', 'endless');
  assert.match(err.message, /sent more than 65536 bytes/);
  // Well inside the 15 s request timeout: reading was cut at the cap, not by the timeout.
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);

  server.routes.set('/s/one_over', { stream: { chunk: 'z', times: LIMIT + 1 } });
  await tooLarge('/s/one_over', 'one_over');
});

test('error pages and redirects are not read, however large', async () => {
  server.routes.set('/s/big_redirect', { status: 302, headers: { location: '/big_redirect' }, stream: { chunk: 'r'.repeat(4096), times: Number.POSITIVE_INFINITY } });
  const res = await client().get('/s/big_redirect', 'big_redirect', new AbortController().signal);
  assert.deepEqual(res, { kind: 'redirect', url: `${server.baseUrl}/s/big_redirect`, location: `${server.baseUrl}/big_redirect` });

  server.routes.set('/s/big_error', { status: 404, body: 'n'.repeat(LIMIT * 2) });
  await assert.rejects(client().get('/s/big_error', 'big_error', new AbortController().signal), /answered 404 Not Found/);
});
