import { hash } from 'node:crypto';

export interface EventIdParts {
  platform: string;
  channelId: string;
  action: string;
  messageId?: string | undefined;
  /** Epoch milliseconds or ISO string; normalised to milliseconds so "Z" and "+00:00" agree. */
  timestamp: number | string;
}

/**
 * Deterministic event id: the same activity seen twice (re-import, replay, two collectors) is the
 * same document, so every sink can upsert by it and duplicates vanish at the store. The key and
 * its hash must never change (ids of stored events would stop matching); a test pins known ids.
 * Callers that hold the time as epoch ms pass it as a number: parsing an ISO string again is a
 * visible share of an import's per-event cost.
 */
export function eventId(p: EventIdParts): string {
  const ms = typeof p.timestamp === 'number' ? p.timestamp : Date.parse(p.timestamp);
  // One-shot hash (Node >= 20.12): no Hash object per event.
  return hash('sha256', `${p.platform}\u001f${p.channelId}\u001f${p.action}\u001f${p.messageId ?? ''}\u001f${msString(ms)}`, 'hex').slice(0, 32);
}

const PAD4 = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0'));

/**
 * String(ms), faster: an epoch-ms value is too large for V8's small-integer fast path, and its
 * general number formatting was a visible share of the id's cost. Two small integers format fast.
 */
function msString(ms: number): string {
  if (!Number.isInteger(ms) || ms < 1e4 || ms >= 2e13) return String(ms);
  const high = Math.floor(ms / 1e4);
  return `${high}${PAD4[ms - high * 1e4]}`;
}
