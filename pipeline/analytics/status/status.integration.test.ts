import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elasticsearchSchema, kafkaSchema } from '../../config/index.ts';
import type { ActivityEvent } from '../../events/index.ts';
import { createLogger, setLogger } from '../../log.ts';
import { collectorSchema, createCollector, TokenBucket, watchListSchema } from '../../producers/collector/index.ts';
import type { CollectorStatusUpdate } from '../../watch/status.ts';
import { FakeClock } from '../../producers/collector/testing.ts';
import { startFixtureServer } from '../../producers/preview/fixture-server.ts';
import { PreviewSource } from '../../producers/preview/source.ts';
import { createEsClient } from '../../store/elasticsearch/client.ts';
import { EsStore } from '../../store/elasticsearch/store.ts';
import { KafkaTransport } from '../../transport/kafka/transport.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from '../../../test/engines.ts';
import { analyticsOptions } from '../options.ts';
import { statusCore } from './core.ts';
import type { StatusAlertDoc, StatusOutput, StatusStoreDoc } from './types.ts';

/**
 * End to end on the real engines: the preview collector against the local fixture server, its
 * events through Kafka into the status core, its status stream straight in (as the collector
 * hands it over), and the status documents into Elasticsearch. The first poll's reports are held
 * until its events are through Kafka, and its records are then delivered a second time: the
 * orders at-least-once delivery can produce. The fixture server then fails for every channel for
 * twelve hours, and comes back.
 */
setLogger(createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));

const name = uniqueName('it-status');
const kafka = kafkaSchema.parse({ brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 1 });
const es = elasticsearchSchema.parse({ url: testElasticsearchUrl(), indexPrefix: name });
const client = createEsClient(es);
const transport = new KafkaTransport(kafka);
const cleanup: (() => Promise<unknown>)[] = [];

after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
  await client.indices.delete({ index: `${name}-*` }).catch(() => {});
  await client.indices.deleteIndexTemplate({ name: `${name}-*` }).catch(() => {});
  await client.close();
});

async function waitFor(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the preview failing for every watched channel: one source alert, no silence alert, statuses back after recovery', async () => {
  const server = await startFixtureServer();
  cleanup.push(() => server.close());
  const handles = ['chan_alpha', 'chan_beta', 'chan_gamma'];
  const serveAll = () => handles.forEach((h) => server.serve(`/s/${h}`, 'channel_first.html'));
  serveAll();

  const clock = new FakeClock(Date.parse('2024-10-01T12:00:00Z'));
  const options = collectorSchema.parse({
    name: 'it', preview: { baseUrl: server.baseUrl, retries: 1, retryInitialDelayMs: 10, retryMaxDelayMs: 50, requestsPerMinute: 6000, burstRequests: 100 },
  });
  const limiter = new TokenBucket(options.preview, clock);
  await transport.ensureTopics();
  cleanup.push(() => transport.close());
  const publisher = await transport.publisher();
  cleanup.push(() => publisher.close());

  const watchList = watchListSchema.parse(handles.map((handle) => ({ handle, network: 'it-net' })));
  // The fixture channels posted once, months before "now": warmed up at once, they are silent.
  const st = statusCore.init(analyticsOptions({ gaps: { warmupDays: 0, warmupEvents: 1 } }), watchList, clock.now());
  const docs: StatusStoreDoc[] = [];
  const alerts: StatusAlertDoc[] = [];
  const keep = (o: StatusOutput) => {
    docs.push(...o.changes, ...o.alerts);
    alerts.push(...o.alerts);
  };

  const consume = async (group: string, count: (n: number) => void) => {
    const sub = await transport.subscribe({ groupId: group, fromBeginning: true }, async (batch) => {
      for (const r of batch.records) keep(statusCore.step(st, JSON.parse(r.value.toString('utf8')) as ActivityEvent));
      count(batch.records.length);
    });
    cleanup.push(() => sub.stop());
  };
  let received = 0;
  await consume(`${name}-status`, (n) => (received += n));

  // Null once the first poll's reports have been released.
  let held: CollectorStatusUpdate[] | null = [];
  const collector = await createCollector({
    options, watchList, source: new PreviewSource(options.preview, limiter, clock), limiter, publisher,
    stateFile: join(mkdtempSync(join(tmpdir(), 'tidewatch-status-it-')), 'it.json'), storeText: false, clock,
    onStatus: (u) => (held === null ? keep(statusCore.observe(st, u)) : held.push(u)),
  });
  cleanup.push(() => collector.stop());
  const poll = async (advanceMs: number) => {
    clock.ms += advanceMs;
    await collector.runOnce();
    keep(statusCore.tick(st, clock.now()));
  };

  // The first poll: its events stepped before the collector's reports of the same channels, the
  // order in which each backlog post used to re-open or correct the silence (issue 23).
  await collector.runOnce();
  await waitFor(() => received >= 21, 'the first poll\'s 21 events through Kafka');
  const reports = held;
  held = null;
  for (const u of reports) keep(statusCore.observe(st, u));
  keep(statusCore.tick(st, clock.now()));
  const statusOf = () => Object.fromEntries(statusCore.docs(st).map((d) => [d.subject, d.status]));
  const before = statusOf();
  assert.deepEqual(before, { chan_alpha: 'silent', chan_beta: 'silent', chan_gamma: 'silent' });
  const alertsBefore = alerts.length;
  assert.deepEqual(alerts.map((a) => `${a.kind}:${a.subject}`).sort(), ['network_silence:it-net', 'silence:chan_alpha', 'silence:chan_beta', 'silence:chan_gamma']);
  assert.deepEqual(alerts.map((a) => a.start), alerts.map(() => '2024-05-01T05:05:00.000Z'), 'every silence began after the last post');

  // The same records delivered again (as after a rebalance), and the same reports: nothing changes.
  const docsBefore = docs.length;
  let redelivered = 0;
  await consume(`${name}-status-again`, (n) => (redelivered += n));
  await waitFor(() => redelivered >= 21, 'the 21 events delivered a second time');
  for (const u of reports) keep(statusCore.observe(st, u));
  keep(statusCore.tick(st, clock.now()));
  assert.deepEqual(docs.slice(docsBefore), [], 'a redelivery opens, corrects and changes nothing');
  assert.deepEqual(statusOf(), before);

  for (const h of handles) server.routes.set(`/s/${h}`, { status: 503, body: 'down for maintenance' });
  await poll(10 * 60_000);
  assert.deepEqual(statusOf(), { chan_alpha: 'unknown', chan_beta: 'unknown', chan_gamma: 'unknown' });
  for (let i = 0; i < 6; i++) await poll(2 * 3_600_000);
  const during = alerts.slice(alertsBefore);
  assert.deepEqual(during.map((a) => `${a.kind}:${a.subject}:${a.end === null ? 'open' : 'end'}`), ['source:it:open']);
  assert.deepEqual([...during[0]!.members], handles);

  serveAll();
  await poll(10 * 60_000);
  assert.deepEqual(statusOf(), before, 'back to the real status');
  const after = alerts.slice(alertsBefore);
  assert.deepEqual(after.map((a) => `${a.kind}:${a.subject}:${a.end === null ? 'open' : a.endReason}`), ['source:it:open', 'source:it:recovered'], 'no silence alert opened or ended by the outage');

  const store = new EsStore(client, es, { flushBytes: 1_000_000, concurrency: 1 });
  await store.setup();
  const results = await store.writeFindings([...docs, ...statusCore.docs(st)]);
  assert.deepEqual(results.filter((r) => r.status === 'failed'), []);
  await store.refresh();
  const stored = await store.findings('status', { limit: 100 });
  assert.deepEqual(Object.fromEntries(stored.map((d) => [d.subject, d.status])), before);
  assert.equal(await store.countFindings('status_alert', { subject: 'it' }), 1, 'the source episode, updated in place');
  assert.equal(await store.countFindings('status_alert', { open: true }), 4, 'the three silences and their network\'s, still open');
  assert.ok((await store.countFindings('status_change')) >= 9);
});
