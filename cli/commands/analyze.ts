import type { Command } from 'commander';
import type { AnalysisReport, RejectedInput } from '../../pipeline/analytics/index.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import { commandContext, loadCatalogue } from '../context.ts';
import { addInputOptions, inputsOf, type InputFlags, type Inputs } from '../input-options.ts';
import { action, ExitCode } from '../program.ts';

interface AnalyzeFlags extends InputFlags {
  json?: boolean;
}

async function* itemsOf(files: string[], inputs: Inputs): AsyncGenerator<ActivityEvent | RejectedInput> {
  const { openSource } = await import('../../pipeline/producers/index.ts');
  for (const file of files) {
    const source = openSource(file, inputs.source);
    for await (const item of source.items()) {
      if (item.kind === 'rejected') inputs.rejects.write(file, item);
      yield item.kind === 'event' ? item.event : item;
    }
  }
}

const list = <T>(items: T[], line: (x: T) => string, max = 20): string[] =>
  items.length <= max ? items.map(line) : [...items.slice(0, max).map(line), `  ... and ${items.length - max} more (--json for all)`];

/** The first channels of a wave; the rest is in --json (the count is exact, the list capped). */
const named = (subjects: readonly string[], count: number, max = 10): string =>
  subjects.length === 0 ? '' : `; ${subjects.slice(0, max).join(', ')}${count > max ? ` ... and ${count - max} more` : ''}`;

/** The readable form of the report: what an analyst looks at first. */
export function summary(r: AnalysisReport): string {
  const out = [`${r.events} events (${r.rejected} rejected, ${r.duplicates} duplicates, ${r.late} late)`];
  const section = (title: string, lines: string[]) => out.push('', `${title}: ${lines.length ? '' : 'none'}`, ...lines);
  section('silence gaps', list(r.gaps, (g) =>
    `  ${g.scope} ${g.subject}: ${g.start} -> ${g.end ?? 'ongoing'}, ${g.hours} h (threshold ${g.baselineHours} h)${g.unprecedented ? ', UNPRECEDENTED' : ''}`));
  section('spikes', list(r.spikes, (s) => `  ${s.scope} ${s.subject}: ${s.start} -> ${s.end}, ${s.count} (expected ${s.expected})`));
  section('platforms', list(r.platforms, (p) => `  ${p.platform}${p.domain ? ` (${p.domain})` : ''}: ${p.links} links${p.events ? `, ${p.events} events` : ''}, first seen ${p.firstSeen}`));
  section('migration', list(r.migrations.filter((m) => m.scope !== 'channel'), (m) => `  ${m.at} ${m.kind} ${m.platform} (${m.scope} ${m.subject})`));
  section('takedowns (ban days; waves marked)', list(r.takedowns, (t) =>
    `  ${t.day}${t.wave ? ' WAVE' : ''}: ${t.channels} channels, ${t.languages} languages${t.networks.length ? `, networks ${t.networks.join(', ')}` : ''}${t.reported !== null ? `, platform reported ${t.reported}` : ''}${named(t.subjects, t.channels)}`));
  section('resurrections', list(r.resurrections, (x) =>
    `  ${x.banned} -> ${x.successor}: ${x.delayMinutes} min after the ban${x.minutesTo1000 !== null ? `, 1,000 subscribers after ${x.minutesTo1000} min` : ''}${x.regainedShare !== null ? `, ${Math.round(x.regainedShare * 100)}% of the audience regained` : ''}`));
  return out.join('\n') + '\n';
}

/** `tidewatch analyze <files...>`: one-shot analysis of input files; the JSON form is a stable contract. */
export function registerAnalyze(program: Command): void {
  addInputOptions(
    program
      .command('analyze')
      .description('run every detector over input files in event-time order: gaps, spikes, platforms, migration, takedowns, resurrections')
      .argument('<files...>', 'input files (Telegram Desktop exports, canonical JSONL, CSV, ...)'),
  )
    .option('--json', 'print one JSON object (the stable contract) instead of a summary')
    .action(
      action(async (files: string[], flags: AnalyzeFlags, cmd: Command) => {
        const { config } = commandContext(cmd);
        const catalogue = loadCatalogue(config.analytics.migration.catalogueFile);
        const { runAnalysis } = await import('../../pipeline/analytics/index.ts');
        const inputs = inputsOf(flags, config.storeText);
        let report: AnalysisReport;
        try {
          report = await runAnalysis(itemsOf(files, inputs), { analytics: config.analytics, catalogue });
        } finally {
          await inputs.rejects.close();
        }
        process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : summary(report));
        if (inputs.rejects.count > 0) process.stderr.write(`${inputs.rejects.count} rejected record(s) written to ${inputs.rejects.path}\n`);
        return report.rejected > inputs.maxRejects ? ExitCode.REJECTED : ExitCode.OK;
      }),
    );
}
