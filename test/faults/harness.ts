/**
 * Shared machinery of the fault suite (`npm run test:faults`).
 *
 * The suite stops, kills and restarts engines, so it never touches the shared Kafka and
 * Elasticsearch other tests use: it runs its own pair through the services script, in their own
 * folder and on their own ports (below), and leaves them running for the next fault file like
 * `up` does (CI stops them at the end; locally `TIDEWATCH_SERVICES_DIR=/var/tmp/tidewatch-faults
 * node scripts/services.mjs down`). Files take a lock for their whole run: two of them at once
 * would stop each other's engines.
 *
 * Consumers run as real processes (`node bin/tidewatch.js run indexer`), configured like a
 * deployment through the environment, so a SIGKILL is a real crash and a restart a real restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { buildEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { kafkaSchema, elasticsearchSchema, type ElasticsearchConfig, type KafkaConfig } from '../../pipeline/config/index.ts';
import { retry } from '../../pipeline/retry.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { KafkaTransport } from '../../pipeline/transport/kafka/transport.ts';
import type { DeadLetter, Publisher } from '../../pipeline/transport/types.ts';
import { uniqueName } from '../engines.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'tidewatch.js');

/** The fault suite's own engines: never the shared ones on 19092 / 19200. */
const PRIVATE_ENGINES = {
  TIDEWATCH_SERVICES_DIR: '/var/tmp/tidewatch-faults',
  TIDEWATCH_KAFKA_PORT: '29092',
  TIDEWATCH_KAFKA_CONTROLLER_PORT: '29093',
  TIDEWATCH_ES_PORT: '29200',
  TIDEWATCH_ES_TRANSPORT_PORT: '29300',
};

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Services = typeof import('../../scripts/services.mjs');
let services: Services | undefined;
let lockFile: string | undefined;

/**
 * Starts (or finds) the private engines and takes the suite lock. The services module reads its
 * folder and ports from the environment at call time, so they are set before any call.
 */
export async function privateEngines(): Promise<{ brokers: string[]; esUrl: string; services: Services }> {
  Object.assign(process.env, PRIVATE_ENGINES);
  services ??= await import('../../scripts/services.mjs');
  mkdirSync(PRIVATE_ENGINES.TIDEWATCH_SERVICES_DIR, { recursive: true });
  lockFile = join(PRIVATE_ENGINES.TIDEWATCH_SERVICES_DIR, 'fault-suite.lock');
  for (;;) {
    try {
      closeSync(openSync(lockFile, 'wx'));
      writeFileSync(lockFile, String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(lockFile, 'utf8') || NaN);
      if (Number.isInteger(holder) && !alive(holder)) unlinkSync(lockFile);
      else await sleep(1000);
    }
  }
  const e = await services.up({ quiet: true });
  return { brokers: e.kafka.brokers, esUrl: e.elasticsearch.url, services };
}

export function releaseEngines(): void {
  if (lockFile) rmSync(lockFile, { force: true });
  lockFile = undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function waitUntil(cond: () => Promise<boolean> | boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

/** One line of figures in the test output (TAP comment), for the report. */
export function figures(test: string, f: Record<string, string | number>): void {
  process.stdout.write(`# [${test}] ${Object.entries(f).map(([k, v]) => `${k}=${typeof v === 'number' ? v.toLocaleString('en') : v}`).join(' ')}\n`);
}

/** Consumer processes still running: a test file that dies must not leave them consuming. */
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));

export interface IndexerStats {
  received: number;
  indexed: number;
  duplicates: number;
  retried: number;
  deadLettered: number;
}

/**
 * A consumer process (`tidewatch run <command>`) under a supervisor like the compose file's
 * `restart: unless-stopped`: an exit the test did not ask for is counted and the process started
 * again. Its log lines go to a file; its periodic stats and RSS are kept.
 */
export class ConsumerProcess<Stats = IndexerStats> {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private wanted = false;
  private rssTimer: NodeJS.Timeout | undefined;
  private readonly log: WriteStream;
  /** Unrequested exits (crashes) with their exit code. */
  readonly crashes: string[] = [];
  /** Latest periodic stats of the current process (reset by every start). */
  stats: Stats | undefined;
  peakRssKb = 0;

  constructor(
    private readonly command: 'indexer' | 'analyzer',
    private readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  start(): void {
    this.wanted = true;
    this.stats = undefined;
    const child = spawn(process.execPath, [BIN, 'run', this.command, '--stats-secs', '1'], { cwd: ROOT, env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    running.add(child);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.log.write(`${line}\n`);
      if (!line.includes('"stats"')) return;
      try {
        const entry = JSON.parse(line) as { stats?: Stats };
        if (entry.stats) this.stats = entry.stats;
      } catch {
        // Not a log line of ours (a runtime warning): it is in the log file all the same.
      }
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.log.write(`### exit code=${code} signal=${signal}\n`);
        running.delete(child);
        if (this.child === child) this.child = undefined;
        if (this.wanted) {
          this.crashes.push(`exit ${code ?? signal}`);
          setTimeout(() => this.wanted && !this.child && this.start(), 500);
        }
        resolve();
      });
    });
    clearInterval(this.rssTimer);
    this.rssTimer = setInterval(() => this.sampleRss(), 250);
  }

  private sampleRss(): void {
    if (!this.child?.pid) return;
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))?.[1] ?? 0);
      this.peakRssKb = Math.max(this.peakRssKb, kb);
    } catch {
      // Exited between the check and the read.
    }
  }

  /** A crash: SIGKILL, no chance to finish the batch or commit. */
  async kill(): Promise<void> {
    const done = this.exited;
    this.wanted = false;
    this.child?.kill('SIGKILL');
    await done;
  }

  /** A clean shutdown (SIGTERM), SIGKILL if it has not finished within the timeout. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.wanted = false;
    clearInterval(this.rssTimer);
    const child = this.child;
    if (child) {
      const done = this.exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await done;
      clearTimeout(timer);
    }
    await new Promise<void>((r) => this.log.end(r));
  }
}

export interface EsContents {
  /** Documents in the activity indices (all copies). */
  docs: number;
  /** Distinct event ids among them. */
  ids: Set<string>;
  /** Same id in more than one document (different monthly indices). */
  duplicates: number;
}

export interface Verdict {
  indexed: number;
  duplicates: number;
  lost: number;
  unexpected: number;
}

/**
 * One scenario's world on the private engines: a unique topic, DLQ topic, index prefix and
 * consumer group, so scenarios never see each other's data.
 */
export class Scenario {
  readonly name: string;
  readonly kafka: KafkaConfig;
  readonly es: ElasticsearchConfig;
  readonly client: Client;
  readonly transport: KafkaTransport;
  readonly dir: string;
  readonly groupId: string;
  private readonly admin;
  private readonly consumers: { stop(timeoutMs: number): Promise<void> }[] = [];
  /** Set by the test once every assertion held. */
  passed = false;

  constructor(label: string, engines: { brokers: string[]; esUrl: string }, partitions = 3) {
    this.name = uniqueName(`faults-${label}`);
    this.groupId = `${this.name}-indexer`;
    this.kafka = kafkaSchema.parse({ brokers: engines.brokers, topic: `${this.name}.activity`, dlqTopic: `${this.name}.dlq`, partitions });
    this.es = elasticsearchSchema.parse({ url: engines.esUrl, indexPrefix: this.name });
    this.client = createEsClient(this.es);
    this.transport = new KafkaTransport(this.kafka);
    this.dir = join(tmpdir(), this.name);
    mkdirSync(this.dir, { recursive: true });
    this.admin = new Kafka({ clientId: 'tidewatch-faults', brokers: engines.brokers, logLevel: logLevel.NOTHING }).admin();
  }

  async setup(): Promise<void> {
    await installTemplates(this.client, this.es);
    // Right after a broker restart (the previous file's) a creation can miss its leader for a moment.
    await retry(() => this.transport.ensureTopics());
    await this.admin.connect();
  }

  /**
   * A consumer process configured like a deployment: engines, topics and prefix from the
   * documented environment variables, the rest (group, tuning) from a config file.
   */
  consumer<Stats = IndexerStats>(command: 'indexer' | 'analyzer', config: Record<string, unknown> = {}, es: { url?: string; prefix?: string } = {}): ConsumerProcess<Stats> {
    const file = join(this.dir, `${command}-${this.consumers.length}.json`);
    writeFileSync(file, JSON.stringify({ kafka: { partitions: this.kafka.partitions }, indexer: { groupId: this.groupId }, ...config }));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: this.kafka.brokers.join(','),
      KAFKA_TOPIC: this.kafka.topic,
      KAFKA_DLQ_TOPIC: this.kafka.dlqTopic,
      ELASTICSEARCH_URL: es.url ?? this.es.url,
      ELASTICSEARCH_INDEX_PREFIX: es.prefix ?? this.name,
      TIDEWATCH_CONFIG: file,
      TIDEWATCH_LOG_LEVEL: 'info',
      // Several consumers of one command run at once here: no fixed metrics port to fight over.
      TIDEWATCH_METRICS_PORT: '0',
    };
    const p = new ConsumerProcess<Stats>(command, env, join(this.dir, `${command}-${this.consumers.length}.log`));
    this.consumers.push(p);
    return p;
  }

  /** Committed offsets of the group equal the end of every partition: nothing left to consume. */
  async lag(groupId = this.groupId, topic = this.kafka.topic): Promise<number> {
    const [ends, committed] = await Promise.all([this.admin.fetchTopicOffsets(topic), this.admin.fetchOffsets({ groupId, topics: [topic] })]);
    const done = new Map(committed[0]?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
    let lag = 0n;
    for (const p of ends) {
      const at = done.get(p.partition) ?? -1n;
      lag += BigInt(p.high) - (at < 0n ? BigInt(p.low) : at);
    }
    return Number(lag);
  }

  /** Waits until the group has consumed and committed everything in the topic. */
  async caughtUp(timeoutMs: number, groupId = this.groupId, topic = this.kafka.topic): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    while (Date.now() < deadline) {
      try {
        last = await this.lag(groupId, topic);
        if (last === 0) return;
      } catch {
        // Broker restarting: ask again.
      }
      await sleep(500);
    }
    throw new Error(`${groupId} not caught up after ${timeoutMs / 1000} s (lag ${last}); logs in ${this.dir}`);
  }

  async docCount(): Promise<number> {
    try {
      await this.client.indices.refresh({ index: `${this.name}-activity-*` });
      return (await this.client.count({ index: `${this.name}-activity-*` })).count;
    } catch {
      return -1;
    }
  }

  /** Every activity document's id, index by index (an id may repeat only across indices). */
  async contents(): Promise<EsContents> {
    await this.client.indices.refresh({ index: `${this.name}-activity-*` });
    const indices = (await this.client.cat.indices({ index: `${this.name}-activity-*`, format: 'json', h: 'index' })) as { index: string }[];
    const ids = new Set<string>();
    let docs = 0;
    for (const { index } of indices) {
      let after: string[] | undefined;
      for (;;) {
        const page = await this.client.search<unknown>({ index, size: 10_000, _source: false, sort: [{ 'event.id': 'asc' }], ...(after ? { search_after: after } : {}) });
        const hits = page.hits.hits;
        for (const h of hits) ids.add(h._id!);
        docs += hits.length;
        if (hits.length < 10_000) break;
        after = hits[hits.length - 1]!.sort as string[];
      }
    }
    return { docs, ids, duplicates: docs - ids.size };
  }

  /** ES against the set of ids that must be there: nothing missing, nothing extra, no copies. */
  async verify(expected: ReadonlySet<string>): Promise<Verdict & { contents: EsContents }> {
    const contents = await this.contents();
    let lost = 0;
    for (const id of expected) if (!contents.ids.has(id)) lost++;
    let unexpected = 0;
    for (const id of contents.ids) if (!expected.has(id)) unexpected++;
    return { indexed: contents.ids.size, duplicates: contents.duplicates, lost, unexpected, contents };
  }

  /** Every finding the analyzer stored under `prefix`, by id. */
  async findings(prefix = this.name): Promise<Map<string, unknown>> {
    const index = ['gaps', 'spikes', 'migrations', 'lifecycle'].map((i) => `${prefix}-${i}`).join(',');
    await this.client.indices.refresh({ index, ignore_unavailable: true });
    const page = await this.client.search({ index, size: 10_000, ignore_unavailable: true, query: { match_all: {} } });
    return new Map(page.hits.hits.map((h) => [`${h._index.slice(prefix.length)}/${h._id}`, h._source]));
  }

  /**
   * Records of `topic` that `group`'s saved analyzer snapshots cover (each partition's snapshot
   * offset + 1, the topic starting at offset 0): how far the analyzer has durably analysed.
   */
  async analyzerCovered(group: string, topic = this.kafka.topic): Promise<number> {
    const index = `${this.name}-analyzer-state`;
    try {
      await this.client.indices.refresh({ index, ignore_unavailable: true });
      const page = await this.client.search<{ key: string; offset: string }>({ index, size: 1_000, _source: ['key', 'offset'], ignore_unavailable: true, query: { match_all: {} } });
      return page.hits.hits.filter((h) => h._source!.key.startsWith(`${group}:${topic}:`)).reduce((n, h) => n + Number(h._source!.offset) + 1, 0);
    } catch {
      return -1;
    }
  }

  /** Records in the DLQ topic, without reading them. */
  async dlqCount(): Promise<number> {
    const ends = await this.admin.fetchTopicOffsets(this.kafka.dlqTopic);
    return ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  }

  deadLetters(): Promise<DeadLetter[]> {
    return this.transport.readDeadLetters({ maxWaitMs: 20_000 });
  }

  /** The source topic as written: (partition:offset) -> bytes, to check dead letters' offsets. */
  async sourceRecords(count: number): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const consumer = new Kafka({ clientId: 'tidewatch-faults', brokers: this.kafka.brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: `${this.name}-reader`, maxBytesPerPartition: 8 * 1024 * 1024 });
    await consumer.connect();
    await consumer.subscribe({ topic: this.kafka.topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.set(`${batch.partition}:${m.offset}`, m.value ?? Buffer.alloc(0));
      },
    });
    const deadline = Date.now() + 60_000;
    while (out.size < count && Date.now() < deadline) await sleep(200);
    await consumer.disconnect();
    return out;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.consumers.map((c) => c.stop(5_000)));
    await this.transport.close();
    // Its topics too (the analyzer's network topic included): the private broker outlives runs.
    const topics = (await this.admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(this.name));
    await this.admin.deleteTopics({ topics }).catch(() => {});
    await this.admin.disconnect().catch(() => {});
    await this.client.indices.delete({ index: `${this.name}-*` }).catch(() => {});
    await this.client.indices.deleteIndexTemplate({ name: `${this.name}-*` }).catch(() => {});
    await this.client.close();
    // The consumers' logs stay for a failed test; a passed one's are noise in /tmp.
    if (this.passed) rmSync(this.dir, { recursive: true, force: true });
    else process.stdout.write(`# logs of the consumers: ${this.dir}\n`);
  }
}

/** Valid events of `channels` channels, spread over two months (two monthly indices). */
export function activity(source: string, count: number, from = 0, channels = 50): ActivityEvent[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return buildEvent({
      timestamp: Date.UTC(2017, 10, 20) + i * 60_000,
      action: 'post',
      channel: { id: `chan-${i % channels}`, handle: `chan_${i % channels}`, language: 'ar', network: 'net-a' },
      message: { id: String(i), media: 'text', length: 100 + (i % 50) },
      source: { type: 'test', name: source },
    });
  });
}

/**
 * Publishes `events` in batches at a steady pace, as a live producer would, while a fault
 * happens. A batch that fails is published again until it goes through (at-least-once: the
 * sink's id dedup makes the second copy harmless); `failures` counts those.
 */
export async function produceSteadily(publisher: Publisher, events: readonly ActivityEvent[], opts: { batch: number; everyMs: number }): Promise<{ failures: number }> {
  let failures = 0;
  for (let i = 0; i < events.length; i += opts.batch) {
    const t0 = Date.now();
    for (;;) {
      try {
        await publisher.publish(events.slice(i, i + opts.batch));
        break;
      } catch {
        failures++;
        await sleep(1000);
      }
    }
    await sleep(Math.max(0, opts.everyMs - (Date.now() - t0)));
  }
  return { failures };
}
