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

/** The link an entity carries, if any. */
function entityLink(e: Json): string | undefined {
  if (e.type === 'text_link' && typeof e.href === 'string') return e.href;
  if (e.type === 'link' && typeof e.text === 'string') return e.text;
  return undefined;
}

/** Plain text and links of `text` (a string, or an array of strings and entity objects). */
function readText(text: unknown, entities: unknown): { plain: string; links: string[] } {
  // No closures here: this runs once per message, and every closure is an allocation.
  let links: string[] | undefined;
  let plain = '';
  if (typeof text === 'string') plain = text;
  else if (Array.isArray(text)) {
    for (const part of text) {
      if (typeof part === 'string') plain += part;
      else if (part !== null && typeof part === 'object') {
        const e = part as Json;
        if (typeof e.text === 'string') plain += e.text;
        const link = entityLink(e);
        if (link !== undefined) (links ??= []).push(link);
      }
    }
  }
  if (Array.isArray(entities)) {
    for (const e of entities) {
      if (e === null || typeof e !== 'object') continue;
      const link = entityLink(e as Json);
      if (link !== undefined) (links ??= []).push(link);
    }
  }
  const inText = urlsInText(plain);
  if (links === undefined) return { plain, links: inText.length > 0 ? uniqueLinks(inText) : inText };
  for (const l of inText) links.push(l);
  return { plain, links: uniqueLinks(links) };
}

/** The fields of an exported message that mapping reads (undefined: absent). */
class MessageFields {
  id: unknown = undefined;
  type: unknown = undefined;
  action: unknown = undefined;
  title: unknown = undefined;
  date_unixtime: unknown = undefined;
  date: unknown = undefined;
  edited_unixtime: unknown = undefined;
  edited: unknown = undefined;
  text: unknown = undefined;
  text_entities: unknown = undefined;
  forwarded_from: unknown = undefined;
  media_type: unknown = undefined;
  photo: unknown = undefined;
  poll: unknown = undefined;
  file: unknown = undefined;
  location_information: unknown = undefined;
  contact_information: unknown = undefined;
}

/**
 * The fields mapping reads, in one pass over the message's keys. Exported messages come in many
 * shapes (most fields are optional), so each `m.field` would be a slow megamorphic lookup, most of
 * them for fields that are absent; the one loop visits only what is there (a few times faster).
 */
function readFields(m: Json): MessageFields {
  const f = new MessageFields();
  for (const key in m) {
    switch (key) {
      case 'id': f.id = m[key]; break;
      case 'type': f.type = m[key]; break;
      case 'action': f.action = m[key]; break;
      case 'title': f.title = m[key]; break;
      case 'date_unixtime': f.date_unixtime = m[key]; break;
      case 'date': f.date = m[key]; break;
      case 'edited_unixtime': f.edited_unixtime = m[key]; break;
      case 'edited': f.edited = m[key]; break;
      case 'text': f.text = m[key]; break;
      case 'text_entities': f.text_entities = m[key]; break;
      case 'forwarded_from': f.forwarded_from = m[key]; break;
      case 'media_type': f.media_type = m[key]; break;
      case 'photo': f.photo = m[key]; break;
      case 'poll': f.poll = m[key]; break;
      case 'file': f.file = m[key]; break;
      case 'location_information': f.location_information = m[key]; break;
      case 'contact_information': f.contact_information = m[key]; break;
    }
  }
  return f;
}

function mediaOf(m: MessageFields, plain: string): NonNullable<EventInput['message']>['media'] {
  if (typeof m.media_type === 'string') return (Object.hasOwn(MEDIA_TYPES, m.media_type) ? MEDIA_TYPES[m.media_type] : undefined) ?? 'other';
  if (m.photo !== undefined) return 'photo';
  if (m.poll !== undefined) return 'poll';
  if (m.file !== undefined) return 'document';
  if (m.location_information !== undefined || m.contact_information !== undefined) return 'other';
  return plain.length > 0 ? 'text' : 'other';
}

/** Epoch ms from `*_unixtime` (seconds as a string), else from the zone-less local `date`. */
function timeOf(unix: unknown, local: unknown, ctx: MessageContext): number | undefined {
  if (typeof unix === 'number') return Number.isFinite(unix) ? unix * 1000 : undefined;
  if (typeof unix === 'string') {
    const s = Number(unix);
    // Number('') and Number('  ') are 0: a blank time is no time. (A leading digit is not blank.)
    const c = unix.charCodeAt(0);
    return Number.isFinite(s) && ((c >= 0x30 && c <= 0x39) || unix.trim() !== '') ? s * 1000 : undefined;
  }
  if (typeof local !== 'string') return undefined;
  ctx.onLocalDate();
  return ctx.localToEpochMs(local);
}

/**
 * One exported message -> the events it stands for: a post (plus an edit when it was edited),
 * a lifecycle event for lifecycle service messages, or the reason it is ignored / rejected.
 */
export function mapMessage(chat: ChatInfo, message: Json, ctx: MessageContext): MessageOutcome {
  if (chat.id === undefined) return { kind: 'rejected', reason: 'the chat has no "id" before its messages' };
  if (chat.type !== undefined && !ACTIVITY_CHAT_TYPES.has(chat.type)) return { kind: 'ignored', what: `chat:${chat.type}` };
  const m = readFields(message);
  const messageId = m.id === undefined || m.id === null ? undefined : String(m.id);

  if (m.type === 'service') {
    const action = typeof m.action === 'string' ? m.action : '(none)';
    // Own keys only: an action named like an Object.prototype member ("toString") is not lifecycle.
    const lifecycle = Object.hasOwn(LIFECYCLE, action) ? LIFECYCLE[action] : undefined;
    if (!lifecycle) return { kind: 'ignored', what: `service:${action}` };
    const at = timeOf(m.date_unixtime, m.date, ctx);
    if (at === undefined) return { kind: 'rejected', reason: 'service message has no usable "date_unixtime" or "date"' };
    const input: EventInput = { timestamp: at, action: lifecycle.action, channel: channelOf(chat.id, typeof m.title === 'string' ? m.title : chat.name), source: { type: 'telegram-export' } };
    if (messageId !== undefined) input.message = { id: messageId };
    if (lifecycle.label) input.labels = [lifecycle.label];
    return { kind: 'events', inputs: [input] };
  }
  if (m.type !== 'message') return { kind: 'rejected', reason: `unsupported message type ${JSON.stringify(m.type)}` };
  if (messageId === undefined) return { kind: 'rejected', reason: 'message has no "id"' };
  const at = timeOf(m.date_unixtime, m.date, ctx);
  if (at === undefined) return { kind: 'rejected', reason: 'message has no usable "date_unixtime" or "date"' };
  let editedAt: number | undefined;
  if (m.edited_unixtime !== undefined || m.edited !== undefined) {
    editedAt = timeOf(m.edited_unixtime, m.edited, ctx);
    if (editedAt === undefined) return { kind: 'rejected', reason: 'message has an "edited" time that is not a date' };
  }
  const { plain, links } = readText(m.text, m.text_entities);
  const media = mediaOf(m, plain);
  const forwardedFrom = typeof m.forwarded_from === 'string' && m.forwarded_from.trim() !== '' ? m.forwarded_from : undefined;
  const text = ctx.storeText && plain.length > 0 ? plain : undefined;
  const post = messageEvent(chat, messageId, at, 'post', links, media, plain.length, forwardedFrom, text);
  if (editedAt === undefined) return { kind: 'events', inputs: [post] };
  return { kind: 'events', inputs: [post, messageEvent(chat, messageId, editedAt, 'edit', links.slice(), media, plain.length, forwardedFrom, text)] };
}

/**
 * A post or edit. Each event gets its own objects, so nothing downstream can change one event
 * through another; a plain function, not a closure per message (the mapping runs millions of times).
 */
function messageEvent(
  chat: ChatInfo, id: string, timestamp: number, action: 'post' | 'edit', links: string[],
  media: NonNullable<EventInput['message']>['media'], length: number, forwardedFrom: string | undefined, text: string | undefined,
): EventInput {
  const message: NonNullable<EventInput['message']> = { id, media, length };
  if (forwardedFrom !== undefined) message.forwarded_from = forwardedFrom;
  if (text !== undefined) message.text = text;
  return { timestamp, action, channel: channelOf(chat.id!, chat.name), message, links, source: { type: 'telegram-export' } };
}

/** The event's channel, its fields in the schema's order. */
function channelOf(id: string, title: string | undefined): Channel {
  return title === undefined ? { id } : { id, title };
}
