import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Alerter } from '../consumers/alerter/alerter.ts';
import { webhookSchema } from '../consumers/alerter/options.ts';
import { parseRules } from '../consumers/alerter/rules.ts';
import { WebhookSink } from '../consumers/alerter/sinks.ts';
import { Analyzer } from '../consumers/analyzer/analyzer.ts';
import { EsSnapshotStore } from '../consumers/analyzer/snapshots-es.ts';
import { configSchema } from '../pipeline/config/index.ts';
import { buildEvent } from '../pipeline/events/index.ts';
import { createLogger } from '../pipeline/log.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { createStore } from '../pipeline/store/index.ts';
import type { AlertRecord } from '../pipeline/store/types.ts';
import { createTransport } from '../pipeline/transport/index.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from './engines.ts';

/**
 * Live mode end to end on Kafka + Elasticsearch with a compressed clock (1 s = 10 min): a channel
 * stops posting -> its gap opens on the wall clock and one alert reaches a webhook; it posts again
 * -> the gap closes and a recovery notice follows; a burst -> a spike alert within 5 s. The
 * latencies are measured and printed.
 */
const SPEED = 600;
const MIN = 60_000;
const HOUR = 60 * MIN;
const name = uniqueName('it-live');
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const t0 = Date.now();
const simStart = Date.UTC(2026, 0, 5);
const now = (): number => simStart + (Date.now() - t0) * SPEED;
const realAt = (simMs: number): number => t0 + (simMs - simStart) / SPEED;

const config = configSchema.parse({
  kafka: { brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 2 },
  elasticsearch: { url: testElasticsearchUrl(), indexPrefix: name },
  analytics: { allowedLatenessSecs: 60, gaps: { warmupDays: 0, warmupEvents: 10, floorHours: 1 }, spikes: { warmupDays: 0 } },
  analyzer: { groupId: `${name}-analyzer`, networkGroupId: `${name}-network`, networkTopic: `${name}.network`, mode: 'live', tickSecs: 0.5 },
});

const received: { at: number; alert: AlertRecord }[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('live: silence -> alert, recovery -> notice, burst -> spike alert; latencies measured', async () => {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ at: Date.now(), alert: JSON.parse(body) as AlertRecord });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  const es = createEsClient(config.elasticsearch!);
  cleanups.push(async () => {
    await es.indices.delete({ index: `${name}-*` });
    await es.indices.deleteIndexTemplate({ name: `${name}-*` });
    await es.close();
  });
  const store = await createStore(config);
  await store.setup();
  cleanups.push(() => store.close());
  const snapshots = new EsSnapshotStore(es, name);
  await snapshots.setup();
  const transport = await createTransport(config);
  const network = await createTransport({ ...config, kafka: { ...config.kafka!, topic: config.analyzer.networkTopic, partitions: 1 } });
  await transport.ensureTopics();
  await network.ensureTopics();
  cleanups.push(() => Promise.all([transport.close(), network.close()]));

  const analyzer = new Analyzer({
    transport, network, sourcePartitions: 2, store, snapshots,
    options: { ...config.analyzer, instanceId: 'live', storeText: false }, analytics: config.analytics, log, now,
  });
  const sub = await analyzer.start();
  cleanups.push(() => sub.stop());
  const rules = parseRules({
    rules: [
      // Every second here: the compressed clock makes a second ten minutes.
      { name: 'silence', kind: 'silence', scope: 'channel', schedule: '* * * * * *' },
      { name: 'spike', kind: 'spike', scope: 'channel', schedule: '*/2 * * * * *' },
    ],
  }, 'test');
  const alerter = new Alerter({
    store, rules, now, log,
    sinks: [new WebhookSink(webhookSchema.parse({ name: 'ops', url }), log)],
    options: { retries: 3, retryInitialDelayMs: 100, retryMaxDelayMs: 1_000 },
  });
  await alerter.start();
  cleanups.push(() => alerter.stop());

  const publisher = await transport.publisher();
  const post = (ch: string, t: number, i: number) =>
    buildEvent({ timestamp: t, action: 'post', channel: { id: ch, handle: ch, network: 'net' }, message: { id: `${ch}-${i}` }, source: { type: 'test' } });
  // A day of history, a post every 10 minutes per channel, then live posting at the same pace.
  const history = [];
  for (let t = now() - 26 * HOUR, i = 0; t < now(); t += 10 * MIN, i++) history.push(post('a', t, i), post('b', t, i));
  await publisher.publish(history);
  const active = new Set(['a', 'b']);
  let seq = 10_000;
  const live = setInterval(() => void publisher.publish([...active].map((ch) => post(ch, now(), seq++))).catch(() => {}), 1_000);
  cleanups.push(async () => clearInterval(live));
  await until(() => analyzer.stats.channel.records >= history.length, 'the history analysed');

  // a stops posting.
  active.delete('a');
  const silenced = await until(() => received.find((r) => r.alert.rule === 'silence' && r.alert.state === 'firing'), 'the silence alert');
  const gap = (await store.findings('gap', { subject: 'a' }))[0]!;
  assert.equal(gap.end, null);
  const crossedReal = realAt(Date.parse(gap.start) + gap.baselineHours * HOUR);
  const silenceLatencyMs = silenced.at - crossedReal;

  // a posts again: the gap closes in place and a recovery notice follows.
  active.add('a');
  const recovered = await until(() => received.find((r) => r.alert.rule === 'silence' && r.alert.state === 'resolved'), 'the recovery notice');
  assert.equal(recovered.alert.id, silenced.alert.id);
  await store.refresh();
  const closed = (await store.findings('gap', { subject: 'a' })).find((g) => g.id === gap.id)!;
  assert.notEqual(closed.end, null);

  // A burst on b: 40 posts in a minute, where 1 is usual.
  const burstAt = Date.now();
  const t = now();
  await publisher.publish(Array.from({ length: 40 }, (_, i) => post('b', t + i * 1000, 50_000 + i)));
  const spiked = await until(() => received.find((r) => r.alert.rule === 'spike' && r.alert.subject === 'channel:b'), 'the spike alert', 20_000);
  const spikeLatencyMs = spiked.at - burstAt;

  await alerter.idle();
  const silenceAlerts = received.filter((r) => r.alert.rule === 'silence' && r.alert.subject === 'channel:a');
  assert.deepEqual(silenceAlerts.map((r) => r.alert.state), ['firing', 'resolved'], 'one alert per gap, one recovery: not one per evaluation');
  const report = { silenceLatencyMs: Math.round(silenceLatencyMs), silenceScheduleMs: 1_000, analyzerTickMs: 500, spikeLatencyMs, spikeScheduleMs: 2_000 };
  process.stderr.write(`alert latency: ${JSON.stringify(report)}\n`);
  assert.ok(spikeLatencyMs < 5_000, `spike alert within 5 s: ${spikeLatencyMs} ms`);
  // One scheduler tick (1 s here), plus the analyzer's tick and the index refresh (1 s).
  assert.ok(silenceLatencyMs < 1_000 + 500 + 1_000 + 500, `silence alert within a tick of the threshold: ${silenceLatencyMs} ms`);
});
