import type { Command } from 'commander';
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
  transport: string;
  /** Waits for the status records in flight, then closes the publishers, the source and the transports. */
  close(): Promise<void>;
}

/**
 * The wiring of `tidewatch collect`: the configured source, the collector, its events on the
 * transport and its status stream on the analyzer's network topic. The collector is created, not
 * started. Exported so the end-to-end test runs exactly this wiring (with its own clock).
 */
export async function openCollect(config: Config, log: Logger, deps: { clock?: Clock; random?: () => number; metrics?: Metrics } = {}): Promise<CollectProcess> {
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
    const { source, limiter } = await createChannelSource(options, config.dataDir, clock);
    closers.push(() => source.close());
    const transport = await createTransport(config);
    closers.push(() => transport.close());
    // The status stream goes to the analyzer's network stage, the one owner of the status core:
    // on its own input topic (one partition), keyed apart from the forwarded events. On the
    // in-process transport nobody else could read it (nor the events).
    const statusTransport = config.kafka ? await createTransport({ ...config, kafka: { ...config.kafka, topic: config.analyzer.networkTopic, partitions: 1 } }) : undefined;
    if (statusTransport) closers.push(() => statusTransport.close());
    await transport.ensureTopics();
    await statusTransport?.ensureTopics();
    const publisher = await transport.publisher();
    closers.push(() => publisher.close());
    const statusPublisher = await statusTransport?.publisher();
    if (statusPublisher) closers.push(() => statusPublisher.close());

    let sending = Promise.resolve();
    closers.push(() => sending);
    let lastHeartbeatLog = Number.NEGATIVE_INFINITY;
    let lastHeartbeatSent = Number.NEGATIVE_INFINITY;
    let collector: Collector | undefined;
    const measure = deps.metrics && (await import('../metrics.ts')).collectorMetrics(deps.metrics, config, { now: () => clock.now(), limiter, channels: () => collector?.channels().map((c) => c.handle) ?? [] });
    const heartbeatEveryMs = Math.min(HEARTBEAT_PUBLISH_MS, (config.analytics.status.heartbeatStaleSecs * 1000) / 5);
    // One at a time, in order: a channel's updates must not overtake each other.
    const send = (update: CollectorStatusUpdate) => {
      if (!statusPublisher) return;
      sending = sending
        .then(() => statusPublisher.publishRaw([{ key: STATUS_RECORD_KEY, value: JSON.stringify(update) }]))
        .catch((err: unknown) => log.warn({ err: errorMessage(err), update: update.type }, 'collector status not published; the next one follows'));
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
      publisher,
      stateFile: stateFilePath(config.dataDir, options.name),
      storeText: config.storeText,
      clock,
      random: deps.random,
      onStatus,
    });
    return { collector, source: source.type, transport: transport.kind, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * `tidewatch collect`: watch the channels of the watch list live, through the public web preview
 * (default) or MTProto, and publish their activity on the configured transport.
 * `tidewatch collect login`: store an MTProto session for `--source mtproto`.
 */
export function registerCollect(program: Command): void {
  const collect = program
    .command('collect')
    .description('watch public Telegram channels live (web preview or MTProto) and publish posts, subscriber counts and takedowns')
    .option('--once', 'poll every watched channel once, save the state and exit')
    .option('--watch-list <file>', 'JSON watch list (["handle", {"handle": "x", "network": "...", "language": "ar", "labels": [...]}]), re-read when it changes')
    .option('--source <source>', 'preview (public web preview, no account) or mtproto (needs `collect login`)')
    .action(
      action(async (opts: { once?: boolean; watchList?: string; source?: string }, cmd: Command) => {
        const { config, log } = commandContext(cmd, {
          collector: { ...(opts.source ? { source: opts.source } : {}), ...(opts.watchList ? { watchListFile: opts.watchList } : {}) },
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
            process.stdout.write(`${JSON.stringify({ collector: name, source: run.source, ...summary })}\n`);
            return summary.eventsRejected > 0 ? ExitCode.REJECTED : ExitCode.OK;
          }
          collector.start();
          metrics?.started();
          log.info({ collector: name, source: run.source, channels: collector.channels().length, transport: run.transport }, 'collector started');
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
