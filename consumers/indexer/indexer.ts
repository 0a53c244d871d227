import { BUNDLED_CATALOGUE, linkFields, type PlatformCatalogue } from '../../pipeline/analytics/links.ts';
import { decodeEvent, LIMITS, type Validation, type ValidateOptions } from '../../pipeline/events/index.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/log.ts';
import { retry } from '../../pipeline/retry.ts';
import type { EventSink, IndexedEvent, ItemResult } from '../../pipeline/store/types.ts';
import type { Batch, BatchResult, DeadLetter, DeadLetterWriter, Subscription, Transport, TransportRecord } from '../../pipeline/transport/types.ts';

export interface IndexerOptions {
  groupId: string;
  storeText: boolean;
  retries: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  maxBatchRecords: number;
  concurrentPartitions: number;
  /** Bulk body size, about. */
  flushBytes: number;
  /** Bulk requests in flight per unit of `concurrentPartitions`. */
  concurrency: number;
}

export interface IndexerStats {
  batches: number;
  received: number;
  indexed: number;
  /** Already in the store (redelivery, re-import, or twice in one batch). */
  duplicates: number;
  /** Item writes attempted again after a retriable failure. */
  retried: number;
  deadLettered: number;
}

/**
 * decodeEvent() plus what the indexer stores beside the event: its `link` fields (linkFields()),
 * in the decoded object and, when the sink can store the record's own text, spliced into it
 * before its closing brace, so the fast path still needs no second serialisation.
 */
export function decodeForIndex(bytes: Buffer | string, opts: ValidateOptions, catalogue: PlatformCatalogue = BUNDLED_CATALOGUE): Validation {
  const v = decodeEvent(bytes, opts);
  if (!v.ok) return v;
  const link = linkFields(v.event.links, catalogue);
  if (link) {
    (v.event as IndexedEvent).link = link;
    if (v.json !== undefined) v.json = `${v.json.slice(0, v.json.lastIndexOf('}'))},"link":${JSON.stringify(link)}}`;
  }
  return v;
}

/** Kafka: at most this much of a partition per fetch. */
const INDEXER_FETCH_BYTES_PER_PARTITION = 4 * 1024 * 1024;

/** Records decoded between two turns of the event loop. */
const DECODE_SLICE_RECORDS = 2_000;

/**
 * A bulk line's bytes beyond its record's: the `create` action (index, 64-character id) and the
 * `link` fields, rounded up so a body cut here stays under the sink's own flushBytes (one request).
 */
const LINE_OVERHEAD_BYTES = 160;

/** One write's events in the shared queue: their answers, gathered in their order. */
interface Owner {
  results: ItemResult[];
  /** Events not answered yet. */
  left: number;
  /** Events not in a request yet. */
  queued: number;
  sent: () => void;
  resolve: (results: ItemResult[]) => void;
  reject: (err: unknown) => void;
  failed: boolean;
}

interface Queued {
  event: IndexedEvent;
  json: string | undefined;
  bytes: number;
  owner: Owner;
  index: number;
}

/** A batch decoded: the events to write (first copy of each id), their texts, and the records to dead-letter. */
interface Decoded {
  batch: Batch;
  pending: IndexedEvent[];
  /** The record's own text where it is the event exactly: the sink stores it without serialising again. */
  json: (string | undefined)[];
  /** Each pending event's bulk line size, about (its record's bytes + LINE_OVERHEAD_BYTES). */
  bytes: number[];
  recordOf: Map<string, TransportRecord>;
  letters: DeadLetter[];
}

/**
 * Transport -> sink. A batch is finished, and so committed by the transport, only when every
 * record in it is written, known to be a duplicate, or dead-lettered with its reason and offset.
 * Retriable failures are retried with backoff; if they outlast the retries the batch fails and
 * is delivered again, so nothing is dropped. Subscribed (start()), the indexer hands each decoded
 * batch's writes over and returns at once, so the transport fetches and the indexer decodes the
 * next batches while Elasticsearch writes these: at most `concurrentPartitions` batches wait for a
 * bulk request (send()), and the transport commits a batch once its writes are done (`durable`),
 * in order.
 */
export class Indexer {
  readonly stats: IndexerStats = { batches: 0, received: 0, indexed: 0, duplicates: 0, retried: 0, deadLettered: 0 };
  /** Events waiting for a bulk body, from every batch being written, oldest first. */
  private queue: Queued[] = [];
  /** Bulk requests in flight. */
  private sending = 0;
  /** Batches holding room: events still queued, or waiting to retry. */
  private holding = 0;
  private readonly roomWaiters: (() => void)[] = [];

  constructor(
    private readonly deps: {
      transport: Transport;
      sink: EventSink;
      deadLetters: DeadLetterWriter;
      options: IndexerOptions;
      log: Logger;
      now?: () => number;
      /** Classifies links into the `link` fields stored with each event (default: the bundled catalogue). */
      catalogue?: PlatformCatalogue;
    },
  ) {}

  start(): Promise<Subscription> {
    const { transport, options } = this.deps;
    return transport.subscribe(
      {
        groupId: options.groupId,
        maxBatchRecords: options.maxBatchRecords,
        fromBeginning: true,
        concurrentPartitions: options.concurrentPartitions,
        // Fetches no longer pause the writes (they overlap), so they can be small: the first one
        // arrives and decodes sooner, and no batch holds the event loop long.
        fetchBytesPerPartition: INDEXER_FETCH_BYTES_PER_PARTITION,
      },
      (b) => this.take(b),
    );
  }

  /** Decode `batch`, write it, and resolve once every record is accounted for. */
  async handle(batch: Batch): Promise<void> {
    await this.write(await this.decode(batch));
  }

  /**
   * Decode `batch` and start its writes once fewer than `concurrentPartitions` batches hold room
   * (events not yet in a bulk request, or a retry pending); the transport commits it when they are
   * done. Room frees as soon as a batch's last events are sent, not answered: the transport then
   * fetches and decodes the next batches while Elasticsearch still has bodies to work on.
   */
  private async take(batch: Batch): Promise<BatchResult> {
    const decoded = await this.decode(batch);
    while (this.holding >= this.deps.options.concurrentPartitions) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    return { durable: this.write(decoded) };
  }

  /**
   * Writes `events` through the shared queue: bodies are cut from it across batch boundaries, each
   * up to `flushBytes`, with at most `concurrentPartitions` x `concurrency` requests in flight
   * over all batches (what one batch each could have before), so
   * Elasticsearch gets full bodies without pause where one batch's tail or the next fetch would
   * leave it idle. `sent` is called once the last of these events is in a request.
   */
  private send(events: IndexedEvent[], json: (string | undefined)[], bytes: number[], sent: () => void): Promise<ItemResult[]> {
    return new Promise((resolve, reject) => {
      const owner: Owner = { results: new Array<ItemResult>(events.length), left: events.length, queued: events.length, sent, resolve, reject, failed: false };
      events.forEach((event, i) => this.queue.push({ event, json: json[i], bytes: bytes[i]!, owner, index: i }));
      this.pump();
    });
  }

  private pump(): void {
    const { flushBytes, concurrentPartitions, concurrency } = this.deps.options;
    while (this.sending < concurrency * concurrentPartitions && this.queue.length) {
      let n = 0;
      let size = 0;
      // A body never holds one id twice (two batches can carry the same event after a
      // redelivery): the sink answers by id, so both copies would read as the 409 of one.
      const ids = new Set<string>();
      for (let q = this.queue[0]; q !== undefined && (n === 0 || (size + q.bytes <= flushBytes && !ids.has(q.event.event.id))); q = this.queue[++n]) {
        size += q.bytes;
        ids.add(q.event.event.id);
      }
      const body = this.queue.slice(0, n);
      this.queue = this.queue.slice(n);
      for (const q of body) if (--q.owner.queued === 0) q.owner.sent();
      this.sending++;
      this.deps.sink
        .writeEvents(
          body.map((q) => q.event),
          body.map((q) => q.json),
        )
        .then(
          (results) =>
            results.forEach((res, i) => {
              const { owner, index } = body[i]!;
              if (owner.failed) return;
              owner.results[index] = res;
              if (--owner.left === 0) owner.resolve(owner.results);
            }),
          (err: unknown) => {
            // The whole request failed: each batch in it retries all its events (`create` turns
            // the ones that did land into duplicates); its events still queued are dropped here.
            const owners = new Set(body.map((q) => q.owner));
            for (const o of owners) {
              if (o.failed) continue;
              o.failed = true;
              if (o.queued > 0) {
                this.queue = this.queue.filter((q) => q.owner !== o);
                o.queued = 0;
                o.sent();
              }
              o.reject(err);
            }
          },
        )
        .finally(() => {
          this.sending--;
          this.pump();
        });
    }
  }

  private async decode(batch: Batch): Promise<Decoded> {
    const { options } = this.deps;
    const now = this.deps.now ?? Date.now;
    const catalogue = this.deps.catalogue ?? BUNDLED_CATALOGUE;
    const decoded: Decoded = { batch, pending: [], json: [], bytes: [], recordOf: new Map(), letters: [] };
    const nowMs = now();
    let i = 0;
    for (const r of batch.records) {
      // Decoding a batch takes a core for ~0.3 s per 50,000 records: let the writes in flight
      // answer and send their next bodies meanwhile, or Elasticsearch idles while we decode.
      if (++i % DECODE_SLICE_RECORDS === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const v = decodeForIndex(r.value, { storeText: options.storeText, nowMs }, catalogue);
      if (!v.ok) {
        decoded.letters.push(this.letter(r, 'decode', ErrorCode.EVENT_INVALID, v.reason));
      } else if (decoded.recordOf.has(v.event.event.id)) {
        this.stats.duplicates++;
      } else {
        decoded.recordOf.set(v.event.event.id, r);
        decoded.pending.push(v.event);
        decoded.json.push(v.json);
        decoded.bytes.push(r.value.length + LINE_OVERHEAD_BYTES);
      }
    }
    return decoded;
  }

  private letter(r: TransportRecord, stage: DeadLetter['stage'], code: string, reason: string): DeadLetter {
    const now = this.deps.now ?? Date.now;
    // A record past the event size limit is kept only up to it: its whole base64 could exceed
    // the broker's message size and never reach the DLQ, blocking the partition for good.
    const truncated = r.value.length > LIMITS.eventBytes;
    return {
      originalBase64: (truncated ? r.value.subarray(0, LIMITS.eventBytes) : r.value).toString('base64'),
      reason: truncated ? `${reason} (the dead letter keeps its first ${LIMITS.eventBytes} bytes)` : reason,
      code,
      stage,
      source: { topic: r.topic, partition: r.partition, offset: r.offset },
      at: new Date(now()).toISOString(),
    };
  }

  private async write({ batch, pending: first, json: firstJson, bytes: firstBytes, recordOf, letters }: Decoded): Promise<void> {
    const { options, log } = this.deps;
    let pending = first;
    let json = firstJson;
    let bytes = firstBytes;
    // The batch holds room while events of it are queued and while it waits to retry, so batches
    // backing off from an overloaded store do not let more in.
    let holds = false;
    const hold = () => {
      if (!holds) this.holding++;
      holds = true;
    };
    const release = () => {
      if (holds) this.holding--;
      holds = false;
      this.roomWaiters.splice(0).forEach((wake) => wake());
    };
    try {
      if (pending.length) {
        await retry(
          async () => {
            if (batch.isStale()) throw new TidewatchError(ErrorCode.SHUTTING_DOWN, 'partition revoked during indexing', { retriable: false });
            hold();
            const results = await this.send(pending, json, bytes, release);
            const again: IndexedEvent[] = [];
            const againJson: (string | undefined)[] = [];
            const againBytes: number[] = [];
            results.forEach((res, i) => {
              if (res.status === 'written') {
                if (res.duplicate) this.stats.duplicates++;
                else this.stats.indexed++;
              } else if (res.retriable) {
                again.push(pending[i]!);
                againJson.push(json[i]);
                againBytes.push(bytes[i]!);
              } else {
                letters.push(this.letter(recordOf.get(res.id)!, 'index', res.code, res.reason));
              }
            });
            if (again.length) {
              hold();
              const first = results.find((r) => r.status === 'failed');
              pending = again;
              json = againJson;
              bytes = againBytes;
              this.stats.retried += again.length;
              throw new TidewatchError(ErrorCode.ES_OVERLOADED, `${again.length} item(s) not written yet: ${first && first.status === 'failed' ? first.reason : ''}`, { retriable: true });
            }
          },
          {
            retries: options.retries,
            initialDelayMs: options.retryInitialDelayMs,
            maxDelayMs: options.retryMaxDelayMs,
            onRetry: ({ attempt, delayMs, error }) => {
              log.warn({ attempt, delayMs, err: (error as Error).message, partition: batch.partition }, 'indexing retry');
              batch.heartbeat().catch(() => {});
            },
          },
        );
      }
    } finally {
      release();
    }

    if (letters.length) {
      await retry(() => this.deps.deadLetters.write(letters), { retries: options.retries, initialDelayMs: options.retryInitialDelayMs, maxDelayMs: options.retryMaxDelayMs });
      this.stats.deadLettered += letters.length;
    }
    this.stats.batches++;
    this.stats.received += batch.records.length;
  }
}
