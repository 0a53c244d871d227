import type { ChannelHealth } from './lifecycle.ts';

/**
 * The collector's status stream, for the watch-list status view and for operators: one update per
 * channel poll and one heartbeat per scheduler tick. Delivered through `onStatus`; a listener
 * that throws is logged and ignored, it never stops the collection.
 */
export interface ChannelStatusUpdate {
  type: 'channel';
  collector: string;
  at: string;
  handle: string;
  channelId: string;
  health: ChannelHealth;
  /** Why: "visible", the takedown text, "no preview: ...", or the error that made the poll fail. */
  reason: string;
  title?: string | undefined;
  lastPostAt?: string | undefined;
  /** Failed polls so far, and in a row (the row resets on the next successful poll). */
  errors: number;
  consecutiveErrors: number;
  nextPollAt?: string | undefined;
  /** Events published by this poll. */
  events: number;
}

export interface CollectorHeartbeat {
  type: 'heartbeat';
  collector: string;
  at: string;
  source: 'preview' | 'mtproto';
  channels: number;
  due: number;
  inFlight: number;
  health: Record<ChannelHealth, number>;
  /** Totals since start. */
  polls: number;
  pollErrors: number;
  eventsPublished: number;
  eventsRejected: number;
  requests: number;
}

export type CollectorStatusUpdate = ChannelStatusUpdate | CollectorHeartbeat;
export type StatusListener = (update: CollectorStatusUpdate) => void;
