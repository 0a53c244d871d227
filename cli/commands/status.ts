import type { Command } from 'commander';
import { statusView, type StatusRow } from '../../pipeline/analytics/status/index.ts';
import type { Config } from '../../pipeline/config/index.ts';
import { formatTime } from '../../pipeline/dates.ts';
import { mergeWatchLists, readWatchListFile, type WatchList } from '../../pipeline/watch/watch-list.ts';
import { MAX_FINDINGS } from '../../pipeline/store/queries.ts';
import { createStore } from '../../pipeline/store/index.ts';
import type { Store } from '../../pipeline/store/types.ts';
import { commandContext } from '../context.ts';
import { action } from '../program.ts';

/** The watch list the collectors use: the config's, with the watch list file merged over it. */
export function watchListOf(config: Config, file: string | undefined): WatchList {
  const path = file ?? config.collector.watchListFile;
  return mergeWatchLists(config.watchList, path === undefined ? [] : readWatchListFile(path));
}

/** Every status document and the whole override log (oldest first). */
export async function readStatus(store: Store) {
  const [docs, overrides] = await Promise.all([
    store.findings('status', { limit: MAX_FINDINGS }),
    store.findings('status_override', { limit: MAX_FINDINGS, sort: { by: 'time', order: 'asc' } }),
  ]);
  return { docs, overrides };
}

/** The table reads its times in the display zone; --json keeps ISO 8601. */
function table(rows: StatusRow[], zone: string): string {
  const minute = (iso: string | null): string => (iso === null ? '-' : formatTime(iso, zone));
  const cells = rows.map((r) => [`${r.watched ? '' : '+'}${r.subject}`, r.network ?? '-', r.status, minute(r.since), minute(r.lastActivityAt), r.reason]);
  const head = ['CHANNEL', 'NETWORK', 'STATUS', 'SINCE', 'LAST ACTIVITY', 'REASON'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const summary = [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
  const discovered = rows.some((r) => !r.watched) ? '\n+ = discovered: seen in the data, not on the watch list' : '';
  return `${[line(head), ...cells.map(line)].join('\n')}\n\n${rows.length} channel(s): ${summary || 'none'}${discovered}\n`;
}

/**
 * `tidewatch status`: the watch list with each member's status, since when, and its last
 * activity, from the store (the analyzer keeps one status document per member) with the
 * analysts' mutes and retirements applied as soon as they are recorded.
 */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('the watch list with each channel\'s status (active, quiet, silent, gone, unknown, muted, retired), since when, and its last activity')
    .option('--network <name>', 'only this network')
    .option('--watch-list <file>', 'JSON watch list (default: watchList and collector.watchListFile of the config)')
    .option('--json', 'one JSON array instead of the table')
    .action(
      action(async (opts: { network?: string; watchList?: string; json?: boolean }, cmd: Command) => {
        const { config } = commandContext(cmd);
        const watchList = watchListOf(config, opts.watchList);
        const store = await createStore(config);
        try {
          const { docs, overrides } = await readStatus(store);
          // Events answer "last activity" only for members the analyzer has not recorded yet.
          const known = new Set(docs.filter((d) => d.lastActivityAt !== null).map((d) => d.subject));
          const lastPosts = new Map<string, string>();
          if (watchList.some((e) => !known.has(e.handle))) {
            for (const c of await store.channels({ filters: { action: 'post' } })) {
              if (c.handle !== null && c.lastPostAt !== null) lastPosts.set(c.handle.toLowerCase(), c.lastPostAt);
            }
          }
          const rows = statusView(watchList, docs, overrides, lastPosts, Date.now(), config.display.timezone).filter((r) => opts.network === undefined || r.network === opts.network);
          process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : table(rows, config.display.timezone));
        } finally {
          await store.close();
        }
      }),
    );
}
