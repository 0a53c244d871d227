import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { commandContext } from '../context.ts';
import { action } from '../program.ts';

interface ReportFlags {
  out: string;
  from?: string;
  to?: string;
  network: string[];
  channel: string[];
  dataDir?: string;
}

const repeat = (v: string, all: string[]) => [...all, v];

/** `tidewatch report`: the five dashboard views as one self-contained HTML file. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write the five dashboard views, with their data and the chart library, into one HTML file that needs no server')
    .option('--out <file>', 'where to write the report', 'report.html')
    .option('--from <date>', 'start of the time range (UTC), default the first event')
    .option('--to <date>', 'end of the time range (UTC, exclusive), default the last event')
    .option('--network <name>', 'only this network, repeatable', repeat, [])
    .option('--channel <id>', 'only this channel id, repeatable', repeat, [])
    .option('--data-dir <dir>', 'the embedded store to read (default dataDir, ./data)')
    .action(
      action(async (flags: ReportFlags, cmd: Command) => {
        const { config } = commandContext(cmd, flags.dataDir ? { dataDir: flags.dataDir } : {});
        const [{ parseViewQuery }, { buildReport }, { createStore }] = await Promise.all([
          import('../../dashboards/web/api.ts'),
          import('../../dashboards/web/report.ts'),
          import('../../pipeline/store/index.ts'),
        ]);
        const params = new URLSearchParams();
        if (flags.from) params.set('from', flags.from);
        if (flags.to) params.set('to', flags.to);
        for (const n of flags.network) params.append('network', n);
        for (const c of flags.channel) params.append('channel', c);
        const query = parseViewQuery(params);
        const store = await createStore(config);
        try {
          const html = await buildReport(store, query, { display: config.display });
          writeFileSync(flags.out, html);
          process.stdout.write(`report written to ${flags.out} (${(Buffer.byteLength(html) / 1e6).toFixed(1)} MB, store: ${store.kind})\n`);
        } finally {
          await store.close();
        }
      }),
    );
}
