import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticsOptions, analyzer as core, buildReport, type AnalyticsOptionsInput, type AnalyzerState, type Finding } from '../../pipeline/analytics/index.ts';
import { buildEvent, eventKey, type ActivityEvent } from '../../pipeline/events/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import { STATUS_RECORD_KEY } from '../../pipeline/watch/status.ts';
import { watchListSchema, type WatchList } from '../../pipeline/watch/watch-list.ts';
import { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';
import type { FindingType, Store } from '../../pipeline/store/types.ts';
import { memoryTransportSchema } from '../../pipeline/transport/memory/options.ts';
import { MemoryTransport } from '../../pipeline/transport/memory/transport.ts';
import { hourlyPosts } from '../../test/fixtures/hourly-posts.ts';
import { Indexer } from '../indexer/indexer.ts';
import { Analyzer } from './analyzer.ts';
import { analyzerSchema } from './options.ts';
import { decodeStageState, MemorySnapshotStore } from './snapshots.ts';
import { admit, forwardKey, newMerge } from './merge.ts';
import { partitionerFor } from '../../pipeline/transport/partitioner.ts';

/**
 * The embedded deployment's shape: memory transports and DuckDB, the same Analyzer class the
 * Kafka + Elasticsearch deployment runs (analyzer.integration.test.ts runs it there).
 */
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const testdata = new URL('../../pipeline/analytics/testdata/', import.meta.url);
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * Every analyzer a test starts is stopped after it, passed or failed: one left running (its tick
 * timer) kept the file alive after a failed assertion, so the failure showed only at the runner's
 * timeout. A test's own stop and this one are the same call, made once.
 */
const running = new Set<() => Promise<void>>();
afterEach(() => Promise.all([...running].map((stop) => stop())).then(() => undefined));

function stoppedAfterTest(analyzer: Analyzer): Analyzer {
  const start = analyzer.start.bind(analyzer);
  analyzer.start = async () => {
    const sub = await start();
    let stopped: Promise<void> | undefined;
    const stop = () => (stopped ??= sub.stop().finally(() => running.delete(stop)));
    running.add(stop);
    return { ...sub, stop };
  };
  return analyzer;
}

const FINDING_TYPES: FindingType[] = ['gap', 'spike', 'migration', 'link_day', 'takedown', 'resurrection', 'lifespan'];

async function allFindings(store: Store): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const t of FINDING_TYPES) out.push(...((await store.findings(t, { limit: 10_000 })) as Finding[]));
  return out;
}

function world(opts: { mode: 'live' | 'replay'; analytics?: AnalyticsOptionsInput; now?: () => number; idleSecs?: number; snapshotEverySecs?: number; retries?: number; indexerGroupId?: string; correctEverySecs?: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'tidewatch-analyzer-'));
  dirs.push(dir);
  const transport = new MemoryTransport(memoryTransportSchema.parse({ partitions: 4, redeliveryInitialDelayMs: 10, redeliveryMaxDelayMs: 50 }));
  const network = new MemoryTransport(memoryTransportSchema.parse({ topic: 'tidewatch.analyzer.network', partitions: 1 }));
  const snapshots = new MemorySnapshotStore();
  const make = (store: Store, instanceId = 'one', watchList?: WatchList) =>
    stoppedAfterTest(new Analyzer({
      transport,
      network,
      sourcePartitions: 4,
      store,
      snapshots,
      // Replay: a quick tick, so the merge lets go of the last events soon after the sources go idle.
      // Live: the test ticks by hand on its own clock.
      options: { ...analyzerSchema.parse({ mode: opts.mode, tickSecs: opts.mode === 'replay' ? 0.2 : 3600, idleSecs: opts.idleSecs ?? 3, maxBatchRecords: 200, ...(opts.snapshotEverySecs === undefined ? {} : { snapshotEverySecs: opts.snapshotEverySecs }), ...(opts.retries === undefined ? {} : { retries: opts.retries, retryInitialDelayMs: 5, retryMaxDelayMs: 10 }), ...(opts.correctEverySecs === undefined ? {} : { correctEverySecs: opts.correctEverySecs }) }), instanceId, storeText: true },
      ...(opts.indexerGroupId ? { indexerGroupId: opts.indexerGroupId } : {}),
      analytics: analyticsOptions(opts.analytics ?? {}),
      log,
      ...(opts.now ? { now: opts.now } : {}),
      ...(watchList ? { watchList } : {}),
    }));
  return { dir, transport, network, snapshots, make };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The replay's end: every partition of the activity topic that holds records, and the network
 * stage's one, has had its held-back tail analysed and the findings stored (`flushed`; stopping
 * before that leaves the tail unjudged). Reached once the partitions are idle (`idleSecs`).
 */
async function replayEnded(w: { transport: MemoryTransport }, analyzer: Analyzer): Promise<void> {
  const holding = (await w.transport.progress('tidewatch-analyzer')).filter((p) => BigInt(p.end) > 0n).length;
  await until(() => analyzer.stats.channel.flushed >= holding && analyzer.stats.network.flushed >= 1, 'the end of the replay (every partition flushed)', 60_000);
}

const lines = (file: string) => readFileSync(new URL(file, testdata), 'utf8').split('\n').filter(Boolean);

/**
 * The stored findings are the test data's expected ones. A channel's silence still going on at the
 * end of the input is judged by its partition's own latest event time, not by the latest of the
 * whole file as the one-shot analysis does: an open channel gap that only the later events of other
 * partitions make long enough is not one yet.
 */
async function assertExpectedFindings(store: Store, name: string): Promise<void> {
  const expected = JSON.parse(readFileSync(new URL(`${name}.expected.json`, testdata), 'utf8'));
  const got = buildReport(await allFindings(store), [], { events: 0, rejected: 0, duplicates: 0, late: 0 });
  expected.gaps = expected.gaps.filter((g: { scope: string; subject: string; end: string | null }) => g.scope !== 'channel' || g.end !== null || got.gaps.some((x) => x.subject === g.subject && x.end === null));
  for (const key of ['gaps', 'spikes', 'migrations', 'takedowns', 'resurrections', 'lifespans', 'linkDays'] as const) {
    assert.deepEqual(got[key], expected[key], key);
  }
}

for (const name of ['timeline-2017-silence', 'timeline-2015-takedown', 'timeline-2018-2019-migration']) {
  test(`replay ${name}: the stored findings are the analytics core's expected ones`, async () => {
    const w = world({ mode: 'replay' });
    const store = await DuckDbStore.open(w.dir);
    const analyzer = w.make(store);
    const sub = await analyzer.start();
    const records = lines(`${name}.jsonl`);
    const publisher = await w.transport.publisher();
    await publisher.publishRaw(records.map((value) => ({ key: JSON.parse(value).channel.id as string, value })));
    await until(() => analyzer.stats.channel.records === records.length && analyzer.stats.network.records === records.length, 'both stages to analyse every record');
    await replayEnded(w, analyzer);
    await sub.stop();
    await assertExpectedFindings(store, name);
    await Promise.all([w.transport.close(), w.network.close(), store.close()]);
  });
}

for (const name of ['timeline-2017-silence', 'timeline-2015-takedown']) {
  test(`${name}: snapshots of the whole core (saved before the stages had scopes) restore in each stage trimmed to its scope, and the replay goes on with the same findings`, async () => {
    const records = lines(`${name}.jsonl`);
    const half = Math.floor(records.length / 2);
    const w = world({ mode: 'replay' });
    const store = await DuckDbStore.open(w.dir);
    const publish = async (rs: string[]) => (await w.transport.publisher()).publishRaw(rs.map((value) => ({ key: JSON.parse(value).channel.id as string, value })));
    const states = () => [...w.snapshots.snapshots.values()].map((s) => ({ network: s.key.includes(':tidewatch.analyzer.network:'), state: decodeStageState<{ state: AnalyzerState }>(s.state).state }));
    // The previous version: every state computed every finding, each stage stored its own.
    const { init, revive } = core;
    core.init = (options, catalogue) => init(options, catalogue);
    core.revive = (st) => revive(st);
    try {
      const before = w.make(store);
      const sub = await before.start();
      await publish(records.slice(0, half));
      // Stopped before the sources are idle (idleSecs): the replay's end is not judged yet.
      await until(() => before.stats.channel.records === half && before.stats.network.records === half, 'the first half analysed');
      await sub.stop();
    } finally {
      core.init = init;
      core.revive = revive;
    }
    assert.ok(states().every((s) => s.state.scope === undefined));
    assert.ok(states().some((s) => !s.network && (s.state.gaps.networks.size > 0 || s.state.spikes.creation.size > 0)), 'the channel stage kept network subjects');
    const after = w.make(store);
    const sub = await after.start();
    await publish(records.slice(half));
    await until(() => after.stats.channel.records === records.length - half && after.stats.network.records === records.length - half, 'the second half analysed');
    await replayEnded(w, after);
    await sub.stop();
    assert.ok(after.stats.channel.restored > 0 && after.stats.network.restored > 0, 'both stages restored the old snapshots');
    for (const { network, state } of states()) {
      assert.equal(state.scope, network ? 'network' : 'channel');
      assert.equal(network ? state.gaps.channels.size : state.gaps.networks.size, 0, 'no subject of the other stage');
    }
    await assertExpectedFindings(store, name);
    await Promise.all([w.transport.close(), w.network.close(), store.close()]);
  });
}

test('replay: the network findings do not depend on how fast each partition is analysed', async () => {
  const records = lines('timeline-2017-silence.jsonl');
  const run = async (slowPartition: number | null) => {
    // A quiet time far shorter than the slow partition's pauses: were the merge to let go of a
    // source on wall-clock quiet, the slow partition's events would reach the network stage late.
    const w = world({ mode: 'replay', idleSecs: 0.3 });
    if (slowPartition !== null) {
      const subscribe = w.transport.subscribe.bind(w.transport);
      w.transport.subscribe = (o, handler) =>
        subscribe(o, async (batch) => {
          if (batch.partition === slowPartition) await new Promise((r) => setTimeout(r, 700));
          return handler(batch);
        });
    }
    const store = await DuckDbStore.open(w.dir);
    const analyzer = w.make(store);
    const sub = await analyzer.start();
    const publisher = await w.transport.publisher();
    await publisher.publishRaw(records.map((value) => ({ key: JSON.parse(value).channel.id as string, value })));
    await until(() => analyzer.stats.network.records === records.length, 'the network stage to analyse every record', 60_000);
    await replayEnded(w, analyzer);
    await sub.stop();
    const findings = (await allFindings(store)).filter((f) => f.type !== 'lifespan' && !('scope' in f && f.scope === 'channel'));
    await Promise.all([w.transport.close(), w.network.close(), store.close()]);
    return findings.map((f) => JSON.stringify(f)).sort();
  };
  const even = await run(null);
  const skewed = await run(1);
  assert.ok(even.some((f) => f.includes('"scope":"network"')), 'there are network findings to compare');
  assert.deepEqual(skewed, even);
});

test('the network stage reads a topic written by the previous version (one record per event) as the packs of this one; what it cannot read is dead-lettered', async () => {
  const records = lines('timeline-2017-silence.jsonl');
  const networkFindings = async (store: Store) =>
    (await allFindings(store)).filter((f) => f.type !== 'lifespan' && !('scope' in f && f.scope === 'channel')).map((f) => JSON.stringify(f)).sort();

  // This version: the channel stage forwards packs.
  const now = world({ mode: 'replay', idleSecs: 0.3 });
  const packedStore = await DuckDbStore.open(now.dir);
  const packed = now.make(packedStore);
  let sub = await packed.start();
  await (await now.transport.publisher()).publishRaw(records.map((value) => ({ key: JSON.parse(value).channel.id as string, value })));
  await until(() => packed.stats.network.records === records.length, 'the network stage to analyse every record', 60_000);
  await replayEnded(now, packed);
  await sub.stop();
  const expected = await networkFindings(packedStore);
  assert.ok(expected.some((f) => f.includes('"scope":"network"')), 'there are network findings to compare');
  assert.ok(packed.stats.channel.forwarded === records.length && packed.stats.network.resent === 0);

  // The previous version's network topic: each event its own record keyed `<partition>@<offset>`,
  // one resent after a crash, and one record that is not an event (nothing upstream to wait for).
  const old = world({ mode: 'replay', idleSecs: 0.3 });
  const partitionOf = partitionerFor(4);
  const offsets = [0, 0, 0, 0];
  const oldForm = records.map((value) => {
    const partition = partitionOf(JSON.parse(value).channel.id as string);
    return { key: forwardKey(partition, String(offsets[partition]!++)), value };
  });
  const damaged = { key: forwardKey(2, String(offsets[2]!)), value: '{"oops"' };
  const oldStore = await DuckDbStore.open(old.dir);
  const reader = old.make(oldStore);
  sub = await reader.start();
  await (await old.network.publisher()).publishRaw([...oldForm.slice(0, 500), oldForm[10]!, ...oldForm.slice(500), damaged]);
  await until(() => reader.stats.network.records === records.length + 2, 'the network stage to read every record', 60_000);
  await replayEnded(old, reader);
  await sub.stop();
  assert.equal(reader.stats.network.resent, 1);
  assert.equal(reader.stats.network.invalid, 1);
  assert.deepEqual(await networkFindings(oldStore), expected);
  const [letter, ...more] = await old.network.readDeadLetters({ maxWaitMs: 1_000 });
  assert.equal(more.length, 0);
  assert.equal(letter!.stage, 'analyze');
  assert.match(letter!.reason, new RegExp(`forwarded event 2@${offsets[2]}: not valid JSON`));
  assert.equal(Buffer.from(letter!.originalBase64, 'base64').toString('utf8'), '{"oops"');
  await Promise.all([now.transport.close(), now.network.close(), packedStore.close(), old.transport.close(), old.network.close(), oldStore.close()]);
});

test('the network merge admits each source offset once: copies resent after a channel stage crash are dropped, whatever their age', () => {
  const m = newMerge(2, 0);
  assert.equal(admit(m, forwardKey(0, '7')), '0');
  assert.equal(admit(m, forwardKey(1, '3')), '1');
  assert.equal(admit(m, forwardKey(0, '8')), '0');
  assert.equal(admit(m, forwardKey(0, '7')), null, 'a copy of offset 7 of partition 0');
  assert.equal(admit(m, forwardKey(1, '3')), null);
  assert.equal(admit(m, forwardKey(1, '10')), '1');
  assert.equal(admit(m, '1'), '1', 'a key from before offsets were forwarded: admitted, the core filters it');
});

test('a batch whose findings cannot be stored is analysed again from the snapshot: same findings, none twice', async () => {
  const w = world({ mode: 'replay' });
  const store = await DuckDbStore.open(w.dir);
  const analyzer = w.make(store);
  const sub = await analyzer.start();
  const records = lines('timeline-2017-silence.jsonl');
  const publisher = await w.transport.publisher();
  await publisher.publishRaw(records.slice(0, 800).map((value) => ({ key: JSON.parse(value).channel.id as string, value })));
  await until(() => analyzer.stats.channel.records === 800, 'the first half');
  // Now the store goes away for a moment: the handler throws, the batch is delivered again (with the
  // batches since the last snapshot: those were forwarded already, and the network stage drops the copies).
  const original = store.writeFindings.bind(store);
  let down = 2;
  store.writeFindings = async (docs) => {
    if (docs.length > 0 && down-- > 0) throw Object.assign(new Error('store down'), { retriable: false });
    return original(docs);
  };
  await publisher.publishRaw(records.slice(800).map((value) => ({ key: JSON.parse(value).channel.id as string, value })));
  await until(() => analyzer.stats.channel.records + analyzer.stats.channel.skipped >= records.length && analyzer.stats.network.records - analyzer.stats.network.resent === records.length, 'the rest');
  await replayEnded(w, analyzer);
  await sub.stop();
  assert.ok(down < 0, 'the failure was injected');
  const gaps = await store.findings('gap', { limit: 1000 });
  const expected = JSON.parse(readFileSync(new URL('timeline-2017-silence.expected.json', testdata), 'utf8'));
  assert.deepEqual(gaps.map((g) => g.id).sort(), [...new Set(gaps.map((g) => g.id))].sort());
  assert.equal(gaps.length, expected.gaps.length);
  assert.ok(analyzer.stats.channel.restored > 0, 'state restored from the snapshot after the failure');
  await Promise.all([w.transport.close(), w.network.close(), store.close()]);
});

test('live: a silence opens on the wall clock with no event arriving, closes when the channel posts again; a restarted instance ticks it', async () => {
  const MIN = 60_000;
  let nowMs = Date.parse('2026-03-02T00:00:00Z');
  const w = world({
    mode: 'live',
    now: () => nowMs,
    analytics: { allowedLatenessSecs: 60, gaps: { warmupDays: 0, warmupEvents: 10, floorHours: 1 } },
  });
  const store = await DuckDbStore.open(w.dir);
  const analyzer = w.make(store);
  const sub = await analyzer.start();
  const publisher = await w.transport.publisher();
  const post = (ch: string, i: number) =>
    buildEvent({ timestamp: nowMs, action: 'post', channel: { id: ch, handle: ch, network: 'net' }, message: { id: `${ch}-${i}` }, source: { type: 'test' } });
  let sent = 0;
  const advance = async (minutes: number, channels: string[]) => {
    for (let m = 0; m < minutes; m += 10) {
      nowMs += 10 * MIN;
      await publisher.publish(channels.map((c) => post(c, m + nowMs)));
      sent += channels.length;
    }
    // Both stages: the network stage (status core included) trails the channel stage.
    await until(() => analyzer.stats.channel.records === sent && analyzer.stats.network.records === sent, 'events analysed');
  };
  // A day and more of posts every 10 minutes: every hour of the day has its rhythm.
  await advance(26 * 60, ['a', 'b']);
  // a goes quiet; b keeps posting, so the network stays active.
  await advance(150, ['b']);
  await analyzer.tick();
  let gaps = await store.findings('gap', { open: true });
  assert.deepEqual(gaps.map((g) => [g.scope, g.subject, g.end]), [['channel', 'a', null]]);
  const openId = gaps[0]!.id;

  // Restart: a new instance with the same id reads the snapshot back and keeps ticking a.
  await sub.stop();
  const again = w.make(store);
  const sub2 = await again.start();
  nowMs += 60 * MIN;
  await again.tick();
  gaps = await store.findings('gap', { open: true });
  assert.equal(gaps.length, 1);
  assert.ok(gaps[0]!.hours > 3, `the open gap grows: ${gaps[0]!.hours} h`);

  // Everyone goes quiet: a network silence opens too, from the network stage.
  sent = 0;
  nowMs += 150 * MIN;
  await again.tick();
  gaps = await store.findings('gap', { open: true });
  assert.deepEqual(gaps.map((g) => [g.scope, g.subject]).sort(), [['channel', 'a'], ['channel', 'b'], ['network', 'net']]);

  // a posts again: its gap closes in place (same id); b and the network ... b stays silent.
  nowMs += 10 * MIN;
  await publisher.publish([post('a', 999)]);
  // Released once the allowed lateness has passed.
  nowMs += 2 * MIN;
  await until(() => again.stats.channel.records === 1 && again.stats.network.records === 1, 'the new post');
  await again.tick();
  const closed = (await store.findings('gap', { subject: 'a' })).find((g) => g.id === openId)!;
  assert.equal(closed.end, new Date(nowMs - 2 * MIN).toISOString());
  const network = (await store.findings('gap', { scope: 'network' }))[0]!;
  assert.notEqual(network.end, null, 'the network is active again');
  await sub2.stop();
  await Promise.all([w.transport.close(), w.network.close(), store.close()]);
});

test('live fail-over: another instance takes over the partitions of one that stopped and judges their silences with no record arriving', async () => {
  const MIN = 60_000;
  let nowMs = Date.parse('2026-03-02T00:00:00Z');
  const w = world({ mode: 'live', now: () => nowMs, analytics: { allowedLatenessSecs: 60, gaps: { warmupDays: 0, warmupEvents: 10, floorHours: 1 } } });
  const store = await DuckDbStore.open(w.dir);
  const one = w.make(store, 'one');
  const subOne = await one.start();
  const publisher = await w.transport.publisher();
  let sent = 0;
  for (let m = 0; m < 26 * 60; m += 10) {
    nowMs += 10 * MIN;
    await publisher.publish(['a', 'b'].map((ch) => buildEvent({ timestamp: nowMs, action: 'post', channel: { id: ch, handle: ch, network: 'net' }, message: { id: `${ch}-${m}` }, source: { type: 'test' } })));
    sent += 2;
  }
  await until(() => one.stats.channel.records === sent && one.stats.network.records === sent, 'events analysed by the first instance');
  await one.tick();
  // A second instance joins (the partitions are shared out), then the first one goes away for good.
  const two = w.make(store, 'two');
  const subTwo = await two.start();
  await subOne.stop();
  // Everything is silent from now on: no batch will ever reach the second instance.
  nowMs += 5 * 60 * MIN;
  await two.tick();
  const open = await store.findings('gap', { open: true });
  assert.deepEqual(open.map((g) => [g.scope, g.subject]).sort(), [['channel', 'a'], ['channel', 'b'], ['network', 'net']]);
  assert.ok(two.stats.channel.restored >= 2 && two.stats.network.restored === 1, 'the saved states were adopted on assignment');
  assert.equal(two.stats.channel.records, 0, 'no record was delivered to the second instance');
  await subTwo.stop();
  await Promise.all([w.transport.close(), w.network.close(), store.close(), publisher.close()]);
});

// `run analyzer --replay` has no clock of its own; the embedded `import` and demo inject the latest
// time published (which a fast import puts at the input's end before the first batch is analysed).
for (const injected of [false, true]) test(`replay${injected ? ' with the clock injected (embedded import, demo)' : ' with no clock injected (`run analyzer --replay`)'}: the status core runs on the events' clock; a member silent twice keeps both in its history; a run whose input pauses (wall-clock ticks in between) stores the same status documents`, async () => {
  const HOUR = 3_600_000;
  const day0 = Date.parse('2019-05-01T00:00:00Z');
  const watchList = watchListSchema.parse([{ handle: 'chan_a', network: 'net' }, { handle: 'chan_b', network: 'net' }]);
  // chan_b posts every hour for 12 days; chan_a too, but for two 3-day silences (days 2-5 and 7-10).
  // At 59 minutes past: a tick at the latest event time falls late in its hour.
  const events: ActivityEvent[] = [];
  for (let h = 0; h < 12 * 24; h++) {
    const at = day0 + h * HOUR + 59 * 60_000;
    events.push(buildEvent({ timestamp: at, action: 'post', channel: { id: 'b', handle: 'chan_b', network: 'net' }, message: { id: String(h) }, source: { type: 'test' } }));
    const day = h / 24;
    if ((day >= 2 && day < 5) || (day >= 7 && day < 10)) continue;
    events.push(buildEvent({ timestamp: at, action: 'post', channel: { id: 'a', handle: 'chan_a', network: 'net' }, message: { id: String(h) }, source: { type: 'test' } }));
  }
  const lastMs = day0 + (12 * 24 - 1) * HOUR + 59 * 60_000;
  /** `pausesAt`: the input stops before these times until the stages have analysed it and ticked a few times (under idleSecs). */
  const run = async (pausesAt: number[] = []) => {
    let publishedMs = day0;
    const w = world({ mode: 'replay', analytics: { gaps: { warmupDays: 0, warmupEvents: 1 } }, ...(injected ? { now: () => publishedMs } : {}) });
    const store = await DuckDbStore.open(w.dir);
    const analyzer = w.make(store, 'one', watchList);
    const sub = await analyzer.start();
    const publisher = await w.transport.publisher();
    let sent = 0;
    for (const at of [...pausesAt, Infinity]) {
      const part = events.slice(sent).filter((e) => Date.parse(e['@timestamp']) < at);
      if (part.length) publishedMs = Math.max(publishedMs, Date.parse(part[part.length - 1]!['@timestamp']));
      await publisher.publish(part);
      sent += part.length;
      await until(() => analyzer.stats.network.records === sent, 'the network stage to analyse what was sent');
      const ticks = analyzer.stats.network.ticks;
      if (at !== Infinity) await until(() => analyzer.stats.network.ticks >= ticks + 2, 'two ticks in the pause');
    }
    await analyzer.finish();
    await sub.stop();
    const changes = await store.findings('status_change', { limit: 1_000 });
    const alerts = await store.findings('status_alert', { limit: 1_000 });
    const docs = (await store.findings('status', { limit: 100 })).map(({ updatedAt: _, ...d }) => d);
    const findings = await allFindings(store);
    await Promise.all([w.transport.close(), w.network.close(), store.close()]);
    const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((x, y) => x.id.localeCompare(y.id));
    return { changes: byId(changes), alerts: byId(alerts), docs: byId(docs), findings: byId(findings) };
  };
  const first = await run();
  for (const c of first.changes) assert.ok(Date.parse(c.at) >= day0 && Date.parse(c.at) <= lastMs, `change ${c.id} at an event time`);
  for (const d of first.docs) assert.ok(Date.parse(d.since) >= day0 && Date.parse(d.since) <= lastMs, `${d.subject} since an event time (${d.since})`);
  // Both silences and both returns are on record, each a change of its own.
  const history = first.changes.filter((c) => c.subject === 'chan_a').sort((x, y) => x.at.localeCompare(y.at));
  assert.deepEqual(history.filter((c) => c.to === 'silent' || c.from === 'silent').map((c) => `${c.from}->${c.to}`), ['quiet->silent', 'silent->active', 'quiet->silent', 'silent->active'], history.map((c) => c.id).join(', '));
  assert.ok(Date.parse(history.find((c) => c.to === 'silent')!.at) < day0 + 5 * 24 * HOUR, 'the first silence decided during it');
  assert.equal(first.alerts.filter((a) => a.kind === 'silence' && a.subject === 'chan_a').length, 2, 'two silence episodes');
  assert.ok(first.docs.every((d) => d.status === 'active'), 'both active at the end');
  // Paused just before each change the clock decided: a tick at the latest event (59 minutes into
  // the hour before) stamped a change due by then with that time.
  const decided = first.changes.filter((c) => c.to === 'quiet' || c.to === 'silent').map((c) => Date.parse(c.at));
  assert.ok(decided.length >= 4, 'both silences and the quiet spells before them decided by the clock');
  assert.deepEqual(await run(decided), first, 'the same findings, changes, alerts and status documents from the same data, paused or not');
});

test('live: the network stage keeps the watch-list status: collector records observed, overrides applied, documents in the store, state in the snapshot', async () => {
  const MIN = 60_000;
  let nowMs = Date.parse('2026-03-02T00:00:00Z');
  const w = world({ mode: 'live', now: () => nowMs, analytics: { allowedLatenessSecs: 60 } });
  const store = await DuckDbStore.open(w.dir);
  const watchList = watchListSchema.parse([{ handle: 'chan_a', network: 'net' }, { handle: 'chan_b', network: 'net' }]);
  const analyzer = w.make(store, 'one', watchList);
  const sub = await analyzer.start();
  const publisher = await w.transport.publisher();
  const statusPublisher = await w.network.publisher();
  const at = () => new Date(nowMs).toISOString();
  await publisher.publish([buildEvent({ timestamp: nowMs, action: 'post', channel: { id: '1', handle: 'chan_a', network: 'net' }, message: { id: '1' }, source: { type: 'test' } })]);
  const channel = (handle: string, health: 'ok' | 'unknown', reason: string) => ({ type: 'channel', collector: 'c1', at: at(), handle, channelId: handle, health, reason, errors: 0, consecutiveErrors: 0, events: 0 });
  await statusPublisher.publishRaw([
    { key: STATUS_RECORD_KEY, value: JSON.stringify({ type: 'heartbeat', collector: 'c1', at: at(), source: 'preview', channels: 2, due: 0, inFlight: 0, health: { ok: 1, unknown: 1, gone: 0 }, polls: 2, pollErrors: 1, eventsPublished: 1, eventsRejected: 0, requests: 2 }) },
    { key: STATUS_RECORD_KEY, value: JSON.stringify(channel('chan_b', 'unknown', 'preview: HTTP 503')) },
    { key: STATUS_RECORD_KEY, value: '{"type":"channel"}' },
  ]);
  await until(() => analyzer.stats.network.collectorStatus === 2 && analyzer.stats.network.records === 4, 'the status records and the post');
  assert.equal(analyzer.stats.network.invalid, 1, 'a malformed status record is skipped');
  nowMs += 2 * MIN;
  await analyzer.tick();
  const statuses = async () => Object.fromEntries((await store.findings('status', { limit: 100 })).map((d) => [d.subject, d.status]));
  assert.deepEqual(await statuses(), { chan_a: 'active', chan_b: 'unknown' });

  // An analyst mutes chan_a (tidewatch mute writes the override to the store): applied at the next tick.
  await store.writeFindings([{ type: 'status_override', id: `chan_a:${at()}`, subject: 'chan_a', action: 'mute', by: 'ana', at: at(), reason: 'test', until: null }]);
  nowMs += MIN;
  await analyzer.tick();
  assert.deepEqual(await statuses(), { chan_a: 'muted', chan_b: 'unknown' });
  assert.ok((await store.countFindings('status_change')) >= 2);

  // Restart: the status state comes back from the network stage's snapshot (chan_b still unknown,
  // from the collector's record the new instance never sees again).
  await sub.stop();
  const again = w.make(store, 'one', watchList);
  const sub2 = await again.start();
  await statusPublisher.publishRaw([{ key: STATUS_RECORD_KEY, value: JSON.stringify(channel('chan_b', 'ok', 'visible')) }]);
  await until(() => again.stats.network.collectorStatus === 1, 'the recovery record');
  await again.tick();
  const docs = await store.findings('status', { limit: 100 });
  assert.deepEqual(Object.fromEntries(docs.map((d) => [d.subject, d.status])), { chan_a: 'muted', chan_b: 'unknown' }, 'chan_b: seen again, but no activity known yet');
  assert.equal(docs.find((d) => d.subject === 'chan_b')!.reason, 'no activity seen yet');
  await sub2.stop();
  await Promise.all([w.transport.close(), w.network.close(), store.close(), statusPublisher.close(), publisher.close()]);
});

test('live: a silence that becomes due is announced (onSilenceDue) once its gap is in the store', async () => {
  const MIN = 60_000;
  const speed = 600; // a real second is ten minutes
  const t0 = Date.now();
  const start = Date.parse('2026-03-02T00:00:00Z');
  const now = () => start + (Date.now() - t0) * speed;
  const w = world({ mode: 'live' });
  const store = await DuckDbStore.open(w.dir);
  const seen: string[][] = [];
  const analyzer = stoppedAfterTest(new Analyzer({
    transport: w.transport, network: w.network, sourcePartitions: 4, store, snapshots: w.snapshots,
    options: { ...analyzerSchema.parse({ mode: 'live', tickSecs: 1 }), instanceId: 'one', storeText: true },
    analytics: analyticsOptions({ allowedLatenessSecs: 60, gaps: { warmupDays: 0, warmupEvents: 10, floorHours: 1 } }),
    log, now, nowRate: speed,
    onSilenceDue: async () => void seen.push((await store.findings('gap', { open: true })).map((g) => `${g.scope}:${g.subject}`).sort()),
  }));
  const sub = await analyzer.start();
  const publisher = await w.transport.publisher();
  // A day and more of posts every 10 minutes up to now, then silence.
  const events = [];
  for (let t = now() - 26 * 60 * MIN, i = 0; t < now(); t += 10 * MIN, i++) {
    for (const ch of ['a', 'b']) events.push(buildEvent({ timestamp: t, action: 'post', channel: { id: ch, handle: ch, network: 'net' }, message: { id: `${ch}-${i}` }, source: { type: 'test' } }));
  }
  await publisher.publish(events);
  await until(() => seen.some((s) => s.join() === 'channel:a,channel:b,network:net'), 'the three silences announced with their gaps stored', 30_000);
  await sub.stop();
  await Promise.all([w.transport.close(), w.network.close(), store.close()]);
});

test('live: no silence is judged while the topic holds posts the state has not analysed yet; once they are, only the truly silent channel has a gap', async () => {
  const MIN = 60_000;
  let nowMs = Date.parse('2026-03-02T00:00:00Z');
  const w = world({ mode: 'live', now: () => nowMs, analytics: { allowedLatenessSecs: 60, gaps: { warmupDays: 0, warmupEvents: 10, floorHours: 1 } } });
  const store = await DuckDbStore.open(w.dir);
  const analyzer = w.make(store);
  const sub = await analyzer.start();
  const publisher = await w.transport.publisher();
  const post = (ch: string, i: number) =>
    buildEvent({ timestamp: nowMs, action: 'post', channel: { id: ch, handle: ch, network: 'net' }, message: { id: `${ch}-${i}` }, source: { type: 'test' } });
  let sent = 0;
  for (let i = 0; i < 26 * 6; i++) {
    nowMs += 10 * MIN;
    await publisher.publish([post('a', i), post('b', i)]);
    sent += 2;
  }
  await until(() => analyzer.stats.channel.records === sent && analyzer.stats.network.records === sent, 'the history analysed');
  // The analyzer stops consuming (a slow consumer, a backlog) while a keeps posting for three hours.
  await sub.stop();
  for (let i = 0; i < 18; i++) {
    nowMs += 10 * MIN;
    await publisher.publish([post('a', 1000 + i)]);
  }
  assert.equal(await analyzer.tick(), false, 'not every partition judged');
  // b's partition holds nothing new: b's silence is judged; a's posts, and so the network's, are on the way.
  assert.deepEqual((await store.findings('gap', {})).map((g) => [g.scope, g.subject]), [['channel', 'b']]);
  // Caught up: b's silence is judged, a is active.
  const again = w.make(store);
  const sub2 = await again.start();
  await until(() => again.stats.channel.records === 18 && again.stats.network.records === 18, 'the backlog analysed');
  // The channel group commits just after the network stage has the records: a tick judges all once it has.
  await until(() => again.tick(), 'a tick that judges every partition');
  const gaps = await store.findings('gap', { open: true });
  assert.deepEqual(gaps.map((g) => [g.scope, g.subject]), [['channel', 'b']]);
  await sub2.stop();
  await Promise.all([w.transport.close(), w.network.close(), store.close()]);
});

test('a batch at the end of its partition within snapshotEverySecs of the last save is committed by the next save (tick or timer); a failed save delivers it again, analysed once', async () => {
  let nowMs = Date.parse('2026-03-02T00:00:00Z');
  const w = world({ mode: 'live', now: () => nowMs, snapshotEverySecs: 3 });
  const store = await DuckDbStore.open(w.dir);
  let saves = 0;
  let failNext = false;
  const save = w.snapshots.save.bind(w.snapshots);
  w.snapshots.save = async (s) => {
    if (failNext) {
      failNext = false;
      throw Object.assign(new Error('snapshot store down'), { retriable: false });
    }
    saves++;
    return save(s);
  };
  const analyzer = w.make(store);
  const sub = await analyzer.start();
  const publisher = await w.transport.publisher();
  let sent = 0;
  const publish = async () => {
    nowMs += 60_000;
    sent++;
    await publisher.publish([buildEvent({ timestamp: nowMs, action: 'post', channel: { id: 'a', handle: 'a', network: 'net' }, message: { id: `a-${sent}` }, source: { type: 'test' } })]);
    await until(() => analyzer.stats.channel.records === sent && analyzer.stats.network.records === sent, `event ${sent} analysed`);
  };
  const committedAll = async () => {
    for (const [t, group] of [[w.transport, 'tidewatch-analyzer'], [w.network, 'tidewatch-analyzer-network']] as const) {
      if (!(await t.progress(group)).every((p) => BigInt(p.committed ?? p.start) >= BigInt(p.end))) return false;
    }
    return true;
  };

  // A partition never saved is saved at its first batch.
  await publish();
  await until(committedAll, 'the first batches committed');
  assert.equal(saves, 2, 'one snapshot per stage');
  // The next batch ends its partition again: taken on, neither saved nor committed yet.
  await publish();
  assert.equal(saves, 2, 'not saved within snapshotEverySecs of the last save');
  assert.equal(await committedAll(), false, 'not committed before a save covers it');
  // A tick saves what waits, and the commits land.
  await analyzer.tick();
  assert.equal(saves, 4);
  await until(committedAll, 'committed after the tick saved the states');
  // With no tick, the timer saves it at most snapshotEverySecs (3 s here) after the last save.
  await publish();
  await until(committedAll, 'committed by the timer', 30_000);
  assert.equal(saves, 6);
  // The timer's save fails: the batch is delivered again, skipped by the state that has it, and
  // committed by the save after.
  failNext = true;
  await publish();
  await until(committedAll, 'committed after a failed save', 30_000);
  assert.ok(analyzer.stats.channel.skipped + analyzer.stats.network.skipped >= 1, 'the batch was delivered again');
  assert.equal(analyzer.stats.channel.records, sent, 'each record analysed once');
  assert.equal(analyzer.stats.network.records, sent);
  await sub.stop();
  await Promise.all([w.transport.close(), w.network.close(), store.close(), publisher.close()]);
});

test('a partition another instance saved last, reached by a batch before its adoption (onAssigned), is adopted then: the next batch goes on from the state in memory', async () => {
  // On Kafka the batches of newly assigned partitions can come before the adoption has reached them (bench `pipeline`, two instances).
  const w = world({ mode: 'replay', snapshotEverySecs: 3600 });
  const store = await DuckDbStore.open(w.dir);
  const publisher = await w.transport.publisher();
  const posts = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => buildEvent({ timestamp: Date.UTC(2024, 0, 1) + (from + i) * 60_000, action: 'post', channel: { id: 'a', handle: 'a', network: 'net' }, message: { id: String(from + i) }, source: { type: 'test' } }));
  const one = w.make(store, 'one');
  const subOne = await one.start();
  await publisher.publish(posts(0, 10));
  await until(() => one.stats.channel.records === 10, 'the first instance');
  await subOne.stop();
  // The second instance is never told its assignment: every batch comes first.
  const unannounced = Object.assign(Object.create(w.transport) as MemoryTransport, {
    subscribe: (options: Parameters<MemoryTransport['subscribe']>[0], handler: Parameters<MemoryTransport['subscribe']>[1]) => {
      const { onAssigned: _, ...rest } = options;
      return w.transport.subscribe(rest, handler);
    },
  });
  const two = stoppedAfterTest(new Analyzer({
    transport: unannounced, network: w.network, sourcePartitions: 4, store, snapshots: w.snapshots,
    options: { ...analyzerSchema.parse({ mode: 'replay', tickSecs: 0.2, idleSecs: 3, maxBatchRecords: 200, snapshotEverySecs: 3600 }), instanceId: 'two', storeText: true },
    analytics: analyticsOptions({}), log,
  }));
  const subTwo = await two.start();
  // Two batches (200 + 100): the first is not at the partition's end, so it waits for the next save.
  await publisher.publish(posts(10, 300));
  await until(() => two.stats.channel.records === 300, 'the second instance');
  await subTwo.stop();
  const saved = [...w.snapshots.snapshots.values()].filter((s) => !s.key.includes(':tidewatch.analyzer.network:'));
  assert.equal(saved.length, 1);
  assert.equal(saved[0]!.owner, 'two');
  assert.equal(decodeStageState<{ state: AnalyzerState }>(saved[0]!.state).state.counts.events, 310, 'every event in the saved state');
  assert.equal(two.stats.channel.restored, 1, 'restored once');
  await Promise.all([w.transport.close(), w.network.close(), store.close(), publisher.close()]);
});

/** The store's finding writes fail (retriably, as an unreachable store's do) while `down` is set; `failed` counts the refused calls. */
function flaky(store: Store): { down: boolean; failed: number } {
  const ctl = { down: false, failed: 0 };
  const writeFindings = store.writeFindings.bind(store);
  store.writeFindings = async (docs, options) => {
    if (ctl.down && docs.length > 0) {
      ctl.failed++;
      return docs.map((d) => ({ id: d.id, status: 'failed' as const, retriable: true, code: 'STORE_FAILED', reason: 'store down (test)' }));
    }
    return writeFindings(docs, options);
  };
  return ctl;
}

test('replay: the findings of a flush whose write fails are stored once the store is back (with no batch arriving); the stored findings are the expected ones', async () => {
  const name = 'timeline-2017-silence';
  // The replay's end is judged on this clock: frozen until the store is down.
  let nowMs = Date.parse('2026-03-02T00:00:00Z');
  const w = world({ mode: 'replay', now: () => nowMs, retries: 1 });
  const store = await DuckDbStore.open(w.dir);
  const ctl = flaky(store);
  const analyzer = w.make(store);
  const sub = await analyzer.start();
  const stop = sub.stop;
  const records = lines(`${name}.jsonl`);
  await (await w.transport.publisher()).publishRaw(records.map((value) => ({ key: JSON.parse(value).channel.id as string, value })));
  await until(() => analyzer.stats.channel.records === records.length && analyzer.stats.network.records === records.length, 'both stages to analyse every record');
  const holding = (await w.transport.progress('tidewatch-analyzer')).filter((p) => BigInt(p.end) > 0n).length;
  const ticks = () => analyzer.stats.channel.ticks + analyzer.stats.network.ticks;
  const rounds = async (n: number) => {
    const from = ticks();
    await until(() => ticks() >= from + n * (holding + 1), `${n} more ticks of every partition`);
  };
  // Everything analysed is committed (ticks save what waits) before the store goes down: the flush is what fails.
  await until(async () => {
    for (const [t, group] of [[w.transport, 'tidewatch-analyzer'], [w.network, 'tidewatch-analyzer-network']] as const) {
      if (!(await t.progress(group)).every((p) => BigInt(p.committed ?? p.start) >= BigInt(p.end))) return false;
    }
    return true;
  }, 'every record committed');
  assert.equal(analyzer.stats.channel.flushed + analyzer.stats.network.flushed, 0, 'not idle yet on the frozen clock');
  ctl.down = true;
  let waiting = 0;
  try {
    nowMs += 4_000; // past idleSecs (3): the next tick flushes every partition
    await rounds(2);
    assert.ok(ctl.failed > 0, 'the flush was written while the store was down');
    // The channel partitions' flushes found nothing more here (stored at once); the network stage's did.
    assert.equal(analyzer.stats.network.flushed, 0, 'the network stage\'s flush not stored');
    waiting = analyzer.stats.network.unwritten;
  } finally {
    ctl.down = false;
  }
  await rounds(2);
  await stop();
  await assertExpectedFindings(store, name);
  assert.ok(waiting > 0, 'the flush\'s findings waited to be written (the gauge)');
  assert.equal(analyzer.stats.channel.unwritten + analyzer.stats.network.unwritten, 0);
  assert.equal(analyzer.stats.channel.flushed, holding, 'every channel partition\'s flush stored, counted once');
  assert.equal(analyzer.stats.network.flushed, 1);
  await Promise.all([w.transport.close(), w.network.close(), store.close()]);
});

test('live: a silence opened by a tick whose write fails is stored, with its one-off status change and alert, at a later tick once the store is back, no event arriving', async () => {
  const MIN = 60_000;
  let nowMs = Date.parse('2026-03-02T00:00:00Z');
  const w = world({ mode: 'live', now: () => nowMs, retries: 1, analytics: { allowedLatenessSecs: 60, gaps: { warmupDays: 0, warmupEvents: 10, floorHours: 1 } } });
  const store = await DuckDbStore.open(w.dir);
  const ctl = flaky(store);
  const watchList = watchListSchema.parse([{ handle: 'chan_a', network: 'net' }, { handle: 'chan_b', network: 'net' }]);
  const analyzer = w.make(store, 'one', watchList);
  const sub = await analyzer.start();
  const stop = sub.stop;
  const publisher = await w.transport.publisher();
  let sent = 0;
  const advance = async (minutes: number, channels: string[]) => {
    for (let m = 0; m < minutes; m += 10) {
      nowMs += 10 * MIN;
      await publisher.publish(channels.map((ch) => buildEvent({ timestamp: nowMs, action: 'post', channel: { id: ch, handle: ch, network: 'net' }, message: { id: `${ch}-${nowMs}` }, source: { type: 'test' } })));
      sent += channels.length;
    }
    await until(() => analyzer.stats.channel.records === sent && analyzer.stats.network.records === sent, 'events analysed');
  };
  await advance(26 * 60, ['chan_a', 'chan_b']);
  await analyzer.tick();
  // chan_a goes quiet; chan_b keeps posting. The tick that finds chan_a silent cannot write.
  await advance(150, ['chan_b']);
  ctl.down = true;
  let waiting: number[] = [];
  try {
    assert.equal(await analyzer.tick(), false, 'a partition\'s tick failed');
    assert.ok(ctl.failed > 0);
    waiting = [analyzer.stats.channel.unwritten, analyzer.stats.network.unwritten];
    assert.deepEqual(await store.findings('gap', { open: true }), []);
  } finally {
    ctl.down = false;
  }
  nowMs += MIN;
  assert.equal(await analyzer.tick(), true);
  assert.deepEqual((await store.findings('gap', { open: true })).map((g) => [g.scope, g.subject]), [['channel', 'chan_a']]);
  // Found once, at the failed tick: only that tick's write had them.
  const changes = await store.findings('status_change', { subject: 'chan_a', limit: 100 });
  assert.ok(changes.some((c) => c.to === 'silent'), `chan_a's change to silent stored: ${JSON.stringify(changes.map((c) => c.to))}`);
  assert.equal((await store.findings('status_alert', { subject: 'chan_a', limit: 100 })).length, 1, 'its silence alert stored');
  assert.ok(waiting.every((n) => n > 0), `both stages' findings waited to be written (the gauge): ${waiting}`);
  assert.equal(analyzer.stats.channel.unwritten + analyzer.stats.network.unwritten, 0);
  await stop();
  await Promise.all([w.transport.close(), w.network.close(), store.close(), publisher.close()]);
});

test('finish(): a write that fails leaves the findings with the partition and throws; finish() again stores them all', async () => {
  const name = 'timeline-2015-takedown';
  const w = world({ mode: 'replay', idleSecs: 3600, retries: 1 });
  const store = await DuckDbStore.open(w.dir);
  const ctl = flaky(store);
  const analyzer = w.make(store);
  const sub = await analyzer.start();
  const records = lines(`${name}.jsonl`);
  await (await w.transport.publisher()).publishRaw(records.map((value) => ({ key: JSON.parse(value).channel.id as string, value })));
  await until(() => analyzer.stats.channel.records === records.length && analyzer.stats.network.records === records.length, 'both stages to analyse every record');
  await sub.stop();
  ctl.down = true;
  await assert.rejects(analyzer.finish(), /not stored yet/);
  const waiting = analyzer.stats.channel.unwritten + analyzer.stats.network.unwritten;
  assert.equal(analyzer.stats.network.flushed, 0);
  ctl.down = false;
  await analyzer.finish();
  await assertExpectedFindings(store, name);
  assert.ok(waiting > 0, 'the flush\'s findings waited to be written (the gauge)');
  assert.equal(analyzer.stats.channel.unwritten + analyzer.stats.network.unwritten, 0);
  assert.equal(analyzer.stats.network.flushed, 1, 'counted once stored');
  await Promise.all([w.transport.close(), w.network.close(), store.close()]);
});

test('records a partition never delivered (deleted by retention before they were read) are counted as missing, not passed over in silence', async () => {
  const w = world({ mode: 'replay' });
  const store = await DuckDbStore.open(w.dir);
  const publisher = await w.transport.publisher();
  const posts = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => buildEvent({ timestamp: Date.UTC(2024, 0, 1) + (from + i) * 60_000, action: 'post', channel: { id: 'a', handle: 'a', network: 'net' }, message: { id: String(from + i) }, source: { type: 'test' } }));
  // The channel stage's batches lose the records at offsets 20-26, as a topic whose retention
  // deleted them before this instance read them delivers what follows.
  const gone = (offset: string) => BigInt(offset) >= 20n && BigInt(offset) <= 26n;
  const lossy = Object.assign(Object.create(w.transport) as MemoryTransport, {
    subscribe: (options: Parameters<MemoryTransport['subscribe']>[0], handler: Parameters<MemoryTransport['subscribe']>[1]) =>
      w.transport.subscribe(options, (batch) => handler(Object.assign(Object.create(batch) as typeof batch, { records: batch.records.filter((r) => !gone(r.offset)) }))),
  });
  const analyzer = stoppedAfterTest(new Analyzer({
    transport: lossy, network: w.network, sourcePartitions: 4, store, snapshots: w.snapshots,
    options: { ...analyzerSchema.parse({ mode: 'replay', tickSecs: 0.2, idleSecs: 3, maxBatchRecords: 10 }), instanceId: 'one', storeText: true },
    analytics: analyticsOptions({}), log,
  }));
  const sub = await analyzer.start();
  const stop = sub.stop;
  await publisher.publish(posts(0, 50));
  await until(() => analyzer.stats.channel.records === 43, 'the records delivered');
  assert.equal(analyzer.stats.channel.missing, 7);
  assert.equal(analyzer.stats.network.missing, 0);
  await stop();
  await Promise.all([w.transport.close(), w.network.close(), store.close(), publisher.close()]);
});

test('two instances: each corrects the late events of the partitions it holds, so a later finding of a channel whose history came late is what one sorted pass finds', async () => {
  const analytics: AnalyticsOptionsInput = { gaps: { warmupDays: 1, warmupEvents: 10 } };
  const w = world({ mode: 'replay', analytics, idleSecs: 1, indexerGroupId: 'tidewatch-indexer', correctEverySecs: 0 });
  const store = await DuckDbStore.open(w.dir);
  // The embedded deployment's indexer: the corrections read the stored events back.
  const indexer = new Indexer({
    transport: w.transport, sink: store, deadLetters: await w.transport.deadLetters(), log,
    options: { groupId: 'tidewatch-indexer', storeText: false, retries: 3, retryInitialDelayMs: 1, retryMaxDelayMs: 2, maxBatchRecords: 500, concurrentPartitions: 4, flushBytes: 1_000_000, concurrency: 2 },
  });
  const indexing = await indexer.start();
  // The memory transport hands partition p to member p % 2: `one` (first in both groups, so the
  // network stage's too) takes 0 and 2, `two` takes 1 and 3. The channel is on an odd partition.
  const one = w.make(store, 'one');
  const subOne = await one.start();
  const two = w.make(store, 'two');
  const subTwo = await two.start();
  const partitionOf = partitionerFor(4);
  const id = ['101', '102', '103', '104', '105'].find((c) => partitionOf(eventKey(hourlyPosts(c, 0, 1)[0]!)) % 2 === 1)!;
  /** The channel's posts on days [from, to), with the fixture's 73 h silence (days 4-7). */
  const posts = (from: number, to: number): ActivityEvent[] => hourlyPosts(id, from, to);
  const later = posts(10, 20);
  const earlier = posts(0, 10);
  // After the correction, two more days of silence, then more posts: judged by the state the
  // instance goes on with.
  const after = posts(22, 26);
  const publisher = await w.transport.publisher();
  const analysed = (n: number) => until(() => two.stats.channel.records === n && one.stats.network.records === n && indexer.stats.indexed === n, `${n} records analysed and stored`);
  await publisher.publish(later);
  await analysed(later.length);
  await publisher.publish(earlier);
  await analysed(later.length + earlier.length);
  // Both instances saw the earlier posts late: the one holding the channel's partition corrects
  // its state, not only the one holding the network stage.
  await until(() => two.corrections.runs > 0 && !two.correctionStatus().pending && !one.correctionStatus().pending, 'both instances to correct their late events');
  await publisher.publish(after);
  await analysed(later.length + earlier.length + after.length);

  const sorted = core.init(analyticsOptions(analytics));
  const expected: Finding[] = [];
  for (const e of [...earlier, ...later, ...after]) expected.push(...core.step(sorted, e));
  expected.push(...core.flush(sorted));
  const closedGaps = (fs: Finding[]) => {
    const last = new Map<string, Finding>();
    for (const f of fs) if (f.type === 'gap' && f.scope === 'channel' && f.end !== null) last.set(f.id, f);
    // Without the store's stamps (which analysis, found by a correction): the findings themselves.
    return [...last.values()]
      .map((f) => {
        const { analysis: _a, foundIn: _f, ...gap } = f as Finding & { analysis?: string; foundIn?: string };
        return gap;
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  };
  const want = closedGaps(expected);
  assert.equal(want.length, 2, 'the sorted pass finds both silences');
  let got: unknown[] = [];
  await until(async () => {
    got = closedGaps(await allFindings(store));
    return JSON.stringify(got) === JSON.stringify(want);
  }, 'the stored channel gaps to be the sorted pass\'s', 15_000).catch(() => assert.deepEqual(got, want));
  await Promise.all([subOne.stop(), subTwo.stop(), indexing.stop()]);
  await Promise.all([w.transport.close(), w.network.close(), store.close(), publisher.close()]);
});

test('a rebalance heard while stopping adopts nothing: no snapshot is read or written through a store the caller is closing', async () => {
  // On Kafka (heartbeats every 0.5 s) another instance leaving at the same time hands this one its
  // partitions while it stops; the adoption then retried against the closed store for ~40 s.
  const w = world({ mode: 'replay' });
  const store = await DuckDbStore.open(w.dir);
  const publisher = await w.transport.publisher();
  let assign: ((topic: string, partitions: number[]) => void) | undefined;
  const told = Object.assign(Object.create(w.transport) as MemoryTransport, {
    subscribe: (options: Parameters<MemoryTransport['subscribe']>[0], handler: Parameters<MemoryTransport['subscribe']>[1]) => {
      assign = options.onAssigned;
      return w.transport.subscribe(options, handler);
    },
  });
  let closed = false;
  let usedAfterClose = 0;
  const snapshots = Object.assign(Object.create(w.snapshots) as MemorySnapshotStore, {
    load: (key: string) => (closed ? (usedAfterClose++, Promise.reject(new Error('store closed'))) : w.snapshots.load(key)),
    save: (s: Parameters<MemorySnapshotStore['save']>[0]) => (closed ? (usedAfterClose++, Promise.reject(new Error('store closed'))) : w.snapshots.save(s)),
  });
  const analyzer = stoppedAfterTest(new Analyzer({
    transport: told, network: w.network, sourcePartitions: 4, store, snapshots,
    options: { ...analyzerSchema.parse({ mode: 'replay', tickSecs: 0.2, idleSecs: 3, maxBatchRecords: 200, retries: 2, retryInitialDelayMs: 5, retryMaxDelayMs: 10 }), instanceId: 'one', storeText: true },
    analytics: analyticsOptions({}), log,
  }));
  const sub = await analyzer.start();
  await publisher.publish(Array.from({ length: 20 }, (_, i) => buildEvent({ timestamp: Date.UTC(2024, 0, 1) + i * 60_000, action: 'post', channel: { id: String(i % 4), handle: `c${i % 4}`, network: 'net' }, message: { id: String(i) }, source: { type: 'test' } })));
  await until(() => analyzer.stats.channel.records === 20, 'the records analysed');
  const stopping = sub.stop();
  assign!('tidewatch.activity', [0, 1, 2, 3]);
  await stopping;
  closed = true;
  assign!('tidewatch.activity', [0, 1, 2, 3]);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(usedAfterClose, 0, 'no snapshot read or written once stopped');
  await Promise.all([w.transport.close(), w.network.close(), store.close(), publisher.close()]);
});
