import * as cheerio from 'cheerio';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import type { ObservedPost } from '../collector/source.ts';

/**
 * Readers of the public preview markup (t.me/s/<handle>, t.me/<handle>, the post embed). Each one
 * recognises the shape it expects and throws an INPUT_PARSE error naming the handle and the
 * missing part when the page is something else: Telegram changes this markup without notice, and a
 * changed page must never read as "no new posts".
 */

/** cheerio's node type, which it does not export by name. */
type AnyNode = Parameters<cheerio.CheerioAPI['contains']>[0];

export interface PreviewPost extends ObservedPost {
  /** Set when the post's text is a takedown stub: the post carries nothing of the channel's own. */
  stub?: string | undefined;
  /** Service messages ("channel created", "photo updated") have ids but are not posts. */
  service: boolean;
}

export type ChannelPage =
  | {
      kind: 'posts';
      title: string;
      subscribers?: number | undefined;
      /** How far the counter rounds: "12.3K" is 100, "987" is 1. */
      subscribersStep?: number | undefined;
      posts: PreviewPost[];
      before?: number | undefined;
    }
  /** `.tme_no_messages_found` or a header with no posts: also what throttled requests get. */
  | { kind: 'empty'; reason: string };

export type ContactPage = { kind: 'missing' } | { kind: 'exists'; title: string; subscribers?: number | undefined; subscribersStep?: number | undefined };

export type EmbedPage = { kind: 'banned'; reason: string } | { kind: 'not_found' } | { kind: 'error'; text: string } | { kind: 'visible' };

/** Takedown texts as Telegram words them; curly apostrophes are folded before comparing. */
const BAN_STUBS: readonly [string, string][] = [
  ["violated telegram's terms of service", 'terms of service'],
  ['used to spread pornographic content', 'pornographic content'],
];

function shapeError(handle: string, page: string, missing: string): TidewatchError {
  return new TidewatchError(
    ErrorCode.INPUT_PARSE,
    `${page} of @${handle} is not in a recognised shape: ${missing} (truncated page, or Telegram changed the markup)`,
    { details: { handle, page } },
  );
}

function clean(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function banReason(text: string): string | undefined {
  const folded = text.replace(/[\u2018\u2019]/g, "'").toLowerCase();
  return BAN_STUBS.find(([phrase]) => folded.includes(phrase))?.[1];
}

/**
 * Counters as the preview prints them: "12.3K", "1.2M", "5 234" (with plain, no-break or thin
 * spaces), "987". Returns undefined for anything else rather than guessing.
 */
export function parseCounter(text: string): number | undefined {
  const compact = text.replace(/[\s\u00a0\u202f,]/g, '');
  const m = /^(\d+(?:\.\d+)?)([KMB]?)$/i.exec(compact);
  if (!m) return undefined;
  const scale = { '': 1, K: 1e3, M: 1e6, B: 1e9 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'B'];
  return Math.round(Number(m[1]) * scale);
}

/** The rounding of a counter parseCounter reads: "12.3K" -> 100, "1M" -> 1,000,000, "5 234" -> 1. */
export function counterStep(text: string): number | undefined {
  const m = /^\d+(?:\.(\d+))?([KMB]?)$/i.exec(text.replace(/[\s\u00a0\u202f,]/g, ''));
  if (!m) return undefined;
  const scale = { '': 1, K: 1e3, M: 1e6, B: 1e9 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'B'];
  return Math.max(1, scale / 10 ** (m[1]?.length ?? 0));
}

/** Text with line breaks kept (the preview renders them as <br>). */
function messageText(el: cheerio.Cheerio<AnyNode>): string {
  const copy = el.clone();
  copy.find('br').replaceWith('\n');
  return copy.text().trim();
}

function mediaKind(msg: cheerio.Cheerio<AnyNode>): ObservedPost['media'] {
  const has = (selector: string) => msg.find(selector).length > 0;
  if (has('.tgme_widget_message_sticker_wrap')) return 'sticker';
  if (has('.tgme_widget_message_voice_player')) return 'voice';
  if (has('.tgme_widget_message_roundvideo_player, .tgme_widget_message_video_player')) return 'video';
  if (has('.tgme_widget_message_photo_wrap')) return 'photo';
  if (has('.tgme_widget_message_document_icon.audio')) return 'audio';
  if (has('.tgme_widget_message_document_wrap')) return 'document';
  if (has('.tgme_widget_message_poll')) return 'poll';
  if (has('.message_media_not_supported')) return 'other';
  if (has('a.tgme_widget_message_link_preview')) return 'link';
  return 'text';
}

/** Outlinks only: hashtag and cashtag links are relative ("?q=%23tag") and say nothing about migration. */
function absoluteLinks(hrefs: Iterable<string | undefined>): string[] {
  const out = new Set<string>();
  for (const href of hrefs) if (href && /^https?:\/\//i.test(href)) out.add(href);
  return [...out];
}

/** "https://t.me/other/55" -> "other"; a forward from a private user has a name and no link. */
function forwardSource(el: cheerio.Cheerio<AnyNode>): string | undefined {
  if (!el.length) return undefined;
  const href = el.attr('href');
  if (href) {
    try {
      const first = new URL(href).pathname.split('/').filter(Boolean)[0];
      if (first) return first.toLowerCase();
    } catch {
      // Not a URL: fall back to the displayed name below.
    }
  }
  return clean(el.text()) || undefined;
}

function postIdOf(dataPost: string | undefined): number | undefined {
  const id = Number(dataPost?.split('/').pop());
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** Parse a `t.me/s/<handle>` page (first page or `?before=`). */
export function parseChannelPage(html: string, handle: string): ChannelPage {
  const $ = cheerio.load(html);
  const messages = $('div.tgme_widget_message[data-post]');
  const info = $('div.tgme_channel_info');
  if ($('.tme_no_messages_found').length) return { kind: 'empty', reason: 'the preview says "No posts found" (also served to requests that come too often)' };
  if (!info.length && !messages.length) {
    throw shapeError(handle, 'preview page', 'no div.tgme_channel_info and no div.tgme_widget_message[data-post]');
  }
  const title = clean(info.find('.tgme_channel_info_header_title').first().text());
  if (!title) throw shapeError(handle, 'preview page', 'no channel title (div.tgme_channel_info_header_title)');
  if (!messages.length) return { kind: 'empty', reason: 'the preview lists no posts' };

  let subscribers: number | undefined;
  let subscribersStep: number | undefined;
  info.find('.tgme_channel_info_counter').each((_, counter) => {
    const type = clean($(counter).find('.counter_type').text()).toLowerCase();
    if (!type.startsWith('subscriber')) return;
    const text = $(counter).find('.counter_value').text();
    subscribers = parseCounter(text);
    subscribersStep = counterStep(text);
  });

  const posts: PreviewPost[] = [];
  messages.each((i, node) => {
    const msg = $(node);
    const dataPost = msg.attr('data-post');
    const id = postIdOf(dataPost);
    if (id === undefined) throw shapeError(handle, 'preview page', `post #${i + 1} has no numeric id in data-post="${dataPost ?? ''}"`);
    const service = msg.hasClass('service_message');
    const datetime = msg.find('a.tgme_widget_message_date time[datetime]').first().attr('datetime');
    if (!datetime || !Number.isFinite(Date.parse(datetime))) {
      throw shapeError(handle, 'preview page', `post ${id} has no a.tgme_widget_message_date time[datetime]`);
    }
    const textEl = msg.find('.tgme_widget_message_text.js-message_text').first();
    const text = textEl.length ? messageText(textEl) : '';
    const hrefs = [
      ...textEl.find('a[href]').map((_, a) => $(a).attr('href')).get(),
      msg.find('a.tgme_widget_message_link_preview[href]').first().attr('href'),
    ];
    const viewsText = msg.find('.tgme_widget_message_views').first().text();
    posts.push({
      id,
      at: new Date(datetime).toISOString(),
      media: mediaKind(msg),
      length: text.length,
      ...(text ? { text } : {}),
      links: absoluteLinks(hrefs),
      forwardedFrom: forwardSource(msg.find('.tgme_widget_message_forwarded_from_name').first()),
      views: viewsText ? parseCounter(viewsText) : undefined,
      stub: text ? banReason(text) : undefined,
      service,
    });
  });
  const beforeAttr = Number($('a.tme_messages_more[data-before]').first().attr('data-before'));
  return { kind: 'posts', title, subscribers, subscribersStep, posts, before: Number.isSafeInteger(beforeAttr) && beforeAttr > 0 ? beforeAttr : undefined };
}

/** Parse `t.me/<handle>`: whether the handle exists at all, and if so its title and exact count. */
export function parseContactPage(html: string, handle: string): ContactPage {
  const $ = cheerio.load(html);
  const ogTitle = $('meta[property="og:title"]').attr('content') ?? '';
  const description = clean($('.tgme_page_description').text()).toLowerCase();
  if (ogTitle.startsWith('Telegram: Contact') || description.includes(`you can contact @${handle.toLowerCase()} right away`)) {
    return { kind: 'missing' };
  }
  const title = clean($('.tgme_page_title').first().text());
  if (!title) throw shapeError(handle, 'channel page', 'no div.tgme_page_title and no "Telegram: Contact" og:title');
  const extra = clean($('.tgme_page_extra').first().text());
  const count = /^([\d\s\u00a0\u202f,.]+[KMB]?)\s+subscribers?/i.exec(extra)?.[1];
  return { kind: 'exists', title, subscribers: count === undefined ? undefined : parseCounter(count), subscribersStep: count === undefined ? undefined : counterStep(count) };
}

/** Parse a post embed (`t.me/<handle>/<id>?embed=1&mode=tme`): the confirmation of a takedown. */
export function parseEmbed(html: string, handle: string): EmbedPage {
  const $ = cheerio.load(html);
  const error = $('div.tgme_widget_message_error');
  if (error.length) {
    const text = clean(error.text());
    const reason = banReason(text);
    if (reason) return { kind: 'banned', reason: `the post embed says the channel violated ${reason === 'terms of service' ? "Telegram's Terms of Service" : 'the rules on pornographic content'}` };
    if (/post not found/i.test(text)) return { kind: 'not_found' };
    return { kind: 'error', text };
  }
  if ($('div.tgme_widget_message[data-post]').length) return { kind: 'visible' };
  throw shapeError(handle, 'post embed', 'no div.tgme_widget_message_error and no div.tgme_widget_message[data-post]');
}
