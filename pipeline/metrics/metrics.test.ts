import { test } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { loadConfig } from '../config/index.ts';
import { retryWindowMs } from '../retry.ts';
import { createLogger } from '../log.ts';
import type { Batch, SubscribeOptions, Transport } from '../transport/types.ts';
import { ConsumerLag, finished, Health, Metrics, newLagTracker, observeLag } from './index.ts';

const progress = (committed: string | null, end: string) => [{ partition: 0, start: '0', end, committed }];

test('lag: records after the committed offset; a partition waiting with no commit for stallMs is stalled', () => {
  const t = newLagTracker();
  assert.deepEqual(observeLag(t, progress(null, '0'), 0, 1_000), [{ partition: 0, records: 0, seconds: 0, stalledMs: 0, stalled: false }]);
  // Records arrive; nothing committed yet and no record finished here: seconds unknown.
  let [p] = observeLag(t, progress(null, '50'), 100, 1_000);
  // Stalled is counted from when the partition was last caught up or its commit last moved.
  assert.deepEqual(p, { partition: 0, records: 50, seconds: undefined, stalledMs: 100, stalled: false });
  [p] = observeLag(t, progress(null, '50'), 1_000, 1_000);
  assert.equal(p!.stalled, true, 'caught up last at t=0, no commit since');
  // A commit moves: not stalled any more; seconds from the last finished record's event time.
  finished(t, 0, 500);
  [p] = observeLag(t, progress('40', '50'), 1_200, 1_000);
  assert.deepEqual(p, { partition: 0, records: 10, seconds: 0.7, stalledMs: 0, stalled: false });
  [p] = observeLag(t, progress('50', '50'), 9_000, 1_000);
  assert.deepEqual(p, { partition: 0, records: 0, seconds: 0, stalledMs: 0, stalled: false });
});

test('health: a failing check is not ready at once and not live only after its grace', () => {
  let now = 0;
  const h = new Health(() => now);
  h.define('elasticsearch', { graceMs: 5_000 });
  let heartbeatAgeMs = 0;
  h.register('collector', () => (heartbeatAgeMs > 300_000 ? { ok: false, reason: 'no heartbeat' } : { ok: true }));
  assert.deepEqual(h.verdict(), { live: true, ready: true, checks: { elasticsearch: { ok: true, failingSecs: 0, fatal: false }, collector: { ok: true, failingSecs: 0, fatal: false } } });
  h.report('elasticsearch', { ok: false, reason: 'unreachable' });
  now = 4_000;
  h.report('elasticsearch', { ok: false, reason: 'unreachable' });
  let v = h.verdict();
  assert.equal(v.ready, false);
  assert.equal(v.live, true, 'within the retry window');
  now = 5_000;
  v = h.verdict();
  assert.equal(v.live, false);
  assert.deepEqual(v.checks.elasticsearch, { ok: false, reason: 'unreachable', failingSecs: 5, fatal: true });
  h.report('elasticsearch', { ok: true });
  heartbeatAgeMs = 400_000;
  v = h.verdict();
  assert.equal(v.live, false);
  assert.deepEqual(v.checks.collector, { ok: false, reason: 'no heartbeat', failingSecs: 0, fatal: true });
  assert.equal(v.checks.elasticsearch?.ok, true);
});

test('the exposition parses as Prometheus text: counters read from stats, labelled gauges, histograms, process metrics', async () => {
  const m = new Metrics();
  const stats = { indexed: 3 };
  m.countOf('tidewatch_test_indexed_total', 'indexed', () => stats.indexed);
  m.gaugeOf('tidewatch_test_lag_records', 'lag', () => [{ labels: { partition: 0 }, value: 7 }, { labels: { partition: 1 }, value: 0 }], ['partition']);
  const h = m.histogram('tidewatch_test_duration_seconds', 'latency');
  h.observe(0.02);
  m.health.define('kafka', { initial: { ok: false, reason: 'starting' } });
  stats.indexed = 5;
  const families = new Map((parsePrometheusTextFormat(await m.exposition()) as { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; count?: string }[] }[]).map((f) => [f.name, f]));
  assert.deepEqual(families.get('tidewatch_test_indexed_total'), { name: 'tidewatch_test_indexed_total', help: 'indexed', type: 'COUNTER', metrics: [{ value: '5' }] });
  assert.deepEqual(families.get('tidewatch_test_lag_records')?.metrics, [{ value: '7', labels: { partition: '0' } }, { value: '0', labels: { partition: '1' } }]);
  assert.equal(families.get('tidewatch_test_duration_seconds')?.type, 'HISTOGRAM');
  assert.equal(families.get('tidewatch_test_duration_seconds')?.metrics[0]?.count, '1');
  assert.deepEqual(families.get('tidewatch_health_check_ok')?.metrics, [{ value: '0', labels: { check: 'kafka' } }]);
  assert.ok(families.has('process_resident_memory_bytes'));
  assert.ok(families.has('nodejs_eventloop_lag_seconds'));
  m.close();
});

test('config: metrics.host / metrics.port from the environment; bad values listed with their path', () => {
  const c = loadConfig({ env: { TIDEWATCH_METRICS_PORT: '9999', TIDEWATCH_METRICS_HOST: '0.0.0.0' } });
  assert.equal(c.metrics.port, 9999);
  assert.equal(c.metrics.host, '0.0.0.0');
  assert.equal(loadConfig({ env: {} }).metrics.port, undefined, 'each process has its own default');
  assert.throws(() => loadConfig({ env: { TIDEWATCH_METRICS_PORT: 'x' } }), /metrics\.port/);
  assert.throws(() => loadConfig({ env: {}, overrides: { metrics: { prot: 1 } } }), /metrics: unknown key\(s\) "prot"/);
});

test('the retry window is the sum of the backoff delays without jitter', () => {
  assert.equal(retryWindowMs({ retries: 3, initialDelayMs: 100, maxDelayMs: 250 }), 100 + 200 + 250);
  assert.equal(retryWindowMs({ retries: 0, initialDelayMs: 100, maxDelayMs: 250 }), 0);
});

test('consumer lag: per partition from the offsets, stalls only for partitions this process owns, transport check with its grace', async () => {
  let now = 1_000_000;
  const ends = ['10', '10'];
  const committed: (string | null)[] = [null, null];
  let down = false;
  let assigned: ((topic: string, partitions: number[]) => void) | undefined;
  const handlers: ((b: Batch) => Promise<void>)[] = [];
  const transport = {
    kind: 'kafka',
    progress: async () => {
      if (down) throw new Error('Kafka at k:9092: cannot read the offsets');
      return ends.map((end, partition) => ({ partition, start: '0', end, committed: committed[partition]! }));
    },
    subscribe: async (o: SubscribeOptions, h: (b: Batch) => Promise<void>) => {
      assigned = o.onAssigned;
      handlers.push(h);
      return { stop: async () => {}, crashed: new Promise<Error>(() => {}) };
    },
  } as unknown as Transport;
  const m = new Metrics({ now: () => now, processMetrics: false });
  const lag = new ConsumerLag(m, { probeMs: 1_000, stallMs: 60_000, transportGraceMs: 30_000, log: createLogger('silent'), now: () => now }, 'kafka');
  const watched = lag.watch(transport, 'g', 't');
  await watched.subscribe({ groupId: 'g' }, async () => {});
  assigned!('t', [1]);
  const record = (ts: string) => ({ topic: 't', partition: 0, offset: '4', key: null, value: Buffer.from(JSON.stringify({ '@timestamp': ts })) });
  await handlers[0]!({ topic: 't', partition: 0, records: [record('1970-01-01T00:16:00.000Z')], heartbeat: async () => {}, isStale: () => false });
  await lag.probe();
  now += 120_000;
  await lag.probe();
  assert.deepEqual(lag.total('g'), { records: 20, atMs: now });
  const v = m.health.verdict();
  // Both have waited 120 s without a commit; only partition 1 is ours (partition 0 is another member's to report).
  assert.equal(v.checks.partitions?.ok, false);
  assert.match(v.checks.partitions?.reason ?? '', /^stalled: t\[1\] \(group g, 10 records waiting, no commit for 120 s\)$/);
  const families = new Map((parsePrometheusTextFormat(await m.exposition()) as { name: string; metrics: { value: string; labels: Record<string, string> }[] }[]).map((f) => [f.name, f]));
  assert.deepEqual(families.get('tidewatch_consumer_lag_records')?.metrics.map((s) => [s.labels.partition, s.value]), [['0', '10'], ['1', '10']]);
  // Seconds only where this process finished a record: partition 0, event time 960 s after the epoch.
  assert.deepEqual(families.get('tidewatch_consumer_lag_seconds')?.metrics.map((s) => [s.labels.partition, s.value]), [['0', String((now - 960_000) / 1000)]]);

  down = true;
  await lag.probe();
  assert.equal(m.health.verdict().checks.kafka?.fatal, false, 'within kafkajs\' own retries');
  now += 30_000;
  await lag.probe();
  assert.deepEqual(m.health.verdict().checks.kafka, { ok: false, reason: 'Kafka at k:9092: cannot read the offsets', failingSecs: 30, fatal: true });
  down = false;
  await lag.probe();
  assert.equal(m.health.verdict().checks.kafka?.ok, true);
  m.close();
});
