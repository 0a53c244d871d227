import type { Channel, EventInput } from '../../events/index.ts';
import { urlsInText, uniqueLinks } from '../../events/links.ts';

/** The chat a message belongs to, from the fields written before its `messages` array. */
export interface ChatInfo {
  id?: string | undefined;
  name?: string | undefined;
  type?: string | undefined;
}

/** Chat types that are channel activity; personal chats, bots and saved messages are not. */
export const ACTIVITY_CHAT_TYPES: ReadonlySet<string> = new Set([
  'public_channel', 'private_channel', 'public_supergroup', 'private_supergroup', 'private_group',
]);

/** Service actions that are channel lifecycle; every other service message is ignored (and counted). */
const LIFECYCLE: Record<string, { action: EventInput['action']; label?: string }> = {
  create_channel: { action: 'channel_created' },
  channel_create: { action: 'channel_created' },
  create_group: { action: 'channel_created' },
  migrate_from_group: { action: 'channel_created', label: 'migrated-from-group' },
  // The old group stops at this point; its history continues under the supergroup's id.
  migrate_to_supergroup: { action: 'channel_deleted', label: 'migrated-to-supergroup' },
  edit_group_title: { action: 'title_changed' },
};

const MEDIA_TYPES: Record<string, NonNullable<NonNullable<EventInput['message']>['media']>> = {
  sticker: 'sticker',
  video_file: 'video',
  video_message: 'video',
  voice_message: 'voice',
  audio_file: 'audio',
  animation: 'animation',
};

type Json = Record<string, unknown>;

export type MessageOutcome =
  | { kind: 'events'; inputs: EventInput[] }
  | { kind: 'ignored'; what: string }
  | { kind: 'rejected'; reason: string };

export interface MessageContext {
  storeText: boolean;
  /** Converts an old export's zone-less `date`; undefined when the reader has none yet. */
  localToEpochMs: (local: string) => number | undefined;
  /** Told when a date had to be read as local time, so the reader can warn once. */
  onLocalDate: () => void;
}

/** Plain text and links of `text` (a string, or an array of strings and entity objects). */
function readText(text: unknown, entities: unknown): { plain: string; links: string[] } {
  const links: string[] = [];
  const fromEntity = (e: Json) => {
    if (e.type === 'text_link' && typeof e.href === 'string') links.push(e.href);
    else if (e.type === 'link' && typeof e.text === 'string') links.push(e.text);
  };
  let plain = '';
  if (typeof text === 'string') plain = text;
  else if (Array.isArray(text)) {
    for (const part of text) {
      if (typeof part === 'string') plain += part;
      else if (part !== null && typeof part === 'object') {
        const e = part as Json;
        if (typeof e.text === 'string') plain += e.text;
        fromEntity(e);
      }
    }
  }
  if (Array.isArray(entities)) for (const e of entities) if (e !== null && typeof e === 'object') fromEntity(e as Json);
  return { plain, links: uniqueLinks([...links, ...urlsInText(plain)]) };
}

function mediaOf(m: Json, plain: string): NonNullable<EventInput['message']>['media'] {
  if (typeof m.media_type === 'string') return MEDIA_TYPES[m.media_type] ?? 'other';
  if (m.photo !== undefined) return 'photo';
  if (m.poll !== undefined) return 'poll';
  if (m.file !== undefined) return 'document';
  if (m.location_information !== undefined || m.contact_information !== undefined) return 'other';
  return plain.length > 0 ? 'text' : 'other';
}

/** Epoch ms from `*_unixtime` (seconds as a string), else from the zone-less local `date`. */
function timeOf(m: Json, unixKey: string, localKey: string, ctx: MessageContext): number | undefined {
  const unix = m[unixKey];
  if (typeof unix === 'string' || typeof unix === 'number') {
    const s = Number(unix);
    return Number.isFinite(s) && String(unix).trim() !== '' ? s * 1000 : undefined;
  }
  const local = m[localKey];
  if (typeof local !== 'string') return undefined;
  ctx.onLocalDate();
  return ctx.localToEpochMs(local);
}

/**
 * One exported message -> the events it stands for: a post (plus an edit when it was edited),
 * a lifecycle event for lifecycle service messages, or the reason it is ignored / rejected.
 */
export function mapMessage(chat: ChatInfo, m: Json, ctx: MessageContext): MessageOutcome {
  if (chat.id === undefined) return { kind: 'rejected', reason: 'the chat has no "id" before its messages' };
  if (chat.type !== undefined && !ACTIVITY_CHAT_TYPES.has(chat.type)) return { kind: 'ignored', what: `chat:${chat.type}` };
  const channel: Channel = { id: chat.id, ...(chat.name !== undefined ? { title: chat.name } : {}) };
  const source = { type: 'telegram-export' as const };
  const messageId = m.id === undefined || m.id === null ? undefined : String(m.id);

  if (m.type === 'service') {
    const action = typeof m.action === 'string' ? m.action : '(none)';
    const lifecycle = LIFECYCLE[action];
    if (!lifecycle) return { kind: 'ignored', what: `service:${action}` };
    const at = timeOf(m, 'date_unixtime', 'date', ctx);
    if (at === undefined) return { kind: 'rejected', reason: 'service message has no usable "date_unixtime" or "date"' };
    const title = typeof m.title === 'string' ? m.title : chat.name;
    return {
      kind: 'events',
      inputs: [{
        timestamp: at,
        action: lifecycle.action,
        channel: { ...channel, ...(title !== undefined ? { title } : {}) },
        ...(messageId !== undefined ? { message: { id: messageId } } : {}),
        ...(lifecycle.label ? { labels: [lifecycle.label] } : {}),
        source,
      }],
    };
  }
  if (m.type !== 'message') return { kind: 'rejected', reason: `unsupported message type ${JSON.stringify(m.type)}` };
  if (messageId === undefined) return { kind: 'rejected', reason: 'message has no "id"' };
  const at = timeOf(m, 'date_unixtime', 'date', ctx);
  if (at === undefined) return { kind: 'rejected', reason: 'message has no usable "date_unixtime" or "date"' };
  const { plain, links } = readText(m.text, m.text_entities);
  const message = {
    id: messageId,
    media: mediaOf(m, plain),
    length: plain.length,
    ...(typeof m.forwarded_from === 'string' && m.forwarded_from.trim() !== '' ? { forwarded_from: m.forwarded_from } : {}),
    ...(ctx.storeText && plain.length > 0 ? { text: plain } : {}),
  };
  const inputs: EventInput[] = [{ timestamp: at, action: 'post', channel, message, links, source }];
  if (m.edited_unixtime !== undefined || m.edited !== undefined) {
    const editedAt = timeOf(m, 'edited_unixtime', 'edited', ctx);
    if (editedAt === undefined) return { kind: 'rejected', reason: 'message has an "edited" time that is not a date' };
    inputs.push({ timestamp: editedAt, action: 'edit', channel, message, links, source });
  }
  return { kind: 'events', inputs };
}
