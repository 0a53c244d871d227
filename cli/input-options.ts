import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Option, type Command } from 'commander';
import { ErrorCode, TidewatchError } from '../pipeline/errors.ts';
import type { InputFormat, SourceItem, SourceOptions } from '../pipeline/producers/index.ts';

/**
 * The input flags of every command that reads files (`import`, `analyze`): one definition, so a
 * flag works wherever files are read. A new flag is one entry in `InputFlags`, one line in
 * addInputOptions() and, if it reaches the readers, one field in sourceOptionsOf().
 */
export interface InputFlags {
  format: InputFormat;
  network?: string;
  language?: string;
  timezone?: string;
  map: string[];
  dateFormat: string[];
  maxRejects: string;
  rejectsFile: string;
}

const FORMATS: InputFormat[] = ['auto', 'telegram-export', 'bot-updates', 'jsonl', 'activity-jsonl', 'csv'];

/** Bad flag values exit 2 (usage), like commander's own errors. */
export const usage = (message: string) => new TidewatchError(ErrorCode.CONFIG_INVALID, message);

export function addInputOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <format>', 'input format').choices(FORMATS).default('auto'))
    .option('--network <name>', 'network to stamp on channels that carry none')
    .option('--language <code>', 'language to stamp on channels that carry none')
    .option('--timezone <zone>', 'IANA zone of zone-less times (old Telegram exports, CSVs); default UTC')
    .option('--map <field=column>', 'CSV/activity column mapping, repeatable (see pipeline/producers/generic/mapping.ts)', (v: string, all: string[]) => [...all, v], [])
    .option('--date-format <pattern>', 'CSV/activity timestamp pattern (date-fns tokens, e.g. "dd.MM.yyyy HH:mm"), repeatable: tried in order, then ISO 8601 and epoch', (v: string, all: string[]) => [...all, v], [])
    .option('--max-rejects <n>', 'rejected records tolerated before the exit code is 3', '0')
    .option('--rejects-file <path>', 'where rejected records go (JSONL: file, location, reason)', 'tidewatch-rejects.jsonl');
}

function parseMapping(pairs: string[]): Record<string, string> {
  const mapping: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`--map ${pair}: expected field=column`);
    mapping[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return mapping;
}

/** The flags checked and turned into what the readers and the rejects file take. */
export interface Inputs {
  source: Omit<SourceOptions, 'onProgress'>;
  maxRejects: number;
  rejects: RejectsFile;
}

export function inputsOf(flags: InputFlags, storeText: boolean): Inputs {
  const maxRejects = Number(flags.maxRejects);
  if (!Number.isInteger(maxRejects) || maxRejects < 0) throw usage(`--max-rejects ${flags.maxRejects}: must be a non-negative integer`);
  return {
    source: {
      format: flags.format,
      network: flags.network,
      language: flags.language,
      timezone: flags.timezone,
      mapping: parseMapping(flags.map),
      dateFormats: flags.dateFormat,
      storeText,
    },
    maxRejects,
    rejects: new RejectsFile(flags.rejectsFile),
  };
}

/** Rejected records as JSONL (file, location, reason); the file is created by the first one only. */
export class RejectsFile {
  private stream: WriteStream | undefined;
  count = 0;

  constructor(readonly path: string) {}

  write(file: string, item: Extract<SourceItem, { kind: 'rejected' }>): void {
    this.stream ??= createWriteStream(this.path);
    this.stream.write(`${JSON.stringify({ file, location: item.location, reason: item.reason })}\n`);
    this.count++;
  }

  async close(): Promise<void> {
    if (!this.stream) return;
    this.stream.end();
    await once(this.stream, 'finish');
  }
}
