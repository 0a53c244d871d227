import { after, test } from 'node:test';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCollect, openDelivery, type CollectProcess } from '../../cli/commands/collect.ts';
import { startServe, type Serving } from '../../cli/commands/serve.ts';
import type { AlertSink } from '../../consumers/alerter/sinks.ts';
import { rulesFileSchema } from '../../consumers/alerter/rules.ts';
import { configSchema, type Config } from '../../pipeline/config/index.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import { createLogger, setLogger } from '../../pipeline/log.ts';
import { previewChannelPage, startFixtureServer, type FixtureServer } from '../../pipeline/producers/preview/fixture-server.ts';
import type { AlertRecord } from '../../pipeline/store/types.ts';

/**
 * Issue #16 end to end on the embedded default (no Kafka, no Elasticsearch), against canned
 * preview pages on a local server: what a collector reads lands in the store and the status core,
 * whether `serve --watch-list` collects in its own process or a separate `collect` delivers to
 * `serve` over its ingest endpoint. A second pass repeats nothing and misses nothing; the preview
 * failing for 50 channels raises one source alert and no silence, with the reason on every
 * channel; recovery returns each channel to its real status (the banned one stays gone).
 */
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
setLogger(log);

const HOUR = 3_600_000;
const HANDLES = Array.from({ length: 50 }, (_, i) => `chan_${String(i).padStart(3, '0')}`);
const BANNED = 'gone_chan';
const ALL = [...HANDLES, BANNED];

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`));
});

/** Poll `probe` until it returns something truthy; a failed assertion is not retried. */
async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: () => string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

class RecordingSink implements AlertSink {
  readonly name = 'test';
  alerts: AlertRecord[] = [];
  async send(alert: AlertRecord): Promise<void> {
    this.alerts.push(alert);
  }
  of(kind: string, state: AlertRecord['state']) {
    return this.alerts.filter((a) => a.findingId?.startsWith(`${kind}:`) && a.state === state);
  }
}

function configFor(site: FixtureServer, dataDir: string, extra: { serveUrl?: string } = {}): Config {
  mkdirSync(dataDir, { recursive: true });
  const watchFile = join(dataDir, 'watch.json');
  writeFileSync(watchFile, JSON.stringify(ALL.map((handle) => ({ handle, network: 'e2e-net', language: 'en' }))));
  return configSchema.parse({
    dataDir,
    serve: { port: 0 },
    analyzer: { tickSecs: 0.5, idleSecs: 2, instanceId: 'e2e' },
    // A channel unknown for one tick is alert-worthy here (the shipped default waits 10 minutes).
    analytics: { status: { unknownAlertSecs: 0 } },
    alerter: { log: false },
    collector: {
      name: 'e2e',
      watchListFile: watchFile,
      // Every channel polled every second; failures are not retried within a poll.
      tickSecs: 1,
      minIntervalSecs: 1,
      maxIntervalSecs: 1,
      jitterRatio: 0,
      concurrency: 8,
      ...(extra.serveUrl ? { serveUrl: extra.serveUrl } : {}),
      preview: { baseUrl: site.baseUrl, requestsPerMinute: 60_000, burstRequests: 200, retries: 0 },
    },
  });
}

interface Posts {
  [handle: string]: { id: number; at: number }[];
}

function servePages(site: FixtureServer, posts: Posts): void {
  for (const handle of ALL) site.routes.set(`/s/${handle}`, { body: previewChannelPage(handle, `Channel ${handle}`, posts[handle]!) });
}

async function statuses(serving: Serving) {
  const docs = await serving.store.findings('status', { limit: 1_000 });
  return new Map(docs.map((d) => [d.subject, d]));
}

/**
 * The scenario, with the collector given by `startCollector` (serve's own, or a separate one
 * delivering to serve). `published` reads the collector's count of events it delivered.
 */
async function scenario(site: FixtureServer, serving: Serving, sink: RecordingSink, published: () => number, polls: () => number): Promise<void> {
  const now = Date.now();
  const posts: Posts = Object.fromEntries(ALL.map((h) => [h, [1, 2, 3].map((id) => ({ id, at: now - (4 - id) * HOUR }))]));

  // First pass: every post of every channel in the store, every channel active.
  const firstPosts = ALL.length * 3;
  const postCount = async () => (await serving.store.summary({ filters: { action: 'post' } })).events;
  await until(async () => (await postCount()) === firstPosts, () => `${firstPosts} posts in the store`);
  await until(async () => {
    const s = await statuses(serving);
    return ALL.every((h) => s.get(h)?.status === 'active');
  }, () => 'every channel active');

  // Second pass: one new post each; the banned channel now redirects and its post embed says why.
  for (const h of HANDLES) posts[h]!.push({ id: 4, at: now - 10 * 60_000 });
  servePages(site, posts);
  site.routes.set(`/s/${BANNED}`, { status: 302, headers: { location: `/${BANNED}` } });
  site.serve(`/${BANNED}/3?embed=1&mode=tme`, 'embed_tos.html');
  await until(async () => (await postCount()) === firstPosts + HANDLES.length, () => 'the new posts in the store');
  await until(async () => (await statuses(serving)).get(BANNED)?.status === 'gone', () => `@${BANNED} gone`);
  // Nothing repeated: every event the collector delivered is one event in the store.
  await until(async () => (await serving.store.summary()).events === published(), () => 'as many events stored as delivered');
  const stored = await serving.store.summary();
  assert.equal(stored.events, published(), 'each delivered event stored once');

  // The preview fails for all 50 live channels: unknown with the reason, one source alert, no silence.
  for (const h of HANDLES) site.routes.set(`/s/${h}`, { status: 503, body: 'busy' });
  await until(async () => {
    const s = await statuses(serving);
    return HANDLES.every((h) => s.get(h)?.status === 'unknown' && /503/.test(s.get(h)!.reason));
  }, () => 'every failing channel unknown, saying 503');
  await until(() => sink.of('source', 'firing').length > 0, () => 'a source alert');
  // Two more full rounds of failing polls, then count: still one.
  const pollsThen = polls();
  await until(() => polls() >= pollsThen + 2 * ALL.length, () => 'two more rounds of polls');
  assert.equal(sink.of('source', 'firing').length, 1, 'exactly one source alert');
  assert.equal(sink.of('silence', 'firing').length + sink.of('network_silence', 'firing').length, 0, 'no silence alert');
  assert.equal((await statuses(serving)).get(BANNED)?.status, 'gone');

  // Recovery: each channel back to its real status, the source alert resolved, nothing lost.
  servePages(site, posts);
  site.routes.set(`/s/${BANNED}`, { status: 302, headers: { location: `/${BANNED}` } });
  await until(async () => {
    const s = await statuses(serving);
    return HANDLES.every((h) => s.get(h)?.status === 'active') && s.get(BANNED)?.status === 'gone';
  }, () => 'every channel back to active, the banned one gone');
  await until(() => sink.of('source', 'resolved').length === 1, () => 'the source alert resolved');
  assert.equal(await postCount(), firstPosts + HANDLES.length, 'no post lost or repeated across the outage');
}

async function serveFor(config: Config, sink: RecordingSink, collect: boolean): Promise<Serving> {
  const rules = rulesFileSchema.parse({ rules: [{ name: 'status', kind: 'status', schedule: '* * * * * *' }] }).rules;
  const serving = await startServe(config, log, { host: '127.0.0.1', port: 0, clock: { mode: 'live' }, rules, sinks: [sink], collect });
  cleanups.push(() => serving.stop());
  return serving;
}

test('serve --watch-list collects into the embedded pipeline: nothing repeated, nothing missed, one source alert for an outage', async () => {
  const site = await startFixtureServer();
  cleanups.push(() => site.close());
  const dataDir = mkdtempSync(join(tmpdir(), 'tw-collect-serve-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const now = Date.now();
  servePages(site, Object.fromEntries(ALL.map((h) => [h, [1, 2, 3].map((id) => ({ id, at: now - (4 - id) * HOUR }))])));
  const sink = new RecordingSink();
  const serving = await serveFor(configFor(site, dataDir), sink, true);
  assert.ok(serving.collector, 'serve runs a collector');
  const c = serving.collector;
  await scenario(site, serving, sink, () => c.heartbeat().eventsPublished, () => c.heartbeat().polls);
});

test('a separate collect delivers to serve over its ingest endpoint, with the same outcome', async () => {
  const site = await startFixtureServer();
  cleanups.push(() => site.close());
  const dataDir = mkdtempSync(join(tmpdir(), 'tw-collect-http-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const now = Date.now();
  servePages(site, Object.fromEntries(ALL.map((h) => [h, [1, 2, 3].map((id) => ({ id, at: now - (4 - id) * HOUR }))])));
  const sink = new RecordingSink();
  const serving = await serveFor(configFor(site, join(dataDir, 'serve')), sink, false);
  const run: CollectProcess = await openCollect(configFor(site, join(dataDir, 'collect'), { serveUrl: serving.url }), log);
  cleanups.push(async () => {
    await run.collector.stop();
    await run.close();
  });
  assert.match(run.delivery, /^serve at http:\/\/127\.0\.0\.1:\d+$/);
  run.collector.start();
  await scenario(site, serving, sink, () => run.collector.heartbeat().eventsPublished, () => run.collector.heartbeat().polls);
});

test('collect with no Kafka and no serve to deliver to refuses to start, saying what to do, before polling anything', async () => {
  const site = await startFixtureServer();
  cleanups.push(() => site.close());
  const dataDir = mkdtempSync(join(tmpdir(), 'tw-collect-nowhere-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  // A port nothing listens on: the fixture server's, once closed.
  const closed = await startFixtureServer();
  const url = closed.baseUrl;
  await closed.close();
  const config = configFor(site, dataDir, { serveUrl: url });
  await assert.rejects(openDelivery(config), (err: unknown) => {
    assert.ok(err instanceof TidewatchError);
    assert.equal(err.code, ErrorCode.NOT_CONFIGURED);
    assert.match(err.message, /connection refused/);
    assert.match(err.message, /tidewatch serve --watch-list/);
    return true;
  });
  assert.equal(site.requests.length, 0, 'no channel polled');
});

const root = fileURLToPath(new URL('../..', import.meta.url));

/** `node bin/tidewatch.js collect --once` as a user runs it; resolves with its exit code and output. */
async function collectOnce(configFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['bin/tidewatch.js', 'collect', '--once'], {
      cwd: root,
      env: { ...process.env, TIDEWATCH_CONFIG: configFile, TIDEWATCH_LOG_LEVEL: 'error', KAFKA_BROKERS: '', ELASTICSEARCH_URL: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('collect --once: exit 2 with nowhere to deliver; exit 1 when every poll failed, failures counted by reason', async () => {
  const site = await startFixtureServer();
  cleanups.push(() => site.close());
  const dataDir = mkdtempSync(join(tmpdir(), 'tw-collect-once-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const watchFile = join(dataDir, 'watch.json');
  writeFileSync(watchFile, JSON.stringify(['down_one', 'down_two']));
  const configFile = join(dataDir, 'config.json');
  const write = (serveUrl: string) =>
    writeFileSync(configFile, JSON.stringify({ dataDir: join(dataDir, 'collect'), collector: { watchListFile: watchFile, serveUrl, preview: { baseUrl: site.baseUrl, retries: 0 } } }));

  const closed = await startFixtureServer();
  await closed.close();
  write(closed.baseUrl);
  const nowhere = await collectOnce(configFile);
  assert.equal(nowhere.code, 2, nowhere.stderr);
  assert.match(nowhere.stderr, /nowhere to deliver the collected events: serve at .*: connection refused.*tidewatch serve --watch-list/s);
  assert.equal(site.requests.length, 0, 'nothing polled');

  const sink = new RecordingSink();
  const serving = await serveFor(configFor(site, join(dataDir, 'serve')), sink, false);
  for (const h of ['down_one', 'down_two']) site.routes.set(`/s/${h}`, { status: 503, body: 'busy' });
  write(serving.url);
  const failed = await collectOnce(configFile);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /every poll failed \(2 HTTP 503\)/);
  const summary = JSON.parse(failed.stdout) as { polled: number; pollErrors: number; failures: Record<string, number>; delivery: string };
  assert.deepEqual([summary.polled, summary.pollErrors, summary.failures], [2, 2, { 'HTTP 503': 2 }]);
  assert.match(summary.delivery, /^serve at http:\/\/127\.0\.0\.1:\d+$/);
  // The reason reached serve's status core: `tidewatch status` says why, and since when.
  await until(async () => {
    const s = await statuses(serving);
    return ['down_one', 'down_two'].every((h) => s.get(h)?.status === 'unknown' && /answered 503/.test(s.get(h)!.reason) && s.get(h)!.since !== null);
  }, () => 'the 503 reason in the status documents');
});
