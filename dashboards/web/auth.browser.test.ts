import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildEvent } from '../../pipeline/events/index.ts';
import { startCli, type CliProcess } from '../../test/e2e/process.ts';

/**
 * The dashboard behind the reader token, in a real browser over a real `tidewatch serve`: the page
 * asks for the token once, sends it as a header on every API request (never in a URL), keeps it
 * for the tab across reloads, and asks again when a token is refused.
 */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const READER = 'reader-1c9e4b7a2f60d8e3b5a4';
const WRITER = 'writer-7d2a9f1e4c8b6a03e5d9';

let serve: CliProcess;
let url: string;
let dir: string;
let profile: string;
let context: BrowserContext;
let page: Page;
const requests: { url: string; authorization: string | undefined }[] = [];
const pageErrors: string[] = [];

async function apiMeta(): Promise<{ channels: { id: string; title?: string }[] }> {
  const res = await fetch(new URL('api/meta', url), { headers: { authorization: `Bearer ${READER}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as { channels: { id: string; title?: string }[] };
}

function watch(p: Page): void {
  p.on('request', (r) => requests.push({ url: r.url(), authorization: r.headers().authorization }));
  p.on('pageerror', (e) => pageErrors.push(e.message));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidewatch-auth-'));
  serve = startCli(['serve', '--port', '0'], {
    TIDEWATCH_CONFIG: '', KAFKA_BROKERS: '', ELASTICSEARCH_URL: '', TIDEWATCH_HOST: '',
    TIDEWATCH_DATA_DIR: dir, TIDEWATCH_READER_TOKEN: READER, TIDEWATCH_WRITER_TOKEN: WRITER,
  });
  url = (await serve.waitFor(/dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/, 60_000))[1]!;
  const events = [1, 2, 3].map((h) =>
    buildEvent({ timestamp: `2018-12-20T1${h}:00:00Z`, action: 'post', channel: { id: '77', handle: 'behind_token', title: 'Behind the token', language: 'en', network: 'supporters' }, message: { id: String(h), media: 'text' }, source: { type: 'http' } }),
  );
  const res = await fetch(new URL('v1/events', url), { method: 'POST', headers: { authorization: `Bearer ${WRITER}` }, body: JSON.stringify(events) });
  assert.equal(res.status, 200, await res.text());
  const deadline = Date.now() + 60_000;
  while (!(await apiMeta()).channels.some((c) => c.id === '77')) {
    if (Date.now() > deadline) throw new Error('the ingested channel never reached the store');
    await new Promise((r) => setTimeout(r, 250));
  }
  profile = mkdtempSync(join(tmpdir(), 'tidewatch-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  watch(page);
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  const code = await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, `serve exited with ${code}\n${serve?.stderr().slice(-3000)}`);
});

test('the page asks for the reader token; a wrong one is refused and asked again', async () => {
  await page.goto(url);
  await page.waitForSelector('#login:not([hidden])', { timeout: 30_000 });
  assert.match((await page.textContent('#login-message')) ?? '', /needs its reader token/);
  assert.equal(await page.$eval('#view-overview', (e) => e.dataset.loaded ?? ''), '', 'nothing was drawn without the token');

  await page.fill('#token', WRITER);
  await page.click('#login button[type="submit"]');
  await page.waitForFunction(() => /not accepted/.test(document.getElementById('login-message')!.textContent ?? ''), undefined, { timeout: 30_000 });
  assert.match((await page.textContent('#login-message')) ?? '', /writer token, which cannot read/);
  assert.equal(await page.isVisible('#login'), true);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-reader-token.png') });
});

test('with the right token the dashboard loads, every API request carries it as a header, and no URL does', async () => {
  await page.fill('#token', READER);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector('#view-overview[data-loaded="true"]', { timeout: 30_000 });
  assert.equal(await page.isVisible('#login'), false);
  assert.equal(await page.textContent('#error'), '');
  const cells = await page.$$eval('#ov-channels td', (tds) => tds.map((td) => td.textContent ?? ''));
  assert.ok(cells.includes('Behind the token'), `channels: ${cells.join(' | ')}`);

  const api = requests.filter((r) => new URL(r.url).pathname.startsWith('/api/'));
  assert.ok(api.some((r) => r.authorization === `Bearer ${READER}`), 'the API was asked with the token');
  assert.ok(requests.every((r) => !r.url.includes(READER) && !r.url.includes(WRITER)), 'no token in any URL');
  assert.ok(!page.url().includes(READER));
  assert.deepEqual(await page.evaluate(() => [localStorage.length, document.cookie]), [0, ''], 'kept in sessionStorage only');
});

test('the token is kept for the tab: a reload does not ask again; a new tab does', async () => {
  await page.reload();
  await page.waitForSelector('#view-overview[data-loaded="true"]', { timeout: 30_000 });
  assert.equal(await page.isVisible('#login'), false);

  const other = await context.newPage();
  watch(other);
  await other.goto(url);
  await other.waitForSelector('#login:not([hidden])', { timeout: 30_000 });
  await other.close();
  assert.deepEqual(pageErrors, []);
});
