import { buildEvent, type ActivityEvent, type EventAction, type EventInput } from '../../events/index.ts';
import type { Gap, Observation } from './source.ts';
import type { ChannelHealth } from '../../watch/status.ts';
import type { WatchEntry } from '../../watch/watch-list.ts';


/** Persisted per watched handle (collector state file). */
export interface ChannelState {
  handle: string;
  /**
   * Starts at 1; a handle that comes back after a ban or deletion, or that MTProto resolves to
   * another channel id, is a new channel and gets the next generation (and so a new channel id).
   */
  generation: number;
  channelId: string;
  /** Whether the current generation was ever seen visible. */
  seen: boolean;
  health: ChannelHealth;
  reason: string;
  /** Set while the current generation is gone, so the takedown is emitted once. */
  gone?: 'banned' | 'deleted' | 'access_lost' | undefined;
  title?: string | undefined;
  subscribers?: number | undefined;
  subscribersAt?: string | undefined;
  /** When the exact count was last asked for (the preview's counter rounds it); asked again after subscribersRefreshMins. */
  exactSubscribersAt?: string | undefined;
  platformId?: string | undefined;
  lastMessageId?: number | undefined;
  lastPostAt?: string | undefined;
  gaps: Gap[];
  errors: number;
  consecutiveErrors: number;
  lastPollAt?: string | undefined;
  nextPollAt?: string | undefined;
}

/**
 * Channel ids of the live collectors: `tg:<handle>` for the first channel seen under a handle and
 * `tg:<handle>~<n>` for the n-th (after a ban, deletion or takeover). Telegram's numeric id is not
 * on the preview, and the handle is what analysts watch; the same id from both sources means a
 * channel can move from preview to MTProto without looking like a new one.
 */
export function channelIdFor(handle: string, generation: number): string {
  return generation === 1 ? `tg:${handle}` : `tg:${handle}~${generation}`;
}

export function initialState(handle: string): ChannelState {
  return { handle, generation: 1, channelId: channelIdFor(handle, 1), seen: false, health: 'unknown', reason: 'not polled yet', gaps: [], errors: 0, consecutiveErrors: 0 };
}

export interface ReduceContext {
  nowMs: number;
  source: 'preview' | 'mtproto';
  subscribersRefreshMs: number;
}

export interface Reduced {
  state: ChannelState;
  events: ActivityEvent[];
  /** Set when the observation is a problem worth an error count (never-seen handle missing). */
  problem?: string;
}

function inGaps(gaps: readonly Gap[], id: number): boolean {
  return gaps.some((g) => id > g.afterId && id < g.beforeId);
}

/**
 * Turn one observation into events and the next state. Pure: no I/O, clock passed in, so every
 * lifecycle rule is tested from data. Posts already emitted are never emitted again, and nothing
 * recorded before is overwritten by what a takedown leaves behind.
 */
export function reduceObservation(prev: ChannelState, watch: WatchEntry, obs: Observation, ctx: ReduceContext): Reduced {
  const now = new Date(ctx.nowMs).toISOString();
  const polled = { ...prev, lastPollAt: now, consecutiveErrors: 0 };
  const events: ActivityEvent[] = [];
  const emit = (state: ChannelState, action: EventAction, extra: Partial<EventInput> = {}) => {
    events.push(
      buildEvent({
        timestamp: now,
        action,
        channel: channelOf(state, watch),
        source: { type: ctx.source, name: watch.handle },
        labels: watch.labels,
        ingested: ctx.nowMs,
        ...extra,
      }),
    );
  };

  switch (obs.kind) {
    case 'unknown':
      return { state: { ...polled, health: 'unknown', reason: obs.reason }, events };
    case 'banned':
    case 'deleted':
    case 'access_lost': {
      if (!prev.seen && obs.kind === 'banned') {
        // Banned before we looked: gone, but with no takedown event, since when it happened is unknown.
        return { state: { ...polled, health: 'gone', reason: `${obs.reason}; banned before it was first seen`, gone: 'banned' }, events };
      }
      if (!prev.seen) {
        // Nothing to take down: a handle never seen is a typo or a channel gone before we looked.
        const reason = obs.kind === 'deleted' ? `handle @${prev.handle} does not exist` : `${obs.reason} (never seen before)`;
        return { state: { ...polled, health: 'unknown', reason }, events, problem: reason };
      }
      const state: ChannelState = { ...polled, health: 'gone', reason: obs.reason, gone: obs.kind };
      if (prev.gone !== obs.kind) {
        const action: EventAction = obs.kind === 'banned' ? 'channel_banned' : obs.kind === 'deleted' ? 'channel_deleted' : 'access_lost';
        emit(state, action, prev.subscribers === undefined ? {} : { subscribers: prev.subscribers });
      }
      return { state, events };
    }
    case 'visible': {
      const takenOver = prev.platformId !== undefined && obs.platformId !== undefined && obs.platformId !== prev.platformId;
      // Back after a ban or deletion: a new channel under the old handle (the resurrection detector
      // pairs the two). Regaining access to the same channel id is the same channel.
      const reborn = (prev.seen && (prev.gone === 'banned' || prev.gone === 'deleted')) || takenOver;
      const generation = reborn ? prev.generation + 1 : prev.generation;
      const base: ChannelState = reborn
        ? { ...initialState(prev.handle), generation, channelId: channelIdFor(prev.handle, generation), errors: prev.errors, lastPollAt: now }
        : polled;
      const fresh = reborn || !prev.seen;
      const state: ChannelState = {
        ...base,
        seen: true,
        health: 'ok',
        reason: 'visible',
        gone: undefined,
        title: obs.title,
        platformId: obs.platformId ?? base.platformId,
        // Ranges still open belong to the channel that was under this handle before.
        gaps: reborn ? [] : obs.gaps,
      };
      if (fresh) {
        // Creation only with evidence of it (the channel's first message); otherwise a marker of
        // first sight, so a collector starting on old channels makes no lifespans of 0 days.
        const subs = obs.subscribers === undefined ? {} : { subscribers: obs.subscribers };
        if (obs.createdAt !== undefined) emit(state, 'channel_created', { timestamp: obs.createdAt, ...subs });
        else emit(state, 'channel_first_seen', subs);
      } else if (base.title !== undefined && base.title !== obs.title) {
        emit(state, 'title_changed');
      }
      if (obs.subscribers !== undefined) {
        const stale = base.subscribersAt === undefined || ctx.nowMs - Date.parse(base.subscribersAt) >= ctx.subscribersRefreshMs;
        const step = obs.subscribersStep ?? 1;
        // A rounded counter that still agrees with the exact count known is no change.
        const changed = base.subscribers === undefined || Math.abs(obs.subscribers - base.subscribers) > (step > 1 ? step / 2 : 0);
        if (changed || stale) {
          emit(state, 'subscribers', { subscribers: obs.subscribers });
          state.subscribers = obs.subscribers;
          state.subscribersAt = now;
        }
      }
      const last = base.lastMessageId ?? 0;
      const posts = obs.posts
        .filter((p) => p.id > last || inGaps(base.gaps, p.id))
        .sort((a, b) => a.id - b.id);
      for (const p of posts) {
        events.push(
          buildEvent({
            timestamp: p.at,
            action: 'post',
            channel: channelOf(state, watch),
            message: {
              id: String(p.id),
              media: p.media,
              length: p.length,
              ...(p.forwardedFrom === undefined ? {} : { forwarded_from: p.forwardedFrom }),
              ...(p.views === undefined ? {} : { views: p.views }),
              ...(p.text === undefined ? {} : { text: p.text }),
            },
            links: p.links,
            source: { type: ctx.source, name: watch.handle },
            labels: watch.labels,
            ingested: ctx.nowMs,
          }),
        );
        if (p.id > (state.lastMessageId ?? 0)) {
          state.lastMessageId = p.id;
          state.lastPostAt = p.at;
        }
      }
      // In event-time order: a snapshot dated now must not go out before the older posts, which
      // would then count as late.
      return { state, events: events.sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp'])) };
    }
  }
}

function channelOf(state: ChannelState, watch: WatchEntry) {
  return {
    id: state.channelId,
    handle: state.handle,
    ...(state.title === undefined ? {} : { title: state.title }),
    ...(watch.language === undefined ? {} : { language: watch.language }),
    ...(watch.network === undefined ? {} : { network: watch.network }),
  };
}
