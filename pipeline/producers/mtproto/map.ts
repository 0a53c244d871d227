import { Api, errors } from 'telegram';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import type { Observation, ObservedPost } from '../collector/source.ts';

/**
 * Pure mapping from GramJS (MTProto) objects and RPC errors to the collector's observations, so
 * that a channel read through an account yields exactly the events the preview would. Tested on
 * fixture objects: Telegram's servers are not reachable from the tests.
 */

/** Channels named in a response (`chats`), for forwards: id -> public username or title. */
export type ChatNames = ReadonlyMap<string, string>;

export function chatNames(chats: readonly Api.TypeChat[]): ChatNames {
  const out = new Map<string, string>();
  for (const chat of chats) {
    if (chat instanceof Api.Channel) out.set(chat.id.toString(), chat.username?.toLowerCase() ?? chat.title);
    else if (chat instanceof Api.ChannelForbidden || chat instanceof Api.Chat) out.set(chat.id.toString(), chat.title);
  }
  return out;
}

export function mediaKindOf(media: Api.TypeMessageMedia | undefined): ObservedPost['media'] {
  if (!media || media instanceof Api.MessageMediaEmpty) return 'text';
  if (media instanceof Api.MessageMediaPhoto) return 'photo';
  if (media instanceof Api.MessageMediaWebPage) return 'link';
  if (media instanceof Api.MessageMediaPoll) return 'poll';
  if (media instanceof Api.MessageMediaDocument && media.document instanceof Api.Document) {
    const attrs = media.document.attributes;
    if (attrs.some((a) => a instanceof Api.DocumentAttributeSticker)) return 'sticker';
    if (attrs.some((a) => a instanceof Api.DocumentAttributeAnimated)) return 'animation';
    if (attrs.some((a) => a instanceof Api.DocumentAttributeVideo)) return 'video';
    const audio = attrs.find((a): a is Api.DocumentAttributeAudio => a instanceof Api.DocumentAttributeAudio);
    if (audio) return audio.voice ? 'voice' : 'audio';
    return 'document';
  }
  return 'other';
}

function linksOf(msg: Api.Message): string[] {
  const out = new Set<string>();
  const text = msg.message ?? '';
  for (const entity of msg.entities ?? []) {
    // Entity offsets are UTF-16 code units, the same unit as JavaScript string indices.
    if (entity instanceof Api.MessageEntityTextUrl) out.add(entity.url);
    else if (entity instanceof Api.MessageEntityUrl) out.add(text.slice(entity.offset, entity.offset + entity.length));
  }
  if (msg.media instanceof Api.MessageMediaWebPage && msg.media.webpage instanceof Api.WebPage) out.add(msg.media.webpage.url);
  return [...out].filter((u) => /^https?:\/\//i.test(u));
}

function forwardedFrom(msg: Api.Message, names: ChatNames): string | undefined {
  const fwd = msg.fwdFrom;
  if (!fwd) return undefined;
  if (fwd.fromId instanceof Api.PeerChannel) return names.get(fwd.fromId.channelId.toString()) ?? `channel:${fwd.fromId.channelId.toString()}`;
  return fwd.fromName ?? fwd.postAuthor;
}

/** A channel message as a post; service messages and empty slots are not posts. */
export function postFromMessage(msg: Api.TypeMessage, names: ChatNames = new Map()): ObservedPost | undefined {
  if (!(msg instanceof Api.Message)) return undefined;
  const text = msg.message ?? '';
  return {
    id: msg.id,
    at: new Date(msg.date * 1000).toISOString(),
    media: mediaKindOf(msg.media),
    length: text.length,
    ...(text ? { text } : {}),
    links: linksOf(msg),
    forwardedFrom: forwardedFrom(msg, names),
    views: msg.views,
  };
}

/**
 * What a resolved channel entity says before its history is read: banned when restricted for
 * platform "all" (restrictions for ios/android only are store rules, not takedowns), access lost
 * when Telegram only returns a ChannelForbidden. Undefined: the channel is readable.
 */
export function lifecycleOf(chat: Api.TypeChat): Observation | undefined {
  if (chat instanceof Api.ChannelForbidden) return { kind: 'access_lost', reason: 'Telegram returns the channel as forbidden to this account (private, or the account was banned from it)' };
  if (chat instanceof Api.Channel && chat.restricted) {
    const all = chat.restrictionReason?.find((r) => r instanceof Api.RestrictionReason && r.platform === 'all');
    if (all instanceof Api.RestrictionReason) return { kind: 'banned', reason: `restricted on all platforms (${all.reason}): ${all.text}` };
  }
  if (!(chat instanceof Api.Channel)) return { kind: 'unknown', reason: `the handle resolves to a ${chat.className}, not a channel` };
  return undefined;
}

/** A readable channel and its new messages as a visible observation. */
export function observeChannel(channel: Api.Channel, messages: readonly Api.TypeMessage[], opts: { subscribers?: number | undefined; names?: ChatNames } = {}): Observation {
  const posts = messages.map((m) => postFromMessage(m, opts.names)).filter((p): p is ObservedPost => p !== undefined);
  // Message 1 (a post or the "channel created" service message) dates the channel's creation.
  const first = messages.find((m) => m.id === 1 && !(m instanceof Api.MessageEmpty)) as Api.Message | Api.MessageService | undefined;
  return {
    kind: 'visible',
    title: channel.title,
    ...(first ? { createdAt: new Date(first.date * 1000).toISOString() } : {}),
    subscribers: opts.subscribers ?? channel.participantsCount,
    platformId: channel.id.toString(),
    posts,
    // History is read oldest first from the last seen id (min_id), so nothing is ever skipped.
    gaps: [],
  };
}

/** FLOOD_WAIT_X as a retriable error carrying the wait Telegram asked for. */
export function floodWait(err: unknown, handle: string): TidewatchError | undefined {
  if (!(err instanceof errors.FloodWaitError)) return undefined;
  return new TidewatchError(ErrorCode.RATE_LIMITED, `MTProto @${handle}: FLOOD_WAIT of ${err.seconds} s`, { retriable: true, retryAfterMs: err.seconds * 1000, cause: err });
}

/**
 * RPC errors that describe the channel become observations; FLOOD_WAIT becomes a retriable error
 * carrying the wait; anything else is rethrown as a TidewatchError naming the handle.
 */
export function observationFromRpcError(err: unknown, handle: string): Observation {
  const flood = floodWait(err, handle);
  if (flood) throw flood;
  if (!(err instanceof errors.RPCError)) throw err;
  switch (err.errorMessage) {
    case 'USERNAME_NOT_OCCUPIED':
      return { kind: 'deleted', reason: `no Telegram account or channel has the username @${handle} (USERNAME_NOT_OCCUPIED)` };
    case 'USERNAME_INVALID':
      return { kind: 'deleted', reason: `Telegram rejects the username @${handle} (USERNAME_INVALID)` };
    case 'CHANNEL_PRIVATE':
      return { kind: 'access_lost', reason: 'the channel is private or this account was banned from it (CHANNEL_PRIVATE)' };
    case 'CHANNEL_INVALID':
      // A stale access hash gives the same error as a vanished channel: not proof of anything.
      return { kind: 'unknown', reason: 'Telegram says the channel is invalid (CHANNEL_INVALID); its handle is resolved again next poll' };
    default:
      throw new TidewatchError(ErrorCode.HTTP_UPSTREAM, `MTProto @${handle}: ${err.errorMessage} (${err.code ?? 'no code'})`, {
        retriable: (err.code ?? 0) >= 500 || err.code === undefined,
        cause: err,
      });
  }
}
