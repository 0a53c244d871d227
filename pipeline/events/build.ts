import type { ActivityEvent, EventAction, SourceType, Channel } from './schema.ts';
import { eventId } from './id.ts';

export interface EventInput {
  timestamp: Date | number | string;
  action: EventAction;
  platform?: string;
  channel: Channel;
  message?: ActivityEvent['message'];
  links?: string[];
  subscribers?: number;
  count?: number;
  source: { type: SourceType; name?: string };
  labels?: string[];
  ingested?: Date | number;
}

function toIso(t: Date | number | string): string {
  const d = t instanceof Date ? t : new Date(t);
  if (!Number.isFinite(d.getTime())) throw new RangeError(`invalid timestamp: ${String(t)}`);
  return d.toISOString();
}

/**
 * Build a canonical event with its deterministic id. Producers call this, then validateEvent()
 * decides whether it is acceptable; building never silently fixes bad input.
 */
export function buildEvent(input: EventInput): ActivityEvent {
  const platform = input.platform ?? 'telegram';
  const ts = toIso(input.timestamp);
  const event: ActivityEvent = {
    '@timestamp': ts,
    event: {
      id: eventId({ platform, channelId: input.channel.id, action: input.action, messageId: input.message?.id, timestamp: ts }),
      action: input.action,
      ...(input.ingested !== undefined ? { ingested: toIso(input.ingested) } : {}),
    },
    platform,
    channel: input.channel,
    source: input.source,
  };
  if (input.message) event.message = input.message;
  if (input.links?.length) event.links = input.links;
  if (input.subscribers !== undefined) event.subscribers = input.subscribers;
  if (input.count !== undefined) event.count = input.count;
  if (input.labels?.length) event.labels = input.labels;
  return event;
}

/** Partition key: per-channel ordering on every transport. */
export function eventKey(e: Pick<ActivityEvent, 'platform' | 'channel'>): string {
  return `${e.platform}:${e.channel.id}`;
}
