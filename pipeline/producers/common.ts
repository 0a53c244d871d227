import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { buildEvent, validateEvent, type ActivityEvent, type EventInput } from '../events/index.ts';
import type { Source, SourceItem, SourceOptions, SourceStats } from './types.ts';

/** How often (in records) readers report progress: often enough for a bar, cheap enough for 100k/s. */
export const PROGRESS_EVERY = 4096;

/** Counts of one source, shared by every reader so reports read the same everywhere. */
export class StatsCounter {
  read = 0;
  produced = 0;
  rejected = 0;
  ignored = 0;
  readonly ignoredByKind: Record<string, number> = {};
  readonly warnings: string[] = [];

  ignore(kind: string): void {
    this.ignored++;
    this.ignoredByKind[kind] = (this.ignoredByKind[kind] ?? 0) + 1;
  }

  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  /** Count an item on its way out, so the report and the stream can never disagree. */
  count(item: SourceItem): SourceItem {
    if (item.kind === 'event') this.produced++;
    else this.rejected++;
    return item;
  }

  snapshot(): SourceStats {
    return {
      read: this.read,
      produced: this.produced,
      rejected: this.rejected,
      ignored: this.ignored,
      ignoredByKind: { ...this.ignoredByKind },
      warnings: [...this.warnings],
    };
  }
}

/** Short name used in locations: analysts read "result.json: message 12", not a full path. */
export function displayName(file: string): string {
  return basename(file);
}

/** Stamp the operator's --network / --language on channels that carry none. */
export function withDefaults(event: ActivityEvent, opts: Pick<SourceOptions, 'network' | 'language'>): ActivityEvent {
  if ((opts.network === undefined || event.channel.network !== undefined) && (opts.language === undefined || event.channel.language !== undefined)) {
    return event;
  }
  return {
    ...event,
    channel: {
      ...event.channel,
      ...(event.channel.network === undefined && opts.network !== undefined ? { network: opts.network } : {}),
      ...(event.channel.language === undefined && opts.language !== undefined ? { language: opts.language } : {}),
    },
  };
}

/**
 * Validate an already canonical value (JSONL, HTTP) into an item; the reason names the field.
 * `trustedId` skips re-hashing the id of an event buildEvent() just made: the hash is a large
 * share of the per-event cost of a GB import, and recomputing our own id proves nothing.
 */
export function checkEvent(value: unknown, opts: SourceOptions, location: string, trustedId = false): SourceItem {
  const v = validateEvent(value, { nowMs: opts.nowMs, storeText: opts.storeText, checkId: !trustedId });
  if (!v.ok) return { kind: 'rejected', reason: v.reason, location };
  return { kind: 'event', event: withDefaults(v.event, opts) };
}

/**
 * Build and validate an event from a reader's fields. Building throws on an unusable timestamp;
 * that is bad input here, so it becomes a rejection like any schema problem.
 */
export function makeEvent(input: EventInput, opts: SourceOptions, location: string): SourceItem {
  let event: ActivityEvent;
  try {
    event = buildEvent(input);
  } catch (err) {
    return { kind: 'rejected', reason: (err as Error).message, location };
  }
  event.event.ingested = input.ingested === undefined ? ingestedNow(opts.nowMs) : event.event.ingested;
  return checkEvent(withDefaults(event, opts), opts, location, true);
}

let ingestedCache = { second: NaN, iso: '' };

/** `event.ingested`, formatted once per second rather than once per event (a GB import makes millions). */
function ingestedNow(nowMs: number | undefined): string {
  if (nowMs !== undefined) return new Date(nowMs).toISOString();
  const second = Math.floor(Date.now() / 1000);
  if (second !== ingestedCache.second) ingestedCache = { second, iso: new Date(second * 1000).toISOString() };
  return ingestedCache.iso;
}

export interface Line {
  /** 1-based line number. */
  number: number;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** undefined when the line was longer than the limit: its bytes were skipped, not kept. */
  text: string | undefined;
  bytes: number;
}

/**
 * Split a byte stream into lines without ever holding more than `maxLineBytes` of one line, so a
 * file without newlines cannot exhaust memory. Line numbers and byte offsets feed rejections.
 */
export async function* readLines(chunks: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let overflow = false;
  let lineStart = 0;
  let position = 0;
  let number = 0;
  const finish = (end: number): Line => {
    number++;
    const bytes = end - lineStart;
    let text: string | undefined;
    if (!overflow) {
      let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes);
      if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
      text = buf.toString('utf8');
    }
    const line: Line = { number, offset: lineStart, text, bytes };
    parts = [];
    partBytes = 0;
    overflow = false;
    lineStart = end + 1;
    return line;
  };
  const keep = (piece: Buffer) => {
    if (overflow || piece.length === 0) return;
    if (partBytes + piece.length > maxLineBytes) {
      overflow = true;
      parts = [];
      partBytes = 0;
      return;
    }
    // Copy: the stream may reuse its buffer, and a slice would pin the whole chunk.
    parts.push(Buffer.from(piece));
    partBytes += piece.length;
  };
  for await (const chunk of chunks) {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl === -1) break;
      if (parts.length === 0 && !overflow && nl - from <= maxLineBytes) {
        // Fast path: the whole line is inside this chunk.
        number++;
        let end = nl;
        if (end > from && chunk[end - 1] === 0x0d) end--;
        yield { number, offset: lineStart, text: chunk.toString('utf8', from, end), bytes: position + nl - lineStart };
        lineStart = position + nl + 1;
      } else {
        keep(chunk.subarray(from, nl));
        yield finish(position + nl);
      }
      from = nl + 1;
    }
    keep(chunk.subarray(from));
    position += chunk.length;
  }
  if (position > lineStart) yield finish(position);
}

/**
 * A source of one record per line (JSON lines): blank lines skipped, a line over `maxLineBytes`
 * rejected ("over the N-byte <what> limit"), progress reported; `mapLine` turns one line into
 * items (it may call `stats.ignore`), which are counted on their way out.
 */
export function openLineSource(
  file: string,
  opts: SourceOptions,
  limit: { maxLineBytes: number; what: string },
  mapLine: (text: string, location: string, stats: StatsCounter) => Iterable<SourceItem>,
): Source {
  const name = displayName(file);
  const stats = new StatsCounter();
  return {
    name,
    stats: () => stats.snapshot(),
    async *items(): AsyncGenerator<SourceItem> {
      const totalBytes = statSync(file).size;
      for await (const line of readLines(createReadStream(file), limit.maxLineBytes)) {
        if (line.text !== undefined && isBlank(line.text)) continue;
        stats.read++;
        if (opts.onProgress && stats.read % PROGRESS_EVERY === 0) opts.onProgress({ bytesRead: line.offset, totalBytes, records: stats.read });
        const location = `${name}:line ${line.number}`;
        if (line.text === undefined) {
          yield stats.count({ kind: 'rejected', reason: `line is ${line.bytes} bytes, over the ${limit.maxLineBytes}-byte ${limit.what} limit`, location });
          continue;
        }
        for (const item of mapLine(line.text, location, stats)) yield stats.count(item);
      }
      opts.onProgress?.({ bytesRead: totalBytes, totalBytes, records: stats.read });
    },
  };
}

/** Whether a line carries nothing; blank lines are layout, not records. */
export function isBlank(text: string): boolean {
  return text.trim() === '';
}
