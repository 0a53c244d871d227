import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Client } from '@elastic/elasticsearch';
import { AssignerProtocol, Kafka, logLevel, type Admin } from 'kafkajs';
import { configSchema, type Config } from '../../pipeline/config/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { FINDING_INDEX } from '../../pipeline/store/elasticsearch/findings.ts';
import type { Transport } from '../../pipeline/transport/types.ts';
import { analyzerOn, openAnalyzerEngines } from '../../test/analyzer-engines.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from '../../test/engines.ts';
import { until } from '../../test/live-pipeline.ts';
import type { Analyzer, AnalyzerStats } from './analyzer.ts';

/**
 * Scaling out (README "Two stages"): two instances in the same consumer groups, one of them a
 * `tidewatch run analyzer --replay` child process as users start a second one, analyse one
 * replay together and store exactly the findings one instance stores.
 */
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const name = uniqueName('it-instances');
const root = new URL('../../', import.meta.url);
const testdata = new URL('pipeline/analytics/testdata/', root);
// Three timelines one after another (2015, 2017, 2018-19): channel findings (channel gaps and
// spikes, platforms per channel, lifespans) and network ones (network gaps, takedown waves,
// resurrections, migrations, link days) over ~100 channels, enough to spread over the partitions.
const lines = ['timeline-2015-takedown', 'timeline-2017-silence', 'timeline-2018-2019-migration'].flatMap((f) =>
  readFileSync(new URL(`${f}.jsonl`, testdata), 'utf8').split('\n').filter(Boolean),
);
const records = lines.map((value) => ({ key: `telegram:${(JSON.parse(value) as { channel: { id: string } }).channel.id}`, value }));
const tmp = mkdtempSync(join(tmpdir(), 'tidewatch-it-instances-'));
const findingIndices = [...new Set(Object.values(FINDING_INDEX))];

let client: Client;
let admin: Admin;
const closers: (() => Promise<unknown>)[] = [];

function configFor(run: string): Config {
  return configSchema.parse({
    kafka: { brokers: testKafkaBrokers(), topic: `${name}-${run}.activity`, dlqTopic: `${name}-${run}.dlq` },
    elasticsearch: { url: testElasticsearchUrl(), indexPrefix: `${name}-${run}` },
    analyzer: {
      groupId: `${name}-${run}-analyzer`, networkGroupId: `${name}-${run}-network`, networkTopic: `${name}-${run}.network`,
      // Small batches and frequent saves: many batches per instance, and the replay's end (read from commits) comes soon.
      mode: 'replay', tickSecs: 0.5, idleSecs: 2, maxBatchRecords: 200, snapshotEverySecs: 1,
    },
  });
}

/** An in-process analyzer on the config's topics, and the transport to publish the replay with. */
async function inProcess(config: Config, instanceId: string): Promise<{ analyzer: Analyzer; transport: Transport }> {
  const r = await openAnalyzerEngines(config);
  closers.push(r.close);
  return { analyzer: analyzerOn(config, r, log, instanceId), transport: r.transport };
}

/**
 * Every finding stored under the prefix, by index (without the prefix) and id; `updatedAt` is
 * when a status document was last written, not what it says.
 */
async function storedFindings(prefix: string): Promise<Record<string, unknown>> {
  const index = findingIndices.map((i) => `${prefix}-${i}`).join(',');
  await client.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
  const res = await client.search<Record<string, unknown>>({ index, size: 10_000, ignore_unavailable: true, allow_no_indices: true, query: { match_all: {} } });
  assert.ok(res.hits.hits.length < 10_000, 'all findings fit one page');
  const out: Record<string, unknown> = {};
  for (const h of res.hits.hits) {
    const { updatedAt: _, ...content } = h._source!;
    out[`${h._index.slice(prefix.length + 1)}/${h._id}`] = content;
  }
  return out;
}

/** Members of a consumer group and the partitions each is assigned, once the group is stable. */
async function members(groupId: string): Promise<number[][] | undefined> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  if (g?.state !== 'Stable') return undefined;
  return g.members.map((m) => Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat());
}

before(async () => {
  client = createEsClient(configSchema.parse({ elasticsearch: { url: testElasticsearchUrl() } }).elasticsearch!);
  admin = new Kafka({ clientId: name, brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});

after(async () => {
  for (const close of closers) await close();
  await client.indices.delete({ index: `${name}-*` }).catch(() => {});
  await client.indices.deleteIndexTemplate({ name: `${name}-*` }).catch(() => {});
  await client.close();
  await admin.disconnect();
  rmSync(tmp, { recursive: true, force: true });
});

test('two instances (one a `run analyzer` child process) store exactly the findings one instance stores', async () => {
  // One instance: the replay analysed to its end (finish: what the replay's idle end also releases and flushes).
  const one = configFor('one');
  const single = await inProcess(one, 'single');
  let sub = await single.analyzer.start();
  await (await single.transport.publisher()).publishRaw(records);
  await until(async () => single.analyzer.stats.channel.records === records.length && single.analyzer.stats.network.records === records.length, 'one instance to analyse the replay', 90_000);
  await single.analyzer.finish();
  await sub.stop();
  const expected = await storedFindings(one.elasticsearch!.indexPrefix);
  const types = new Set(Object.values(expected).map((f) => (f as { type: string }).type));
  // Status changes and documents too: stamped on the events' clock, the same in any run.
  for (const t of ['gap', 'spike', 'lifespan', 'takedown', 'resurrection', 'migration', 'link_day', 'status', 'status_change']) assert.ok(types.has(t), `the data gives ${t} findings (${[...types].join(', ')})`);
  assert.ok(Object.values(expected).some((f) => (f as { scope?: string }).scope === 'channel') && Object.values(expected).some((f) => (f as { scope?: string }).scope === 'network'), 'channel and network findings');

  // Two instances in the same groups: the child first, then this process.
  const two = configFor('two');
  const both = await inProcess(two, 'in-process');
  const file = join(tmp, 'two.json');
  const { kafka, elasticsearch, analyzer } = two;
  writeFileSync(file, JSON.stringify({ kafka, elasticsearch, analyzer: { ...analyzer, instanceId: 'child' }, logLevel: 'info', metrics: { port: 0 } }));
  const child: ChildProcess = spawn(process.execPath, [new URL('bin/tidewatch.js', root).pathname, '-c', file, 'run', 'analyzer', '--replay'], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TIDEWATCH_CONFIG: '' },
  });
  const exited = new Promise<number | null>((res) => child.once('exit', res));
  // Its last stats, from the log line it writes when it stops.
  let childStats: Record<'channel' | 'network', AnalyzerStats> | undefined;
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    const done = stderr.split('\n').map((l) => { try { return JSON.parse(l) as { msg?: string; stats?: typeof childStats }; } catch { return {}; } }).find((l) => l.msg === 'analyzer stopped');
    if (done) childStats = done.stats;
  });
  closers.push(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  sub = await both.analyzer.start();
  // Both are members of both groups, and the activity partitions are spread over them, before
  // the replay is published: each instance analyses a share of the channels.
  const channelGroup = await until(async () => {
    const m = await members(two.analyzer.groupId);
    return m?.length === 2 && m.every((parts) => parts.length > 0) && m;
  }, 'two members of the channel group, each with partitions', 90_000);
  const networkGroup = await until(async () => {
    const m = await members(two.analyzer.networkGroupId);
    return m?.length === 2 && m;
  }, 'two members of the network group', 90_000);
  assert.deepEqual(channelGroup.flat().sort(), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(networkGroup.flat(), [0], 'the network topic\'s one partition goes to one instance');
  await (await both.transport.publisher()).publishRaw(records);
  // Waits for the replay's end: equal findings, or the comparison below says how they differ.
  await until(async () => isDeepStrictEqual(await storedFindings(two.elasticsearch!.indexPrefix), expected), 'the findings of one instance', 90_000).catch(() => {});
  child.kill('SIGTERM');
  assert.equal(await exited, 0, `the child stopped cleanly:\n${stderr.slice(-2_000)}`);
  await sub.stop();
  assert.deepEqual(await storedFindings(two.elasticsearch!.indexPrefix), expected);

  // Both analysed: each its share of the activity topic, one of them the whole network topic.
  assert.ok(childStats, `the child logged its stats when it stopped:\n${stderr.slice(-2_000)}`);
  const here = both.analyzer.stats;
  assert.ok(here.channel.records > 0 && childStats.channel.records > 0, `both channel stages analysed records: here ${here.channel.records}, child ${childStats.channel.records}`);
  assert.equal(here.channel.records + childStats.channel.records, records.length, 'each record analysed once by the channel stages');
  assert.equal(here.network.records + childStats.network.records, records.length, 'every event analysed once by the network stage');
  assert.ok(here.network.records === 0 || childStats.network.records === 0, 'by one instance');
});
