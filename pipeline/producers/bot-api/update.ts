import type { Channel, EventInput } from '../../events/index.ts';
import { makeEvent } from '../common.ts';
import { urlsInText, uniqueLinks } from '../../events/links.ts';
import type { SourceItem, SourceOptions } from '../types.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What one Update amounts to: events and rejections, or the kind of update that is not activity. */
export interface BotUpdateResult {
  items: SourceItem[];
  /** Set when the update carries no channel activity (e.g. a private `message`), so it is counted, not lost. */
  ignored?: string;
}

/** Statuses after which the bot can no longer read the channel. */
const LOST = new Set(['left', 'kicked']);
const HAD_ACCESS = new Set(['creator', 'administrator', 'member', 'restricted']);

/** Order matters: an animation also carries `document`, a video note is a video. */
const MEDIA_FIELDS: [string, NonNullable<NonNullable<EventInput['message']>['media']>][] = [
  ['photo', 'photo'], ['animation', 'animation'], ['video', 'video'], ['video_note', 'video'], ['voice', 'voice'],
  ['audio', 'audio'], ['sticker', 'sticker'], ['poll', 'poll'], ['document', 'document'],
];

/**
 * Bot API channel ids are "-100" + the channel id; Telegram Desktop exports and MTProto use the
 * bare id. Using the bare id makes the same channel one channel whichever way it arrived.
 */
export function channelIdOf(chatId: unknown): string | undefined {
  if (typeof chatId !== 'number' && typeof chatId !== 'string') return undefined;
  const s = String(chatId);
  return s.startsWith('-100') ? s.slice(4) : s;
}

function channelOf(chat: Json): Channel | undefined {
  const id = channelIdOf(chat.id);
  if (id === undefined) return undefined;
  return {
    id,
    ...(typeof chat.username === 'string' ? { handle: chat.username } : {}),
    ...(typeof chat.title === 'string' ? { title: chat.title } : {}),
  };
}

function linksOf(text: string, entities: unknown): string[] {
  const links: string[] = [];
  if (Array.isArray(entities)) {
    for (const e of entities) {
      if (!isObject(e)) continue;
      if (e.type === 'text_link' && typeof e.url === 'string') links.push(e.url);
      else if (e.type === 'url' && typeof e.offset === 'number' && typeof e.length === 'number') {
        // Entity offsets are UTF-16 code units, which is what String#slice counts.
        links.push(text.slice(e.offset, e.offset + e.length));
      }
    }
  }
  return uniqueLinks([...links, ...urlsInText(text)]);
}

function forwardedFrom(m: Json): string | undefined {
  const origin = m.forward_origin;
  if (isObject(origin)) {
    if (isObject(origin.chat)) return (origin.chat.title ?? origin.chat.username) as string | undefined;
    if (isObject(origin.sender_user)) return origin.sender_user.first_name as string | undefined;
    if (typeof origin.sender_user_name === 'string') return origin.sender_user_name;
  }
  if (isObject(m.forward_from_chat)) return (m.forward_from_chat.title ?? m.forward_from_chat.username) as string | undefined;
  return typeof m.forward_sender_name === 'string' ? m.forward_sender_name : undefined;
}

function postInput(m: Json, action: 'post' | 'edit', opts: SourceOptions): EventInput | string {
  if (!isObject(m.chat)) return 'message has no "chat"';
  const channel = channelOf(m.chat);
  if (!channel) return 'message chat has no "id"';
  if (m.message_id === undefined) return 'message has no "message_id"';
  const seconds = action === 'edit' && typeof m.edit_date === 'number' ? m.edit_date : m.date;
  if (typeof seconds !== 'number') return 'message has no numeric "date"';
  const text = typeof m.text === 'string' ? m.text : typeof m.caption === 'string' ? m.caption : '';
  const media = MEDIA_FIELDS.find(([field]) => m[field] !== undefined)?.[1] ?? (text ? 'text' : 'other');
  const forwarded = forwardedFrom(m);
  return {
    timestamp: seconds * 1000,
    action,
    channel,
    message: {
      id: String(m.message_id),
      media,
      length: text.length,
      ...(typeof m.views === 'number' ? { views: m.views } : {}),
      ...(forwarded ? { forwarded_from: forwarded } : {}),
      ...(opts.storeText && text ? { text } : {}),
    },
    links: linksOf(text, m.entities ?? m.caption_entities),
    source: { type: 'bot-api' },
  };
}

/**
 * Map one Bot API `Update` to items. `channel_post` -> post, `edited_channel_post` -> edit (at its
 * edit_date), `my_chat_member` where the bot goes from a member to left/kicked -> access_lost.
 * Used by the JSONL reader and by the HTTP webhook endpoint.
 */
export function mapBotUpdate(update: unknown, opts: SourceOptions, location: string): BotUpdateResult {
  if (!isObject(update)) return { items: [{ kind: 'rejected', reason: 'update is not a JSON object', location }] };
  const where = typeof update.update_id === 'number' ? `${location} (update ${update.update_id})` : location;
  const one = (input: EventInput | string): BotUpdateResult => ({
    items: [typeof input === 'string' ? { kind: 'rejected', reason: input, location: where } : makeEvent(input, opts, where)],
  });
  if (isObject(update.channel_post)) return one(postInput(update.channel_post, 'post', opts));
  if (isObject(update.edited_channel_post)) return one(postInput(update.edited_channel_post, 'edit', opts));
  if (isObject(update.my_chat_member)) {
    const change = update.my_chat_member;
    const before = isObject(change.old_chat_member) ? change.old_chat_member.status : undefined;
    const after = isObject(change.new_chat_member) ? change.new_chat_member.status : undefined;
    if (!(typeof after === 'string' && LOST.has(after) && typeof before === 'string' && HAD_ACCESS.has(before))) {
      return { items: [], ignored: `my_chat_member:${String(after)}` };
    }
    const channel = isObject(change.chat) ? channelOf(change.chat) : undefined;
    if (!channel) return one('my_chat_member has no "chat.id"');
    if (typeof change.date !== 'number') return one('my_chat_member has no numeric "date"');
    return one({ timestamp: change.date * 1000, action: 'access_lost', channel, labels: [`bot-${after}`], source: { type: 'bot-api' } });
  }
  const kind = Object.keys(update).find((k) => k !== 'update_id');
  if (kind === undefined) return one('update carries nothing besides "update_id"');
  return { items: [], ignored: kind };
}
