import { test } from 'node:test';
import assert from 'node:assert/strict';
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
