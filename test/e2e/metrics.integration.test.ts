import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { consumerLag, exposeIndexer, timedSink } from '../../cli/metrics.ts';
import { Indexer } from '../../consumers/indexer/indexer.ts';
import { configSchema } from '../../pipeline/config/index.ts';
import { buildEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import { Metrics, serveMetrics } from '../../pipeline/metrics/index.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { EsEventSink } from '../../pipeline/store/elasticsearch/sink.ts';
import { installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { KafkaTransport } from '../../pipeline/transport/kafka/transport.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from '../engines.ts';
import { until } from '../live-pipeline.ts';
import { freePort, startCli } from './process.ts';

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }[] };

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(`${url}metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

/** Sum of a family's samples (optionally only those whose labels match). */
function total(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.get(name);
  if (!f) return undefined;
  const samples = f.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return samples.length ? samples.reduce((n, m) => n + Number(m.value ?? m.count), 0) : undefined;
}

function events(name: string, count: number, from: number): ActivityEvent[] {
  return Array.from({ length: count }, (_, k) =>
    buildEvent({
      timestamp: Date.UTC(2026, 0, 5) + (from + k) * 60_000,
      action: 'post',
      channel: { id: `chan-${k % 7}`, handle: `chan_${k % 7}`, network: 'net-a' },
      message: { id: String(from + k) },
      source: { type: 'test', name },
    }),
  );
}

async function dropIndices(url: string, prefix: string): Promise<void> {
  const es = createEsClient({ url, indexPrefix: prefix, requestTimeoutMs: 30_000, replicas: 0, shards: 1 });
  await es.indices.delete({ index: `${prefix}-*` }).catch(() => {});
  await es.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
  await es.close();
}

test('consumer lag rises while the indexer is stopped and falls to 0 after; counts and bulk latency move (real Kafka + Elasticsearch)', async () => {
  const name = uniqueName('it-metrics');
  const config = configSchema.parse({
    kafka: { brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 2 },
    elasticsearch: { url: testElasticsearchUrl(), indexPrefix: name },
    indexer: { groupId: `${name}-indexer` },
    metrics: { probeSecs: 0.2 },
  });
  const client = createEsClient(config.elasticsearch!);
  cleanups.push(() => dropIndices(config.elasticsearch!.url, name));
  await installTemplates(client, config.elasticsearch!);
  const transport = new KafkaTransport(config.kafka!);
  cleanups.push(() => transport.close());
  await transport.ensureTopics();
  const publisher = await transport.publisher();

  // The wiring of `tidewatch run indexer`, in process, so the indexer can stop while the metrics go on.
  const metrics = new Metrics();
  cleanups.push(async () => metrics.close());
  const server = await serveMetrics(metrics, '127.0.0.1', 0, log);
  cleanups.push(() => server.close());
  const lag = await consumerLag(metrics, config, transport.kind, log);
  const sink = new EsEventSink(client, config.elasticsearch!, config.indexer);
  cleanups.push(() => sink.close());
  const indexer = new Indexer({
    transport: lag.watch(transport, config.indexer.groupId, config.kafka!.topic),
    sink: timedSink(metrics, sink),
    deadLetters: await transport.deadLetters(),
    options: { ...config.indexer, storeText: false },
    log,
  });
  exposeIndexer(metrics, indexer.stats);
  lag.start();

  const group = { group: config.indexer.groupId };
  let sub = await indexer.start();
  await publisher.publish(events(name, 300, 0));
  await publisher.publishRaw([{ key: 'chan-x', value: '{"not": "an event"}' }]);
  let m = await until(async () => {
    const s = await scrape(server.url);
    return total(s, 'tidewatch_indexer_records_indexed_total') === 300 && total(s, 'tidewatch_consumer_lag_records', group) === 0 && s;
  }, 'the first 300 events indexed and the lag at 0', 90_000);
  assert.equal(total(m, 'tidewatch_indexer_records_dead_lettered_total'), 1);
  assert.equal(total(m, 'tidewatch_indexer_records_received_total'), 301);
  assert.ok(total(m, 'tidewatch_indexer_bulk_duration_seconds')! >= 1, 'bulk writes observed');
  assert.equal(m.get('tidewatch_indexer_bulk_duration_seconds')?.type, 'HISTOGRAM');
  assert.equal(m.get('tidewatch_consumer_lag_records')?.metrics.length, 2, 'one series per partition');
  assert.equal(total(m, 'tidewatch_consumer_lag_seconds', group), 0);
  assert.ok(total(m, 'process_resident_memory_bytes')! > 0);
  assert.ok(m.has('nodejs_eventloop_lag_seconds'));

  await sub.stop();
  await publisher.publish(events(name, 200, 300));
  m = await until(async () => {
    const s = await scrape(server.url);
    return total(s, 'tidewatch_consumer_lag_records', group) === 200 && s;
  }, 'the lag to reach the 200 events published while the indexer is stopped', 60_000);
  // Event time behind: the last finished record is from 2026-01-05, so far more than a day of wall clock.
  assert.ok(total(m, 'tidewatch_consumer_lag_seconds', group)! > 86_400);
  assert.equal(total(m, 'tidewatch_indexer_records_indexed_total'), 300);

  sub = await indexer.start();
  cleanups.push(() => sub.stop());
  m = await until(async () => {
    const s = await scrape(server.url);
    return total(s, 'tidewatch_consumer_lag_records', group) === 0 && total(s, 'tidewatch_indexer_records_indexed_total') === 500 && s;
  }, 'the lag back at 0 after the restart', 90_000);
  assert.equal(total(m, 'tidewatch_health_check_ok', { check: 'kafka' }), 1);
  assert.equal(total(m, 'tidewatch_health_check_ok', { check: 'partitions' }), 1);
});

/** A TCP proxy to Elasticsearch the test opens and closes: the shared node itself is never stopped. */
async function esProxy(target: URL): Promise<{ port: number; open(): Promise<void>; close(): Promise<void> }> {
  let server: NetServer | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      server = createNetServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  await open();
  return { get port() { return port; }, open, close };
}

async function health(url: string): Promise<{ code: number; body: { status: string; checks: Record<string, { ok: boolean; reason?: string; fatal: boolean }> } }> {
  const res = await fetch(`${url}healthz`);
  return { code: res.status, body: (await res.json()) as never };
}

test('`tidewatch run indexer`: /healthz turns unhealthy while Elasticsearch is unreachable and healthy again after; /metrics parses', async () => {
  const name = uniqueName('it-health');
  const esUrl = new URL(testElasticsearchUrl());
  const proxy = await esProxy(esUrl);
  cleanups.push(() => proxy.close());
  cleanups.push(() => dropIndices(testElasticsearchUrl(), name));
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tidewatch-metrics-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      kafka: { brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 1 },
      elasticsearch: { url: `http://127.0.0.1:${proxy.port}`, indexPrefix: name, requestTimeoutMs: 2_000 },
      // A short retry window: the outage becomes fatal after ~0.3 s of failed probes.
      indexer: { groupId: `${name}-indexer`, retries: 2, retryInitialDelayMs: 100, retryMaxDelayMs: 200 },
      metrics: { port, probeSecs: 0.3 },
    }),
  );
  const cli = startCli(['run', 'indexer'], { TIDEWATCH_CONFIG: file, KAFKA_BROKERS: '', ELASTICSEARCH_URL: '' });
  cleanups.push(() => cli.stop());
  const url = `http://127.0.0.1:${port}/`;
  const ok = await until(async () => {
    const h = await health(url).catch(() => undefined);
    return h?.code === 200 && h.body.checks.started?.ok && h.body.checks.elasticsearch?.ok && h;
  }, `the indexer's /healthz to answer healthy (stderr: ${cli.stderr().slice(-2000)})`, 90_000);
  assert.equal(ok.body.status, 'ok');

  await proxy.close();
  const down = await until(async () => {
    const h = await health(url);
    return h.code === 503 && h;
  }, '/healthz to turn unhealthy with Elasticsearch unreachable', 30_000);
  assert.equal(down.body.status, 'unhealthy');
  assert.equal(down.body.checks.elasticsearch?.fatal, true);
  assert.match(down.body.checks.elasticsearch?.reason ?? '', /Elasticsearch at http:\/\/127\.0\.0\.1:\d+ is not reachable/);
  assert.equal(down.body.checks.kafka?.ok, true, 'only the unreachable engine is blamed');

  await proxy.open();
  await until(async () => (await health(url)).code === 200, '/healthz to be healthy again once Elasticsearch is reachable', 30_000);

  const families = await scrape(url);
  for (const n of ['tidewatch_indexer_records_indexed_total', 'tidewatch_indexer_records_dead_lettered_total', 'tidewatch_consumer_lag_records', 'tidewatch_indexer_bulk_duration_seconds', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
    assert.ok(families.has(n), `${n} exposed`);
  }
  assert.equal(families.get('tidewatch_indexer_records_indexed_total')?.type, 'COUNTER');
  assert.equal(await cli.stop(), 0);
});

test('`tidewatch run analyzer` and `run alerter` serve their metrics and health (real Kafka + Elasticsearch)', async () => {
  const name = uniqueName('it-metrics-run');
  cleanups.push(() => dropIndices(testElasticsearchUrl(), name));
  const dir = mkdtempSync(join(tmpdir(), 'tidewatch-metrics-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const rulesFile = join(dir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify({ rules: [{ name: 'silence', kind: 'silence', schedule: '* * * * * *' }] }));
  const [analyzerPort, alerterPort] = [await freePort(), await freePort()];
  const base = {
    kafka: { brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 2 },
    elasticsearch: { url: testElasticsearchUrl(), indexPrefix: name },
    analyzer: { groupId: `${name}-analyzer`, networkGroupId: `${name}-network`, networkTopic: `${name}.network`, tickSecs: 1 },
    alerter: { rulesFile, findingsTopic: `${name}.findings`, groupId: `${name}-alerter` },
  };
  const configFile = (port: number) => {
    const file = join(dir, `config-${port}.json`);
    writeFileSync(file, JSON.stringify({ ...base, metrics: { port, probeSecs: 0.5 } }));
    return file;
  };
  const env = (port: number) => ({ TIDEWATCH_CONFIG: configFile(port), KAFKA_BROKERS: '', ELASTICSEARCH_URL: '' });
  const analyzer = startCli(['run', 'analyzer'], env(analyzerPort));
  cleanups.push(() => analyzer.stop());
  const alerter = startCli(['run', 'alerter'], env(alerterPort));
  cleanups.push(() => alerter.stop());
  const analyzerUrl = `http://127.0.0.1:${analyzerPort}/`;
  const alerterUrl = `http://127.0.0.1:${alerterPort}/`;
  for (const [url, cli] of [[analyzerUrl, analyzer], [alerterUrl, alerter]] as const) {
    await until(async () => (await health(url).catch(() => undefined))?.code === 200, `${url}healthz healthy (stderr: ${cli.stderr().slice(-2000)})`, 90_000);
  }

  const transport = new KafkaTransport(configSchema.parse(base).kafka!);
  cleanups.push(() => transport.close());
  const publisher = await transport.publisher();
  await publisher.publish(events(name, 120, 0));
  const m = await until(async () => {
    const s = await scrape(analyzerUrl);
    // The lag is read every probeSecs, not with each batch: wait for a reading too.
    return total(s, 'tidewatch_analyzer_records_analysed_total', { stage: 'channel' }) === 120 && total(s, 'tidewatch_analyzer_records_analysed_total', { stage: 'network' }) === 120 &&
      total(s, 'tidewatch_consumer_lag_records', { group: `${name}-analyzer` }) !== undefined && s;
  }, 'both analyzer stages to have analysed the 120 events, and their lag read', 90_000);
  assert.ok(total(m, 'tidewatch_analyzer_snapshot_size_bytes')! >= 2, 'snapshots saved and measured');
  assert.ok(total(m, 'tidewatch_analyzer_snapshot_save_duration_seconds')! >= 2);
  assert.notEqual(total(m, 'tidewatch_consumer_lag_records', { group: `${name}-analyzer` }), undefined, 'the analyzer lag is read');
  assert.ok(m.has('tidewatch_analyzer_findings_written_total'));
  // No indexer runs here: late events wait for one to store them, and the backlog says so.
  assert.equal(total(m, 'tidewatch_analyzer_reanalysis_runs_total'), 0);
  assert.ok(m.has('tidewatch_analyzer_reanalysis_pending'));

  const a = await until(async () => {
    const s = await scrape(alerterUrl);
    return (total(s, 'tidewatch_alerter_evaluations_total', { outcome: 'ok' }) ?? 0) >= 2 && s;
  }, 'the alerter to evaluate its every-second rule', 30_000);
  assert.ok(Math.abs(total(a, 'tidewatch_alerter_last_evaluation_timestamp_seconds', { rule: 'silence' })! - Date.now() / 1000) < 30);
  assert.equal(total(a, 'tidewatch_health_check_ok', { check: 'alerter' }), 1);
  assert.equal(total(a, 'tidewatch_health_check_ok', { check: 'elasticsearch' }), 1);
  assert.equal(await analyzer.stop(), 0);
  assert.equal(await alerter.stop(), 0);
});
