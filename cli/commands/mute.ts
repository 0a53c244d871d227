import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { nextOverride, overridesInForce, type OverrideAction, type StatusOverrideDoc } from '../../pipeline/analytics/status/index.ts';
import { formatTime } from '../../pipeline/dates.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import { watchEntrySchema } from '../../pipeline/watch/watch-list.ts';
import { createStore } from '../../pipeline/store/index.ts';
import { commandContext } from '../context.ts';
import { action } from '../program.ts';
import { readStatus, watchListOf } from './status.ts';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90m", "12h", "7d", "2w" in milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([mhdw])$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `--for ${text}: must be a positive duration like 90m, 12h, 7d or 2w`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Who made the change: --by, else the OS account running the command. */
function whoAmI(by: string | undefined): string {
  if (by !== undefined && by.trim() !== '') return by.trim();
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

interface OverrideFlags {
  for?: string;
  reason?: string;
  by?: string;
  watchList?: string;
}

const PAST: Record<OverrideAction, string> = { mute: 'muted', unmute: 'unmuted', retire: 'retired', unretire: 'unretired' };

/**
 * Record one override in the store (append-only, so every mute and its reversal stay on record).
 * The channel must be on the watch list or known to the analyzer: a typo must not be muted.
 */
async function record(act: OverrideAction, channel: string, flags: OverrideFlags, cmd: Command): Promise<void> {
  const { config } = commandContext(cmd);
  const parsed = watchEntrySchema.safeParse(channel);
  // Discovered channels without a handle are named by their channel id.
  const subject = parsed.success ? parsed.data.handle : channel.trim();
  const nowMs = Date.now();
  const store = await createStore(config);
  try {
    const { docs, overrides } = await readStatus(store);
    const known = watchListOf(config, flags.watchList).some((e) => e.handle === subject) || docs.some((d) => d.subject === subject);
    if (!known) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `${act} ${channel}: not on the watch list and not seen by the analyzer`);
    const doc: StatusOverrideDoc = {
      type: 'status_override',
      id: `${subject}:${new Date(nowMs).toISOString()}`,
      subject,
      action: act,
      by: whoAmI(flags.by),
      at: new Date(nowMs).toISOString(),
      reason: flags.reason ?? '',
      until: flags.for === undefined ? null : new Date(nowMs + parseDurationMs(flags.for)).toISOString(),
    };
    if (nextOverride(overridesInForce(overrides, nowMs).get(subject) ?? null, doc) === undefined) {
      throw new TidewatchError(ErrorCode.CONFIG_INVALID, `${act} ${subject}: it is not ${act === 'unmute' ? 'muted' : 'retired'}`);
    }
    const [result] = await store.writeFindings([doc]);
    if (result?.status === 'failed') throw new TidewatchError(ErrorCode.STORE_FAILED, `${act} ${subject}: not recorded (${result.reason})`, { retriable: result.retriable });
    // Visible to the very next `tidewatch status` (Elasticsearch shows writes after a refresh).
    await store.refresh();
    const until = doc.until === null ? '' : ` until ${formatTime(doc.until, config.display.timezone)}`;
    process.stdout.write(`${subject} ${PAST[act]}${until} by ${doc.by}${doc.reason ? `: ${doc.reason}` : ''} (recorded in the ${store.kind} store; alerts follow at the analyzer's next tick)\n`);
  } finally {
    await store.close();
  }
}

/**
 * `tidewatch mute|unmute|retire|unretire <channel>`: analysts' overrides of a member's status.
 * Muted (for a while) or retired (for good) members raise no alert; each is recorded with who,
 * when and why, and undone by its reversal.
 */
export function registerMute(program: Command): void {
  const commands: [OverrideAction, string][] = [
    ['mute', 'silence the alerts of a channel for a while (--for) or until unmuted'],
    ['unmute', 'end a mute'],
    ['retire', 'stop expecting a channel to report (no alerts) until unretired'],
    ['unretire', 'expect a retired channel to report again'],
  ];
  for (const [act, description] of commands) {
    const c = program
      .command(`${act} <channel>`)
      .description(description)
      .option('--by <name>', 'who decides (default: the OS user)')
      .option('--watch-list <file>', 'JSON watch list (default: watchList and collector.watchListFile of the config)');
    if (act === 'mute' || act === 'retire') {
      c.requiredOption('--reason <text>', 'why, for whoever reads the status next').option('--for <duration>', 'lapse by itself after 90m, 12h, 7d, 2w...');
    } else {
      c.option('--reason <text>', 'why');
    }
    c.action(action((channel: string, flags: OverrideFlags, cmd: Command) => record(act, channel, flags, cmd)));
  }
}
