import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { ErrorCode, TidewatchError } from '../errors.ts';
import type { InputFormat } from './types.ts';

export type ConcreteFormat = Exclude<InputFormat, 'auto'>;

const HEAD_BYTES = 64 * 1024;
const TELEGRAM_KEYS = /"(messages|chats|left_chats|personal_information)"\s*:/;

/** What the first line of a JSON-lines file says about the records in it. */
function formatOfRecord(record: Record<string, unknown>): ConcreteFormat {
  // A small export written on one line (minified) parses as a first "line" too.
  if (Array.isArray(record.messages) || (typeof record.chats === 'object' && record.chats !== null)) return 'telegram-export';
  if ('update_id' in record) return 'bot-updates';
  if ('@timestamp' in record && typeof record.event === 'object') return 'jsonl';
  return 'activity-jsonl';
}

/**
 * Pick a reader from the extension and the first bytes. Content wins over the extension for
 * JSON (a `.json` file may hold lines of events, a `.jsonl` may hold Bot API updates), and an
 * input nothing recognises is an error that names the file, never a guess.
 */
export async function detectFormat(file: string): Promise<ConcreteFormat> {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  let head: string;
  const handle = await open(file, 'r').catch((err: Error) => {
    throw new TidewatchError(ErrorCode.INPUT_PARSE, `${file}: cannot open it (${err.message})`);
  });
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buf, 0, HEAD_BYTES, 0);
    head = buf.toString('utf8', 0, bytesRead).replace(/^\uFEFF/, '');
  } finally {
    await handle.close();
  }
  const trimmed = head.trimStart();
  if (trimmed === '') throw new TidewatchError(ErrorCode.INPUT_UNSUPPORTED, `${file}: is empty, nothing to import`);
  if (trimmed.startsWith('{')) {
    const firstLine = trimmed.slice(0, trimmed.indexOf('\n') === -1 ? undefined : trimmed.indexOf('\n'));
    try {
      const record: unknown = JSON.parse(firstLine);
      if (record !== null && typeof record === 'object' && !Array.isArray(record)) return formatOfRecord(record as Record<string, unknown>);
    } catch {
      // Not one object per line: a pretty-printed or single-line JSON document.
    }
    if (TELEGRAM_KEYS.test(head)) return 'telegram-export';
  }
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new TidewatchError(
    ErrorCode.INPUT_UNSUPPORTED,
    `${file}: cannot tell its format from the extension or the first bytes; pass --format telegram-export|bot-updates|jsonl|activity-jsonl|csv`,
  );
}
