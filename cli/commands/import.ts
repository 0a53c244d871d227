import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Option, type Command } from 'commander';
import type cliProgressModule from 'cli-progress';
import { ErrorCode, errorMessage, TidewatchError } from '../../pipeline/errors.ts';
import type { InputFormat, SourceProgress } from '../../pipeline/producers/index.ts';
import { commandContext } from '../context.ts';
import { action, ExitCode } from '../program.ts';

interface ImportFlags {
  format: InputFormat;
  network?: string;
  language?: string;
  timezone?: string;
  map: string[];
  dateFormat: string[];
  dryRun?: boolean;
  maxRejects: string;
  rejectsFile: string;
  batchEvents?: string;
}

const FORMATS: InputFormat[] = ['auto', 'telegram-export', 'bot-updates', 'jsonl', 'activity-jsonl', 'csv'];

/** Bad flag values exit 2 (usage), like commander's own errors. */
const usage = (message: string) => new TidewatchError(ErrorCode.CONFIG_INVALID, message);

function parseMapping(pairs: string[]): Record<string, string> {
  const mapping: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`--map ${pair}: expected field=column`);
    mapping[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return mapping;
}

/** Bytes and messages on a terminal; nothing in pipes and CI logs, where a bar is noise. */
function progressBar(cliProgress: typeof cliProgressModule): { update: (p: SourceProgress) => void; start: (file: string) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, start: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{file} [{bar}] {percentage}% | {mb}/{totalMb} MB | {records} records', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let file = '';
  let started = false;
  return {
    start: (name) => {
      file = name;
      started = false;
    },
    update: (p) => {
      const payload = { file, records: p.records, mb: (p.bytesRead / 1e6).toFixed(1), totalMb: (p.totalBytes / 1e6).toFixed(1) };
      if (!started) {
        bar.start(p.totalBytes, p.bytesRead, payload);
        started = true;
      } else bar.update(p.bytesRead, payload);
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

/** `tidewatch import <files...>`: files -> canonical events -> the configured transport. */
export function registerImport(program: Command): void {
  program
    .command('import')
    .description('import Telegram Desktop exports, Bot API updates, canonical JSONL or activity CSV/JSONL into the transport')
    .argument('<files...>', 'input files')
    .addOption(new Option('--format <format>', 'input format').choices(FORMATS).default('auto'))
    .option('--network <name>', 'network to stamp on channels that carry none')
    .option('--language <code>', 'language to stamp on channels that carry none')
    .option('--timezone <zone>', 'IANA zone of zone-less times (old Telegram exports, CSVs); default UTC')
    .option('--map <field=column>', 'CSV/activity column mapping, repeatable (see pipeline/producers/generic/mapping.ts)', (v: string, all: string[]) => [...all, v], [])
    .option('--date-format <pattern>', 'CSV/activity timestamp pattern (date-fns tokens, e.g. "dd.MM.yyyy HH:mm"), repeatable: tried in order, then ISO 8601 and epoch', (v: string, all: string[]) => [...all, v], [])
    .option('--dry-run', 'validate and count only; nothing is published')
    .option('--max-rejects <n>', 'rejected records tolerated before the exit code is 3', '0')
    .option('--rejects-file <path>', 'where rejected records go (JSONL: file, location, reason)', 'tidewatch-rejects.jsonl')
    .option('--batch-events <n>', 'events per publish (default: kafka.producerBatchEvents or 5000)')
    .action(
      action(async (files: string[], flags: ImportFlags, cmd: Command) => {
        const { config, log } = commandContext(cmd);
        const maxRejects = Number(flags.maxRejects);
        if (!Number.isInteger(maxRejects) || maxRejects < 0) throw usage(`--max-rejects ${flags.maxRejects}: must be a non-negative integer`);
        const batchEvents = Number(flags.batchEvents ?? config.kafka?.producerBatchEvents ?? 5000);
        const mapping = parseMapping(flags.map);
        // Loaded here, not at start-up: registering the commands stays cheap (cli/commands/index.ts).
        const [{ openSource, dateFormatProblem }, { pumpSource }, { openPublishing }, { default: cliProgress }] = await Promise.all([
          import('../../pipeline/producers/index.ts'),
          import('../../pipeline/producers/pump.ts'),
          import('../embedded.ts'),
          import('cli-progress'),
        ]);
        const dateProblem = dateFormatProblem(flags.dateFormat);
        if (dateProblem !== undefined) throw usage(dateProblem);
        const publishing = flags.dryRun ? undefined : await openPublishing(config, log);
        const publisher = publishing?.publisher;
        let rejects: WriteStream | undefined;
        const bar = progressBar(cliProgress);
        let totalRejected = 0;
        let failedFiles = 0;
        try {
          for (const file of files) {
            const source = openSource(file, {
              format: flags.format,
              network: flags.network,
              language: flags.language,
              timezone: flags.timezone,
              storeText: config.storeText,
              mapping,
              dateFormats: flags.dateFormat,
              onProgress: bar.update,
            });
            bar.start(source.name);
            try {
              await pumpSource(source, {
                batchEvents,
                publisher,
                onRejected: (item) => {
                  rejects ??= createWriteStream(flags.rejectsFile);
                  rejects.write(`${JSON.stringify({ file, location: item.location, reason: item.reason })}\n`);
                },
              });
            } catch (err) {
              failedFiles++;
              bar.stop();
              process.stderr.write(`tidewatch: ${errorMessage(err)}\n`);
              log.debug({ err, file }, 'import failed');
            }
            bar.stop();
            const s = source.stats?.();
            if (s) {
              totalRejected += s.rejected;
              const ignored = Object.entries(s.ignoredByKind).map(([k, n]) => `${k} ${n}`).join(', ');
              process.stdout.write(
                `${file}: read ${s.read}, produced ${s.produced}, rejected ${s.rejected}, ignored ${s.ignored}${ignored ? ` (${ignored})` : ''}${flags.dryRun ? ' [dry run]' : ''}\n`,
              );
              for (const w of s.warnings) process.stderr.write(`tidewatch: warning: ${w}\n`);
            }
          }
        } finally {
          if (rejects) {
            rejects.end();
            await once(rejects, 'finish');
          }
          await publishing?.close();
        }
        if (totalRejected > 0) process.stdout.write(`${totalRejected} rejected record(s) written to ${flags.rejectsFile}\n`);
        if (failedFiles > 0) return ExitCode.FAILURE;
        return totalRejected > maxRejects ? ExitCode.REJECTED : ExitCode.OK;
      }),
    );
}
