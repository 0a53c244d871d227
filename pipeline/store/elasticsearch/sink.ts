import type { Client } from '@elastic/elasticsearch';
import type { ElasticsearchConfig } from '../../config/index.ts';
import { ErrorCode } from '../../errors.ts';
import type { EventSink, IndexedEvent, ItemResult } from '../types.ts';
import { esError } from './client.ts';
import { activityIndex } from './templates.ts';

export interface EsSinkOptions {
  flushBytes: number;
  concurrency: number;
}

interface DropInfo {
  status: number;
  error: { type?: string; reason?: string } | null;
  document: IndexedEvent;
}

const utc = (timestamp: string): string => (timestamp.endsWith('Z') ? timestamp : new Date(timestamp).toISOString());

/**
 * The bulk action that writes `doc`: `create` in the monthly index of its UTC instant, like the
 * id: the same event spelled in another zone (2017-12-31T23:30:00-05:00 = 2018-01-01T04:30Z) must
 * meet its first copy's 409, not land as a second document in the neighbouring month's index.
 */
export function createAction(prefix: string, doc: IndexedEvent): { create: { _index: string; _id: string } } {
  return { create: { _index: activityIndex(prefix, utc(doc['@timestamp'])), _id: doc.event.id } };
}

/**
 * Writes activity events with the client's bulk helper. `create` with `_id = event.id`: the
 * first copy wins, a redelivered one answers 409 and counts as a duplicate, never a second
 * document. The helper does not retry here; the caller retries what comes back retriable, with
 * the one backoff policy (pipeline/retry.ts), so ES outages and 429s are handled alike.
 */
export class EsEventSink implements EventSink {
  constructor(
    private readonly client: Client,
    private readonly config: ElasticsearchConfig,
    private readonly options: EsSinkOptions,
  ) {}

  async writeEvents(events: readonly IndexedEvent[], json?: readonly (string | undefined)[]): Promise<ItemResult[]> {
    if (events.length === 0) return [];
    const failures = new Map<string, ItemResult>();
    const prefix = this.config.indexPrefix;
    // The helper pulls the datasource in order, one onDocument per item: `next` is the item's index.
    let next = 0;
    try {
      await this.client.helpers.bulk<IndexedEvent>({
        datasource: events as IndexedEvent[],
        onDocument: (doc) => {
          const action = createAction(prefix, doc);
          const text = json?.[next++];
          // The transport's own text when it is the event exactly: no second serialisation.
          return text === undefined ? action : [action, text];
        },
        flushBytes: this.options.flushBytes,
        concurrency: this.options.concurrency,
        // Time-based flushing is for streams; our datasource is a finished array.
        flushInterval: 60_000,
        retries: 0,
        refreshOnCompletion: false,
        // The helper needs only each item's status and error: skip parsing the rest of the reply.
        filter_path: 'errors,items.*.status,items.*.error',
        onDrop: (drop) => {
          const d = drop as unknown as DropInfo;
          const id = d.document.event.id;
          if (d.status === 409) {
            failures.set(id, { id, status: 'written', duplicate: true });
            return;
          }
          const retriable = d.status === 429 || d.status >= 500;
          const reason = `${d.status} ${d.error?.type ?? 'error'}: ${d.error?.reason ?? 'no reason given'}`;
          failures.set(id, { id, status: 'failed', retriable, code: retriable ? ErrorCode.ES_OVERLOADED : ErrorCode.ES_REJECTED, reason });
        },
      });
    } catch (err) {
      // The whole request failed (node down, timeout): every item is retriable; `create` makes
      // the ones that did land answer 409 on the retry.
      const e = esError(err, 'bulk indexing');
      return events.map((ev) => ({ id: ev.event.id, status: 'failed', retriable: e.retriable, code: e.code, reason: e.message }));
    }
    return events.map((ev) => failures.get(ev.event.id) ?? { id: ev.event.id, status: 'written' });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
