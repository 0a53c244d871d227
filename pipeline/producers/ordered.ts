import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { ActivityEvent } from '../events/index.ts';
import { ErrorCode, TidewatchError } from '../errors.ts';
import type { Source, SourceItem } from './types.ts';

/**
 * Several inputs as one stream in event-time order (ties by event id), so what reads it (the
 * `analyze` command) gives the same result whatever the order of the files and of the events in
 * them. Each input is read through a bounded reorder buffer: a Telegram export is in order but
 * for a few edited or imported messages, and that costs no disk. An input the buffer cannot put in
 * order raises `InputDisorder`; the reader starts again (`spill`) with every input not yet proven
 * in order sorted through temporary runs on disk (an external merge sort). Memory: the buffers and
 * one run in the making, never the whole input. Rejections pass through as they come (they have
 * no time); they are counted, not ordered.
 */
export interface OrderedOptions {
  /** Events each input may be out of order by before it is sorted on disk. */
  reorderEvents?: number;
  /** Events per sorted run on disk. */
  runEvents?: number;
  /** Where runs go (a temporary folder is made in it and removed); default the OS's. */
  tmpDir?: string;
  /**
   * Told each rejection once, with the index of its input, however often a restart reads it
   * again (the rejects file must not list a record twice).
   */
  onRejected?: (input: number, item: Extract<SourceItem, { kind: 'rejected' }>) => void;
}

/** An input was further out of order than the reorder buffer: read it again, sorted on disk. */
export class InputDisorder extends Error {
  constructor(readonly input: number, readonly inputName: string) {
    super(`${inputName} is not in event-time order; sorting it on disk`);
  }
}

type Keyed = [timeMs: number, id: string, event: ActivityEvent];

const less = (a: Keyed, b: Keyed): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** A binary min-heap; small enough not to need a dependency. */
class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly lt: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.lt(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.lt(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.lt(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function keyed(event: ActivityEvent): Keyed {
  const t = Date.parse(event['@timestamp']);
  if (Number.isNaN(t)) throw new TidewatchError(ErrorCode.EVENT_INVALID, `event ${event.event.id}: @timestamp ${event['@timestamp']} is not a time`);
  return [t, event.event.id, event];
}

/** One input's events in order through a heap of `capacity`; an event older than one already let out is disorder. */
async function* reordered(source: Source, input: number, capacity: number, rejected: (item: SourceItem) => void): AsyncGenerator<Keyed> {
  const heap = new Heap<Keyed>(less);
  let last: Keyed | undefined;
  for await (const item of source.items()) {
    if (item.kind !== 'event') {
      rejected(item);
      continue;
    }
    const k = keyed(item.event);
    if (last !== undefined && less(k, last)) throw new InputDisorder(input, source.name);
    heap.push(k);
    if (heap.size > capacity) yield (last = heap.pop()!);
  }
  while (heap.size > 0) yield heap.pop()!;
}

async function writeRun(path: string, run: Keyed[]): Promise<void> {
  const out = createWriteStream(path);
  for (const [, , e] of run) if (!out.write(`${JSON.stringify(e)}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

async function* readRun(path: string): AsyncGenerator<Keyed> {
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line) yield keyed(JSON.parse(line) as ActivityEvent);
  }
}

/** One input sorted whatever its order: runs of `runEvents` sorted in memory, written to `dir`, merged. */
async function* sortedOnDisk(source: Source, input: number, runEvents: number, dir: () => Promise<string>, rejected: (item: SourceItem) => void): AsyncGenerator<Keyed> {
  const runs: string[] = [];
  let run: Keyed[] = [];
  const sort = (r: Keyed[]) => r.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
  for await (const item of source.items()) {
    if (item.kind !== 'event') {
      rejected(item);
      continue;
    }
    run.push(keyed(item.event));
    if (run.length >= runEvents) {
      const path = join(await dir(), `input${input}-run${runs.length}.jsonl`);
      await writeRun(path, sort(run));
      runs.push(path);
      run = [];
    }
  }
  // The last run stays in memory: a small input never touches the disk.
  yield* mergeSorted([...runs.map(readRun), (async function* () { yield* sort(run); })()]);
}

/** k sorted streams as one, by (time, id). */
async function* mergeSorted(streams: AsyncIterator<Keyed>[]): AsyncGenerator<Keyed> {
  const heap = new Heap<[Keyed, number]>((a, b) => less(a[0], b[0]));
  try {
    for (let i = 0; i < streams.length; i++) {
      const r = await streams[i]!.next();
      if (!r.done) heap.push([r.value, i]);
    }
    while (heap.size > 0) {
      const [k, i] = heap.pop()!;
      yield k;
      const r = await streams[i]!.next();
      if (!r.done) heap.push([r.value, i]);
    }
  } finally {
    await Promise.allSettled(streams.map((s) => s.return?.()));
  }
}

export class OrderedSources {
  private readonly spilled = new Set<number>();
  private readonly told = new Set<string>();
  private readonly reorderEvents: number;
  private readonly runEvents: number;

  constructor(private readonly sources: readonly Source[], private readonly options: OrderedOptions = {}) {
    this.reorderEvents = options.reorderEvents ?? 10_000;
    this.runEvents = options.runEvents ?? 200_000;
  }

  /** Inputs read through disk runs from now on (for tests and the report). */
  get sortedOnDisk(): number[] {
    return [...this.spilled].sort((a, b) => a - b);
  }

  /**
   * After an `InputDisorder`: every input not proven in order by the attempt that failed is sorted
   * on disk next time, so a second attempt cannot fail the same way. False if nothing changed.
   */
  spill(proven: ReadonlySet<number>): boolean {
    const before = this.spilled.size;
    this.sources.forEach((_, i) => {
      if (!proven.has(i)) this.spilled.add(i);
    });
    return this.spilled.size > before;
  }

  /** One attempt: every event of every input in (time, id) order, rejections as they come. */
  async *items(proven: Set<number> = new Set()): AsyncGenerator<SourceItem> {
    const rejections: SourceItem[] = [];
    const onRejected = this.options.onRejected;
    const rejected = (input: number) => (item: SourceItem) => {
      rejections.push(item);
      if (onRejected === undefined || item.kind !== 'rejected') return;
      const key = `${input}\u0000${item.location}\u0000${item.reason}`;
      if (this.told.has(key)) return;
      this.told.add(key);
      onRejected(input, item);
    };
    let tmp: string | undefined;
    const dir = async () => (tmp ??= await mkdtemp(join(this.options.tmpDir ?? tmpdir(), 'tidewatch-sort-')));
    const streams = this.sources.map((source, i) => {
      const inner = this.spilled.has(i) ? sortedOnDisk(source, i, this.runEvents, dir, rejected(i)) : reordered(source, i, this.reorderEvents, rejected(i));
      return (async function* () {
        yield* inner;
        proven.add(i);
      })();
    });
    try {
      for await (const [, , event] of mergeSorted(streams)) {
        while (rejections.length) yield rejections.shift()!;
        yield { kind: 'event', event };
      }
      while (rejections.length) yield rejections.shift()!;
    } finally {
      if (tmp) await rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * Run `consume` over the ordered items, starting again with the disordered inputs sorted on
   * disk when an attempt finds one out of order (at most twice: see `spill`).
   */
  async read<T>(consume: (items: AsyncIterable<SourceItem>) => Promise<T>): Promise<T> {
    for (;;) {
      const proven = new Set<number>();
      try {
        return await consume(this.items(proven));
      } catch (err) {
        if (!(err instanceof InputDisorder) || !this.spill(proven)) throw err;
      }
    }
  }
}
