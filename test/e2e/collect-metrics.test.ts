import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startFixtureServer } from '../../pipeline/producers/preview/fixture-server.ts';
import { until } from '../live-pipeline.ts';
import { freePort, startCli } from './process.ts';

const dir = mkdtempSync(join(tmpdir(), 'tidewatch-collect-metrics-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// `tidewatch collect` as operators run it: its /metrics count the polls by outcome from the
// collector's status stream, and /healthz answers while the heartbeat is fresh.
test('`tidewatch collect` serves /metrics (polls by outcome, request budget, last successful poll age) and /healthz', async () => {
  const site = await startFixtureServer();
  after(() => site.close());
  site.serve('/s/example_news', 'channel_first.html');
  site.routes.set('/s/unreadable', { status: 500, body: 'down' });
  // A collector needs somewhere to deliver: a `tidewatch serve` of its own (the embedded default).
  const servePort = await freePort();
  const serveConfig = join(dir, 'serve.json');
  writeFileSync(serveConfig, JSON.stringify({ dataDir: join(dir, 'serve-data'), serve: { port: servePort }, metrics: { port: 0 } }));
  const serve = startCli(['serve'], { TIDEWATCH_CONFIG: serveConfig, KAFKA_BROKERS: '', ELASTICSEARCH_URL: '' });
  after(() => serve.stop());
  await serve.waitFor(/dashboard at/, 60_000);
  const port = await freePort();
  const watchList = join(dir, 'watch.json');
  writeFileSync(watchList, JSON.stringify(['example_news', 'unreadable']));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    dataDir: join(dir, 'data'),
    collector: { tickSecs: 1, preview: { baseUrl: site.baseUrl, retries: 0 }, serveUrl: `http://127.0.0.1:${servePort}` },
    metrics: { port },
  }));
  const cli = startCli(['collect', '--watch-list', watchList], { TIDEWATCH_CONFIG: config, KAFKA_BROKERS: '', ELASTICSEARCH_URL: '' });
  after(() => cli.stop());
  const url = `http://127.0.0.1:${port}/`;
  const families = await until(async () => {
    const res = await fetch(`${url}metrics`).catch(() => undefined);
    if (res?.status !== 200) return undefined;
    const f = new Map((parsePrometheusTextFormat(await res.text()) as { name: string; metrics: { value: string; labels?: Record<string, string> }[] }[]).map((x) => [x.name, x]));
    const polls = Object.fromEntries((f.get('tidewatch_collector_polls_total')?.metrics ?? []).map((s) => [s.labels?.outcome, Number(s.value)]));
    return polls.ok! >= 1 && polls.unknown! >= 1 && f;
  }, `both channels polled (stderr: ${cli.stderr().slice(-2000)})`, 60_000);
  const ages = families.get('tidewatch_collector_last_success_age_seconds')?.metrics.map((s) => s.labels?.channel).sort();
  assert.deepEqual(ages, ['example_news', 'unreadable']);
  assert.ok(Number(families.get('tidewatch_collector_request_budget_remaining')?.metrics[0]?.value) >= 0);
  const health = await fetch(`${url}healthz`);
  assert.equal(health.status, 200);
  const body = (await health.json()) as { checks: Record<string, { ok: boolean }> };
  assert.equal(body.checks.collector?.ok, true);
  assert.equal(body.checks.started?.ok, true);
  assert.equal(await cli.stop(), 0);
});
