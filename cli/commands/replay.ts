import type { Command } from 'commander';
import { parseInstant } from '../../pipeline/dates.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import type { ReplayClock } from '../../pipeline/producers/index.ts';
import { REPLAY_DEFAULTS } from '../../pipeline/producers/replay/generate.ts';
import { parseSpeed, SPEED_HELP } from '../speed.ts';
import { commandContext } from '../context.ts';
import { action } from '../program.ts';

interface ReplayFlags {
  seed: string;
  from?: string;
  to?: string;
  speed: string;
  scale: string;
  silenceBurst?: boolean;
  dryRun?: boolean;
  batchEvents?: string;
}

/** Bad flag values exit 2 (usage), like commander's own errors. */
const usage = (message: string) => new TidewatchError(ErrorCode.CONFIG_INVALID, message);

function number(flag: string, raw: string, check: (n: number) => boolean): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw usage(`${flag} ${raw}: not a valid value`);
  return n;
}

function instant(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const ms = parseInstant(raw);
  if (ms === undefined) throw usage(`${flag} ${raw}: not a date (e.g. 2017-11-20 or 2017-11-22T09:00:00Z)`);
  return ms;
}

/** `tidewatch replay`: the documented 2015-2019 timeline, seeded, optionally in compressed real time. */
export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('publish the seeded reconstruction of the 2015-2019 timeline (../shared/timeline.md) to the transport')
    .option('--seed <n>', 'random seed: the same seed gives the same events', String(REPLAY_DEFAULTS.seed))
    .option('--from <date>', 'start of the simulated window (UTC), default 2015-09-22')
    .option('--to <date>', 'end of the simulated window (UTC, exclusive), default 2020-01-01')
    .option('--speed <n>', SPEED_HELP, '0')
    .option('--scale <n>', 'multiplier of the background channel count', String(REPLAY_DEFAULTS.scale))
    .option('--silence-burst', 'include the 30-minute burst inside the 2017-11-22 silence that one report describes')
    .option('--dry-run', 'generate and count only; nothing is published')
    .option('--batch-events <n>', 'events per publish (default: kafka.producerBatchEvents or 5000)')
    .action(
      action(async (flags: ReplayFlags, cmd: Command) => {
        const { config, log } = commandContext(cmd);
        // Loaded here, not at start-up: registering the commands stays cheap (cli/commands/index.ts).
        const [{ pacedReplay, systemClock }, { openPublishing }, { default: cliProgress }] = await Promise.all([
          import('../../pipeline/producers/replay/source.ts'),
          import('../embedded.ts'),
          import('cli-progress'),
        ]);
        const fromMs = instant('--from', flags.from, REPLAY_DEFAULTS.fromMs);
        const toMs = instant('--to', flags.to, REPLAY_DEFAULTS.toMs);
        if (toMs <= fromMs) throw usage('--to must be after --from');
        const seed = number('--seed', flags.seed, Number.isInteger);
        const scale = number('--scale', flags.scale, (n) => n >= 0);
        const speed = parseSpeed(flags.speed);
        if (typeof speed === 'object') throw usage(speed.error);
        const batchEvents = number('--batch-events', flags.batchEvents ?? String(config.kafka?.producerBatchEvents ?? 5000), (n) => Number.isInteger(n) && n > 0);

        const publishing = flags.dryRun ? undefined : await openPublishing(config, log);
        const publisher = publishing?.publisher;
        let batch: ActivityEvent[] = [];
        let published = 0;
        const flush = async () => {
          if (batch.length === 0) return;
          const events = batch;
          batch = [];
          await publisher?.publish(events);
          published += events.length;
        };
        // In compressed real time the generator sleeps between events: publish what is pending
        // first, so consumers see events when they are due rather than when a batch fills.
        const clock: ReplayClock = {
          now: systemClock.now,
          sleep: async (ms) => {
            const started = systemClock.now();
            await flush();
            const left = ms - (systemClock.now() - started);
            if (left > 0) await systemClock.sleep(left);
          },
        };
        const bar = process.stderr.isTTY && speed === undefined
          ? new cliProgress.SingleBar({ stream: process.stderr, format: 'replay [{bar}] {percentage}% | {day} | {events} events', hideCursor: true }, cliProgress.Presets.shades_classic)
          : undefined;
        bar?.start(toMs - fromMs, 0, { day: new Date(fromMs).toISOString().slice(0, 10), events: 0 });
        const byAction: Record<string, number> = {};
        let total = 0;
        try {
          for await (const event of pacedReplay({ seed, fromMs, toMs, scale, silenceBurst: flags.silenceBurst, speed, clock })) {
            total++;
            byAction[event.event.action] = (byAction[event.event.action] ?? 0) + 1;
            batch.push(event);
            if (batch.length >= batchEvents) await flush();
            if (bar && total % 10_000 === 0) bar.update(Date.parse(event['@timestamp']) - fromMs, { day: event['@timestamp'].slice(0, 10), events: total });
          }
          await flush();
        } finally {
          bar?.stop();
          await publishing?.close();
        }
        const summary = Object.entries(byAction).map(([a, n]) => `${a} ${n}`).join(', ');
        process.stdout.write(`replay seed ${seed}: ${total} events (${summary})${flags.dryRun ? ' [dry run]' : `, ${published} published`}\n`);
        log.debug({ total, byAction }, 'replay done');
      }),
    );
}
