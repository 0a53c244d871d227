import type { Command } from 'commander';
import type { AnalysisReport, RejectedInput } from '../../pipeline/analytics/index.ts';
import { formatDay, formatMinutes, formatRange, formatTime } from '../../pipeline/dates.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import { commandContext, loadCatalogue } from '../context.ts';
import { addInputOptions, inputsOf, usage, type InputFlags, type Inputs } from '../input-options.ts';
import { action, ExitCode } from '../program.ts';

interface AnalyzeFlags extends InputFlags {
  json?: boolean;
}

/**
 * The inputs in one event-time order (pipeline/producers/ordered.ts): the report does not depend
 * on the order of the files, nor on the order of the events within them.
 */
async function analyzeFiles(files: string[], inputs: Inputs, analyze: (items: AsyncIterable<ActivityEvent | RejectedInput>) => Promise<AnalysisReport>): Promise<AnalysisReport> {
  const { openSource, OrderedSources } = await import('../../pipeline/producers/index.ts');
  const ordered = new OrderedSources(files.map((file) => openSource(file, inputs.source)), { onRejected: (i, item) => inputs.rejects.write(files[i]!, item) });
  return ordered.read((items) =>
    analyze((async function* () {
      for await (const item of items) yield item.kind === 'event' ? item.event : item;
    })()),
  );
}

const list = <T>(items: T[], line: (x: T) => string, max = 20): string[] =>
  items.length <= max ? items.map(line) : [...items.slice(0, max).map(line), `  ... and ${items.length - max} more (--json for all)`];

/** The first channels of a wave; the rest is in --json (the count is exact, the list capped). */
const named = (subjects: readonly string[], count: number, max = 10): string =>
  subjects.length === 0 ? '' : `; ${subjects.slice(0, max).join(', ')}${count > max ? ` ... and ${count - max} more` : ''}`;

/** The readable form of the report: what an analyst looks at first; times in the display `zone`. */
export function summary(r: AnalysisReport, zone: string): string {
  const out = [`${r.events} events (${r.rejected} rejected, ${r.duplicates} duplicates, ${r.late} late)`];
  const section = (title: string, lines: string[]) => out.push('', `${title}: ${lines.length ? '' : 'none'}`, ...lines);
  section('silence gaps', list(r.gaps, (g) =>
    `  ${g.scope} ${g.subject}: ${g.end === null ? `since ${formatTime(g.start, zone)}, ongoing` : formatRange(g.start, g.end, zone)}, ${g.hours} h (threshold ${g.baselineHours} h)${g.unprecedented ? ', UNPRECEDENTED' : ''}`));
  section('spikes', list(r.spikes, (s) => `  ${s.scope} ${s.subject}: ${formatRange(s.start, s.end, zone)}, ${s.count} (expected ${s.expected})`));
  section('platforms', list(r.platforms, (p) => `  ${p.platform}${p.domain ? ` (${p.domain})` : ''}: ${p.links} links${p.events ? `, ${p.events} events` : ''}, first seen ${formatTime(p.firstSeen, zone)}`));
  section('migration', list(r.migrations.filter((m) => m.scope !== 'channel'), (m) =>
    `  ${m.kind === 'surge' ? formatDay(m.at, zone) : formatTime(m.at, zone)} ${m.kind} ${m.platform} (${m.scope} ${m.subject})`));
  section('takedowns (ban days; waves marked)', list(r.takedowns, (t) =>
    `  ${formatDay(t.day, zone)}${t.wave ? ' WAVE' : ''}: ${t.channels} channels, ${t.languages} languages${t.networks.length ? `, networks ${t.networks.join(', ')}` : ''}${t.reported !== null ? `, platform reported ${t.reported}` : ''}${named(t.subjects, t.channels)}`));
  section('resurrections', list(r.resurrections, (x) =>
    `  ${x.banned} -> ${x.successor}: ${formatMinutes(x.delayMinutes)} after the ban${x.minutesTo1000 !== null ? `, 1,000 subscribers after ${formatMinutes(x.minutesTo1000)}` : ''}${x.regainedShare !== null ? `, ${Math.round(x.regainedShare * 100)}% of the audience regained` : ''}`));
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
        const dateProblem = (await import('../../pipeline/producers/index.ts')).dateFormatProblem(flags.dateFormat);
        if (dateProblem !== undefined) throw usage(dateProblem);
        let report: AnalysisReport;
        try {
          report = await analyzeFiles(files, inputs, (items) => runAnalysis(items, { analytics: config.analytics, catalogue }));
        } finally {
          await inputs.rejects.close();
        }
        process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : summary(report, config.display.timezone));
        if (inputs.rejects.count > 0) process.stderr.write(`${inputs.rejects.count} rejected record(s) written to ${inputs.rejects.path}\n`);
        return report.rejected > inputs.maxRejects ? ExitCode.REJECTED : ExitCode.OK;
      }),
    );
}
