import { createHash } from 'node:crypto';

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
 * same document, so every sink can upsert by it and duplicates vanish at the store.
 */
export function eventId(p: EventIdParts): string {
  const ms = typeof p.timestamp === 'number' ? p.timestamp : Date.parse(p.timestamp);
  const key = [p.platform, p.channelId, p.action, p.messageId ?? '', String(ms)].join('\u001f');
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}
