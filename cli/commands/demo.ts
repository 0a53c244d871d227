import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Rule } from '../../consumers/alerter/rules.ts';
import type { AlertSink } from '../../consumers/alerter/sinks.ts';
import { formatTime, parseInstant } from '../../pipeline/dates.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import type { ReplayClock } from '../../pipeline/producers/replay/source.ts';
import { parseSpeed, SPEED_HELP } from '../speed.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import { FACTS } from '../../pipeline/producers/replay/facts.ts';
import { commandContext, untilSignal } from '../context.ts';
import { action } from '../program.ts';
import { startServe } from './serve.ts';
import { mergeWatchLists } from '../../pipeline/watch/watch-list.ts';

interface DemoFlags {
  host?: string;
  port?: string;
  speed: string;
  window: string[];
  seed: string;
  scale: string;
  dataDir?: string;
  exitWhenDone?: boolean;
  insecure?: boolean;
}

/**
 * One simulated week per second: the 2015 takedown wave alerts within ~10 s, the 2017 silence
 * within ~2 min, the whole 2015-2019 timeline takes about 4 minutes (1.5M events).
 */
const DEFAULT_SPEED = 7 * 24 * 3600;
const PUBLISH_EVENTS = 2_000;
/**
 * Shorter waits are skipped: a timer cannot sleep less than a millisecond, which would cap the
 * replay near 1,000 events/s. Due times are absolute, so a skipped wait is made up by a later one.
 */
const MIN_SLEEP_MS = 20;
/** The alert rules run on the replay's clock: every six simulated hours of analysed events. */
const ALERT_EVERY_SIM_SECS = 6 * 3600;
const PROGRESS_MS = 10_000;

function instant(flag: string, raw: string): number {
  const ms = parseInstant(raw);
  if (ms === undefined) throw new Error(`${flag} ${raw}: not a date (e.g. 2017-11-20 or 2017-11-22T09:00:00Z)`);
  return ms;
}

function parseWindows(raw: string[]): { fromMs: number; toMs: number }[] {
  const windows = raw.map((w) => {
    const [from, to, extra] = w.split('/');
    if (!from || !to || extra !== undefined) throw new Error(`--window ${w}: expected <from>/<to>, e.g. 2017-11-01/2017-12-01`);
    const win = { fromMs: instant('--window', from), toMs: instant('--window', to) };
    if (win.toMs <= win.fromMs) throw new Error(`--window ${w}: the end must be after the start`);
    return win;
  });
  for (let i = 1; i < windows.length; i++) {
    if (windows[i]!.fromMs < windows[i - 1]!.toMs) throw new Error('--window: windows must be in time order and must not overlap (detectors read events in time order)');
  }
  return windows.length ? windows : [{ fromMs: FACTS.channelsLaunch, toMs: FACTS.end }];
}

/**
 * The alert rules of the demo: network-wide silences and spikes (a rule per channel would print
 * hundreds of lines), platform first appearances and surges, takedown waves, resurrections. They
 * run on the replay's clock (ALERT_EVERY_SIM_SECS of analysed event time, cli/embedded.ts), not on
 * their schedules, so each alert is stamped within one evaluation of what it reports, and a few
 * simulated days of lookback hold everything an evaluation can find new.
 */
async function demoRules(): Promise<Rule[]> {
  const { parseRules } = await import('../../consumers/alerter/rules.ts');
  const lookbackHours = 72;
  return parseRules({
    rules: [
      { name: 'silence', kind: 'silence', scope: 'network', onlyUnprecedented: true, minHours: 12, severity: 'warning', lookbackHours },
      { name: 'spike', kind: 'spike', scope: 'network', maxPValue: 1e-6, severity: 'info', lookbackHours },
      { name: 'platform', kind: 'platform', severity: 'info', lookbackHours, scopes: ['all'] },
      { name: 'takedown-wave', kind: 'takedown_wave', severity: 'critical', lookbackHours },
      { name: 'resurrection', kind: 'resurrection', severity: 'warning', lookbackHours },
    ],
  }, 'of the demo');
}

/**
 * Alerts as they fire, one readable line each on stdout (the JSON log goes to stderr). A silence
 * that was printed while it lasted is printed again when it ends; one found already over (the
 * replay outran the alert schedule) is printed once, its message says when it ended.
 */
function consoleSink(): AlertSink {
  const printed = new Set<string>();
  return {
    name: 'console',
    async send(alert) {
      const mark = alert.state === 'resolved' && printed.has(alert.id) ? 'recovered' : alert.severity;
      printed.add(alert.id);
      process.stdout.write(`ALERT [${mark}] ${alert.message}\n`);
    },
  };
}

/** `tidewatch demo` (= `npm start`): the documented timeline replayed through the whole embedded pipeline. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('replay the documented 2015-2019 timeline (compressed in time) through the embedded pipeline, print alerts as they fire and serve the dashboard')
    .option('--host <host>', 'address to bind (default serve.host, 127.0.0.1)')
    .option('--port <port>', 'dashboard port (default serve.port, 8080)')
    .option('--speed <n>', SPEED_HELP, String(DEFAULT_SPEED))
    .option('--window <from/to>', 'replay only this window (UTC dates), repeatable, in time order; default the whole 2015-09-22/2020-01-01', (v: string, all: string[]) => [...all, v], [])
    .option('--seed <n>', 'replay seed', '1')
    .option('--scale <n>', 'multiplier of the background channel count', '1')
    .option('--data-dir <dir>', 'keep the demo store here (default: a temporary directory, removed on exit)')
    .option('--insecure', 'listen off the loopback without reader and writer tokens (as `serve --insecure`)')
    .option('--exit-when-done', 'stop once the replay is indexed and analysed, instead of serving until Ctrl-C')
    .action(
      action(async (flags: DemoFlags, cmd: Command) => {
        const startedAt = Date.now();
        // Loaded here, not at start-up: registering the commands stays cheap (cli/commands/index.ts).
        const { pacedReplay, systemClock } = await import('../../pipeline/producers/replay/source.ts');
        const speed = parseSpeed(flags.speed);
        if (typeof speed === 'object') throw new TidewatchError(ErrorCode.CONFIG_INVALID, speed.error);
        const windows = parseWindows(flags.window);
        const seed = Number(flags.seed);
        if (!Number.isInteger(seed)) throw new Error(`--seed ${flags.seed}: must be an integer`);
        const scale = Number(flags.scale);
        if (!Number.isFinite(scale) || scale < 0) throw new Error(`--scale ${flags.scale}: must be a number >= 0`);
        // The demo is the embedded default whatever the environment says: a fresh store of its
        // own, so running it twice never mixes two replays (or a demo into real imports).
        const dataDir = flags.dataDir ?? mkdtempSync(join(tmpdir(), 'tidewatch-demo-'));
        const serve: Record<string, unknown> = {};
        if (flags.host !== undefined) serve.host = flags.host;
        if (flags.port !== undefined) serve.port = Number(flags.port);
        const context = commandContext(cmd, { dataDir, serve });
        // Alerts go to the console sink below; the JSON log line of each would repeat it on stderr.
        const { buildWorld, officialWatchList } = await import('../../pipeline/producers/replay/world.ts');
        const config = {
          ...context.config,
          kafka: undefined,
          elasticsearch: undefined,
          alerter: { ...context.config.alerter, log: false },
          // The replay's official channels are watched (a configured watch list is added to them).
          watchList: mergeWatchLists(officialWatchList(buildWorld(seed, scale)), context.config.watchList),
        };
        const { log } = context;

        let simulatedMs = windows[0]!.fromMs;
        const removeDataDir = () => {
          if (!flags.dataDir) rmSync(dataDir, { recursive: true, force: true });
        };
        const serving = await startServe(config, log, {
          host: config.serve.host,
          port: config.serve.port,
          insecure: flags.insecure === true,
          clock: { mode: 'replay', now: () => simulatedMs, alertEverySecs: ALERT_EVERY_SIM_SECS },
          rules: config.alerter.rulesFile ? undefined : await demoRules(),
          sinks: [consoleSink()],
        }).catch((err: unknown) => {
          removeDataDir();
          throw err;
        });
        process.stdout.write(`tidewatch demo: dashboard at ${serving.url} (ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s)\n`);
        process.stdout.write(`tidewatch demo: replaying ${windows.map((w) => `${new Date(w.fromMs).toISOString().slice(0, 10)}..${new Date(w.toMs).toISOString().slice(0, 10)}`).join(', ')}${speed ? ` at ${speed}x` : ' as fast as possible'}; store ${dataDir}; Ctrl-C to stop\n`);

        const stopping = new AbortController();
        const signal = untilSignal().then((sig) => {
          stopping.abort();
          return sig;
        });
        let batch: ActivityEvent[] = [];
        let published = 0;
        const flush = async () => {
          if (batch.length === 0) return;
          const events = batch;
          batch = [];
          await serving.publisher.publish(events);
          published += events.length;
        };
        // Pending events go out before each pause, so the dashboard shows them when they are due.
        const clock: ReplayClock = {
          now: systemClock.now,
          sleep: async (ms) => {
            if (ms < MIN_SLEEP_MS) return;
            const before = systemClock.now();
            await flush();
            const left = ms - (systemClock.now() - before);
            // Ctrl-C ends a long pause (a slow --speed) at once.
            if (left > 0) await sleepMs(left, undefined, { signal: stopping.signal }).catch(() => {});
          },
        };
        const replay = (async () => {
          let lastProgress = Date.now();
          for (const w of windows) {
            for await (const event of pacedReplay({ seed, scale, fromMs: w.fromMs, toMs: w.toMs, speed, clock })) {
              if (stopping.signal.aborted) return;
              batch.push(event);
              simulatedMs = Math.max(simulatedMs, Date.parse(event['@timestamp']));
              if (batch.length >= PUBLISH_EVENTS) await flush();
              if (Date.now() - lastProgress >= PROGRESS_MS) {
                lastProgress = Date.now();
                process.stdout.write(`tidewatch demo: replayed to ${formatTime(simulatedMs, config.display.timezone)}, ${published.toLocaleString('en-US')} events\n`);
              }
            }
          }
          await flush();
          process.stdout.write(`tidewatch demo: replay finished, ${published.toLocaleString('en-US')} events${flags.exitWhenDone ? '' : `; the dashboard stays at ${serving.url} until Ctrl-C`}\n`);
        })();

        let failed: unknown;
        const done = replay.then(() => (flags.exitWhenDone ? 'done' : signal), (err: unknown) => {
          failed = err;
          return 'failed';
        });
        const reason = await Promise.race([done, signal, serving.crashed]);
        stopping.abort();
        process.stdout.write('tidewatch demo: stopping (flushing the pipeline)\n');
        await replay.catch(() => {});
        await serving.stop();
        removeDataDir();
        if (failed) throw failed;
        return reason instanceof Error ? 1 : 0;
      }),
    );
}
