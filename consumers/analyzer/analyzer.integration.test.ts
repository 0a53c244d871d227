import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { configSchema, type Config } from '../../pipeline/config/index.ts';
import { buildEvent } from '../../pipeline/events/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { analyzerOn, openAnalyzerEngines, type AnalyzerEngines } from '../../test/analyzer-engines.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from '../../test/engines.ts';
import { until } from '../../test/live-pipeline.ts';

/** The analyzer on real Kafka + Elasticsearch: replay, throughput, and a SIGKILL mid-stream. */
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const name = uniqueName('it-analyzer');
const root = new URL('../../', import.meta.url);
const testdata = new URL('pipeline/analytics/testdata/', root);
const timeline = readFileSync(new URL('timeline-2017-silence.jsonl', testdata), 'utf8').split('\n').filter(Boolean);
const expected = JSON.parse(readFileSync(new URL('timeline-2017-silence.expected.json', testdata), 'utf8')) as { gaps: { scope: string; subject: string; start: string; end: string | null; hours: number }[] };
const tmp = mkdtempSync(join(tmpdir(), 'tidewatch-it-analyzer-'));

function configFor(run: string, analyzer: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    kafka: { brokers: testKafkaBrokers(), topic: `${name}-${run}.activity`, dlqTopic: `${name}-${run}.dlq`, partitions: 3 },
    elasticsearch: { url: testElasticsearchUrl(), indexPrefix: `${name}-${run}` },
    analyzer: {
      groupId: `${name}-${run}-analyzer`, networkGroupId: `${name}-${run}-network`, networkTopic: `${name}-${run}.network`,
      mode: 'replay', tickSecs: 0.5, idleSecs: 2, ...analyzer,
    },
  });
}

const opened: AnalyzerEngines[] = [];
let client: Client;

async function open(config: Config): Promise<AnalyzerEngines> {
  const r = await openAnalyzerEngines(config);
  opened.push(r);
  return r;
}

const keyOf = (line: string): string => `telegram:${(JSON.parse(line) as { channel: { id: string } }).channel.id}`;
const gapView = (g: { scope: string; subject: string; start: string; end: string | null; hours: number }) => `${g.scope}:${g.subject}:${g.start}:${g.end}:${g.hours}`;

before(() => {
  client = createEsClient(configSchema.parse({ elasticsearch: { url: testElasticsearchUrl() } }).elasticsearch!);
});

after(async () => {
  for (const r of opened) await r.close();
  await client.indices.delete({ index: `${name}-*` }).catch(() => {});
  await client.indices.deleteIndexTemplate({ name: `${name}-*` }).catch(() => {});
  await client.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('replay on Kafka: the timeline\'s gaps are in the gaps index, channel and network, ids deterministic', async () => {
  const config = configFor('replay');
  const r = await open(config);
  const analyzer = analyzerOn(config, r, log);
  const sub = await analyzer.start();
  const publisher = await r.transport.publisher();
  await publisher.publishRaw(timeline.map((value) => ({ key: keyOf(value), value })));
  await until(async () => analyzer.stats.channel.records === timeline.length && analyzer.stats.network.records === timeline.length, 'both stages', 45_000);
  // The replay's held-back tail is analysed once the partitions are idle.
  await until(async () => {
    await r.store.refresh();
    return (await r.store.countFindings('gap')) === expected.gaps.length && (await r.store.findings('gap', { open: true })).length === 0;
  }, 'the gaps', 45_000);
  await sub.stop();
  const gaps = await r.store.findings('gap', { limit: 100 });
  assert.deepEqual(gaps.map(gapView).sort(), expected.gaps.map(gapView).sort());
  assert.ok(gaps.some((g) => g.id === 'gap:network:is-official:2017-11-22T09:00:00.000Z'), 'the network silence, from the network stage');
});

test('throughput: synthetic posts through both stages on Kafka + Elasticsearch', async () => {
  const config = configFor('speed', { maxBatchRecords: 5_000 });
  const r = await open(config);
  const N = 60_000;
  const start = Date.UTC(2024, 0, 1);
  const publisher = await r.transport.publisher();
  const events = Array.from({ length: N }, (_, i) =>
    buildEvent({
      timestamp: start + i * 20_000, action: 'post', channel: { id: `c${i % 300}`, handle: `c${i % 300}`, network: `n${i % 7}` },
      message: { id: String(i) }, links: i % 25 === 0 ? ['https://tamtam.chat/x'] : undefined, source: { type: 'test' },
    }));
  for (let i = 0; i < N; i += 10_000) await publisher.publish(events.slice(i, i + 10_000));
  const analyzer = analyzerOn(config, r, log);
  const t0 = performance.now();
  const sub = await analyzer.start();
  await until(async () => analyzer.stats.channel.records === N, 'the channel stage', 50_000);
  const channelSecs = (performance.now() - t0) / 1000;
  await until(async () => analyzer.stats.network.records === N, 'the network stage', 50_000);
  const bothSecs = (performance.now() - t0) / 1000;
  await sub.stop();
  const report = { events: N, channelStageEventsPerSec: Math.round(N / channelSecs), bothStagesEventsPerSec: Math.round(N / bothSecs), findings: analyzer.stats.channel.findingsWritten + analyzer.stats.network.findingsWritten };
  process.stderr.write(`analyzer throughput: ${JSON.stringify(report)}\n`);
  assert.ok(report.bothStagesEventsPerSec > 1_000, JSON.stringify(report));
});

test('SIGKILL mid-stream, restart: the same gaps, none twice, nothing lost', async () => {
  const config = configFor('kill', { instanceId: 'child', maxBatchRecords: 100, idleSecs: 5 });
  const r = await open(config);
  const file = join(tmp, 'kill.json');
  const { kafka, elasticsearch, analyzer } = config;
  writeFileSync(file, JSON.stringify({ kafka, elasticsearch, analyzer, logLevel: 'warn', metrics: { port: 0 } }));
  const publisher = await r.transport.publisher();
  await publisher.publishRaw(timeline.map((value) => ({ key: keyOf(value), value })));
  const spawnAnalyzer = (): ChildProcess =>
    spawn(process.execPath, [new URL('bin/tidewatch.js', root).pathname, '-c', file, 'run', 'analyzer', '--replay'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TIDEWATCH_CONFIG: '' } });
  const snapshotOffsets = async (): Promise<number> => {
    await client.indices.refresh({ index: r.snapshots.index }).catch(() => {});
    const res = await client.search<{ offset: string }>({ index: r.snapshots.index, size: 10, ignore_unavailable: true });
    return res.hits.hits.reduce((n, h) => n + Number(h._source!.offset) + 1, 0);
  };
  let child = spawnAnalyzer();
  // Killed once part of the stream is analysed (every snapshot is at a batch boundary of 100).
  await until(async () => (await snapshotOffsets()) >= 400, 'the first snapshots', 40_000);
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
  const atKill = await snapshotOffsets();
  assert.ok(atKill < timeline.length * 2, `killed mid-stream (${atKill} of ${timeline.length} channel-stage records + forwarded ones)`);
  child = spawnAnalyzer();
  try {
    await until(async () => {
      await r.store.refresh();
      const gaps = await r.store.findings('gap', { limit: 100 });
      return JSON.stringify(gaps.map(gapView).sort()) === JSON.stringify(expected.gaps.map(gapView).sort());
    }, 'the gaps after the restart', 50_000).catch(() => {});
  } finally {
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
  }
  const gaps = await r.store.findings('gap', { limit: 100 });
  assert.deepEqual(gaps.map(gapView).sort(), expected.gaps.map(gapView).sort());
});
