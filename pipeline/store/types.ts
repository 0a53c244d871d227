import type { ActivityEvent } from '../events/index.ts';

/** Per-item outcome of a write: partial failure is normal, every item is accounted for. */
export type ItemResult =
  | { id: string; status: 'written' }
  | { id: string; status: 'failed'; retriable: boolean; code: string; reason: string };

export interface WriteStats {
  written: number;
  retried: number;
  failed: number;
}

/**
 * Where canonical events land. Writes are idempotent by `event.id`: writing the same event
 * twice leaves one document. Elasticsearch and the embedded store implement it.
 */
export interface EventSink {
  writeEvents(events: readonly ActivityEvent[]): Promise<ItemResult[]>;
  close(): Promise<void>;
}
