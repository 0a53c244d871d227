import { eventId } from './id.ts';
import type { ActivityEvent } from './schema.ts';

/**
 * What a user may leave out of a canonical event, and what fills it: the platform (Telegram unless
 * said otherwise) and where the event came in (the file, the ingest endpoint).
 */
export interface EventDefaults {
  platform?: string;
  source: ActivityEvent['source'];
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Telegram's message and channel ids are numbers; the event carries them as strings. */
const idText = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v);

/**
 * A canonical event as users write it, completed into the form the schema takes: `platform` and
 * `source` filled from `defaults`, numeric channel and message ids as strings, and `event.id`
 * derived when absent (a present one is checked by validation, like any other). Returns `value`
 * itself when nothing is missing (the common case, kept cheap: validation's fast path depends on
 * it); otherwise a copy with the keys in the schema's order, so a completed event still takes the
 * fast path. Anything else wrong is left for the schema to name.
 */
export function completeEvent(value: unknown, defaults: EventDefaults): unknown {
  if (!isObject(value)) return value;
  const meta = value.event;
  const channel = value.channel;
  const message = value.message;
  const channelId = isObject(channel) ? channel.id : undefined;
  const messageId = isObject(message) ? message.id : undefined;
  if (
    value.platform !== undefined && value.source !== undefined && typeof channelId !== 'number' && typeof messageId !== 'number' &&
    (!isObject(meta) || meta.id !== undefined)
  ) {
    return value;
  }

  const platform = value.platform ?? defaults.platform ?? 'telegram';
  const completedChannel = isObject(channel) && typeof channelId === 'number' ? { ...channel, id: idText(channelId) } : channel;
  const completedMessage = isObject(message) && typeof messageId === 'number' ? { ...message, id: idText(messageId) } : message;
  let completedMeta = meta;
  if (isObject(meta) && meta.id === undefined) {
    const id = deriveId(value['@timestamp'], meta.action, platform, completedChannel, completedMessage);
    // The id goes first, where the schema has it; without one the schema says what is missing.
    if (id !== undefined) completedMeta = { id, ...meta };
  }

  const out: Obj = {
    '@timestamp': value['@timestamp'],
    event: completedMeta,
    platform,
    channel: completedChannel,
    message: completedMessage,
    links: value.links,
    subscribers: value.subscribers,
    count: value.count,
    source: value.source ?? defaults.source,
    labels: value.labels,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  // Unknown keys stay, for the schema to reject by name.
  for (const k of Object.keys(value)) if (!(k in out)) out[k] = value[k];
  return out;
}

/**
 * eventId() of the parts as validation will read them (labels trimmed, the time parsed), so the
 * derived id is the one validation expects; undefined when a part is unusable.
 */
function deriveId(timestamp: unknown, action: unknown, platform: unknown, channel: unknown, message: unknown): string | undefined {
  if (typeof timestamp !== 'string' || typeof action !== 'string' || typeof platform !== 'string' || !isObject(channel)) return undefined;
  const ms = Date.parse(timestamp);
  const channelId = channel.id;
  if (!Number.isFinite(ms) || typeof channelId !== 'string') return undefined;
  let messageId: string | undefined;
  if (isObject(message)) {
    if (typeof message.id !== 'string') return undefined;
    messageId = message.id.trim();
  }
  return eventId({ platform, channelId: channelId.trim(), action, messageId, timestamp: ms });
}
