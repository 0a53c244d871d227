/**
 * Indexer end to end (Kafka -> Elasticsearch) against two baselines on the same engines and the
 * same documents: (a) the raw Elasticsearch ceiling, pre-built `_bulk` bodies of the sink's size
 * posted with the same requests in flight, no Kafka; (b) a naive consumer, kafkajs `eachMessage`
 * plus one `index` call per message. The indexer runs in this process with the deployment's
 * default options (config `indexer` section), so a CPU profile can cover exactly its phase.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { reanalyze } from '../consumers/analyzer/reanalysis.ts';
import { decodeForIndex, Indexer } from '../consumers/indexer/indexer.ts';
import { configSchema, elasticsearchSchema, indexerSchema, kafkaSchema } from '../pipeline/config/index.ts';
import { createStore } from '../pipeline/store/index.ts';
import { decodeEvent, type ActivityEvent } from '../pipeline/events/index.ts';
import { createLogger } from '../pipeline/log.ts';
import { retry } from '../pipeline/retry.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { EsEventSink } from '../pipeline/store/elasticsearch/sink.ts';
import { activityIndex, installTemplates } from '../pipeline/store/elasticsearch/templates.ts';
import { KafkaTransport } from '../pipeline/transport/kafka/transport.ts';
import { bulkBodies, postBodies } from './engines.ts';

export interface IndexerFigures {
  events: number;
  /** Raw `_bulk` ceiling at the sink's own request count in flight, and at half of it. */
  rawPerSec: { concurrency: number; rate: number }[];
  /** From subscribe to the last document, and from the first record received to the last. */
  indexerTotalPerSec: number;
  indexerSteadyPerSec: number;
  groupJoinSecs: number;
  /** `reanalyze` over the indexed documents: events read back and analysed per second. */
  reanalysisPerSec: number;
  reanalysisEvents: number;
  naivePerSec: number;
  naiveDocs: number;
  naiveSecs: number;
  /** Self time of the indexer phase by package, when profiled. */
  profile: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function withPrefix<T>(client: Client, esUrl: string, prefix: string, fn: () => Promise<T>): Promise<T> {
  const es = elasticsearchSchema.parse({ url: esUrl, indexPrefix: prefix });
  await installTemplates(client, es);
  try {
    return await fn();
  } finally {
    await client.indices.delete({ index: `${prefix}-*` }).catch(() => {});
    await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
  }
}

/** The indexer as `tidewatch run indexer` builds it, on a topic already filled with `events`. */
async function runIndexer(engines: { brokers: string[]; esUrl: string }, topic: string, prefix: string, count: number, profileTo: string | undefined) {
  const options = indexerSchema.parse({});
  const es = elasticsearchSchema.parse({ url: engines.esUrl, indexPrefix: prefix });
  const client = createEsClient(es);
  const transport = new KafkaTransport(kafkaSchema.parse({ brokers: engines.brokers, topic, dlqTopic: `${topic}.dlq` }));
  const indexer = new Indexer({
    transport,
    sink: new EsEventSink(client, es, options),
    deadLetters: await transport.deadLetters(),
    options: { ...options, groupId: `${prefix}-indexer`, storeText: false },
    log: createLogger('warn'),
  });
  const session = profileTo ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const t0 = performance.now();
  const sub = await indexer.start();
  // Steady state: from the first handled batch on, the documents written after it over the time
  // after it (counting the first batch's documents over the later time would flatter large batches).
  let first = 0;
  let before = 0;
  while (indexer.stats.indexed + indexer.stats.duplicates < count) {
    if (!first && indexer.stats.received) {
      first = performance.now();
      before = indexer.stats.indexed + indexer.stats.duplicates;
    }
    await sleep(20);
  }
  const end = performance.now();
  let profile: string[] = [];
  if (session) {
    const { profile: p } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(profileTo!, JSON.stringify(p));
    profile = summarizeProfile(p);
  }
  await sub.stop();
  await transport.close();
  await client.close();
  if (indexer.stats.deadLettered) throw new Error(`indexer dead-lettered ${indexer.stats.deadLettered} valid events`);
  // The first batch arrives one fetch after the join: the time to it is start-up, not throughput.
  return { total: count / ((end - t0) / 1000), steady: (count - before) / ((end - (first || t0)) / 1000), joinSecs: ((first || t0) - t0) / 1000, profile };
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples?: number[];
}

/** Self time by where the code lives: which library (or our own folder) the samples fall in. */
function summarizeProfile(p: CpuProfile): string[] {
  const total = p.samples?.length ?? p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of p.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const { url, functionName, lineNumber } = node.callFrame;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const ours = /\/(pipeline|consumers|bench)\/(.+?)(\.ts)?$/.exec(url);
    const place =
      functionName === '(idle)' ? 'idle: waiting for Kafka / Elasticsearch'
        : pkg ?? (ours ? `tidewatch ${ours[1]}/${ours[2]}` : url.startsWith('node:') ? 'node internals' : functionName ? `(${functionName})` : '(native / v8)');
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
    // tsx compiles our files to one line each: their line numbers say nothing.
    const fn = `${functionName || '(anonymous)'} ${pkg ? `${pkg}:${lineNumber + 1}` : ours ? `${ours[1]}/${ours[2]}` : url}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `| ${k} | ${((v / total) * 100).toFixed(1)}% |`);
  return ['| self time, by place | share |', '|---|---|', ...top(byPlace, 12), '', '| self time, by function | share |', '|---|---|', ...top(byFunction, 15)];
}

/**
 * CPU cost per event of the indexer's decode step, one core, no I/O: the bare JSON.parse, then
 * decodeEvent (zod validation) without and with the event.id check (a SHA-256 per event), then
 * decodeForIndex (decodeEvent + the `link` fields), on the events as they are and with links.
 */
export function decodeCost(events: readonly ActivityEvent[]): { step: string; perSec: number }[] {
  const bufs = events.map((e) => Buffer.from(JSON.stringify(e)));
  // The same events with two links each, in canonical key order (`links` after `message`, so they
  // still take decodeEvent's fast path): a post's own link, new each time, and a recurring one.
  const linked = events.map((e) => {
    const { source, labels, ...head } = e;
    return Buffer.from(JSON.stringify({ ...head, links: [`https://t.me/${e.channel.id}/${e.message?.id}`, 'https://www.TamTam.chat/x'], source, ...(labels ? { labels } : {}) }));
  });
  const probe = decodeEvent(linked[0]!);
  if (!probe.ok || probe.json === undefined) throw new Error('bench: the linked events miss decodeEvent\'s fast path');
  const steps: [string, Buffer[], (b: Buffer) => unknown][] = [
    ['JSON.parse only', bufs, (b) => JSON.parse(b.toString('utf8'))],
    ['decodeEvent without the id check', bufs, (b) => decodeEvent(b, { checkId: false })],
    ['decodeEvent', bufs, (b) => decodeEvent(b)],
    ['decodeForIndex (what the indexer runs: decodeEvent + link fields)', bufs, (b) => decodeForIndex(b, {})],
    ['decodeEvent, events with 2 links', linked, (b) => decodeEvent(b)],
    ['decodeForIndex, events with 2 links', linked, (b) => decodeForIndex(b, {})],
  ];
  return steps.map(([step, input, fn]) => {
    const t0 = performance.now();
    for (const b of input) fn(b);
    return { step, perSec: input.length / ((performance.now() - t0) / 1000) };
  });
}

/** kafkajs `eachMessage` + one `index` request per message, for `maxSecs` at most. */
async function runNaive(engines: { brokers: string[] }, client: Client, topic: string, prefix: string, count: number, maxSecs: number) {
  const consumer = new Kafka({ clientId: 'bench-naive', brokers: engines.brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: `${prefix}-naive` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let docs = 0;
  let first = 0;
  let last = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      const doc = JSON.parse(message.value!.toString('utf8')) as ActivityEvent;
      await client.index({ index: activityIndex(prefix, doc['@timestamp']), id: doc.event.id, op_type: 'create', document: doc });
      if (!first) first = performance.now();
      docs++;
      last = performance.now();
    },
  });
  const deadline = () => first && performance.now() - first > maxSecs * 1000;
  while (docs < count && !deadline()) await sleep(100);
  await consumer.disconnect();
  const secs = (last - first) / 1000;
  return { rate: docs / secs, docs, secs };
}

/** `tidewatch reanalyze` over what the indexer stored: events read back from Elasticsearch in (time, id) order and analysed, findings written. */
async function runReanalysis(esUrl: string, prefix: string): Promise<{ perSec: number; events: number }> {
  const config = configSchema.parse({ elasticsearch: { url: esUrl, indexPrefix: prefix, requestTimeoutMs: 120_000 } });
  const store = await createStore(config);
  try {
    await store.setup();
    await store.refresh();
    const started = performance.now();
    const r = await reanalyze({ store, analytics: config.analytics });
    return { perSec: r.events / ((performance.now() - started) / 1000), events: r.events };
  } finally {
    await store.close();
  }
}

export async function benchIndexer(
  engines: { brokers: string[]; esUrl: string },
  client: Client,
  events: readonly ActivityEvent[],
  opts: { naiveSecs: number; profileTo?: string | undefined; run: string },
): Promise<IndexerFigures> {
  const options = indexerSchema.parse({});
  const topic = `${opts.run}.activity`;
  const transport = new KafkaTransport(kafkaSchema.parse({ brokers: engines.brokers, topic, dlqTopic: `${topic}.dlq` }));
  // Topics just deleted by the previous bench can make a creation report a missing leader for a moment.
  await retry(() => transport.ensureTopics());
  await (await transport.publisher()).publish(events);
  await transport.close();

  // The indexer has `concurrentPartitions` batches in flight, each with up to `concurrency` bulk
  // requests: the raw ceiling is measured at that product and at the per-batch figure.
  const inFlight = options.concurrentPartitions * options.concurrency;
  const rawPerSec: { concurrency: number; rate: number }[] = [];
  for (const concurrency of [options.concurrency, inFlight]) {
    const prefix = `${opts.run}-raw${concurrency}`;
    const rate = await withPrefix(client, engines.esUrl, prefix, () => postBodies(client, bulkBodies(prefix, events, options.flushBytes), concurrency));
    rawPerSec.push({ concurrency, rate });
  }
  // The re-analysis reads back what the indexer stored: the same documents, in event-time order.
  const ix = await withPrefix(client, engines.esUrl, `${opts.run}-indexer`, async () => ({
    ...(await runIndexer(engines, topic, `${opts.run}-indexer`, events.length, opts.profileTo)),
    reanalysis: await runReanalysis(engines.esUrl, `${opts.run}-indexer`),
  }));
  const naive = await withPrefix(client, engines.esUrl, `${opts.run}-naive`, () => runNaive(engines, client, topic, `${opts.run}-naive`, events.length, opts.naiveSecs));

  const admin = new Kafka({ clientId: 'bench', brokers: engines.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => {});
  await admin.disconnect();
  return {
    events: events.length,
    rawPerSec,
    indexerTotalPerSec: ix.total,
    indexerSteadyPerSec: ix.steady,
    groupJoinSecs: ix.joinSecs,
    reanalysisPerSec: ix.reanalysis.perSec,
    reanalysisEvents: ix.reanalysis.events,
    naivePerSec: naive.rate,
    naiveDocs: naive.docs,
    naiveSecs: naive.secs,
    profile: ix.profile,
  };
}
