import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importSavedObjects } from './import.ts';
import { savedObjectsNdjson } from './objects.ts';

/**
 * Kibana cannot run here, so the import's HTTP contract is tested against a stand-in on
 * 127.0.0.1 that answers the way Kibana's saved objects API does.
 */
async function fakeKibana(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const noRetry = { retries: 0 };

test('posts the NDJSON as a multipart file with kbn-xsrf, overwrite=true and the API key', async () => {
  const ndjson = savedObjectsNdjson('tidewatch');
  let seen: { url?: string; xsrf?: string; auth?: string; type?: string; body?: string } = {};
  const kibana = await fakeKibana((req, body, res) => {
    seen = { url: req.url, xsrf: req.headers['kbn-xsrf'] as string, auth: req.headers.authorization, type: req.headers['content-type'], body };
    json(res, 200, { success: true, successCount: ndjson.trimEnd().split('\n').length, successResults: [] });
  });
  try {
    const r = await importSavedObjects({ url: kibana.url, apiKey: 'secret-key' }, ndjson, noRetry);
    assert.equal(r.imported, ndjson.trimEnd().split('\n').length);
    assert.equal(seen.url, '/api/saved_objects/_import?overwrite=true');
    assert.ok(seen.xsrf);
    assert.equal(seen.auth, 'ApiKey secret-key');
    assert.match(seen.type!, /^multipart\/form-data; boundary=/);
    assert.match(seen.body!, /Content-Disposition: form-data; name="file"; filename="tidewatch.ndjson"/);
    assert.ok(seen.body!.includes(ndjson.split('\n')[0]!));
  } finally {
    await kibana.close();
  }
});

test('basic credentials are sent when no API key is configured', async () => {
  let auth: string | undefined;
  const kibana = await fakeKibana((req, _body, res) => {
    auth = req.headers.authorization;
    json(res, 200, { success: true, successCount: 1 });
  });
  try {
    await importSavedObjects({ url: kibana.url, username: 'elastic', password: 'changeme' }, '{}\n', noRetry);
    assert.equal(auth, `Basic ${Buffer.from('elastic:changeme').toString('base64')}`);
  } finally {
    await kibana.close();
  }
});

test('unreachable Kibana: a clear, retriable error naming the URL', async () => {
  const kibana = await fakeKibana(() => {});
  const { url } = kibana;
  await kibana.close();
  await assert.rejects(importSavedObjects({ url }, '{}\n', noRetry), (err: Error & { retriable?: boolean }) => {
    assert.match(err.message, new RegExp(`Kibana at ${url} is not reachable \\(ECONNREFUSED\\)`));
    assert.equal(err.retriable, true);
    return true;
  });
});

test('refused credentials: final error that says what to check', async () => {
  const kibana = await fakeKibana((_req, _body, res) => json(res, 401, { statusCode: 401, error: 'Unauthorized', message: 'missing authentication credentials' }));
  try {
    await assert.rejects(importSavedObjects({ url: kibana.url }, '{}\n', noRetry), /refused the saved objects import \(401: missing authentication credentials\); check KIBANA_API_KEY/);
  } finally {
    await kibana.close();
  }
});

test('objects Kibana rejects are listed with their reason', async () => {
  const kibana = await fakeKibana((_req, _body, res) =>
    json(res, 200, { success: false, successCount: 3, errors: [{ id: 'tidewatch-overview', type: 'dashboard', error: { type: 'missing_references', references: [{ type: 'lens', id: 'tidewatch-x' }] } }] }));
  try {
    await assert.rejects(importSavedObjects({ url: kibana.url }, '{}\n', noRetry), /rejected 1 saved object\(s\): dashboard\/tidewatch-overview: missing_references \(missing lens\/tidewatch-x\)/);
  } finally {
    await kibana.close();
  }
});

test('a Kibana that is still starting (503) is retried until it answers', async () => {
  let calls = 0;
  const kibana = await fakeKibana((_req, _body, res) => {
    calls++;
    if (calls < 3) json(res, 503, { statusCode: 503, message: 'Kibana server is not ready yet' });
    else json(res, 200, { success: true, successCount: 35 });
  });
  try {
    const r = await importSavedObjects({ url: kibana.url }, '{}\n', { retries: 3, initialDelayMs: 10, maxDelayMs: 20 });
    assert.equal(r.imported, 35);
    assert.equal(calls, 3);
  } finally {
    await kibana.close();
  }
});

test('KIBANA_URL with a base path and a space: the import goes under both, never to the root', async () => {
  const paths: string[] = [];
  const kibana = await fakeKibana((req, _body, res) => {
    paths.push(req.url!);
    json(res, 200, { success: true, successCount: 1 });
  });
  try {
    for (const path of ['/kibana', '/kibana/', '/kibana/s/analysts', '/s/analysts/']) await importSavedObjects({ url: `${kibana.url}${path}` }, '{}\n', noRetry);
    assert.deepEqual(paths, [
      '/kibana/api/saved_objects/_import?overwrite=true',
      '/kibana/api/saved_objects/_import?overwrite=true',
      '/kibana/s/analysts/api/saved_objects/_import?overwrite=true',
      '/s/analysts/api/saved_objects/_import?overwrite=true',
    ]);
  } finally {
    await kibana.close();
  }
});

test('a 404 says which path was posted and what KIBANA_URL may be missing', async () => {
  const kibana = await fakeKibana((_req, _body, res) => json(res, 404, { statusCode: 404, error: 'Not Found', message: 'Not Found' }));
  try {
    await assert.rejects(
      importSavedObjects({ url: `${kibana.url}/s/nope` }, '{}\n', noRetry),
      /answered 404 to the saved objects import: Not Found \(POST \/s\/nope\/api\/saved_objects\/_import\); check that KIBANA_URL includes Kibana's base path/,
    );
  } finally {
    await kibana.close();
  }
});
