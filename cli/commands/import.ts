import type { Command } from 'commander';
import type cliProgressModule from 'cli-progress';
import { errorMessage } from '../../pipeline/errors.ts';
import type { SourceProgress } from '../../pipeline/producers/index.ts';
import { commandContext } from '../context.ts';
import { addInputOptions, inputsOf, usage, type InputFlags } from '../input-options.ts';
import { action, ExitCode } from '../program.ts';

interface ImportFlags extends InputFlags {
  dryRun?: boolean;
  batchEvents?: string;
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
  addInputOptions(
    program
      .command('import')
      .description('import Telegram Desktop exports, Bot API updates, canonical JSONL or activity CSV/JSONL into the transport')
      .argument('<files...>', 'input files'),
  )
    .option('--dry-run', 'validate and count only; nothing is published')
    .option('--batch-events <n>', 'events per publish (default: kafka.producerBatchEvents or 5000)')
    .action(
      action(async (files: string[], flags: ImportFlags, cmd: Command) => {
        const { config, log } = commandContext(cmd);
        const inputs = inputsOf(flags, config.storeText);
        const batchEvents = Number(flags.batchEvents ?? config.kafka?.producerBatchEvents ?? 5000);
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
        const bar = progressBar(cliProgress);
        let totalRejected = 0;
        let failedFiles = 0;
        try {
          for (const file of files) {
            const source = openSource(file, { ...inputs.source, onProgress: bar.update });
            bar.start(source.name);
            try {
              await pumpSource(source, {
                batchEvents,
                publisher,
                onRejected: (item) => inputs.rejects.write(file, item),
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
          await inputs.rejects.close();
          await publishing?.close();
        }
        if (totalRejected > 0) process.stdout.write(`${totalRejected} rejected record(s) written to ${inputs.rejects.path}\n`);
        if (failedFiles > 0) return ExitCode.FAILURE;
        return totalRejected > inputs.maxRejects ? ExitCode.REJECTED : ExitCode.OK;
      }),
    );
}
