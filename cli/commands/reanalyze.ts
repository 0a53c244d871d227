import type { Command } from 'commander';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import { commandContext, loadCatalogue } from '../context.ts';
import { action } from '../program.ts';

interface ReanalyzeFlags {
  from?: string;
  to?: string;
  network?: string;
  channel?: string;
  set: string[];
  dryRun?: boolean;
  json?: boolean;
  dataDir?: string;
}

/**
 * `--set analytics.gaps.alpha=0.01` -> { analytics: { gaps: { alpha: 0.01 } } }. The value is read
 * as JSON when it parses (numbers, booleans, lists), else as a string; the config schema then
 * checks the key and the value like any other setting.
 */
export function parseSetting(text: string, into: Record<string, unknown> = {}): Record<string, unknown> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `--set ${text}: expected key=value, e.g. analytics.gaps.alpha=0.01`);
  const path = text.slice(0, eq).split('.');
  const raw = text.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  let node = into;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
  return into;
}

/** `tidewatch reanalyze`: the detectors again over stored history; the findings of the range replaced. */
export function registerReanalyze(program: Command): void {
  program
    .command('reanalyze')
    .description('re-run every detector over the stored events in event-time order and replace the findings of a range (optionally with new thresholds)')
    .option('--from <time>', 'replace findings starting at or after this time (ISO 8601); history before it is still read')
    .option('--to <time>', 'replace findings starting before this time (exclusive); events after it are not read')
    .option('--network <name>', "only this network's events and the findings they decide")
    .option('--channel <name>', 'only the findings of this channel (handle, or id when it has none)')
    .option('--set <key=value>', 'a config setting for this run, e.g. analytics.gaps.alpha=0.01 (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--dry-run', 'count what would be added, changed and removed without writing')
    .option('--json', 'print the counts as one JSON object')
    .option('--data-dir <dir>', 'the embedded store (default dataDir, ./data)')
    .action(
      action(async (flags: ReanalyzeFlags, cmd: Command) => {
        if (flags.network !== undefined && flags.channel !== undefined) throw new TidewatchError(ErrorCode.CONFIG_INVALID, 'reanalyze: give --network or --channel, not both');
        const overrides: Record<string, unknown> = flags.dataDir ? { dataDir: flags.dataDir } : {};
        for (const s of flags.set) parseSetting(s, overrides);
        const { config, log } = commandContext(cmd, overrides);
        const [{ createStore }, { reanalyze }] = await Promise.all([import('../../pipeline/store/index.ts'), import('../../consumers/analyzer/reanalysis.ts')]);
        const store = await createStore(config);
        try {
          await store.setup();
          await store.refresh();
          const started = Date.now();
          const r = await reanalyze({
            store,
            analytics: config.analytics,
            catalogue: loadCatalogue(config.analytics.migration.catalogueFile),
            scope: { ...(flags.from ? { from: flags.from } : {}), ...(flags.to ? { to: flags.to } : {}), ...(flags.network ? { network: flags.network } : {}), ...(flags.channel ? { channel: flags.channel } : {}) },
            dryRun: flags.dryRun ?? false,
            retry: { onRetry: ({ attempt, error }) => log.warn({ attempt, err: String(error) }, 'reanalyze: store write retried') },
          });
          const counts = { events: r.events, added: r.added, changed: r.changed, removed: r.removed, unchanged: r.unchanged, analysis: r.analysis, dryRun: flags.dryRun ?? false, store: store.kind };
          const secs = (Date.now() - started) / 1000;
          process.stdout.write(flags.json
            ? `${JSON.stringify(counts)}\n`
            : `${r.events} events re-analysed in ${secs.toFixed(1)} s (${store.kind}, analysis ${r.analysis}): ${r.added} findings added, ${r.changed} changed, ${r.removed} removed, ${r.unchanged} unchanged${flags.dryRun ? ' (dry run: nothing written)' : ''}\n`);
        } finally {
          await store.close();
        }
      }),
    );
}
