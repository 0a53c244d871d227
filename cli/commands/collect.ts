import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { ErrorCode, errorMessage, TidewatchError } from '../../pipeline/errors.ts';
import { createChannelSource, createCollector, stateFilePath, STATUS_RECORD_KEY, WatchListFile, type CollectorStatusUpdate } from '../../pipeline/producers/collector/index.ts';
import { createTransport } from '../../pipeline/transport/index.ts';
import { ExitCode, action } from '../program.ts';
import { commandContext, untilSignal } from '../context.ts';

/** Heartbeats come every tick; the log gets one a minute. */
const HEARTBEAT_LOG_MS = 60_000;
/** The analyzer gets a heartbeat at most this often (and at least five times per analytics.status.heartbeatStaleSecs). */
const HEARTBEAT_PUBLISH_MS = 60_000;

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
        const options = config.collector;
        const watchListFile = options.watchListFile ? new WatchListFile(options.watchListFile) : undefined;
        if (!config.watchList.length && !watchListFile) {
          throw new TidewatchError(ErrorCode.NOT_CONFIGURED, 'nothing to watch: give --watch-list <file>, collector.watchListFile or watchList in the config');
        }
        const { source, limiter } = await createChannelSource(options, config.dataDir);
        const transport = await createTransport(config);
        // The status stream goes to the analyzer's network stage, the one owner of the status core:
        // on its own input topic (one partition), keyed apart from the forwarded events. On the
        // in-process transport nobody else could read it (nor the events).
        const statusTransport = config.kafka ? await createTransport({ ...config, kafka: { ...config.kafka, topic: config.analyzer.networkTopic, partitions: 1 } }) : undefined;
        let sending = Promise.resolve();
        try {
          await transport.ensureTopics();
          await statusTransport?.ensureTopics();
          const publisher = await transport.publisher();
          const statusPublisher = await statusTransport?.publisher();
          try {
            let lastHeartbeatLog = 0;
            let lastHeartbeatSent = 0;
            const heartbeatEveryMs = Math.min(HEARTBEAT_PUBLISH_MS, (config.analytics.status.heartbeatStaleSecs * 1000) / 5);
            // One at a time, in order: a channel's updates must not overtake each other.
            const send = (update: CollectorStatusUpdate) => {
              if (!statusPublisher) return;
              sending = sending
                .then(() => statusPublisher.publishRaw([{ key: STATUS_RECORD_KEY, value: JSON.stringify(update) }]))
                .catch((err: unknown) => log.warn({ err: errorMessage(err), update: update.type }, 'collector status not published; the next one follows'));
            };
            const onStatus = (update: CollectorStatusUpdate) => {
              if (update.type === 'channel' || Date.now() - lastHeartbeatSent >= heartbeatEveryMs) {
                if (update.type === 'heartbeat') lastHeartbeatSent = Date.now();
                send(update);
              }
              if (update.type === 'channel' && update.health !== 'ok') log.warn({ status: update }, 'channel status');
              else if (update.type === 'channel') log.debug({ status: update }, 'channel status');
              else if (Date.now() - lastHeartbeatLog >= HEARTBEAT_LOG_MS) {
                lastHeartbeatLog = Date.now();
                log.info({ heartbeat: update }, 'collector heartbeat');
              }
            };
            const collector = await createCollector({
              options,
              watchList: config.watchList,
              watchListFile,
              source,
              limiter,
              publisher,
              stateFile: stateFilePath(config.dataDir, options.name),
              storeText: config.storeText,
              onStatus,
            });
            if (opts.once) {
              // SIGINT during --once: stop taking channels, finish those in flight, save.
              void untilSignal().then(() => collector.stop());
              const summary = await collector.runOnce();
              process.stdout.write(`${JSON.stringify({ collector: options.name, source: source.type, ...summary })}\n`);
              return summary.eventsRejected > 0 ? ExitCode.REJECTED : ExitCode.OK;
            }
            collector.start();
            log.info({ collector: options.name, source: source.type, channels: collector.channels().length, transport: transport.kind }, 'collector started');
            const signal = await untilSignal();
            log.info({ signal }, 'collector stopping: finishing polls in flight');
            await collector.stop();
            log.info({ heartbeat: collector.heartbeat() }, 'collector stopped');
            return ExitCode.OK;
          } finally {
            await sending;
            await Promise.allSettled([publisher.close(), statusPublisher?.close()]);
          }
        } finally {
          await source.close();
          await Promise.allSettled([transport.close(), statusTransport?.close()]);
        }
      }),
    );

  collect
    .command('login')
    .description('sign in to Telegram (MTProto) once; the session is stored as <dataDir>/telegram.session (0600)')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config } = commandContext(cmd);
        const { login } = await import('../../pipeline/producers/mtproto/source.ts');
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        try {
          const file = await login(config.dataDir, (question) => rl.question(question), config.collector.mtproto);
          process.stdout.write(`Telegram session saved to ${file}\n`);
        } finally {
          rl.close();
        }
      }),
    );
}
