import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import type { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';
import { parseViewQuery } from './api.ts';
import { buildReport } from './report.ts';
import { testChromiumPath } from '../../test/engines.ts';
import { sampleStore, WAVE, XSS_TITLE } from './testing.ts';

/** `tidewatch report`'s file, opened from disk in a real browser with the network cut off. */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
let store: DuckDbStore;
let dir: string;
let html: string;
let context: BrowserContext;
let profile: string;

before(async () => {
  ({ store, dir } = await sampleStore());
  // A team in Baghdad (UTC+3): the page shows times there; the inlined data keeps ISO 8601.
  html = await buildReport(store, parseViewQuery(new URLSearchParams()), { display: { timezone: 'Asia/Baghdad' }, generatedAt: new Date('2026-01-02T03:04:05Z') });
  profile = mkdtempSync(join(tmpdir(), 'tidewatch-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: testChromiumPath(),
    headless: true,
    offline: true,
    viewport: { width: 1440, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('one self-contained file: no external script, style or fetch; data inlined with < escaped', () => {
  assert.ok(html.includes('"generatedAt":"2026-01-02T03:04:05.000Z"') && html.includes('"display":{"timezone":"Asia/Baghdad"}'));
  assert.doesNotMatch(html, /<script[^>]+src=/);
  assert.doesNotMatch(html, /<link[^>]+stylesheet/);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
  assert.ok(!html.includes(XSS_TITLE), 'the hostile title never appears unescaped');
  assert.ok(html.includes('\\u003cimg src=x onerror=alert(1)>'));
});

test('the report renders every view from the file, the hostile title as text, without a dialog', async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(dir, 'report.html');
  writeFileSync(file, html);
  const page = await context.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('#view-overview[data-loaded="true"]');
  assert.match((await page.textContent('#status')) ?? '', /report generated 2026-01-02 06:04 Asia\/Baghdad/);
  const titles = await page.$$eval('#ov-channels td', (tds) => tds.map((td) => td.textContent));
  assert.ok(titles.includes(XSS_TITLE));
  assert.ok(titles.includes('ناشر'));
  assert.equal(await page.isVisible('#filters'), false, 'a static report has no live filters');
  await page.screenshot({ path: join(ARTIFACTS, 'report-overview.png'), fullPage: true });
  for (const view of ['gaps', 'migration', 'takedowns', 'spikes']) {
    await page.click(`#tabs button[data-view="${view}"]`);
    await page.waitForSelector(`#view-${view}[data-loaded="true"]`);
  }
  // The resurrections table fits its card: no column runs past the card's edge or is scrolled away.
  await page.click('#tabs button[data-view="takedowns"]');
  const fit = await page.$eval('#td-resurrections', (box) => {
    const card = box.closest('figure')!.getBoundingClientRect();
    const header = Array.from(box.querySelectorAll('th')).find((th) => th.textContent === 'Min to 1,000')!.getBoundingClientRect();
    return { rows: box.querySelectorAll('tbody tr').length, scrollWidth: box.scrollWidth, clientWidth: box.clientWidth, headerRight: header.right, cardRight: card.right };
  });
  assert.equal(fit.rows, 3);
  assert.ok(fit.scrollWidth <= fit.clientWidth + 1, `the table is ${fit.scrollWidth} px wide in a ${fit.clientWidth} px box`);
  assert.ok(fit.headerRight <= fit.cardRight, `the "Min to 1,000" column ends at ${fit.headerRight} px, the card at ${fit.cardRight} px`);
  await page.screenshot({ path: join(ARTIFACTS, 'report-takedowns.png'), fullPage: true });
  // The wave's row names its first ten channels as text (the hostile one too), the rest by count, all of them in the tooltip.
  const cell = await page.$eval('#td-waves-table tbody tr td:last-child', (td) => ({ text: td.textContent, title: (td as HTMLElement).title }));
  assert.deepEqual(cell, { text: `${WAVE.subjects.slice(0, 10).join(', ')} … and 4 more`, title: WAVE.subjects.join(', ') });
  assert.ok(cell.text!.includes(XSS_TITLE));
  await page.click('#tabs button[data-view="gaps"]');
  const gapCells = await page.$$eval('#gaps-table td', (tds) => tds.map((td) => td.textContent));
  assert.ok(gapCells.includes('is-official'));
  // The gap of 08:00 to 10:00 UTC, read in the display zone.
  assert.ok(gapCells.includes('2017-11-22 11:00 Asia/Baghdad') && gapCells.includes('2017-11-23 13:00 Asia/Baghdad'), gapCells.join(' | '));
  assert.deepEqual(dialogs, []);
  assert.deepEqual(errors, []);
  assert.deepEqual(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), []);
});
