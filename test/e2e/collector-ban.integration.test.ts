import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { openCollect } from '../../cli/commands/collect.ts';
import { watchListOf } from '../../cli/commands/status.ts';
import { Alerter } from '../../consumers/alerter/alerter.ts';
import { loadRules } from '../../consumers/alerter/rules.ts';
import { WebhookSink } from '../../consumers/alerter/sinks.ts';
import { Analyzer } from '../../consumers/analyzer/analyzer.ts';
import { EsSnapshotStore } from '../../consumers/analyzer/snapshots-es.ts';
import { Indexer } from '../../consumers/indexer/indexer.ts';
import { BUNDLED_CATALOGUE } from '../../pipeline/analytics/links.ts';
import { configSchema } from '../../pipeline/config/index.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import { createLogger, setLogger } from '../../pipeline/log.ts';
import { systemClock, type Clock } from '../../pipeline/clock.ts';
import { mergeWatchLists, WatchListFile } from '../../pipeline/watch/watch-list.ts';
import { previewChannelPage, startFixtureServer } from '../../pipeline/producers/preview/fixture-server.ts';
import { checkEsHealth, createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { EsEventSink } from '../../pipeline/store/elasticsearch/sink.ts';
import { installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { createStore } from '../../pipeline/store/index.ts';
import type { AlertRecord } from '../../pipeline/store/types.ts';
import { createTransport } from '../../pipeline/transport/index.ts';
import type { Subscription } from '../../pipeline/transport/types.ts';
import { KafkaTransport } from '../../pipeline/transport/kafka/transport.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from '../engines.ts';

/**
 * Issue #10 end to end on the real Kafka and Elasticsearch: five channels of one network post
 * through the preview fixture server; four of them start answering with the terms-of-service ban
 * page. The collector (wired as `tidewatch collect` wires it) publishes `channel_banned`, the
 * indexer stores it, the analyzer finds the takedown wave and the alerter sends one alert to a
 * webhook. A banned handle that comes back as a new channel becomes a resurrection.
 *
 * Time: the collector, the analyzer and the alerter share a clock running at real speed from a
 * fixed midday (SIM_START), so the wave's UTC day is known and no run straddles midnight.
 */
const name = uniqueName('it-collect-ban');
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
setLogger(log);

const t0 = Date.now();
const SIM_START = Date.UTC(2026, 0, 5, 12);
const DAY = '2026-01-05';
const clock: Clock = { now: () => SIM_START + (Date.now() - t0), sleep: systemClock.sleep };
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;

const NETWORK = 'e2e-net';
const CHANNELS = [
  { handle: 'wave_alpha', title: 'Alpha Wire', language: 'ar' },
  { handle: 'wave_bravo', title: 'Bravo Dispatch', language: 'ar' },
  { handle: 'wave_charlie', title: 'Charlie Bulletin', language: 'en' },
  { handle: 'wave_delta', title: 'Delta Reports', language: 'fr' },
  { handle: 'wave_echo', title: 'Echo Monitor', language: 'en' },
];
/** Banned: enough for the wave (minChannels 3 below), and it grows once more after it fired. */
const BANNED = ['wave_alpha', 'wave_bravo', 'wave_charlie', 'wave_delta'];
const KEPT = 'wave_echo';

const testdata = new URL('../../pipeline/producers/preview/testdata/', import.meta.url);
const fixture = (file: string) => readFileSync(new URL(file, testdata), 'utf8');
const channelPage = previewChannelPage;

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`));
});

/**
 * Poll `probe` until it returns something truthy. An engine error is a "not yet": a search can
 * race the creation of the index it reads (no_shard_available while the shard starts); it is
 * reported if the deadline passes. A failed assertion is not retried.
 */
async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string | (() => string), timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a ban page becomes channel_banned, a takedown wave and one alert; the handle coming back is a resurrection', async () => {
  const startedAt = Date.now();
  const site = await startFixtureServer();
  cleanups.push(() => site.close());

  const received: AlertRecord[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push(JSON.parse(body) as AlertRecord);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => hook.close(r)));

  const dataDir = mkdtempSync(join(tmpdir(), 'tidewatch-e2e-ban-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const watchFile = join(dataDir, 'watch.json');
  writeFileSync(watchFile, JSON.stringify(CHANNELS.map(({ handle, language }) => ({ handle, language, network: NETWORK }))));
  const rulesFile = join(dataDir, 'rules.json');
  // The shipped rules, on a one-second schedule and with the wave threshold of this test.
  writeFileSync(rulesFile, JSON.stringify({
    rules: [
      { name: 'takedown-wave', kind: 'takedown_wave', severity: 'critical', schedule: '* * * * * *', minChannels: 3 },
      { name: 'resurrection', kind: 'resurrection', severity: 'warning', schedule: '* * * * * *' },
    ],
  }));

  const config = configSchema.parse({
    dataDir,
    kafka: { brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 2 },
    elasticsearch: { url: testElasticsearchUrl(), indexPrefix: name },
    indexer: { groupId: `${name}-indexer` },
    analytics: { allowedLatenessSecs: 2, takedowns: { minChannels: 3 } },
    analyzer: { groupId: `${name}-analyzer`, networkGroupId: `${name}-network`, networkTopic: `${name}.network`, mode: 'live', tickSecs: 0.5, idleSecs: 2, instanceId: 'e2e' },
    alerter: {
      rulesFile,
      log: false,
      webhooks: [{ name: 'ops', url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, retryInitialDelayMs: 100, retryMaxDelayMs: 500 }],
      retryInitialDelayMs: 100,
      retryMaxDelayMs: 1_000,
    },
    collector: {
      name: 'e2e',
      watchListFile: watchFile,
      // Every channel polled every second or two, gone ones too (maxIntervalSecs).
      tickSecs: 1,
      minIntervalSecs: 1,
      maxIntervalSecs: 1,
      jitterRatio: 0,
      concurrency: 5,
      preview: { baseUrl: site.baseUrl, requestsPerMinute: 6_000, burstRequests: 50, retryInitialDelayMs: 50, retryMaxDelayMs: 200 },
    },
  });
  const kafka = config.kafka!;
  const esConfig = config.elasticsearch!;
  cleanups.push(async () => {
    const admin = new Kafka({ clientId: name, brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [kafka.topic, kafka.dlqTopic, config.analyzer.networkTopic] }).catch(() => {});
    await admin.disconnect();
  });

  // A day of posting, one post every two hours, before the collector first looks.
  const history = new Map(CHANNELS.map((c) => [c.handle, Array.from({ length: 12 }, (_, i) => ({ id: 101 + i, at: SIM_START - 24 * HOUR + (i + 1) * 2 * HOUR - 60_000 }))]));
  const servePosts = (handle: string) => {
    const c = CHANNELS.find((x) => x.handle === handle)!;
    site.routes.set(`/s/${handle}`, { body: channelPage(handle, c.title, history.get(handle)!) });
  };
  for (const c of CHANNELS) servePosts(c.handle);

  // Elasticsearch: cleaned up by prefix whatever happens below.
  const es = createEsClient(esConfig);
  cleanups.push(async () => {
    await es.indices.delete({ index: `${name}-*`, ignore_unavailable: true });
    await es.indices.deleteIndexTemplate({ name: `${name}-*` });
    await es.close();
  });

  // The consumers, wired as `tidewatch run indexer|analyzer|alerter` wire them (cli/commands/run.ts).
  await checkEsHealth(es, esConfig.url);
  await installTemplates(es, esConfig);
  const indexerTransport = new KafkaTransport(kafka);
  await indexerTransport.ensureTopics();
  cleanups.push(() => indexerTransport.close());
  const sink = new EsEventSink(es, esConfig, config.indexer);
  const indexer = new Indexer({ transport: indexerTransport, sink, deadLetters: await indexerTransport.deadLetters(), options: { ...config.indexer, storeText: config.storeText }, log });

  const store = await createStore(config);
  await store.setup();
  cleanups.push(() => store.close());
  const snapshots = new EsSnapshotStore(es, esConfig.indexPrefix);
  await snapshots.setup();
  const transport = await createTransport(config);
  const network = await createTransport({ ...config, kafka: { ...kafka, topic: config.analyzer.networkTopic, partitions: 1 } });
  await transport.ensureTopics();
  await network.ensureTopics();
  cleanups.push(() => Promise.all([transport.close(), network.close()]));
  const listFile = new WatchListFile(config.collector.watchListFile!);
  const analyzer = new Analyzer({
    transport, network, sourcePartitions: kafka.partitions, store, snapshots,
    options: { ...config.analyzer, instanceId: config.analyzer.instanceId!, storeText: config.storeText },
    analytics: config.analytics, catalogue: BUNDLED_CATALOGUE,
    watchList: watchListOf(config, undefined),
    reloadWatchList: () => { const l = listFile.readIfChanged(); return l && mergeWatchLists(config.watchList, l); },
    log, now: clock.now,
  });

  const alerter = new Alerter({
    store, rules: loadRules(config.alerter.rulesFile), now: clock.now, log, options: config.alerter,
    sinks: config.alerter.webhooks.map((w) => new WebhookSink(w, log)),
  });

  const indexing = await indexer.start();
  let analysing: Subscription | undefined;
  // Side by side: each waits out a Kafka fetch as it leaves its group.
  cleanups.push(() => Promise.all([indexing.stop(), analysing?.stop()]));
  analysing = await analyzer.start();
  await alerter.start();
  cleanups.push(() => alerter.stop());

  const collect = await openCollect(config, log, { clock });
  cleanups.push(() => collect.close());
  collect.collector.start();
  cleanups.push(() => collect.collector.stop());
  const health = (handle: string) => collect.collector.channels().find((c) => c.handle === handle);

  // Activity index helpers (the indexer's output, read straight from Elasticsearch).
  const activity = async (query: object): Promise<ActivityEvent[]> => {
    await es.indices.refresh({ index: `${name}-activity-*`, ignore_unavailable: true, allow_no_indices: true });
    const r = await es.search<ActivityEvent>({ index: `${name}-activity-*`, ignore_unavailable: true, allow_no_indices: true, size: 1_000, query });
    return r.hits.hits.map((h) => {
      assert.equal(h._id, h._source!.event.id, 'documents are keyed by event id');
      return h._source!;
    });
  };
  const byAction = (action: string) => activity({ term: { 'event.action': action } });

  // 1. Normal posting: every channel created, its day of posts indexed; then one new post each,
  //    seen live by the next polls.
  const posts = await until(async () => {
    const found = await byAction('post');
    return found.length === CHANNELS.length * 12 && found;
  }, () => `the history of every channel indexed (indexer ${JSON.stringify(indexer.stats)}, collector ${JSON.stringify(collect.collector.heartbeat())})`, 30_000);
  assert.deepEqual(new Set(posts.map((e) => e.channel.id)), new Set(CHANNELS.map((c) => `tg:${c.handle}`)));
  const liveAt = clock.now();
  for (const c of CHANNELS) {
    history.get(c.handle)!.push({ id: 113, at: liveAt });
    servePosts(c.handle);
  }
  await until(async () => (await byAction('post')).filter((e) => e.message?.id === '113').length === CHANNELS.length, 'the live post of every channel');
  // Seen mid-life (post 1 never on a page): first sight, not creation.
  assert.equal((await byAction('channel_first_seen')).length, CHANNELS.length);
  assert.equal((await byAction('channel_created')).length, 0);

  // 2. The ban: /s/<handle> no longer shows a preview and the post embed says Terms of Service.
  const banFrom = clock.now();
  for (const handle of BANNED) {
    site.routes.set(`/s/${handle}`, { status: 302, headers: { location: `/${handle}` } });
    site.serve(`/${handle}/113?embed=1&mode=tme`, 'embed_tos.html');
  }
  await until(() => BANNED.every((h) => health(h)?.health === 'gone'), 'the collector to see the bans');
  const banTo = clock.now();

  // The exact channel_banned events, once each, in the activity index.
  const banned = await until(async () => {
    const found = await byAction('channel_banned');
    return found.length >= BANNED.length && found;
  }, 'channel_banned indexed');
  assert.deepEqual(banned.map((e) => e.channel.id).sort(), BANNED.map((h) => `tg:${h}`));
  for (const e of banned) {
    const c = CHANNELS.find((x) => `tg:${x.handle}` === e.channel.id)!;
    assert.deepEqual(e.channel, { id: `tg:${c.handle}`, handle: c.handle, title: c.title, language: c.language, network: NETWORK });
    assert.equal(e.platform, 'telegram');
    assert.equal(e.subscribers, 1_200_000, 'the last known audience goes with the ban');
    assert.deepEqual(e.source, { type: 'preview', name: c.handle });
    const at = Date.parse(e['@timestamp']);
    assert.ok(at >= banFrom && at <= banTo, `${e.channel.id} banned at ${e['@timestamp']}, between the ban and the collector seeing it`);
  }
  assert.equal(health(KEPT)?.health, 'ok');

  // A takedown finding for the day: the four channels of the network. No lifespans: the collector
  // first saw them mid-life, and first sight is not creation.
  const wave = await until(async () => {
    await store.refresh();
    const f = (await store.findings('takedown')).find((x) => x.day === DAY);
    return f?.channels === BANNED.length && f;
  }, 'the takedown wave with every banned channel');
  // Stamped with the analysis that found it (the options hash).
  const { analysis, ...found } = wave;
  assert.match(analysis ?? '', /^[0-9a-f]{12}$/);
  assert.deepEqual(found, { type: 'takedown', id: `takedown:${DAY}`, day: DAY, channels: 4, languages: 3, networks: [NETWORK], subjects: BANNED, reported: null, wave: true });
  assert.deepEqual(await store.findings('lifespan'), []);

  // One alert, delivered to the webhook and recorded as delivered in the alerts index.
  const alert = await until(() => received.find((a) => a.rule === 'takedown-wave'), 'the takedown-wave alert at the webhook');
  assert.equal(alert.id, `takedown-wave:takedown:${DAY}`);
  assert.equal(alert.findingId, wave.id);
  assert.equal(alert.severity, 'critical');
  assert.equal(alert.subject, `day:${DAY}`);
  const m = new RegExp(`^Takedown wave on 5 Jan 2026: ([34]) channels gone across 3 language\\(s\\) \\(networks ${NETWORK}\\); channels (.+)$`).exec(alert.message);
  assert.ok(m, alert.message);
  const named = m[2]!.split(', ');
  assert.equal(named.length, Number(m[1]));
  assert.deepEqual(named, BANNED.filter((h) => named.includes(h)), 'the banned channels, in order');
  const recorded = await until(async () => {
    await store.refresh();
    const [a] = (await store.findings('alert')).filter((x) => x.rule === 'takedown-wave');
    return a?.deliveries.every((d) => d.status === 'delivered') && a;
  }, 'the delivered alert in the alerts index');
  assert.equal(recorded.id, alert.id);
  assert.deepEqual(recorded.deliveries.map((d) => [d.sink, d.status, d.attempts]), [['webhook:ops', 'delivered', 1]]);

  // More alerter ticks over the grown wave, and more polls of the gone channels: nothing new.
  const evaluations = alerter.stats.evaluations;
  const polls = collect.collector.heartbeat().polls;
  await until(() => alerter.stats.evaluations >= evaluations + 4 && collect.collector.heartbeat().polls >= polls + 2 * CHANNELS.length, 'two more alerter ticks and polls');
  await alerter.idle();
  assert.deepEqual(received.filter((a) => a.rule === 'takedown-wave').map((a) => a.id), [alert.id], 'one alert per wave, however often it is evaluated');
  assert.equal((await byAction('channel_banned')).length, BANNED.length, 'a ban is published once, however often the gone channel is polled');

  // 3. A banned handle comes back: a new channel under it (its ids start again), a successor.
  const back = 'wave_alpha';
  const backAt = clock.now();
  site.routes.set(`/s/${back}`, {
    body: fixture('banned_after.html').replaceAll('banned_channel', back).replaceAll('Soon Banned (new)', 'Alpha Wire (new)').replace('2024-09-01T10:00:00Z', iso(backAt)),
  });
  const created = await until(async () => (await byAction('channel_created')).find((e) => e.channel.id === `tg:${back}~2`), 'the successor channel indexed');
  assert.equal(created.channel.title, 'Alpha Wire (new)');
  assert.equal(created.subscribers, 150);
  const bannedAlpha = banned.find((e) => e.channel.id === `tg:${back}`)!;
  const resurrection = await until(async () => {
    await store.refresh();
    return (await store.findings('resurrection'))[0];
  }, 'the resurrection finding');
  assert.equal(resurrection.id, `resurrection:tg:${back}:tg:${back}~2`);
  assert.equal(resurrection.banned, back);
  assert.equal(resurrection.successor, back);
  assert.equal(resurrection.bannedAt, new Date(bannedAlpha['@timestamp']).toISOString());
  assert.equal(resurrection.createdAt, created['@timestamp']);
  assert.ok(resurrection.delayMinutes > 0 && resurrection.delayMinutes < 5, `delay ${resurrection.delayMinutes} min`);
  // 150 of the predecessor's 1.2M rounds to 0: known (not null), because the ban carried the audience.
  assert.equal(resurrection.regainedShare, 0);
  const resurrected = await until(() => received.find((a) => a.rule === 'resurrection'), 'the resurrection alert at the webhook');
  assert.equal(resurrected.findingId, resurrection.id);
  assert.equal(resurrected.subject, `channel:${back}`);

  await alerter.idle();
  assert.deepEqual(received.map((a) => a.rule).sort(), ['resurrection', 'takedown-wave']);

  // The watch-list status (analyzer network stage), fed by the collector's status stream too:
  // the banned handles gone, the others active, and each one named after the collector watching it.
  const statuses = await until(async () => {
    await store.refresh();
    const docs = new Map((await store.findings('status')).map((d) => [d.subject, d]));
    return docs.get(back)?.status === 'active' && docs;
  }, 'the watch-list status with the handle back');
  assert.deepEqual(
    CHANNELS.map((c) => [c.handle, statuses.get(c.handle)?.status, statuses.get(c.handle)?.collector]),
    CHANNELS.map((c) => [c.handle, BANNED.includes(c.handle) && c.handle !== back ? 'gone' : 'active', 'e2e']),
  );
  assert.ok(analyzer.stats.network.collectorStatus > 0, 'collector status records reached the network stage');
  process.stderr.write(`collector-ban e2e: ${Date.now() - startedAt} ms\n`);
});
