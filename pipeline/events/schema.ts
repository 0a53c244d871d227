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
  'channel_created', 'channel_banned', 'channel_deleted', 'channel_restricted', 'title_changed', 'access_lost',
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
  labels: z.array(label(LIMITS.labelChars)).max(32).optional(),
});

export type ActivityEvent = z.infer<typeof activityEventSchema>;
export type Channel = z.infer<typeof channelSchema>;
