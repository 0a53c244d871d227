import { z } from 'zod';

/**
 * The canonical channel activity event. Every producer emits it, every consumer reads it.
 * ECS-flavoured names so the same document reads naturally in Kibana.
 */
export const EVENT_ACTIONS = [
  'post',
  'edit',
  'delete',
  'channel_created',
  /**
   * A live collector saw the channel for the first time, without evidence of when it was created:
   * not a creation (lifespans, resurrections and creation spikes ignore it).
   */
  'channel_first_seen',
  'channel_banned',
  'channel_deleted',
  'channel_restricted',
  'title_changed',
  'subscribers',
  'access_lost',
  /** A platform-reported aggregate, e.g. "3,276 channels banned today": `count` holds it. */
  'bans_reported',
] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

export const LIFECYCLE_ACTIONS: ReadonlySet<EventAction> = new Set([
  'channel_created', 'channel_first_seen', 'channel_banned', 'channel_deleted', 'channel_restricted', 'title_changed', 'access_lost',
]);

export const SOURCE_TYPES = [
  'telegram-export', 'bot-api', 'jsonl', 'csv', 'http', 'replay', 'preview', 'mtproto', 'test',
] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

export const MEDIA_KINDS = [
  'text', 'photo', 'video', 'audio', 'voice', 'document', 'sticker', 'animation', 'poll', 'link', 'other',
] as const;

/** Bounds that keep one hostile record from costing more than any honest one. */
export const LIMITS = {
  idChars: 128,
  handleChars: 64,
  titleChars: 512,
  linkChars: 2048,
  linksPerEvent: 256,
  textChars: 65_536,
  labelChars: 64,
  labelsPerEvent: 32,
  /** Serialized size of one event; larger messages are rejected, not truncated. */
  eventBytes: 256 * 1024,
  /** Earliest plausible activity: Telegram launched in 2013; other platforms earlier. */
  minTimestampMs: Date.UTC(2000, 0, 1),
  /** Events further in the future than this (against the injected clock) are rejected. */
  maxFutureMs: 24 * 3600 * 1000,
} as const;

const isoTimestamp = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/.test(s), {
    message: 'must be an ISO 8601 timestamp with a zone, e.g. 2017-11-22T09:00:00Z',
  })
  .refine((s) => Number.isFinite(Date.parse(s)), { message: 'is not a real date' })
  .refine((s) => Date.parse(s) >= LIMITS.minTimestampMs, { message: 'is before 2000-01-01' });

const label = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

export const channelSchema = z.strictObject({
  id: label(LIMITS.idChars),
  handle: label(LIMITS.handleChars).optional(),
  title: z.string().max(LIMITS.titleChars, `must be at most ${LIMITS.titleChars} characters`).optional(),
  language: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a language code like "ar" or "en"').optional(),
  network: label(LIMITS.labelChars).optional(),
});

export const messageSchema = z.strictObject({
  id: label(LIMITS.idChars),
  media: z.enum(MEDIA_KINDS).optional(),
  length: z.number().int().nonnegative().optional(),
  forwarded_from: label(LIMITS.titleChars).optional(),
  views: z.number().int().nonnegative().optional(),
  /** Only present when the operator turned storeText on. */
  text: z.string().max(LIMITS.textChars).optional(),
});

export const activityEventSchema = z.strictObject({
  '@timestamp': isoTimestamp,
  event: z.strictObject({
    id: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 hex characters (see eventId())'),
    action: z.enum(EVENT_ACTIONS),
    /** When tidewatch received it (set by producers), for lateness and latency. */
    ingested: isoTimestamp.optional(),
  }),
  platform: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,31}$/, 'must be a lowercase platform name like "telegram"'),
  channel: channelSchema,
  message: messageSchema.optional(),
  links: z.array(z.string().min(1).max(LIMITS.linkChars)).max(LIMITS.linksPerEvent).optional(),
  subscribers: z.number().int().nonnegative().optional(),
  count: z.number().int().nonnegative().optional(),
  source: z.strictObject({
    type: z.enum(SOURCE_TYPES),
    name: z.string().max(LIMITS.titleChars).optional(),
  }),
  labels: z.array(label(LIMITS.labelChars)).max(LIMITS.labelsPerEvent).optional(),
});

export type ActivityEvent = z.infer<typeof activityEventSchema>;
export type Channel = z.infer<typeof channelSchema>;

// ---------------------------------------------------------------------------------------------
// Fast acceptance. Running the schema (which also copies the event) was most of an import's
// per-event cost, yet nearly every event it sees is one our builder just made, already canonical.
// canonicalEventMs() accepts only what the schema certainly accepts *unchanged*: every rule below
// is one of the schema's, applied no more loosely, and anything a transform would alter
// (untrimmed labels, keys out of the schema's order, undefined-valued keys, timestamps not in
// toISOString's form) is left to the schema. So the schema stays the authority for every rule
// and every rejection reason; fast-path.test.ts checks with fast-check that validation gives
// exactly what the schema alone gives. Change a rule above, change its mirror here (the test
// fails until you do).

const EVENT_KEYS = ['@timestamp', 'event', 'platform', 'channel', 'message', 'links', 'subscribers', 'count', 'source', 'labels'] as const;
const META_KEYS = ['id', 'action', 'ingested'] as const;
const CHANNEL_KEYS = ['id', 'handle', 'title', 'language', 'network'] as const;
const MESSAGE_KEYS = ['id', 'media', 'length', 'forwarded_from', 'views', 'text'] as const;
const SOURCE_KEYS = ['type', 'name'] as const;

const ACTION_SET: ReadonlySet<unknown> = new Set(EVENT_ACTIONS);
const SOURCE_SET: ReadonlySet<unknown> = new Set(SOURCE_TYPES);
const MEDIA_SET: ReadonlySet<unknown> = new Set(MEDIA_KINDS);
const PLATFORM_RE = /^[a-z0-9][a-z0-9_.-]{0,31}$/;
const LANGUAGE_RE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

type Obj = Record<string, unknown>;

/**
 * An object; its keys are then checked by keysInOrder(). An array never passes as one: its keys
 * are indexes, and an empty one lacks the required fields.
 */
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null;

/** The keys are known, in the schema's order (its output's order) and none is undefined. */
function keysInOrder(o: Obj, order: readonly string[]): boolean {
  let i = 0;
  for (const k in o) {
    while (i < order.length && order[i] !== k) i++;
    if (i === order.length || o[k] === undefined) return false;
    i++;
  }
  return true;
}

/** `label(max)`, when trimming would not change the value. */
function isLabel(s: unknown, max: number): boolean {
  if (typeof s !== 'string' || s.length === 0 || s.length > max) return false;
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(s.length - 1);
  // Printable ASCII at both ends cannot be trimmed; anything else asks trim() itself.
  return (first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f) || s.trim() === s;
}

const isText = (s: unknown, max: number) => typeof s === 'string' && s.length <= max;
const isCount = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function isHexId(s: unknown): boolean {
  if (typeof s !== 'string' || s.length !== 32) return false;
  for (let i = 0; i < 32; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

// The last value that passed: consecutive events mostly repeat these. None before the first
// (a '' there let the first events of a process through with an empty platform, language or ingested).
let lastPlatform: string | undefined;
let lastLanguage: string | undefined;
let lastIngested: string | undefined;

const matchesCached = (s: unknown, re: RegExp, last: string | undefined): s is string => typeof s === 'string' && (s === last || re.test(s));

function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): Date.UTC without its call cost. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * Epoch ms of a timestamp in toISOString()'s own form (`2017-11-22T09:00:00.000Z`), years 2000
 * to 9999, real calendar dates only; NaN for anything else, which the schema then judges. Such a
 * string passes `isoTimestamp`: it matches the pattern and Date.parse reads it as these ms.
 */
export function canonicalIsoMs(s: unknown): number {
  if (typeof s !== 'string' || s.length !== 24) return NaN;
  if (s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || s.charCodeAt(10) !== 0x54 || s.charCodeAt(13) !== 0x3a ||
      s.charCodeAt(16) !== 0x3a || s.charCodeAt(19) !== 0x2e || s.charCodeAt(23) !== 0x5a) return NaN;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 7);
  const day = digits(s, 8, 10);
  const hour = digits(s, 11, 13);
  const minute = digits(s, 14, 16);
  const second = digits(s, 17, 19);
  const milli = digits(s, 20, 23);
  // NaN fails every comparison, so a non-digit anywhere ends here too.
  if (!(year >= 2000 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59 && milli >= 0)) {
    return NaN;
  }
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli;
}

/**
 * When `value` is an event the schema accepts and returns unchanged, the epoch ms of its
 * `@timestamp`; otherwise NaN (run the schema: it may still accept, or it names the problem).
 */
export function canonicalEventMs(value: unknown): number {
  if (!isObject(value) || !keysInOrder(value, EVENT_KEYS)) return NaN;
  const ms = canonicalIsoMs(value['@timestamp']);
  if (Number.isNaN(ms)) return NaN;
  const meta = value.event;
  if (!isObject(meta) || !keysInOrder(meta, META_KEYS) || !isHexId(meta.id)) return NaN;
  return canonicalContent(value, meta) ? ms : NaN;
}

/** Epoch ms from which toISOString() writes a six-digit year, which the schema's pattern refuses. */
const ISO_YEAR_10000_MS = 253_402_300_800_000;

/**
 * canonicalEventMs() for buildEventAt()'s output, given the ms its `@timestamp` was formatted
 * from: what the builder makes itself is not checked again (the keys and their order, the id, the
 * timestamp's form: isoFromMs() is toISOString()); everything a producer passed in is.
 */
export function canonicalBuiltEvent(event: ActivityEvent, ms: number): boolean {
  return ms >= LIMITS.minTimestampMs && ms < ISO_YEAR_10000_MS && canonicalContent(event as unknown as Obj, event.event as unknown as Obj);
}

/** The checks of every field a producer supplies (all but the keys, id and `@timestamp`). */
function canonicalContent(value: Obj, meta: Obj): boolean {
  if (!ACTION_SET.has(meta.action)) return false;
  const ingested = meta.ingested;
  if (ingested !== undefined && ingested !== lastIngested) {
    if (Number.isNaN(canonicalIsoMs(ingested))) return false;
    lastIngested = ingested as string;
  }

  const platform = value.platform;
  if (!matchesCached(platform, PLATFORM_RE, lastPlatform)) return false;
  lastPlatform = platform;

  const channel = value.channel;
  if (!isObject(channel) || !keysInOrder(channel, CHANNEL_KEYS) || !isLabel(channel.id, LIMITS.idChars)) return false;
  if (channel.handle !== undefined && !isLabel(channel.handle, LIMITS.handleChars)) return false;
  if (channel.title !== undefined && !isText(channel.title, LIMITS.titleChars)) return false;
  if (channel.network !== undefined && !isLabel(channel.network, LIMITS.labelChars)) return false;
  const language = channel.language;
  if (language !== undefined) {
    if (!matchesCached(language, LANGUAGE_RE, lastLanguage)) return false;
    lastLanguage = language;
  }

  const message = value.message;
  if (message !== undefined) {
    if (!isObject(message) || !keysInOrder(message, MESSAGE_KEYS) || !isLabel(message.id, LIMITS.idChars)) return false;
    if (message.media !== undefined && !MEDIA_SET.has(message.media)) return false;
    if ((message.length !== undefined && !isCount(message.length)) || (message.views !== undefined && !isCount(message.views))) return false;
    if (message.forwarded_from !== undefined && !isLabel(message.forwarded_from, LIMITS.titleChars)) return false;
    if (message.text !== undefined && !isText(message.text, LIMITS.textChars)) return false;
  }

  const links = value.links;
  if (links !== undefined) {
    if (!Array.isArray(links) || links.length > LIMITS.linksPerEvent) return false;
    for (let i = 0; i < links.length; i++) {
      const l: unknown = links[i];
      if (typeof l !== 'string' || l.length === 0 || l.length > LIMITS.linkChars) return false;
    }
  }
  if ((value.subscribers !== undefined && !isCount(value.subscribers)) || (value.count !== undefined && !isCount(value.count))) return false;

  const source = value.source;
  if (!isObject(source) || !keysInOrder(source, SOURCE_KEYS) || !SOURCE_SET.has(source.type)) return false;
  if (source.name !== undefined && !isText(source.name, LIMITS.titleChars)) return false;

  const labels = value.labels;
  if (labels !== undefined) {
    if (!Array.isArray(labels) || labels.length > LIMITS.labelsPerEvent) return false;
    for (let i = 0; i < labels.length; i++) if (!isLabel(labels[i], LIMITS.labelChars)) return false;
  }
  return true;
}
