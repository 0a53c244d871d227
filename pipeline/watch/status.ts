/** What the collector can tell about a watched channel: seen, cannot tell (with the reason), or gone. */
export type ChannelHealth = 'ok' | 'unknown' | 'gone';

/**
 * The collector's status stream, for the watch-list status view and for operators: one update per
 * channel poll and one heartbeat per scheduler tick. Delivered through `onStatus`; a listener
 * that throws is logged and ignored, it never stops the collection.
 */
export interface ChannelStatusUpdate {
  type: 'channel';
  collector: string;
  at: string;
  handle: string;
  channelId: string;
  health: ChannelHealth;
  /** Why: "visible", the takedown text, "no preview: ...", or the error that made the poll fail. */
  reason: string;
  title?: string | undefined;
  lastPostAt?: string | undefined;
  /** Failed polls so far, and in a row (the row resets on the next successful poll). */
  errors: number;
  consecutiveErrors: number;
  nextPollAt?: string | undefined;
  /** Events published by this poll. */
  events: number;
}

export interface CollectorHeartbeat {
  type: 'heartbeat';
  collector: string;
  at: string;
  source: 'preview' | 'mtproto';
  channels: number;
  due: number;
  inFlight: number;
  health: Record<ChannelHealth, number>;
  /** Totals since start. */
  polls: number;
  pollErrors: number;
  eventsPublished: number;
  eventsRejected: number;
  requests: number;
}

export type CollectorStatusUpdate = ChannelStatusUpdate | CollectorHeartbeat;
export type StatusListener = (update: CollectorStatusUpdate) => void;

/**
 * The status stream on the wire: `tidewatch collect` publishes each update as one JSON record on
 * the analyzer's network topic under this key (records forwarded by the analyzer's channel stage
 * are keyed by their partition number), and the network stage hands it to the status core's
 * `observe` instead of decoding an event. See pipeline/analytics/status/README.md.
 * These types live here, not in the collector, so the status core (analytics) and the analyzer
 * read them without importing a producer.
 */
export const STATUS_RECORD_KEY = 'collector-status';

const HEALTH: ReadonlySet<string> = new Set<ChannelHealth>(['ok', 'unknown', 'gone']);

/** A status record back into an update; null when it is not one (a bad record is skipped, never fatal). */
export function parseStatusRecord(value: Buffer | string): CollectorStatusUpdate | null {
  let u: unknown;
  try {
    u = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch {
    return null;
  }
  if (u === null || typeof u !== 'object') return null;
  const o = u as Record<string, unknown>;
  if (typeof o.collector !== 'string' || typeof o.at !== 'string' || !Number.isFinite(Date.parse(o.at))) return null;
  if (o.type === 'heartbeat') return o.source === 'preview' || o.source === 'mtproto' ? (o as unknown as CollectorHeartbeat) : null;
  if (o.type !== 'channel' || typeof o.handle !== 'string' || typeof o.health !== 'string' || !HEALTH.has(o.health) || typeof o.reason !== 'string') return null;
  if (o.lastPostAt !== undefined && (typeof o.lastPostAt !== 'string' || !Number.isFinite(Date.parse(o.lastPostAt)))) return null;
  return o as unknown as ChannelStatusUpdate;
}
