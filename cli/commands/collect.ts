import type { Command } from 'commander';
import { loadCredentials } from '../../pipeline/auth.ts';
import type { Config } from '../../pipeline/config/index.ts';
import { ErrorCode, errorMessage, TidewatchError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/log.ts';
import {
  createChannelSource,
  createCollector,
  stateFilePath,
  STATUS_RECORD_KEY,
  WatchListFile,
  type Clock,
  type Collector,
  type CollectorStatusUpdate,
} from '../../pipeline/producers/collector/index.ts';
import { systemClock } from '../../pipeline/clock.ts';
import { connectServe, type CollectorDelivery } from '../../pipeline/producers/collector/deliver.ts';
import { createTransport } from '../../pipeline/transport/index.ts';
import { ExitCode, action } from '../program.ts';
import { commandContext, untilSignal } from '../context.ts';
import type { Metrics } from '../../pipeline/metrics/index.ts';

/** Heartbeats come every tick; the log gets one a minute. */
const HEARTBEAT_LOG_MS = 60_000;
/** The analyzer gets a heartbeat at most this often (and at least five times per analytics.status.heartbeatStaleSecs). */
const HEARTBEAT_PUBLISH_MS = 60_000;

export interface CollectProcess {
  collector: Collector;
  source: 'preview' | 'mtproto';
  /** Where the events go: "kafka", "serve at http://...", "in-process". */
  delivery: string;
  /** Waits for the status records in flight, then closes the source and what openCollect opened. */
  close(): Promise<void>;
}

/** Retries of a delivery to serve before the poll counts as not delivered (its state stays). */
const SERVE_RETRIES = 3;
const SERVE_TIMEOUT_MS = 30_000;

/** serve's own address as a client reaches it: a wildcard bind is reached on loopback. */
function defaultServeUrl(config: Config): string {
  const host = config.serve.host === '0.0.0.0' || config.serve.host === '::' ? '127.0.0.1' : config.serve.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.serve.port}`;
}

/**
 * On Kafka: the events on the activity topic, the status stream on the analyzer's network topic
 * (one partition), keyed apart from the forwarded events: the network stage is the one owner of
 * the status core.
 */
export async function openKafkaDelivery(config: Config & { kafka: NonNullable<Config['kafka']> }): Promise<CollectorDelivery> {
  const opened: { close(): Promise<void> }[] = [];
  try {
    const transport = await createTransport(config);
    opened.unshift(transport);
    const statusTransport = await createTransport({ ...config, kafka: { ...config.kafka, topic: config.analyzer.networkTopic, partitions: 1 } });
    opened.unshift(statusTransport);
    await transport.ensureTopics();
    await statusTransport.ensureTopics();
    const events = await transport.publisher();
    opened.unshift(events);
    const status = await statusTransport.publisher();
    opened.unshift(status);
    return {
      describe: 'kafka',
      events,
      sendStatus: (updates) => status.publishRaw(updates.map((u) => ({ key: STATUS_RECORD_KEY, value: JSON.stringify(u) }))),
      async close() {
        for (const o of opened) await o.close();
      },
    };
  } catch (err) {
    for (const o of opened) await o.close().catch(() => {});
    throw err;
  }
}

/**
 * Where `tidewatch collect` delivers: Kafka when configured, else a running `tidewatch serve`
 * (its ingest endpoint). With neither it refuses to start: collecting into nowhere would move the
 * state on while the posts are lost.
 */
export async function openDelivery(config: Config): Promise<CollectorDelivery> {
  if (config.kafka) return openKafkaDelivery({ ...config, kafka: config.kafka });
  const baseUrl = config.collector.serveUrl ?? defaultServeUrl(config);
  try {
    return await connectServe({ baseUrl, token: loadCredentials(config.serve).writer, timeoutMs: SERVE_TIMEOUT_MS, retries: SERVE_RETRIES, retryInitialDelayMs: 1_000 });
  } catch (err) {
    throw new TidewatchError(
      ErrorCode.NOT_CONFIGURED,
      `nowhere to deliver the collected events: ${errorMessage(err)}. Without Kafka a collector delivers to a running \`tidewatch serve\`: ` +
        `run \`tidewatch serve --watch-list <file>\` (it collects in its own process), or start \`tidewatch serve\` and give its address ` +
        `(--serve-url, collector.serveUrl; tried ${baseUrl}), or configure Kafka (KAFKA_BROKERS)`,
      { cause: err },
    );
  }
}

/**
 * The wiring of a collector: the configured source, the collector, its events and status stream
 * on the delivery (given by `serve` for its in-process collector, else chosen by openDelivery).
 * The collector is created, not started. Exported so the end-to-end tests run exactly this wiring.
 */
export async function openCollect(
  config: Config,
  log: Logger,
  deps: { clock?: Clock; random?: () => number; delivery?: CollectorDelivery; metrics?: Metrics } = {},
): Promise<CollectProcess> {
  const options = config.collector;
  const clock = deps.clock ?? systemClock;
  const watchListFile = options.watchListFile ? new WatchListFile(options.watchListFile) : undefined;
  if (!config.watchList.length && !watchListFile) {
    throw new TidewatchError(ErrorCode.NOT_CONFIGURED, 'nothing to watch: give --watch-list <file>, collector.watchListFile or watchList in the config');
  }
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'collector shutdown step failed'));
  };
  try {
    const delivery = deps.delivery ?? (await openDelivery(config));
    if (!deps.delivery) closers.push(() => delivery.close());
    const { source, limiter } = await createChannelSource(options, config.dataDir, clock);
    closers.push(() => source.close());

    // In order, one delivery at a time; what arrives meanwhile goes in the next one, together (a
    // round of polls is one request to serve, not one per channel).
    let queued: CollectorStatusUpdate[] = [];
    let sending = Promise.resolve();
    closers.push(() => sending);
    let lastHeartbeatLog = Number.NEGATIVE_INFINITY;
    let lastHeartbeatSent = Number.NEGATIVE_INFINITY;
    let collector: Collector | undefined;
    const measure = deps.metrics && (await import('../metrics.ts')).collectorMetrics(deps.metrics, config, { now: () => clock.now(), limiter, channels: () => collector?.channels().map((c) => c.handle) ?? [] });
    const heartbeatEveryMs = Math.min(HEARTBEAT_PUBLISH_MS, (config.analytics.status.heartbeatStaleSecs * 1000) / 5);
    const send = (update: CollectorStatusUpdate) => {
      queued.push(update);
      if (queued.length > 1) return;
      sending = sending.then(async () => {
        const batch = queued;
        queued = [];
        await delivery.sendStatus(batch).catch((err: unknown) => log.warn({ err: errorMessage(err), updates: batch.length }, 'collector status not delivered; the next one follows'));
      });
    };
    const onStatus = (update: CollectorStatusUpdate) => {
      measure?.(update);
      const now = clock.now();
      if (update.type === 'channel' || now - lastHeartbeatSent >= heartbeatEveryMs) {
        if (update.type === 'heartbeat') lastHeartbeatSent = now;
        send(update);
      }
      if (update.type === 'channel' && update.health !== 'ok') log.warn({ status: update }, 'channel status');
      else if (update.type === 'channel') log.debug({ status: update }, 'channel status');
      else if (now - lastHeartbeatLog >= HEARTBEAT_LOG_MS) {
        lastHeartbeatLog = now;
        log.info({ heartbeat: update }, 'collector heartbeat');
      }
    };
    collector = await createCollector({
      options,
      watchList: config.watchList,
      watchListFile,
      source,
      limiter,
      publisher: delivery.events,
      stateFile: stateFilePath(config.dataDir, options.name),
      storeText: config.storeText,
      clock,
      random: deps.random,
      onStatus,
    });
    return { collector, source: source.type, delivery: delivery.describe, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * `tidewatch collect`: watch the channels of the watch list live, through the public web preview
 * (default) or MTProto, and deliver their activity to Kafka or to a running `tidewatch serve`.
 * `tidewatch collect login`: store an MTProto session for `--source mtproto`.
 */
export function registerCollect(program: Command): void {
  const collect = program
    .command('collect')
    .description('watch public Telegram channels live (web preview or MTProto) and publish posts, subscriber counts and takedowns')
    .option('--once', 'poll every watched channel once, save the state and exit')
    .option('--watch-list <file>', 'JSON watch list (["handle", {"handle": "x", "network": "...", "language": "ar", "labels": [...]}]), re-read when it changes')
    .option('--source <source>', 'preview (public web preview, no account) or mtproto (needs `collect login`)')
    .option('--serve-url <url>', 'without Kafka: the running `tidewatch serve` to deliver to (default http://<serve.host>:<serve.port>)')
    .action(
      action(async (opts: { once?: boolean; watchList?: string; source?: string; serveUrl?: string }, cmd: Command) => {
        const { config, log } = commandContext(cmd, {
          collector: {
            ...(opts.source ? { source: opts.source } : {}),
            ...(opts.watchList ? { watchListFile: opts.watchList } : {}),
            ...(opts.serveUrl ? { serveUrl: opts.serveUrl } : {}),
          },
        });
        const name = config.collector.name;
        const metrics = opts.once ? undefined : await (await import('../metrics.ts')).startMetrics(config, log, 'collect');
        const run = await openCollect(config, log, metrics ? { metrics: metrics.metrics } : {});
        const { collector } = run;
        try {
          if (opts.once) {
            // SIGINT during --once: stop taking channels, finish those in flight, save.
            void untilSignal().then(() => collector.stop());
            const summary = await collector.runOnce();
            process.stdout.write(`${JSON.stringify({ collector: name, source: run.source, delivery: run.delivery, ...summary })}\n`);
            // Every poll failed: nothing was learned, and a script must not take that for success.
            if (summary.polled > 0 && summary.pollErrors >= summary.polled) {
              process.stderr.write(`tidewatch: every poll failed (${Object.entries(summary.failures).map(([k, n]) => `${n} ${k}`).join(', ')})\n`);
              return ExitCode.FAILURE;
            }
            return summary.eventsRejected > 0 ? ExitCode.REJECTED : ExitCode.OK;
          }
          collector.start();
          metrics?.started();
          log.info({ collector: name, source: run.source, channels: collector.channels().length, delivery: run.delivery }, 'collector started');
          const signal = await untilSignal();
          log.info({ signal }, 'collector stopping: finishing polls in flight');
          await collector.stop();
          log.info({ heartbeat: collector.heartbeat() }, 'collector stopped');
          return ExitCode.OK;
        } finally {
          await metrics?.close();
          await run.close();
        }
      }),
    );

  collect
    .command('login')
    .description('sign in to Telegram (MTProto) once; the session is stored as <dataDir>/telegram.session (0600)')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config } = commandContext(cmd);
        const [{ login }, { terminalPrompter }] = await Promise.all([import('../../pipeline/producers/mtproto/source.ts'), import('../../pipeline/producers/mtproto/prompt.ts')]);
        // Questions on stderr (stdout is for the result); the 2FA password is read without echo.
        const prompter = terminalPrompter({ input: process.stdin, output: process.stderr });
        try {
          const file = await login(config.dataDir, prompter, config.collector.mtproto);
          process.stdout.write(`Telegram session saved to ${file}\n`);
        } finally {
          prompter.close();
        }
      }),
    );
}
