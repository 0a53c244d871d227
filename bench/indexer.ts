/**
 * Indexer end to end (Kafka -> Elasticsearch) against two baselines on the same engines and the
 * same documents: (a) the raw Elasticsearch ceiling: the topic's own records read back from Kafka
 * and turned into the very `_bulk` bodies the indexer sends (same documents, indices and ids),
 * pre-built and posted with no Kafka at the best of a few body sizes and requests in flight;
 * (b) a naive consumer, kafkajs `eachMessage` plus one `index` call per message. The indexer runs
 * in this process with the deployment's default options (config `indexer` section), so a CPU
 * profile can cover exactly its phase; raw and indexer runs alternate, each on fresh indices,
 * with the CPU each engine and this process used (bench/cpu.ts).
 */
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
import { createAction, EsEventSink } from '../pipeline/store/elasticsearch/sink.ts';
import { activityIndex, installTemplates } from '../pipeline/store/elasticsearch/templates.ts';
import { KafkaTransport } from '../pipeline/transport/kafka/transport.ts';
import { enginePids, withCpu, withEsPinned, type CpuUse } from './cpu.ts';
import { cutBodies, postBodies } from './engines.ts';
import { startProfile } from './profile.ts';

export interface IndexerFigures {
  events: number;
  /** Raw `_bulk` runs of the topic's own records: the settings sweep, then the best setting again between the indexer runs. */
  rawRuns: RawRun[];
  /** The best raw run. */
  ceiling: number;
  /** Steady: from the first record received to the last document; total: from subscribe. */
  indexerRuns: IndexerRun[];
  /** The best raw setting and the indexer again with Elasticsearch alone on core 1 (`--pin-es`). */
  pinned: { raw: RawRun; indexer: IndexerRun } | undefined;
  /** `reanalyze` over the indexed documents: events read back and analysed per second. */
  reanalysisPerSec: number;
  reanalysisEvents: number;
  naivePerSec: number;
  naiveDocs: number;
  naiveSecs: number;
  /** Self time of the first indexer phase by package, when profiled. */
  profile: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Where a phase's `_bulk` requests spent their time: inside Elasticsearch (its `took`) or outside
 * it (sending the body, and the answer waiting for this process's event loop to read it).
 */
export interface BulkTimes {
  requests: number;
  /** Mean requests inside Elasticsearch at once: the sum of their `took` over the phase's wall time. */
  insideEs: number;
  /** Elasticsearch's `took` per 1,000 documents (ms). */
  tookMsPerKDocs: number;
  /** Each request's time outside Elasticsearch: its latency here minus its `took` (ms). */
  outsideMsP50: number;
  outsideMsP90: number;
}

type TransportRequestParams = Parameters<Client['transport']['request']>[0];

/**
 * Times `client`'s `_bulk` requests (the bulk helper's and the raw runs' alike) until the returned
 * stop: `took` is added to the reply's filter_path and taken out again before the caller sees it.
 */
function timeBulk(client: Client): (docs: number) => BulkTimes {
  const transport = client.transport as unknown as { request: (params: TransportRequestParams, options?: unknown) => Promise<unknown> };
  const request = transport.request;
  const times: { sent: number; answered: number; took: number }[] = [];
  transport.request = async function (params, options) {
    if (params.path !== '/_bulk' || typeof params.querystring !== 'object') return request.call(this, params, options);
    const querystring = { ...params.querystring, filter_path: `took,${(params.querystring.filter_path as string | undefined) ?? '*'}` };
    const sent = performance.now();
    const answer = (await request.call(this, { ...params, querystring }, options)) as { took?: number; body?: { took?: number } };
    // The bulk helper asks for the answer with its metadata (`meta: true`): the reply is its body.
    const reply = options && (options as { meta?: boolean }).meta ? answer.body! : answer;
    times.push({ sent, answered: performance.now(), took: reply.took ?? 0 });
    delete reply.took;
    return answer;
  };
  return (docs) => {
    transport.request = request;
    const wall = Math.max(...times.map((t) => t.answered)) - Math.min(...times.map((t) => t.sent));
    const outside = times.map((t) => t.answered - t.sent - t.took).sort((a, b) => a - b);
    const took = times.reduce((sum, t) => sum + t.took, 0);
    return {
      requests: times.length,
      insideEs: took / wall,
      tookMsPerKDocs: (took / docs) * 1000,
      outsideMsP50: outside[Math.floor((outside.length - 1) * 0.5)] ?? 0,
      outsideMsP90: outside[Math.floor((outside.length - 1) * 0.9)] ?? 0,
    };
  };
}

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

/**
 * The indexer as `tidewatch run indexer` builds it, on a topic already filled with `events`, from
 * subscribing to its last document written; `close` (leaving the group takes seconds, idle) is
 * the caller's, outside the phase whose CPU is measured.
 */
async function runIndexer(engines: { brokers: string[]; esUrl: string }, topic: string, prefix: string, count: number, profileTo: string | undefined) {
  const options = indexerSchema.parse({});
  const es = elasticsearchSchema.parse({ url: engines.esUrl, indexPrefix: prefix });
  const client = createEsClient(es);
  const bulkTimes = timeBulk(client);
  const transport = new KafkaTransport(kafkaSchema.parse({ brokers: engines.brokers, topic, dlqTopic: `${topic}.dlq` }));
  const indexer = new Indexer({
    transport,
    sink: new EsEventSink(client, es, options),
    deadLetters: await transport.deadLetters(),
    options: { ...options, groupId: `${prefix}-indexer`, storeText: false },
    log: createLogger('warn'),
  });
  const stopProfile = await startProfile(profileTo);
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
  const bulk = bulkTimes(count);
  const profile = await stopProfile();
  const close = async () => {
    await sub.stop();
    await transport.close();
    await client.close();
  };
  if (indexer.stats.deadLettered) {
    await close();
    throw new Error(`indexer dead-lettered ${indexer.stats.deadLettered} valid events`);
  }
  // The first batch arrives one fetch after the join: the time to it is start-up, not throughput.
  return { total: count / ((end - t0) / 1000), steady: (count - before) / ((end - (first || t0)) / 1000), joinSecs: ((first || t0) - t0) / 1000, bulk, profile, close };
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

/** The topic's records as the indexer receives them: their bytes, read back from Kafka. */
async function readTopic(brokers: string[], topic: string, group: string, count: number): Promise<Buffer[]> {
  const values: Buffer[] = [];
  const consumer = new Kafka({ clientId: 'bench-reader', brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: group, maxBytesPerPartition: 16 * 1024 * 1024, maxBytes: 64 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) values.push(m.value!);
    },
  });
  const deadline = performance.now() + 120_000;
  while (values.length < count && performance.now() < deadline) await sleep(50);
  await consumer.disconnect();
  if (values.length !== count) throw new Error(`bench: read ${values.length} of the ${count} records of ${topic} back`);
  return values;
}

/**
 * `_bulk` bodies of the records exactly as the indexer writes them: decodeForIndex, the sink's
 * own `create` action (index of the event's UTC month, `_id` = event id) and the document text it
 * sends (the record's own text where it is the event exactly), cut at about `flushBytes` like the
 * client's bulk helper.
 */
export function recordBodies(prefix: string, values: readonly Buffer[], flushBytes: number): { body: string; docs: number }[] {
  const nowMs = Date.now();
  return cutBodies(
    values.map((value) => {
      const v = decodeForIndex(value, { storeText: false, nowMs });
      if (!v.ok) throw new Error(`bench: a record of the topic does not decode: ${v.reason}`);
      return `${JSON.stringify(createAction(prefix, v.event))}\n${v.json ?? JSON.stringify(v.event)}\n`;
    }),
    flushBytes,
  );
}

export interface RawRun {
  flushBytes: number;
  concurrency: number;
  rate: number;
  cpu: CpuUse;
  bulk: BulkTimes;
}

export interface IndexerRun {
  steady: number;
  total: number;
  joinSecs: number;
  cpu: CpuUse;
  bulk: BulkTimes;
}

export async function benchIndexer(
  engines: { brokers: string[]; esUrl: string },
  client: Client,
  events: readonly ActivityEvent[],
  opts: { naiveSecs: number; profileTo?: string | undefined; run: string; pinEs: boolean },
): Promise<IndexerFigures> {
  const options = indexerSchema.parse({});
  const topic = `${opts.run}.activity`;
  const transport = new KafkaTransport(kafkaSchema.parse({ brokers: engines.brokers, topic, dlqTopic: `${topic}.dlq` }));
  // Topics just deleted by the previous bench can make a creation report a missing leader for a moment.
  await retry(() => transport.ensureTopics());
  await (await transport.publisher()).publish(events);
  await transport.close();
  const records = await readTopic(engines.brokers, topic, `${opts.run}-reader`, events.length);
  const pids = await enginePids();

  // Every raw run and indexer run writes fresh indices of its own (same template, same refresh
  // interval), deleted after it, so each starts from the same warm state.
  let runs = 0;
  const raw = (flushBytes: number, concurrency: number): Promise<RawRun> => {
    const prefix = `${opts.run}-raw${++runs}`;
    const bodies = recordBodies(prefix, records, flushBytes);
    return withPrefix(client, engines.esUrl, prefix, async () => {
      const bulkTimes = timeBulk(client);
      const { result, cpu } = await withCpu(pids, () => postBodies(client, bodies, concurrency));
      return { flushBytes, concurrency, rate: result, cpu, bulk: bulkTimes(records.length) };
    });
  };
  const indexer = (profileTo?: string): Promise<IndexerRun & { profile: string[] }> => {
    const prefix = `${opts.run}-indexer${++runs}`;
    return withPrefix(client, engines.esUrl, prefix, async () => {
      const { result, cpu } = await withCpu(pids, () => runIndexer(engines, topic, prefix, events.length, profileTo));
      await result.close();
      return { steady: result.steady, total: result.total, joinSecs: result.joinSecs, bulk: result.bulk, profile: result.profile, cpu };
    });
  };

  // The ceiling: the best of the sink's body size and a larger one, at the requests one batch
  // keeps in flight, all batches together, and fewer.
  const inFlight = options.concurrentPartitions * options.concurrency;
  const rawRuns: RawRun[] = [];
  for (const flushBytes of [options.flushBytes, 4 * options.flushBytes]) {
    for (const concurrency of [...new Set([2, options.concurrency, inFlight])]) rawRuns.push(await raw(flushBytes, concurrency));
  }
  const best = rawRuns.reduce((a, b) => (b.rate > a.rate ? b : a));
  // Then the indexer and the best raw setting alternated, so both meet the same machine state.
  const indexerRuns: (IndexerRun & { profile: string[] })[] = [];
  for (let round = 0; round < 2; round++) {
    indexerRuns.push(await indexer(round === 0 ? opts.profileTo : undefined));
    rawRuns.push(await raw(best.flushBytes, best.concurrency));
  }
  let pinned: { raw: RawRun; indexer: IndexerRun } | undefined;
  if (opts.pinEs) {
    pinned = await withEsPinned(pids, async () => ({ raw: await raw(best.flushBytes, best.concurrency), indexer: await indexer() }));
  }

  // The re-analysis reads back what an indexer stored: the same documents, in event-time order.
  const reanalysisPrefix = `${opts.run}-reanalysis`;
  const reanalysis = await withPrefix(client, engines.esUrl, reanalysisPrefix, async () => {
    await postBodies(client, recordBodies(reanalysisPrefix, records, best.flushBytes), best.concurrency);
    return runReanalysis(engines.esUrl, reanalysisPrefix);
  });
  const naive = await withPrefix(client, engines.esUrl, `${opts.run}-naive`, () => runNaive(engines, client, topic, `${opts.run}-naive`, events.length, opts.naiveSecs));

  const admin = new Kafka({ clientId: 'bench', brokers: engines.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => {});
  await admin.disconnect();
  return {
    events: events.length,
    rawRuns,
    ceiling: Math.max(...rawRuns.map((r) => r.rate)),
    indexerRuns,
    pinned,
    reanalysisPerSec: reanalysis.perSec,
    reanalysisEvents: reanalysis.events,
    naivePerSec: naive.rate,
    naiveDocs: naive.docs,
    naiveSecs: naive.secs,
    profile: indexerRuns[0]!.profile,
  };
}
