import type { ActivityEvent } from '../events/index.ts';

/** What a source yields: an event, or a rejection that says where and why. Nothing vanishes. */
export type SourceItem =
  | { kind: 'event'; event: ActivityEvent }
  | { kind: 'rejected'; reason: string; /** e.g. "result.json: message 1532 (byte 88123)" */ location: string };

/**
 * `jsonl` is canonical events, one per line; `activity-jsonl` and `csv` are other collectors'
 * activity records read through a column mapping (see generic/mapping.ts).
 */
export type InputFormat = 'auto' | 'telegram-export' | 'bot-updates' | 'jsonl' | 'activity-jsonl' | 'csv';

export interface SourceProgress {
  bytesRead: number;
  totalBytes: number;
  /** Input records read so far (messages, lines, rows). */
  records: number;
}

export interface SourceOptions {
  format: InputFormat;
  /** Network / language to stamp on channels that do not carry one. */
  network?: string | undefined;
  language?: string | undefined;
  /** IANA zone for inputs whose times carry none (old Telegram exports). */
  timezone?: string | undefined;
  storeText: boolean;
  /** Injected clock for validation ("too far in the future") and `event.ingested`. */
  nowMs?: number | undefined;
  /**
   * Date patterns for `csv` / `activity-jsonl` timestamps (date-fns Unicode tokens, e.g.
   * `dd.MM.yyyy HH:mm`), tried in order before ISO 8601 and epoch numbers; read in `timezone`.
   */
  dateFormats?: readonly string[] | undefined;
  /** Column mapping for `csv` / `activity-jsonl`: canonical field -> input column name. */
  mapping?: Record<string, string> | undefined;
  /** Called as input is consumed (at most every few thousand records); drives progress bars. */
  onProgress?: ((p: SourceProgress) => void) | undefined;
}

/**
 * What one input amounted to. read = input records seen; every one of them ends up produced
 * (as one or more events), rejected, or ignored (e.g. a pinned-message notice), never nothing.
 */
export interface SourceStats {
  read: number;
  produced: number;
  rejected: number;
  ignored: number;
  /** Ignored records by kind, e.g. { pin_message: 3 }. */
  ignoredByKind: Record<string, number>;
  /** Assumptions the reader had to make, e.g. the zone of an old export's local times. */
  warnings: string[];
}

/** A source turns one input into canonical events; reading is lazy and memory-bounded. */
export interface Source {
  readonly name: string;
  items(): AsyncIterable<SourceItem>;
  /** Counts so far; complete once items() is exhausted. */
  stats?(): SourceStats;
}
