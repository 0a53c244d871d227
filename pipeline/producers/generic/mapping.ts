import { EVENT_ACTIONS, MEDIA_KINDS, type EventAction, type EventInput } from '../../events/index.ts';
import { urlsInText, uniqueLinks } from '../../events/links.ts';
import type { UserDate } from './date-formats.ts';

/**
 * The column mapping of the generic activity reader (CSV and JSON lines from other collectors:
 * Telethon dumps, 4CAT exports, platform ban counts). Keys are tidewatch fields; values are the
 * column (or JSON key) that holds them. Override any with `--map field=column`.
 *
 * | field          | default column   | notes                                                              |
 * |----------------|------------------|--------------------------------------------------------------------|
 * | timestamp      | timestamp        | ISO 8601 (seconds optional; zone-less = local in --timezone); epoch seconds/ms; or --date-format patterns |
 * | channel        | channel          | channel id (required)                                              |
 * | action         | action           | an event action; empty or absent column = `post`                   |
 * | platform       | platform         | default `telegram`                                                 |
 * | handle, title  | handle, title    |                                                                    |
 * | language       | language         | falls back to --language                                           |
 * | network        | network          | falls back to --network                                            |
 * | message_id     | message_id       |                                                                    |
 * | media, length  | media, length    | media kind, text length                                            |
 * | forwarded_from | forwarded_from   |                                                                    |
 * | views          | views            |                                                                    |
 * | links          | links            | JSON array, or URLs separated by spaces, `|` or `;`               |
 * | text           | text             | kept only with storeText; URLs in it are added to links           |
 * | subscribers    | subscribers      | for `subscribers` snapshots                                        |
 * | count          | count            | for `bans_reported`: e.g. action=bans_reported,count=3276         |
 */
export const ACTIVITY_FIELDS = [
  'timestamp', 'channel', 'action', 'platform', 'handle', 'title', 'language', 'network', 'message_id', 'media', 'length',
  'forwarded_from', 'views', 'links', 'text', 'subscribers', 'count',
] as const;
export type ActivityField = (typeof ACTIVITY_FIELDS)[number];
export type ActivityMapping = Record<ActivityField, string>;

/** The default mapping overlaid with the operator's; an unknown field is an error, not ignored. */
export function resolveMapping(overrides: Record<string, string> = {}): ActivityMapping | string {
  const unknown = Object.keys(overrides).filter((k) => !(ACTIVITY_FIELDS as readonly string[]).includes(k));
  if (unknown.length) return `unknown mapping field(s) ${unknown.join(', ')}; known: ${ACTIVITY_FIELDS.join(', ')}`;
  return Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, overrides[f] ?? f])) as ActivityMapping;
}

export interface RecordContext {
  sourceType: 'csv' | 'jsonl';
  storeText: boolean;
  /** Zone-less local time -> epoch ms, in the operator's --timezone. */
  localToEpochMs: (local: string) => number | undefined;
  onLocalDate: () => void;
  /** The operator's --date-format patterns, tried before the built-in forms. */
  userDate?: ((text: string) => UserDate | undefined) | undefined;
  /** Every date form tried, in order, for the rejection of a timestamp none of them reads. */
  dateFormsTried: readonly string[];
}

const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

function timeOf(raw: unknown, ctx: RecordContext): number | string | undefined {
  if (typeof raw === 'number') return raw < 1e11 ? raw * 1000 : raw;
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  const user = ctx.userDate?.(s);
  if (user !== undefined) {
    if (user.local) ctx.onLocalDate();
    return user.ms;
  }
  // Epoch seconds up to year 5138; larger numbers are milliseconds.
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) < 1e11 ? Number(s) * 1000 : Number(s);
  if (/(Z|[+-]\d{2}:?\d{2})$/i.test(s)) return Number.isFinite(Date.parse(s)) ? s : undefined;
  ctx.onLocalDate();
  return ctx.localToEpochMs(s.replace(/\.\d+$/, ''));
}

function integer(raw: unknown, field: string): number | undefined | string {
  if (!present(raw)) return undefined;
  const n = typeof raw === 'number' ? raw : Number(String(raw).replace(/[,_\s]/g, ''));
  return Number.isInteger(n) && n >= 0 ? n : `${field}: ${JSON.stringify(raw)} is not a non-negative integer`;
}

function linksOf(raw: unknown): string[] {
  if (Array.isArray(raw)) return raw.filter((l): l is string => typeof l === 'string');
  if (typeof raw !== 'string' || raw.trim() === '') return [];
  const s = raw.trim();
  if (s.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(s);
      if (Array.isArray(parsed)) return parsed.filter((l): l is string => typeof l === 'string');
    } catch {
      // Not JSON after all: read it as a separated list below.
    }
  }
  return s.split(/[\s|;]+/).filter(Boolean);
}

/** One record (CSV row or JSON object) -> an event input, or the reason it is not one. */
export function mapActivityRecord(record: Record<string, unknown>, map: ActivityMapping, ctx: RecordContext): EventInput | string {
  const get = (f: ActivityField) => record[map[f]];
  const str = (f: ActivityField) => (present(get(f)) ? String(get(f)).trim() : undefined);
  const channelId = str('channel');
  if (channelId === undefined) return `${map.channel}: missing channel id`;
  const rawTime = get('timestamp');
  if (!present(rawTime)) return `${map.timestamp}: missing timestamp`;
  const timestamp = timeOf(rawTime, ctx);
  if (timestamp === undefined) return `${map.timestamp}: ${JSON.stringify(rawTime)} matches none of the date formats tried (${ctx.dateFormsTried.join('; ')}); add yours with --date-format`;
  const action = (str('action') ?? 'post') as EventAction;
  if (!EVENT_ACTIONS.includes(action)) return `${map.action}: ${JSON.stringify(action)} is not one of ${EVENT_ACTIONS.join(', ')}`;
  const numbers: Record<'subscribers' | 'count' | 'length' | 'views', number | undefined> = { subscribers: undefined, count: undefined, length: undefined, views: undefined };
  for (const f of ['subscribers', 'count', 'length', 'views'] as const) {
    const n = integer(get(f), map[f]);
    if (typeof n === 'string') return n;
    numbers[f] = n;
  }
  const media = str('media');
  if (media !== undefined && !(MEDIA_KINDS as readonly string[]).includes(media)) return `${map.media}: ${JSON.stringify(media)} is not one of ${MEDIA_KINDS.join(', ')}`;
  const text = str('text');
  const messageId = str('message_id');
  const forwarded = str('forwarded_from');
  return {
    timestamp,
    action,
    ...(str('platform') !== undefined ? { platform: str('platform')!.toLowerCase() } : {}),
    channel: {
      id: channelId,
      ...(str('handle') !== undefined ? { handle: str('handle')!.replace(/^@/, '') } : {}),
      ...(str('title') !== undefined ? { title: str('title')! } : {}),
      ...(str('language') !== undefined ? { language: str('language')! } : {}),
      ...(str('network') !== undefined ? { network: str('network')! } : {}),
    },
    ...(messageId !== undefined
      ? {
          message: {
            id: messageId,
            ...(media !== undefined ? { media: media as NonNullable<EventInput['message']>['media'] } : {}),
            ...(numbers.length !== undefined ? { length: numbers.length } : text !== undefined ? { length: text.length } : {}),
            ...(forwarded !== undefined ? { forwarded_from: forwarded } : {}),
            ...(numbers.views !== undefined ? { views: numbers.views } : {}),
            ...(ctx.storeText && text !== undefined ? { text } : {}),
          },
        }
      : {}),
    links: uniqueLinks([...linksOf(get('links')), ...(text !== undefined ? urlsInText(text) : [])]),
    ...(numbers.subscribers !== undefined ? { subscribers: numbers.subscribers } : {}),
    ...(numbers.count !== undefined ? { count: numbers.count } : {}),
    source: { type: ctx.sourceType },
  };
}
