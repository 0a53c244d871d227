import { BUNDLED_CATALOGUE, linkFields, type PlatformCatalogue } from '../../pipeline/analytics/links.ts';
import { decodeEvent, LIMITS, type Validation, type ValidateOptions } from '../../pipeline/events/index.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/log.ts';
import { retry } from '../../pipeline/retry.ts';
import type { EventSink, IndexedEvent } from '../../pipeline/store/types.ts';
import type { Batch, BatchResult, DeadLetter, DeadLetterWriter, Subscription, Transport, TransportRecord } from '../../pipeline/transport/types.ts';

export interface IndexerOptions {
  groupId: string;
  storeText: boolean;
  retries: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  maxBatchRecords: number;
  concurrentPartitions: number;
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

/** A batch decoded: the events to write (first copy of each id), their texts, and the records to dead-letter. */
interface Decoded {
  batch: Batch;
  pending: IndexedEvent[];
  /** The record's own text where it is the event exactly: the sink stores it without serialising again. */
  json: (string | undefined)[];
  recordOf: Map<string, TransportRecord>;
  letters: DeadLetter[];
}

/**
 * Transport -> sink. A batch is finished, and so committed by the transport, only when every
 * record in it is written, known to be a duplicate, or dead-lettered with its reason and offset.
 * Retriable failures are retried with backoff; if they outlast the retries the batch fails and
 * is delivered again, so nothing is dropped. Subscribed (start()), the indexer hands each decoded
 * batch's writes over and returns at once, so the transport fetches and the indexer decodes the
 * next batches while Elasticsearch writes these: at most `concurrentPartitions` batches are being
 * written, and the transport commits a batch once its writes are done (`durable`), in order.
 */
export class Indexer {
  readonly stats: IndexerStats = { batches: 0, received: 0, indexed: 0, duplicates: 0, retried: 0, deadLettered: 0 };
  /** Batch writes in flight. */
  private readonly writing = new Set<Promise<void>>();

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
   * Decode `batch` and start its writes once fewer than `concurrentPartitions` batches are being
   * written; the transport commits it when they are done.
   */
  private async take(batch: Batch): Promise<BatchResult> {
    const decoded = await this.decode(batch);
    while (this.writing.size >= this.deps.options.concurrentPartitions) await Promise.race(this.writing);
    const durable = this.write(decoded);
    const tracked = durable.then(
      () => {},
      () => {},
    );
    this.writing.add(tracked);
    void tracked.then(() => this.writing.delete(tracked));
    return { durable };
  }

  private async decode(batch: Batch): Promise<Decoded> {
    const { options } = this.deps;
    const now = this.deps.now ?? Date.now;
    const catalogue = this.deps.catalogue ?? BUNDLED_CATALOGUE;
    const decoded: Decoded = { batch, pending: [], json: [], recordOf: new Map(), letters: [] };
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

  private async write({ batch, pending: first, json: firstJson, recordOf, letters }: Decoded): Promise<void> {
    const { sink, options, log } = this.deps;
    let pending = first;
    let json = firstJson;
    if (pending.length) {
      await retry(
        async () => {
          if (batch.isStale()) throw new TidewatchError(ErrorCode.SHUTTING_DOWN, 'partition revoked during indexing', { retriable: false });
          const results = await sink.writeEvents(pending, json);
          const again: IndexedEvent[] = [];
          const againJson: (string | undefined)[] = [];
          results.forEach((res, i) => {
            if (res.status === 'written') {
              if (res.duplicate) this.stats.duplicates++;
              else this.stats.indexed++;
            } else if (res.retriable) {
              again.push(pending[i]!);
              againJson.push(json[i]);
            } else {
              letters.push(this.letter(recordOf.get(res.id)!, 'index', res.code, res.reason));
            }
          });
          if (again.length) {
            const first = results.find((r) => r.status === 'failed');
            pending = again;
            json = againJson;
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

    if (letters.length) {
      await retry(() => this.deps.deadLetters.write(letters), { retries: options.retries, initialDelayMs: options.retryInitialDelayMs, maxDelayMs: options.retryMaxDelayMs });
      this.stats.deadLettered += letters.length;
    }
    this.stats.batches++;
    this.stats.received += batch.records.length;
  }
}
