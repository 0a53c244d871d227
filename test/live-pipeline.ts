import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Alerter } from '../consumers/alerter/alerter.ts';
import { webhookSchema } from '../consumers/alerter/options.ts';
import { parseRules } from '../consumers/alerter/rules.ts';
import { WebhookSink } from '../consumers/alerter/sinks.ts';
import { Analyzer } from '../consumers/analyzer/analyzer.ts';
import { EsSnapshotStore } from '../consumers/analyzer/snapshots-es.ts';
import { configSchema } from '../pipeline/config/index.ts';
import { buildEvent, type ActivityEvent } from '../pipeline/events/index.ts';
import { createLogger } from '../pipeline/log.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { createStore } from '../pipeline/store/index.ts';
import type { AlertRecord, Store } from '../pipeline/store/types.ts';
import { createTransport } from '../pipeline/transport/index.ts';
import { findingsTopic, followSilences, silenceAnnouncer } from '../cli/findings-topic.ts';
import type { Publisher } from '../pipeline/transport/types.ts';

/**
 * The live path on the real engines with a compressed clock, for the live-alerting test and the
 * alert-latency benchmark: producer -> Kafka -> analyzer (live, ticked on the compressed wall
 * clock) -> Elasticsearch -> alerter (node-cron, every second) -> a webhook on 127.0.0.1 that
 * records when each alert arrives.
 */
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export interface LivePipeline {
  /** The compressed clock (simulated epoch ms) and its real-time counterpart. */
  now(): number;
  realAt(simMs: number): number;
  /** Alerts as the webhook received them, with the real arrival time. */
  received: { at: number; alert: AlertRecord }[];
  store: Store;
  analyzer: Analyzer;
  alerter: Alerter;
  publisher: Publisher;
  post(channel: string, simMs: number, seq: number): ActivityEvent;
  close(): Promise<void>;
}

export interface LivePipelineOptions {
  name: string;
  brokers: string[];
  esUrl: string;
  /** Simulated milliseconds per real millisecond. */
  speed: number;
  analyzerTickSecs: number;
  /** Six-field node-cron schedules (seconds first). */
  silenceSchedule: string;
  spikeSchedule: string;
}

export async function startLivePipeline(o: LivePipelineOptions): Promise<LivePipeline> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    const t0 = Date.now();
    const simStart = Date.UTC(2026, 0, 5);
    const now = (): number => simStart + (Date.now() - t0) * o.speed;
    const realAt = (simMs: number): number => t0 + (simMs - simStart) / o.speed;
    const config = configSchema.parse({
      kafka: { brokers: o.brokers, topic: `${o.name}.activity`, dlqTopic: `${o.name}.dlq`, partitions: 2 },
      elasticsearch: { url: o.esUrl, indexPrefix: o.name },
      analytics: { allowedLatenessSecs: 60, gaps: { warmupDays: 0, warmupEvents: 10, floorHours: 1 }, spikes: { warmupDays: 0 } },
      alerter: { findingsTopic: `${o.name}.findings` },
      analyzer: { groupId: `${o.name}-analyzer`, networkGroupId: `${o.name}-network`, networkTopic: `${o.name}.network`, mode: 'live', tickSecs: o.analyzerTickSecs },
    });

    const received: LivePipeline['received'] = [];
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
      await es.indices.delete({ index: `${o.name}-*` });
      await es.indices.deleteIndexTemplate({ name: `${o.name}-*` });
      await es.close();
    });
    const store = await createStore(config);
    await store.setup();
    cleanups.push(() => store.close());
    const snapshots = new EsSnapshotStore(es, o.name);
    await snapshots.setup();
    const transport = await createTransport(config);
    const network = await createTransport({ ...config, kafka: { ...config.kafka!, topic: config.analyzer.networkTopic, partitions: 1 } });
    await transport.ensureTopics();
    await network.ensureTopics();
    // As `tidewatch run analyzer` and `run alerter` do: silences just stored are announced over Kafka.
    const findings = await findingsTopic(config as typeof config & { kafka: NonNullable<typeof config.kafka> });
    const announcer = await silenceAnnouncer(findings);
    cleanups.push(() => Promise.all([transport.close(), network.close(), announcer.close().then(() => findings.close())]));

    const analyzer = new Analyzer({
      transport, network, sourcePartitions: 2, store, snapshots,
      options: { ...config.analyzer, instanceId: 'live', storeText: false }, analytics: config.analytics, log, now, nowRate: o.speed,
      onSilenceDue: announcer.announce,
    });
    const sub = await analyzer.start();
    cleanups.push(() => sub.stop());
    const rules = parseRules({
      rules: [
        { name: 'silence', kind: 'silence', scope: 'channel', schedule: o.silenceSchedule },
        { name: 'spike', kind: 'spike', scope: 'channel', schedule: o.spikeSchedule },
      ],
    }, 'live pipeline');
    const alerter = new Alerter({
      store, rules, now, log,
      sinks: [new WebhookSink(webhookSchema.parse({ name: 'ops', url }), log)],
      options: { retries: 3, retryInitialDelayMs: 100, retryMaxDelayMs: 1_000 },
    });
    await alerter.start();
    cleanups.push(() => alerter.stop());
    const announced = await followSilences(findings, `${o.name}-alerter`, alerter, log);
    cleanups.push(() => announced.stop());
    const publisher = await transport.publisher();
    const post = (ch: string, t: number, seq: number) =>
      buildEvent({ timestamp: t, action: 'post', channel: { id: ch, handle: ch, network: 'net' }, message: { id: `${ch}-${seq}` }, source: { type: 'test' } });
    return { now, realAt, received, store, analyzer, alerter, publisher, post, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Polls `probe` until it gives something, or fails naming `what`. */
export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
