/**
 * The live analyzer (`tidewatch run analyzer --replay`, both stages, findings and snapshots on
 * Elasticsearch) on the pipeline bench's events, in this process, so a CPU profile can cover
 * exactly its phase. The events are published to a topic of their own with the same keys, bytes
 * and partitions as the indexer's (the indexer phase deletes its topic when it ends), and the
 * analyzer reads it from the start, warm engines, right after the indexer phase.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { Analyzer } from '../consumers/analyzer/analyzer.ts';
import { EsSnapshotStore } from '../consumers/analyzer/snapshots-es.ts';
import { configSchema } from '../pipeline/config/index.ts';
import type { ActivityEvent } from '../pipeline/events/index.ts';
import { createLogger } from '../pipeline/log.ts';
import { retry } from '../pipeline/retry.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { FINDING_INDEX } from '../pipeline/store/elasticsearch/findings.ts';
import { createStore } from '../pipeline/store/index.ts';
import { createTransport } from '../pipeline/transport/index.ts';
import type { Transport } from '../pipeline/transport/types.ts';
import { cpuMsOf, enginePids, machineCpuMs } from './cpu.ts';
import { startProfile } from './profile.ts';

export interface AnalyzerFigures {
  events: number;
  /** From the first batch the channel stage receives to the network stage having taken the last record. */
  bothSteadyPerSec: number;
  /** The same from `start()` (group joins of both stages included). */
  bothTotalPerSec: number;
  /** From the first batch received to the channel stage having analysed and forwarded the last record. */
  channelPerSec: number;
  startSecs: number;
  /**
   * CPU time of this process (both stages, all its threads) per 1,000 events, from `start()` to
   * the last record taken: steadier than a rate on a shared machine, for comparing versions.
   */
  cpuMsPerKEvents: number;
  /** Writes (a finding updated by later batches is written again) and the distinct findings stored at the end. */
  findingsWritten: number;
  findingsStored: number;
  snapshots: number;
  /** The largest snapshot saved (its state's characters) and the time spent saving them all (ES round trips and retries). */
  snapshotMaxChars: number;
  snapshotSaveSecs: number;
  /** Cores busy over the measurement: the whole machine, and Kafka and Elasticsearch. */
  cores: Cores;
}

export interface Cores {
  machine: number;
  kafka: number;
  elasticsearch: number;
}

/** Starts counting the machine's and the engines' CPU; the result gives the cores they used since. */
async function coresFrom(): Promise<() => Cores> {
  const pids = await enginePids();
  const sum = (ps: number[]) => ps.reduce((a, p) => a + cpuMsOf(p), 0);
  const t = performance.now();
  const m0 = machineCpuMs();
  const k0 = sum(pids.kafka);
  const e0 = sum(pids.elasticsearch);
  return () => {
    const ms = performance.now() - t;
    return { machine: (machineCpuMs() - m0) / ms, kafka: (sum(pids.kafka) - k0) / ms, elasticsearch: (sum(pids.elasticsearch) - e0) / ms };
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The two-instance rows: this process's instance and a child process's, in the same groups on the same topic. */
export interface TwoInstanceFigures {
  /** From the first batch either channel stage receives to a network stage having taken the last record of every source partition. */
  bothSteadyPerSec: number;
  /** The same from both `start()` calls (group joins and the rebalance included). */
  bothTotalPerSec: number;
  startSecs: number;
  /** CPU of both processes (all their threads) per 1,000 events, from `start()` to the end, and each one's share. */
  cpuMsPerKEvents: number;
  cpuMsPerKEventsHere: number;
  cpuMsPerKEventsChild: number;
  cores: Cores;
  /** Records each stage analysed in each instance (re-analysed ones after a rebalance count again), and the partitions each held. */
  instances: { name: string; channel: number; network: number; skipped: number; restored: number; assignments: string[] }[];
  findingsStored: number;
  /** Findings of one run missing from the other, by index and id. */
  findingsOnlyInOne: number;
  findingsOnlyInTwo: number;
}

/** A run's names: its own consumer groups, network topic and indices, on the one activity topic. */
export function analyzerConfig(engines: { brokers: string[]; esUrl: string }, run: string, variant: 'one' | 'two') {
  const prefix = `${run}-analyzer${variant === 'one' ? '' : '2'}`;
  const topic = `${run}.analyzer.activity`;
  return configSchema.parse({
    kafka: { brokers: engines.brokers, topic, dlqTopic: `${topic}.dlq` },
    elasticsearch: { url: engines.esUrl, indexPrefix: prefix, requestTimeoutMs: 120_000 },
    // No indexer consumes this topic: the correction of late data (there is none here) never runs.
    indexer: { groupId: `${prefix}-indexer` },
    analyzer: { mode: 'replay', groupId: `${prefix}-channel`, networkGroupId: `${prefix}-network`, networkTopic: `${prefix.replace(/-analyzer/, '.analyzer')}.network` },
  });
}

export interface InstanceHooks {
  /** The channel stage is handed its first batch (performance.now()). */
  firstBatch?: (ms: number) => void;
  /** The network stage has handled a batch (not revoked meanwhile): per source partition, the last offset its packs held. */
  networkTaken?: (upTo: [number, bigint][]) => void;
  /** A stage was assigned partitions (after each rebalance). */
  assigned?: (stage: 'channel' | 'network', partitions: readonly number[]) => void;
}

/** The highest offset taken per source partition: `offset` if it is higher than what `upTo` holds. */
function raise(upTo: Map<number, bigint>, partition: number, offset: bigint): void {
  if (offset > (upTo.get(partition) ?? -1n)) upTo.set(partition, offset);
}

/** The transport as it is, telling the hooks about assignments and batches. */
function observed(transport: Transport, stage: 'channel' | 'network', hooks: InstanceHooks): Transport {
  return Object.assign(Object.create(transport) as Transport, {
    subscribe: (options: Parameters<Transport['subscribe']>[0], handler: Parameters<Transport['subscribe']>[1]) =>
      transport.subscribe(
        {
          ...options,
          onAssigned: (topic: string, partitions: number[]) => {
            hooks.assigned?.(stage, partitions);
            options.onAssigned?.(topic, partitions);
          },
        },
        async (batch) => {
          if (stage === 'channel') hooks.firstBatch?.(performance.now());
          const result = await handler(batch);
          if (stage === 'network' && hooks.networkTaken && !batch.isStale()) {
            // Pack keys: `pack:<source partition>@<first offset>-<last offset>` (forward.ts).
            const upTo = new Map<number, bigint>();
            for (const r of batch.records) {
              const m = /^pack:(\d+)@\d+-(\d+)$/.exec(r.key ?? '');
              if (m) raise(upTo, Number(m[1]), BigInt(m[2]!));
            }
            hooks.networkTaken([...upTo]);
          }
          return result;
        },
      ),
  });
}

/**
 * One analyzer instance as `tidewatch run analyzer --replay` wires it (findings and snapshots on
 * Elasticsearch), with the hooks the bench measures by; the child process of the two-instance
 * rows (analyzer-instance.ts) runs the same.
 */
export async function openInstance(config: ReturnType<typeof analyzerConfig>, instanceId: string, hooks: InstanceHooks = {}) {
  const store = await createStore(config);
  const client = createEsClient(config.elasticsearch!);
  const transport = await createTransport(config);
  const network = await createTransport({ ...config, kafka: { ...config.kafka!, topic: config.analyzer.networkTopic, partitions: 1 } });
  await store.setup();
  const es = new EsSnapshotStore(client, config.elasticsearch!.indexPrefix);
  await es.setup();
  const saved = { snapshots: 0, maxChars: 0, saveMs: 0 };
  const snapshots = {
    load: es.load.bind(es),
    head: es.head.bind(es),
    save: async (s: Parameters<EsSnapshotStore['save']>[0]) => {
      saved.snapshots++;
      saved.maxChars = Math.max(saved.maxChars, s.state.length);
      const t = performance.now();
      await es.save(s);
      saved.saveMs += performance.now() - t;
    },
  };
  // Topics just deleted by the previous bench can make a creation report a missing leader for a moment.
  await retry(() => transport.ensureTopics());
  await retry(() => network.ensureTopics());
  const analyzer = new Analyzer({
    transport: observed(transport, 'channel', hooks),
    network: observed(network, 'network', hooks),
    sourcePartitions: config.kafka!.partitions,
    store,
    snapshots,
    options: { ...config.analyzer, instanceId, storeText: config.storeText },
    analytics: config.analytics,
    watchList: config.watchList,
    indexerGroupId: config.indexer.groupId,
    display: config.display,
    log: createLogger('warn'),
  });
  return {
    analyzer,
    transport,
    store,
    client,
    saved,
    close: async () => {
      await Promise.allSettled([transport.close(), network.close()]);
      await store.close();
      await client.close();
    },
  };
}

/** Every finding's index (without the prefix) and id. */
async function findingIds(client: Client, prefix: string): Promise<Set<string>> {
  const index = [...new Set(Object.values(FINDING_INDEX))].map((i) => `${prefix}-${i}`).join(',');
  await client.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
  const res = await client.search({ index, size: 10_000, _source: false, track_total_hits: true, ignore_unavailable: true, allow_no_indices: true });
  const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? 0);
  if (total > res.hits.hits.length) throw new Error(`analyzer bench: ${total} findings, more than one page: compare them by count`);
  return new Set(res.hits.hits.map((h) => `${h._index.slice(prefix.length + 1)}/${h._id!}`));
}

export async function benchAnalyzer(
  engines: { brokers: string[]; esUrl: string },
  events: readonly ActivityEvent[],
  opts: { run: string; profileTo?: string | undefined },
): Promise<AnalyzerFigures & { two: TwoInstanceFigures }> {
  const config = analyzerConfig(engines, opts.run, 'one');
  const configTwo = analyzerConfig(engines, opts.run, 'two');
  const topic = config.kafka!.topic;
  const n = events.length;
  let first = 0;
  const one = await openInstance(config, 'bench', { firstBatch: (ms) => (first ||= ms) });
  try {
    await (await one.transport.publisher()).publish(events);
    const { analyzer, store, client } = one;
    const stopProfile = await startProfile(opts.profileTo);
    const cores = await coresFrom();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const sub = await analyzer.start();
    let channelDone = 0;
    while (analyzer.stats.network.records < n) {
      if (!channelDone && analyzer.stats.channel.records >= n) channelDone = performance.now();
      await sleep(20);
    }
    const end = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const coresUsed = cores();
    channelDone ||= end;
    await stopProfile();
    await sub.stop();
    await store.refresh();
    // Detectors' findings and the watch-list status documents (all the bench's events are alike: no gaps or spikes).
    const prefix = config.elasticsearch!.indexPrefix;
    const findingIndices = [...new Set(Object.values(FINDING_INDEX))].map((i) => `${prefix}-${i}`).join(',');
    const { count: findingsStored } = await client.count({ index: findingIndices, ignore_unavailable: true, allow_no_indices: true });
    const { channel, network: net } = analyzer.stats;
    if (channel.invalid || net.invalid || channel.findingsRejected || net.findingsRejected) {
      throw new Error(`analyzer bench: invalid or rejected records ${JSON.stringify(analyzer.stats)}`);
    }

    const twoFigures = await benchTwoInstances(engines, opts.run, n, await findingIds(client, prefix));
    return {
      events: n,
      bothSteadyPerSec: n / ((end - first) / 1000),
      bothTotalPerSec: n / ((end - t0) / 1000),
      channelPerSec: n / ((channelDone - first) / 1000),
      startSecs: (first - t0) / 1000,
      cpuMsPerKEvents: (cpu.user + cpu.system) / 1000 / (n / 1000),
      findingsWritten: channel.findingsWritten + net.findingsWritten,
      findingsStored,
      snapshots: one.saved.snapshots,
      snapshotMaxChars: one.saved.maxChars,
      snapshotSaveSecs: one.saved.saveMs / 1000,
      cores: coresUsed,
      two: twoFigures,
    };
  } finally {
    await one.close();
    const client = createEsClient(config.elasticsearch!);
    for (const prefix of [config.elasticsearch!.indexPrefix, configTwo.elasticsearch!.indexPrefix]) {
      await client.indices.delete({ index: `${prefix}-*` }).catch(() => {});
      await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
    }
    await client.close();
    const admin = new Kafka({ clientId: 'bench', brokers: engines.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, config.kafka!.dlqTopic, config.analyzer.networkTopic, configTwo.analyzer.networkTopic] }).catch(() => {});
    await admin.disconnect();
  }
}

/** What the child instance (analyzer-instance.ts) tells the bench over IPC. */
export type ChildMessage =
  | { ready: true }
  | { firstBatchAtEpochMs: number }
  | { networkTaken: [number, string][] }
  | { assigned: { stage: 'channel' | 'network'; partitions: readonly number[]; atEpochMs: number } }
  | { stats: Analyzer['stats'] };

/**
 * The same topic analysed again by two instances in new groups: this process's and a child
 * process's, started together on the backlog (the second one's join is a rebalance under load).
 * Done once a network stage, whichever holds the network topic then, has handled packs up to the
 * last offset of every source partition: re-analysed records (partitions that moved at the
 * rebalance, from the last snapshot) would make a count of records end it early.
 */
async function benchTwoInstances(
  engines: { brokers: string[]; esUrl: string },
  run: string,
  n: number,
  oneIds: Set<string>,
): Promise<TwoInstanceFigures> {
  const config = analyzerConfig(engines, run, 'two');
  const taken = new Map<number, bigint>();
  const take = (upTo: [number, bigint][]) => {
    for (const [p, o] of upTo) raise(taken, p, o);
  };
  const origin = performance.timeOrigin;
  const assignments: Record<'here' | 'child', string[]> = { here: [], child: [] };
  let t0 = 0;
  let end = 0;
  // Until the end: stopping one instance hands its partitions to the other, after the measurement.
  const note = (who: 'here' | 'child', stage: string, partitions: readonly number[], atMs: number) => {
    if (!end || atMs <= end) assignments[who].push(`${stage} [${partitions.join(',')}] at ${((atMs - t0) / 1000).toFixed(1)} s`);
  };
  let first = 0;
  const seen = (ms: number) => {
    if (!first || ms < first) first = ms;
  };
  const hooked = await openInstance(config, 'bench-here', {
    firstBatch: seen,
    networkTaken: take,
    assigned: (stage, partitions) => note('here', stage, partitions, performance.now()),
  });
  // The activity topic holds the events already: its end offsets are what the network stage must reach.
  const lastOffsets = new Map((await hooked.transport.progress(config.analyzer.groupId)).map((p) => [p.partition, BigInt(p.end) - 1n]));
  const allTaken = () => [...lastOffsets].every(([p, last]) => last < 0n || (taken.get(p) ?? -1n) >= last);
  const child = fork(fileURLToPath(new URL('./analyzer-instance.ts', import.meta.url)), [JSON.stringify({ engines, run })], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let childStats: Analyzer['stats'] | undefined;
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  child.on('message', (m: ChildMessage) => {
    if ('ready' in m) ready();
    else if ('firstBatchAtEpochMs' in m) seen(m.firstBatchAtEpochMs - origin);
    else if ('networkTaken' in m) take(m.networkTaken.map(([p, o]) => [p, BigInt(o)]));
    else if ('assigned' in m) note('child', m.assigned.stage, m.assigned.partitions, m.assigned.atEpochMs - origin);
    else if ('stats' in m) childStats = m.stats;
  });
  try {
    await Promise.race([isReady, exited.then((code) => Promise.reject(new Error(`analyzer bench: the second instance exited (${code}) before it was ready`)))]);
    const analyzer = hooked.analyzer;
    const cores = await coresFrom();
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const childCpu0 = cpuMsOf(child.pid!);
    child.send({ start: true });
    const sub = await analyzer.start();
    while (!allTaken()) {
      if (child.exitCode !== null) throw new Error(`analyzer bench: the second instance exited (${child.exitCode}) during the run`);
      await sleep(20);
    }
    end = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const childCpuMs = cpuMsOf(child.pid!) - childCpu0;
    const coresUsed = cores();
    const stats = new Promise<void>((r) => child.on('message', (m: ChildMessage) => 'stats' in m && r()));
    child.send({ stop: true });
    await sub.stop();
    await stats;
    if ((await exited) !== 0) throw new Error('analyzer bench: the second instance did not stop cleanly');
    await hooked.store.refresh();
    const twoIds = await findingIds(hooked.client, config.elasticsearch!.indexPrefix);
    const hereMs = (cpu.user + cpu.system) / 1000;
    const per = (ms: number) => ms / (n / 1000);
    const instance = (name: string, s: Analyzer['stats'], a: string[]) => ({
      name, channel: s.channel.records, network: s.network.records, skipped: s.channel.skipped + s.network.skipped, restored: s.channel.restored + s.network.restored, assignments: a,
    });
    for (const s of [analyzer.stats, childStats!]) {
      if (s.channel.invalid || s.network.invalid || s.channel.findingsRejected || s.network.findingsRejected) throw new Error(`analyzer bench: invalid or rejected records ${JSON.stringify(s)}`);
    }
    return {
      bothSteadyPerSec: n / ((end - first) / 1000),
      bothTotalPerSec: n / ((end - t0) / 1000),
      startSecs: (first - t0) / 1000,
      cpuMsPerKEvents: per(hereMs + childCpuMs),
      cpuMsPerKEventsHere: per(hereMs),
      cpuMsPerKEventsChild: per(childCpuMs),
      cores: coresUsed,
      instances: [instance('this process', analyzer.stats, assignments.here), instance('child process', childStats!, assignments.child)],
      findingsStored: twoIds.size,
      findingsOnlyInOne: [...oneIds].filter((id) => !twoIds.has(id)).length,
      findingsOnlyInTwo: [...twoIds].filter((id) => !oneIds.has(id)).length,
    };
  } finally {
    child.kill('SIGKILL');
    await exited;
    await hooked.close();
  }
}
