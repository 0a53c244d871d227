import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { buildEventAt, validateBuiltEvent, validateEvent, type ActivityEvent, type BuiltEvent, type EventDefaults, type EventInput } from '../events/index.ts';
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
  const c = event.channel;
  if ((opts.network === undefined || c.network !== undefined) && (opts.language === undefined || c.language !== undefined)) {
    return event;
  }
  // Language before network, as the schema orders them: the event stays in canonical form and
  // validation keeps its fast path (events/schema.ts, canonicalEventMs).
  const channel = { ...c };
  if (c.language === undefined && opts.language !== undefined) channel.language = opts.language;
  if (c.network === undefined && opts.network !== undefined) channel.network = opts.network;
  return { ...event, channel };
}

/**
 * Validate a canonical event as a user wrote it (HTTP ingest) into an item, what is missing filled
 * from `defaults` (events/complete.ts); the reason names the field.
 */
export function checkEvent(value: unknown, opts: SourceOptions, defaults: EventDefaults, location: string): SourceItem {
  const v = validateEvent(value, { nowMs: opts.nowMs, storeText: opts.storeText, defaults });
  if (!v.ok) return { kind: 'rejected', reason: v.reason, location };
  return { kind: 'event', event: withDefaults(v.event, opts) };
}

/**
 * Build and validate an event from a reader's fields. Building throws on an unusable timestamp;
 * that is bad input here, so it becomes a rejection like any schema problem.
 */
export function makeEvent(input: EventInput, opts: SourceOptions, location: string): SourceItem {
  const checked = buildChecked(input, opts);
  return typeof checked === 'string' ? { kind: 'rejected', reason: checked, location } : { kind: 'event', event: checked };
}

/**
 * makeEvent() without the item: the event, or the reason it is rejected. For readers that format
 * the location only when there is a rejection (most records never need one).
 */
export function buildChecked(input: EventInput, opts: SourceOptions): ActivityEvent | string {
  // One clock read for both uses: `event.ingested` and validation's "too far in the future".
  const nowMs = opts.nowMs ?? Date.now();
  let built: BuiltEvent;
  try {
    built = buildEventAt(input, input.ingested === undefined ? ingestedAt(nowMs, opts.nowMs !== undefined) : undefined);
  } catch (err) {
    return (err as Error).message;
  }
  const event = withDefaults(built.event, opts);
  const v = validateBuiltEvent(event === built.event ? built : { event, ms: built.ms }, { nowMs, storeText: opts.storeText });
  return v.ok ? v.event : v.reason;
}

let ingestedCache = { second: NaN, iso: '' };

/**
 * `event.ingested`: an injected clock's time as it is; the system clock's to the second, formatted
 * once per second rather than once per event (a GB import makes millions).
 */
function ingestedAt(nowMs: number, injected: boolean): string {
  if (injected) return new Date(nowMs).toISOString();
  const second = Math.floor(nowMs / 1000);
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

/**
 * The items of `batches`, one at a time: a reader that reads a chunk's worth of records at once
 * yields them as arrays, and each record is turned into its items (`expand`) only when the
 * consumer gets to it, so only one record's events are alive at a time and a consumer that stops
 * early stops the work. No async generator's cost per item (its queue and an extra await each;
 * a GB import has millions): one already-resolved promise per item. `done` runs once, after the
 * last record. return() (a consumer that stops early) is passed on, so the reader's finally
 * blocks run.
 */
export function lazyItems<R>(
  batches: AsyncGenerator<R[], unknown, undefined>,
  expand: (record: R, out: SourceItem[]) => void,
  done?: () => void,
): AsyncIterableIterator<SourceItem> {
  let records: R[] = [];
  let nextRecord = 0;
  let items: SourceItem[] = [];
  let nextItem = 0;
  let finished = false;
  const refill = async (): Promise<IteratorResult<SourceItem>> => {
    const r = finished ? undefined : await batches.next();
    if (r === undefined || r.done) {
      if (!finished) done?.();
      finished = true;
      return { done: true, value: undefined };
    }
    records = r.value;
    nextRecord = 0;
    return iterator.next();
  };
  const iterator: AsyncIterableIterator<SourceItem> = {
    [Symbol.asyncIterator]: () => iterator,
    next: () => {
      for (;;) {
        if (nextItem < items.length) return Promise.resolve({ done: false, value: items[nextItem++]! });
        if (nextRecord >= records.length) return refill();
        // A new array, not `length = 0`: truncating one is a runtime call, slower than allocating.
        items = [];
        nextItem = 0;
        const record = records[nextRecord]!;
        // Let go of it: the rest of the batch should not keep it alive.
        (records as unknown[])[nextRecord++] = undefined;
        expand(record, items);
      }
    },
    return: async () => {
      finished = true;
      records = [];
      items = [];
      await batches.return(undefined);
      return { done: true, value: undefined };
    },
  };
  return iterator;
}
