import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { channelSchema } from '../events/index.ts';
import { ErrorCode, TidewatchError } from '../errors.ts';

/**
 * Telegram public usernames: a letter, then letters, digits or underscores; 5-32 characters for
 * new ones, but auctioned and legacy names are shorter, so 4 is accepted. Analysts paste "@name"
 * and "https://t.me/name" as often as bare names, so those are normalised here, once.
 */
const handleSchema = z
  .string()
  .trim()
  .transform((s) => s.replace(/^(?:https?:\/\/)?(?:www\.)?t(?:elegram)?\.me\/(?:s\/)?/i, '').replace(/^@/, '').replace(/\/+$/, ''))
  .pipe(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{3,31}$/, 'must be a Telegram username like "nashir_news" (4-32 letters, digits, _)'))
  .transform((s) => s.toLowerCase());

const watchEntryObjectSchema = z.strictObject({
  handle: handleSchema,
  network: channelSchema.shape.network,
  language: channelSchema.shape.language,
  labels: z.array(z.string().trim().min(1).max(64)).max(32).optional(),
});

export type WatchEntry = z.output<typeof watchEntryObjectSchema>;

/**
 * A bare string is shorthand for `{"handle": "..."}`; expanding it first (rather than a union)
 * keeps zod's message about the handle instead of a bare "Invalid input".
 */
export const watchEntrySchema = z.preprocess((v) => (typeof v === 'string' ? { handle: v } : v), watchEntryObjectSchema);

/** The watch list: `["handle", {"handle": "x", "network": "...", "language": "ar", "labels": [...]}]`. */
export const watchListSchema = z.array(watchEntrySchema).max(100_000);

export type WatchList = WatchEntry[];

/** Later entries win: a file given on the command line overrides the same handle in the config. */
export function mergeWatchLists(...lists: WatchList[]): WatchList {
  const byHandle = new Map<string, WatchEntry>();
  for (const list of lists) for (const entry of list) byHandle.set(entry.handle, entry);
  return [...byHandle.values()];
}

export function parseWatchList(text: string, where: string): WatchList {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `watch list ${where}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = watchListSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 20).map((i) => `  - ${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `watch list ${where} is invalid:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function readWatchListFile(file: string): WatchList {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `watch list ${file}: cannot read it (${(err as Error).message})`);
  }
  return parseWatchList(text, file);
}

/**
 * A watch list file that is re-read when its mtime or size changes. Polling the mtime (once per
 * scheduler tick) rather than fs.watch: editors save by rename, which silently ends an fs.watch,
 * and the tick already runs every few seconds.
 */
export class WatchListFile {
  private stamp: string;

  constructor(readonly file: string) {
    this.stamp = this.currentStamp();
  }

  /** The initial list; throws when the file is unreadable or invalid (start-up must fail loudly). */
  read(): WatchList {
    this.stamp = this.currentStamp();
    return readWatchListFile(this.file);
  }

  /**
   * The new list when the file changed since the last read, otherwise undefined. An invalid edit
   * throws, and the caller keeps the list it has: a typo must not stop the collection.
   */
  readIfChanged(): WatchList | undefined {
    const stamp = this.currentStamp();
    if (stamp === this.stamp) return undefined;
    this.stamp = stamp;
    return readWatchListFile(this.file);
  }

  private currentStamp(): string {
    try {
      const s = statSync(this.file);
      return `${s.mtimeMs}:${s.size}`;
    } catch {
      return 'missing';
    }
  }
}
