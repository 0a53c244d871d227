import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startServe } from '../../cli/commands/serve.ts';
import type { PipelineStrip } from '../../dashboards/web/api.ts';
import { configSchema } from '../../pipeline/config/index.ts';
import { buildEvent } from '../../pipeline/events/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import { Metrics } from '../../pipeline/metrics/index.ts';
import { until } from '../live-pipeline.ts';

// `tidewatch serve` on the embedded default: the consumers run in the dashboard's process, so
// their metrics and the dashboard's pipeline strip come from the same in-process values.
test('serve (embedded): the pipeline strip and the metrics follow the in-process consumers', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tidewatch-serve-metrics-'));
  const config = configSchema.parse({ dataDir, metrics: { probeSecs: 0.1 }, alerter: { log: false } });
  const metrics = new Metrics({ processMetrics: false });
  const serving = await startServe(config, createLogger('silent'), { host: '127.0.0.1', port: 0, clock: { mode: 'live' }, metrics });
  try {
    const events = Array.from({ length: 50 }, (_, i) =>
      buildEvent({ timestamp: Date.UTC(2026, 0, 5) + i * 60_000, action: 'post', channel: { id: `c${i % 5}`, handle: `c${i % 5}`, network: 'n' }, message: { id: String(i) }, source: { type: 'test' } }),
    );
    await serving.publisher.publish(events);
    await serving.publisher.publishRaw([{ key: 'c0', value: 'not json' }]);
    const strip = await until(async () => {
      const p = (await (await fetch(new URL('/api/pipeline', serving.url))).json()) as PipelineStrip;
      return p.lag?.records === 0 && p.deadLetters.count === 1 && p;
    }, 'the strip to show the lag at 0 and one dead letter', 30_000);
    assert.ok(Date.parse(strip.now) - Date.parse(strip.deadLetters.lastAt!) < 60_000, 'the dead letter is recent');
    assert.equal(strip.lastCollectorPoll, null);
    // Partitions are handled side by side: the dead letter can be counted before the last valid
    // record of another partition. Wait for both consumers to have handled everything.
    const families = await until(async () => {
      const f = new Map((parsePrometheusTextFormat(await metrics.exposition()) as { name: string; metrics: { value?: string; labels?: Record<string, string> }[] }[]).map((x) => [x.name, x]));
      const channelStage = f.get('tidewatch_analyzer_records_analysed_total')?.metrics.find((s) => s.labels?.stage === 'channel');
      return f.get('tidewatch_indexer_records_indexed_total')?.metrics[0]?.value === '50' && channelStage?.value === '51' && f;
    }, 'the indexer and the analyzer to have handled every record', 30_000);
    assert.equal(families.get('tidewatch_indexer_records_indexed_total')?.metrics[0]?.value, '50');
    assert.equal(families.get('tidewatch_indexer_records_dead_lettered_total')?.metrics[0]?.value, '1');
    const analysed = families.get('tidewatch_analyzer_records_analysed_total')?.metrics.find((s) => s.labels?.stage === 'channel');
    assert.equal(analysed?.value, '51', 'every record, valid or not');
  } finally {
    await serving.stop();
    metrics.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the dashboard answers 404 for the strip where the consumers run elsewhere', async () => {
  const { startDashboardServer } = await import('../../dashboards/web/server.ts');
  const { sampleStore } = await import('../../dashboards/web/testing.ts');
  const { store, dir } = await sampleStore();
  const server = await startDashboardServer({ store, host: '127.0.0.1', port: 0, log: createLogger('silent') });
  try {
    const res = await fetch(new URL('/api/pipeline', server.url));
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { error: string }).error, /their \/metrics/);
  } finally {
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
