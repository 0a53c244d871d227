import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildEvent } from '../../pipeline/events/index.ts';
import { testChromiumPath } from '../engines.ts';
import { startCli, type CliProcess } from './process.ts';

/**
 * The built-in dashboard in a real browser (Debian's Chromium) over the real demo process: a
 * small replay (November 2017 around the 25-hour silence, then December 2018 when the links to
 * other platforms begin), plus a channel whose title is an HTML injection attempt, sent through
 * the ingest endpoint like any producer would.
 */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const XSS_TITLE = '<img src=x onerror=alert(1)>';

let demo: CliProcess;
let url: string;
let context: BrowserContext;
let page: Page;
let profile: string;
const dialogs: string[] = [];
const cspViolations: string[] = [];
const pageErrors: string[] = [];

async function waitForJson<T>(path: string, ok: (body: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = (await (await fetch(new URL(path, url))).json()) as T;
    if (ok(body)) return body;
    if (Date.now() > deadline) throw new Error(`${path}: condition not met within ${timeoutMs} ms: ${JSON.stringify(body).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Open a tab and wait for its view drawn (the page clears `data-loaded` when it asks, see refilter). */
async function showView(view: string): Promise<void> {
  await page.click(`#tabs button[data-view="${view}"]`);
  await page.waitForSelector(`#view-${view}[data-loaded="true"]`, { timeout: 30_000 });
}

/**
 * Change filters, then wait for the view to be drawn again from the new answer. The page clears
 * `data-loaded` when it sends a request, so a live refresh answered meanwhile cannot pass for it.
 */
async function refilter(view: string, change: () => Promise<unknown>): Promise<void> {
  await change();
  await page.waitForSelector(`#view-${view}[data-loaded="true"]`, { timeout: 30_000 });
}

async function setRange(from: string, to: string): Promise<void> {
  await page.fill('#from', from);
  await page.fill('#to', to);
  await page.dispatchEvent('#to', 'change');
}

async function chartOption(id: string): Promise<{ series: { name?: string; data: unknown[]; markArea?: { data: { xAxis: number; name?: string }[][] } }[] }> {
  return page.evaluate((chartId) => {
    const el = document.getElementById(chartId)!;
    // ECharts is the page's global (its UMD build).
    const instance = (window as unknown as { echarts: { getInstanceByDom(e: HTMLElement): { getOption(): unknown } } }).echarts.getInstanceByDom(el);
    return JSON.parse(JSON.stringify(instance.getOption()));
  }, id);
}

type Box = { x: number; y: number; width: number; height: number };
interface ChartGeometry {
  /** Per series: the layout of every bar with a value above 0 (null when ECharts drew none for it). */
  bars: (Box | null)[][];
  legend: Box | null;
  axisNames: { text: string; box: Box }[];
}

/**
 * What ECharts drew, read from its model and scene graph (the page's own ECharts): bar layouts,
 * the legend's box and the boxes of the axis names, in canvas pixels.
 */
async function chartGeometry(id: string): Promise<ChartGeometry> {
  return page.evaluate((chartId) => {
    type Rect = { x: number; y: number; width: number; height: number; applyTransform(m: unknown): void; clone(): Rect };
    type El = { style?: { text?: string }; getBoundingRect(): Rect; getComputedTransform(): unknown; transform?: unknown };
    const inst = (window as unknown as { echarts: { getInstanceByDom(e: HTMLElement): any } }).echarts.getInstanceByDom(document.getElementById(chartId)!);
    const model = inst.getModel();
    const bars: (Box | null)[][] = [];
    model.eachSeries((series: any) => {
      if (series.subType !== 'bar') return;
      const data = series.getData();
      const out: (Box | null)[] = [];
      for (let i = 0; i < data.count(); i++) {
        const v = data.get(data.mapDimension('y'), i);
        if (v > 0) out.push(data.getItemLayout(i) ?? null);
      }
      bars.push(out);
    });
    const legendView = (inst._componentsViews as { __model?: { mainType: string }; group: El }[]).find((v) => v.__model?.mainType === 'legend');
    let legend: Box | null = null;
    if (legendView) {
      const r = legendView.group.getBoundingRect().clone();
      r.applyTransform(legendView.group.getComputedTransform());
      legend = { x: r.x, y: r.y, width: r.width, height: r.height };
    }
    const names = new Set<string>();
    for (const a of [...(inst.getOption().yAxis ?? []), ...(inst.getOption().xAxis ?? [])]) if (a.name) names.add(a.name);
    const axisNames: { text: string; box: Box }[] = [];
    for (const el of inst.getZr().storage.getDisplayList(true) as El[]) {
      const text = el.style?.text;
      if (text === undefined || !names.has(text)) continue;
      const r = el.getBoundingRect().clone();
      r.applyTransform(el.getComputedTransform());
      axisNames.push({ text, box: { x: r.x, y: r.y, width: r.width, height: r.height } });
    }
    return { bars, legend, axisNames };
  }, id);
}

const intersects = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Every chart in the view with a legend: the legend covers no axis name. */
async function assertLegendsClear(ids: string[]): Promise<void> {
  for (const id of ids) {
    const g = await chartGeometry(id);
    assert.ok(g.legend && g.axisNames.length > 0, `${id}: a legend and axis names were drawn (${JSON.stringify(g.axisNames)})`);
    for (const n of g.axisNames) assert.ok(!intersects(g.legend!, n.box), `${id}: the legend ${JSON.stringify(g.legend)} overlaps the axis name "${n.text}" ${JSON.stringify(n.box)}`);
  }
}

const cellTexts = (selector: string) => page.$$eval(`${selector} td`, (tds) => tds.map((td) => td.textContent ?? ''));

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  demo = startCli(['demo', '--port', '0', '--speed', '0', '--scale', '0.5', '--window', '2017-10-20/2017-12-01', '--window', '2018-11-25/2019-01-05']);
  url = (await demo.waitFor(/dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/, 20_000))[1]!;
  await demo.waitFor(/replay finished/, 240_000);
  const event = buildEvent({
    timestamp: '2018-12-20T12:00:00Z',
    action: 'post',
    channel: { id: '990001', handle: 'xss_probe', title: XSS_TITLE, language: 'en', network: 'supporters' },
    message: { id: '1', media: 'text' },
    links: ['https://tamtam.chat/"><script>alert(2)</script>'],
    source: { type: 'http' },
  });
  // A channel that posts, then is banned: the channel table must call it gone, not silent.
  const banProbe = { id: '990002', handle: 'ban_probe', title: 'Ban Probe', language: 'en', network: 'supporters' };
  const banned = [
    buildEvent({ timestamp: '2018-12-20T13:00:00Z', action: 'post', channel: banProbe, message: { id: '1', media: 'text' }, source: { type: 'http' } }),
    buildEvent({ timestamp: '2018-12-21T09:00:00Z', action: 'channel_banned', channel: banProbe, source: { type: 'http' } }),
  ];
  const res = await fetch(new URL('v1/events', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([event, ...banned]) });
  assert.equal(res.status, 200, await res.text());
  await waitForJson<{ channels: { id: string; status: string }[] }>('api/view/overview?channel=990002', (o) => o.channels.some((c) => c.id === '990002' && c.status === 'gone'), 60_000);
  // Bans in twelve languages on one day, through the ingest endpoint: the replay's windows hold
  // none, and over the whole range a day is narrower than a pixel (the bars test below).
  const languages = ['ar', 'en', 'fr', 'de', 'ru', 'tr', 'fa', 'ur', 'id', 'bs', 'ku', 'es'];
  const bans = languages.map((language, i) => buildEvent({
    timestamp: `2018-12-21T${String(8 + i).padStart(2, '0')}:00:00Z`, action: 'channel_banned',
    channel: { id: String(990100 + i), handle: `banned_${language}`, language, network: 'supporters' }, source: { type: 'http' },
  }));
  const bannedPosted = await fetch(new URL('v1/events', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bans) });
  assert.equal(bannedPosted.status, 200, await bannedPosted.text());
  // Indexed, and the analyzer has caught up with the replay (the December 2018 platforms are findings).
  await waitForJson<{ channels: { id: string }[] }>('api/meta', (m) => m.channels.some((c) => c.id === '990001') && m.channels.some((c) => c.id === '990111'), 60_000);
  await waitForJson<{ firstSeen: unknown[]; platforms: unknown[] }>('api/view/migration?from=2018-12-01&to=2019-01-05', (m) => m.firstSeen.length > 0 && m.platforms.length > 0, 120_000);

  profile = mkdtempSync(join(tmpdir(), 'tidewatch-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: testChromiumPath(),
    headless: true,
    viewport: { width: 1440, height: 1100 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('#view-overview[data-loaded="true"]', { timeout: 30_000 });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  const code = await demo?.stop();
  assert.equal(code, 0, `the demo exited with ${code}\n${demo?.stderr().slice(-3000)}`);
});

test('overview: the replayed timeline by network, channels, and a hostile title shown as text', async () => {
  assert.equal(await page.textContent('#error'), '', 'the page reported an error');
  assert.match(await page.textContent('#status') ?? '', /[\d,]+ events · [\d,]+ channels · 2017-10-20 → 2019-01-0\d/);
  const byNetwork = await chartOption('ov-network');
  const names = byNetwork.series.map((s) => s.name);
  assert.ok(names.includes('is-official') && names.includes('amaq'), `networks: ${names.join(', ')}`);

  const cells = await cellTexts('#ov-channels');
  assert.ok(cells.includes(XSS_TITLE), 'the hostile title is in the channels table, as text');
  assert.equal(await page.$$eval('#ov-channels img, #ov-channels script', (e) => e.length), 0, 'no element was created from it');
  const options = await page.$$eval('#channel option', (os) => os.map((o) => o.textContent ?? ''));
  assert.ok(options.some((o) => o.includes(XSS_TITLE)), 'the channel filter lists it as text');
  // Right-to-left titles: the cells are dir=auto so Arabic reads in its own direction.
  const arabic = await page.$$eval('#ov-channels td[dir="auto"]', (tds) => tds.filter((td) => /[\u0600-\u06FF]/.test(td.textContent ?? '')).length);
  assert.ok(arabic > 0, 'Arabic titles are rendered in dir=auto cells');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-overview.png'), fullPage: true });
});

test('filters: a network narrows the charts and the channel table; a channel narrows to itself', async () => {
  await refilter('overview', () => page.selectOption('#network', ['amaq']));
  const byNetwork = await chartOption('ov-network');
  assert.deepEqual(byNetwork.series.map((s) => s.name), ['amaq']);
  const networks = await page.$$eval('#ov-channels tbody tr td:nth-child(4)', (tds) => [...new Set(tds.map((td) => td.textContent))]);
  assert.deepEqual(networks, ['amaq']);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-filter-network.png'), fullPage: true });

  await refilter('overview', () => page.selectOption('#network', []));
  await refilter('overview', () => page.selectOption('#channel', '990001'));
  const rows = await page.$$eval('#ov-channels tbody tr', (trs) => trs.length);
  assert.equal(rows, 1);
  assert.ok((await cellTexts('#ov-channels')).includes(XSS_TITLE));
  await refilter('overview', () => page.click('#clear-filters'));
});

test('one status model: a banned channel is gone in the channel table and the "Channels now" chart; the demo\'s watch list has statuses', async () => {
  await refilter('overview', () => page.selectOption('#channel', '990002'));
  const status = await page.$$eval('#ov-channels tbody tr td:last-child', (tds) => tds.map((td) => td.textContent ?? ''));
  assert.deepEqual(status, ['gone']);
  const reason = await page.$eval('#ov-channels tbody tr td:last-child', (td) => td.getAttribute('title') ?? '');
  assert.match(reason, /banned at 21 Dec 2018 09:00/);
  const pie = await chartOption('ov-status');
  assert.deepEqual(pie.series[0]!.data, [{ name: 'gone', value: 1 }]);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-status-gone.png'), fullPage: true });
  await refilter('overview', () => page.click('#clear-filters'));
  // The replay's official channels are the demo's watch list: the panel shows their statuses.
  const watched = await page.$$eval('#ov-watchlist tbody tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent ?? ''));
  assert.ok(watched.length > 0, 'the watch-list panel has rows');
  assert.ok(watched.some((s) => s === 'active' || s === 'silent' || s === 'quiet'), `watch-list statuses: ${[...new Set(watched)].join(', ')}`);
});

test('silence gaps: the 25-hour network silence of 2017-11-22/23 is marked and ranked unprecedented', async () => {
  await showView('gaps');
  await refilter('gaps', () => setRange('2017-11-15', '2017-11-29'));
  const rows = await page.$$eval('#gaps-table tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')));
  // The gap runs from the network's last post before 09:00 to the radio bulletin at 10:01.
  const silence = rows.find((r) => r[0] === 'is-official' && r[1] === 'network' && r[2]!.startsWith('2017-11-22 0') && r[3]!.startsWith('2017-11-23 10:0'));
  assert.ok(silence, `no is-official network gap 2017-11-22 -> 2017-11-23 10:0x among:\n${rows.map((r) => r.join(' | ')).join('\n')}`);
  assert.ok(Math.abs(Number(silence[4]) - 25) <= 1.5, `the gap lasted ${silence[4]} h`);
  assert.equal(silence[7], 'unprecedented');
  const before = rows.slice(0, rows.indexOf(silence));
  assert.ok(before.every((r) => r[1] === 'network' && r[7] === 'unprecedented'), 'only unprecedented network gaps rank above it');
  const timeline = await chartOption('gaps-timeline');
  const marks = timeline.series[0]!.markArea!.data.map(([start]) => new Date(start!.xAxis).toISOString());
  assert.ok(marks.some((m) => m.startsWith('2017-11-22T0')), `marked: ${marks.join(', ')}`);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-gaps.png'), fullPage: true });
});

test('platform migration: links to other platforms appear in December 2018', async () => {
  await showView('migration');
  await refilter('migration', () => setRange('2018-12-01', '2019-01-04'));
  const first = await page.$$eval('#mig-first tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')));
  const december = first.filter((r) => r[1]!.startsWith('2018-12'));
  const platforms = new Set(december.map((r) => r[0]));
  assert.ok(platforms.has('tamtam') || platforms.has('rocketchat') || platforms.has('element'), `first seen in Dec 2018: ${[...platforms].join(', ')}`);
  const stacked = await chartOption('mig-platforms');
  const offPlatform = stacked.series.filter((s) => s.name !== 'telegram' && s.name !== 'other').map((s) => s.name);
  assert.ok(offPlatform.length >= 2, `platform series: ${stacked.series.map((s) => s.name).join(', ')}`);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-migration.png'), fullPage: true });
});

test('a view is marked loaded only by the answer to the latest filters, not by one still in flight', async () => {
  await showView('gaps');
  await refilter('gaps', () => setRange('2017-11-15', '2017-11-29'));
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let held = 0;
  // Hold the answer for the new range; anything else (a live refresh of the old range) goes through.
  await page.route((u) => u.pathname === '/api/view/gaps' && u.searchParams.get('from') === '2018-12-01', async (route) => {
    held++;
    await gate;
    await route.continue();
  });
  try {
    await setRange('2018-12-01', '2019-01-04');
    assert.equal(await page.getAttribute('#view-gaps', 'data-loaded'), null, 'the view still claims to be drawn for the filters it had before');
    for (const deadline = Date.now() + 10_000; held === 0; await new Promise((r) => setTimeout(r, 50))) {
      assert.ok(Date.now() < deadline, 'the request for the new range never came');
    }
  } finally {
    open();
    await page.unrouteAll({ behavior: 'wait' });
  }
  await page.waitForSelector('#view-gaps[data-loaded="true"]', { timeout: 30_000 });
  const starts = await page.$$eval('#gaps-table tbody tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent ?? ''));
  assert.ok(!starts.some((s) => s.startsWith('2017-11')), `the November 2017 gaps are still drawn: ${starts.slice(0, 5).join(', ')}`);
});

test('takedowns: bans by language are daily bars, even over years; legends clear of axis names', async () => {
  await showView('takedowns');
  await refilter('takedowns', () => page.click('#all-time'));
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-takedowns.png'), fullPage: true });
  // Over the whole range (years) a day is under a pixel: every day with bans is still a bar.
  const bans = await chartGeometry('td-bans');
  const drawn = bans.bars.flat();
  assert.ok(drawn.length > 0, 'days with bans');
  for (const b of drawn) assert.ok(b !== null && Math.abs(b.width) >= 3, `a bar ${JSON.stringify(b)} is a hairline`);
  const option = (await chartOption('td-bans')) as unknown as { series: { data: [number, number][] }[] };
  const days = option.series[0]!.data.map(([t]) => t);
  assert.ok(days.every((t, i) => i === 0 || t - days[i - 1]! === 86_400_000), 'one bucket a day');

  await assertLegendsClear(['td-bans', 'td-waves']);

  await showView('spikes');
  await refilter('spikes', () => page.click('#all-time'));
  await assertLegendsClear(['sp-chart', 'sp-alerts']);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-spikes.png'), fullPage: true });
  await showView('migration');
  await assertLegendsClear(['mig-platforms']);
});

test('the pipeline strip: lag, dead letters, last alert evaluation and last collector poll, each with its age', async () => {
  await page.waitForSelector('#pipeline:not([hidden])', { timeout: 30_000 });
  const items = await page.$$eval('#pipeline > span', (spans) => spans.map((s) => s.textContent ?? ''));
  assert.equal(items[0], 'Pipeline');
  assert.match(items[1] ?? '', /^Lag [\d,]+ records · read \d+ (s|min) ago$/);
  assert.match(items[2] ?? '', /^DLQ [\d,]+/);
  assert.match(items[3] ?? '', /^Last alert evaluation (\d+ (s|min) ago · \S+: (ok|failed)|– · none yet)$/);
  assert.equal(items[4], 'Last collector poll – · no collector in this process');
});

test('nothing was injected: no dialog, no CSP violation, no script error', () => {
  assert.deepEqual(dialogs, []);
  assert.deepEqual(cspViolations, []);
  assert.deepEqual(pageErrors, []);
  assert.match(demo.stdout(), /ALERT \[/, 'the demo printed alerts as they fired');
});
