import type { ActivityEvent } from '../events/index.ts';
import type { Publisher } from '../transport/types.ts';
import type { Source, SourceItem } from './types.ts';

export interface PumpOptions {
  /** Events per publish call; the transport acknowledges each batch before the next is read. */
  batchEvents: number;
  /** Undefined = dry run: validate and count only. */
  publisher?: Publisher | undefined;
  onRejected?: ((item: Extract<SourceItem, { kind: 'rejected' }>) => void) | undefined;
}

export interface PumpResult {
  produced: number;
  rejected: number;
  published: number;
}

/**
 * Drain a source into the transport in batches. Reading waits for each publish to resolve, so
 * a slow transport slows the reader instead of growing memory.
 */
export async function pumpSource(source: Source, opts: PumpOptions): Promise<PumpResult> {
  const result: PumpResult = { produced: 0, rejected: 0, published: 0 };
  let batch: ActivityEvent[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const events = batch;
    batch = [];
    if (opts.publisher) {
      await opts.publisher.publish(events);
      result.published += events.length;
    }
  };
  for await (const item of source.items()) {
    if (item.kind === 'rejected') {
      result.rejected++;
      opts.onRejected?.(item);
      continue;
    }
    result.produced++;
    // A dry run holds nothing: a batch kept for no publisher would only outlive the young generation.
    if (!opts.publisher) continue;
    batch.push(item.event);
    if (batch.length >= opts.batchEvents) await flush();
  }
  await flush();
  return result;
}
