import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';
import { startCli } from './process.ts';

/**
 * `npm start` runs `node bin/tidewatch.js demo`: it must say where the dashboard is and serve it
 * within 10 seconds of being started, and stop cleanly on Ctrl-C.
 */
test('the demo prints the dashboard URL and serves it within 10 s, and stops on SIGINT', async () => {
  const startedAt = Date.now();
  const demo = startCli(['demo', '--port', '0']);
  try {
    const [, url] = (await demo.waitFor(/dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/, 10_000)) as RegExpMatchArray & [string, string];
    const page = await fetch(url);
    const servedMs = Date.now() - startedAt;
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>tidewatch<\/title>/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.ok(servedMs <= 10_000, `first dashboard after ${servedMs} ms`);
    const meta = await (await fetch(`${url}api/meta`)).json() as { summary: { events: number } };
    assert.equal(typeof meta.summary.events, 'number');
    process.stdout.write(`# start-up to first dashboard: ${servedMs} ms\n`);
  } finally {
    const code = await demo.stop();
    assert.equal(code, 0, `exit code ${code}\n${demo.stderr().slice(-2000)}`);
  }
  assert.match(demo.stdout(), /stopping \(flushing the pipeline\)/);
});

/**
 * The demo's alert rules run on the replay's clock: an alert is stamped within one evaluation (six
 * simulated hours, plus the allowed lateness) of the simulated time of what it reports, not weeks
 * later because the rules ran every few wall-clock seconds while the replay moved a week a second.
 */
test('demo alerts are stamped on the replay\'s clock, within one evaluation of what they report', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tw-demo-alerts-'));
  try {
    const demo = startCli(['demo', '--port', '0', '--window', '2015-11-10/2015-12-01', '--data-dir', dataDir, '--exit-when-done']);
    await demo.waitFor(/replay finished/, 180_000);
    const code = await demo.stop(120_000);
    assert.equal(code, 0, demo.stderr().slice(-2000));
    const store = await DuckDbStore.open(dataDir);
    try {
      const alerts = await store.findings('alert', { limit: 10_000 });
      const wave = alerts.find((a) => a.findingId === 'takedown:2015-11-18');
      assert.ok(wave, `a takedown-wave alert for 2015-11-18 among ${alerts.map((a) => a.findingId).join(', ')}`);
      // The wave grew past the threshold during its day: the alert is stamped that day.
      assert.ok(wave.firedAt >= '2015-11-18' && wave.firedAt < '2015-11-19', `wave alert stamped ${wave.firedAt}`);
      const resurrections = new Map((await store.findings('resurrection', { limit: 10_000 })).map((r) => [r.id, r]));
      const stamped = alerts.filter((a) => a.rule === 'resurrection').map((a) => ({ firedMs: Date.parse(a.firedAt!), createdMs: Date.parse(resurrections.get(a.findingId ?? '')?.createdAt ?? '') }));
      assert.ok(stamped.length > 0);
      for (const s of stamped) assert.ok(s.firedMs >= s.createdMs, 'never before what it reports');
      // The first (before the rule's throttle holds any back) within one evaluation + the lateness.
      const first = stamped.sort((a, b) => a.firedMs - b.firedMs)[0]!;
      assert.ok(first.firedMs - first.createdMs <= 6 * 3_600_000 + 300_000, `first resurrection alert ${(first.firedMs - first.createdMs) / 3_600_000} h after the successor's creation`);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
