import cron, { type ScheduledTask } from 'node-cron';
import { validateEvent, type ActivityEvent } from '../../events/index.ts';
import { errorMessage, TidewatchError } from '../../errors.ts';
import { logger } from '../../log.ts';
import type { Publisher } from '../../transport/types.ts';
import { systemClock, type Clock } from '../../clock.ts';
import { initialState, reduceObservation, type ChannelState } from './lifecycle.ts';
import type { CollectorOptions } from './options.ts';
import type { TokenBucket } from '../../rate-limit.ts';
import { nextIntervalSecs } from './schedule.ts';
import type { ChannelSource, PollTarget } from './source.ts';
import { StateStore } from './state.ts';
import type { ChannelHealth, ChannelStatusUpdate, CollectorHeartbeat, StatusListener } from '../../watch/status.ts';
import { mergeWatchLists, type WatchEntry, type WatchList, type WatchListFile } from '../../watch/watch-list.ts';

export interface CollectorParams {
  options: CollectorOptions;
  /** Channels from the config; merged under the file's when `watchListFile` is given. */
  watchList: WatchList;
  watchListFile?: WatchListFile | undefined;
  source: ChannelSource;
  /** The same bucket the source pays its requests from (read here for the heartbeat). */
  limiter: TokenBucket;
  publisher: Publisher;
  stateFile: string;
  storeText: boolean;
  clock?: Clock | undefined;
  random?: (() => number) | undefined;
  onStatus?: StatusListener | undefined;
}

export interface OnceSummary {
  polled: number;
  health: Record<ChannelHealth, number>;
  eventsPublished: number;
  eventsRejected: number;
  pollErrors: number;
  /** Failed polls by what failed: "connection refused", "timeout", "HTTP 503", "delivery: ...". */
  failures: Record<string, number>;
  requests: number;
}

/** What made a poll fail, in a few words: summaries count failed polls by it. */
export function failureKind(err: unknown): string {
  if (err instanceof TidewatchError) {
    const failure = err.details?.failure;
    if (typeof failure === 'string') return failure;
    return err.code === 'INPUT_PARSE' ? 'unreadable page' : err.code.toLowerCase().replace(/_/g, ' ');
  }
  return 'error';
}

export interface Collector {
  /** Schedule polls with node-cron every `tickSecs` until stop(). */
  start(): void;
  /** One scheduler step: reload the watch list, start due polls, send a heartbeat. */
  tick(): Promise<void>;
  /** Poll every watched channel once (the `--once` mode), then save the state. */
  runOnce(): Promise<OnceSummary>;
  /** Stop scheduling, let polls in flight finish (aborted after shutdownGraceMs), save the state. */
  stop(): Promise<void>;
  /** The current status of every watched channel. */
  channels(): ChannelStatusUpdate[];
  heartbeat(): CollectorHeartbeat;
}

/**
 * The live collector: a watch list, a scheduler, persisted per-channel state and one source.
 * Events go out through the Publisher it is given; the channel state advances only after its
 * events are accepted, so a failed publish means the same posts are fetched again (same ids),
 * never lost. Restarting from the saved state neither re-emits nor skips posts.
 */
export async function createCollector(params: CollectorParams): Promise<Collector> {
  const { options, source, limiter, publisher } = params;
  const clock = params.clock ?? systemClock;
  const random = params.random ?? Math.random;
  const log = logger().child({ collector: options.name, source: source.type });
  const store = new StateStore(params.stateFile, { collector: options.name, source: source.type });
  const states = await store.load();
  let watchList = mergeWatchLists(params.watchList, params.watchListFile?.read() ?? []);
  const inFlight = new Map<string, Promise<void>>();
  const abort = new AbortController();
  const totals = { polls: 0, pollErrors: 0, eventsPublished: 0, eventsRejected: 0 };
  const failures = new Map<string, number>();
  const failed = (kind: string) => {
    totals.pollErrors++;
    failures.set(kind, (failures.get(kind) ?? 0) + 1);
  };
  let task: ScheduledTask | undefined;
  let stopping = false;

  const notify: StatusListener = (update) => {
    try {
      params.onStatus?.(update);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'status listener failed');
    }
  };

  const channelStatus = (state: ChannelState, events: number): ChannelStatusUpdate => ({
    type: 'channel',
    collector: options.name,
    at: new Date(clock.now()).toISOString(),
    handle: state.handle,
    channelId: state.channelId,
    health: state.health,
    reason: state.reason,
    title: state.title,
    lastPostAt: state.lastPostAt,
    errors: state.errors,
    consecutiveErrors: state.consecutiveErrors,
    nextPollAt: state.nextPollAt,
    events,
  });

  const isDue = (entry: WatchEntry, nowMs: number) => {
    const next = states.get(entry.handle)?.nextPollAt;
    return next === undefined || Date.parse(next) <= nowMs;
  };

  const save = () =>
    store.save(() => new Map(states)).catch((err: unknown) => log.error({ err: errorMessage(err) }, 'collector state not saved; retried on the next poll'));

  async function publish(events: ActivityEvent[], nowMs: number): Promise<ActivityEvent[]> {
    const valid: ActivityEvent[] = [];
    for (const event of events) {
      const v = validateEvent(event, { nowMs, storeText: params.storeText });
      if (v.ok) valid.push(v.event);
      else {
        totals.eventsRejected++;
        log.warn({ channel: event.channel.id, action: event.event.action, reason: v.reason }, 'event rejected');
      }
    }
    if (valid.length) await publisher.publish(valid);
    totals.eventsPublished += valid.length;
    return valid;
  }

  async function poll(entry: WatchEntry): Promise<void> {
    const { handle } = entry;
    const prev = states.get(handle) ?? initialState(handle);
    const ctx = { nowMs: clock.now(), source: source.type, subscribersRefreshMs: options.subscribersRefreshMins * 60_000 };
    let next: ChannelState;
    let events: ActivityEvent[] = [];
    totals.polls++;
    try {
      const target: PollTarget = {
        handle,
        lastMessageId: prev.lastMessageId,
        gaps: prev.gaps,
        known: prev.seen,
        platformId: prev.platformId,
        exactSubscribersDue: prev.exactSubscribersAt === undefined || ctx.nowMs - Date.parse(prev.exactSubscribersAt) >= ctx.subscribersRefreshMs,
      };
      const observation = await source.poll(target, abort.signal);
      ctx.nowMs = clock.now();
      const reduced = reduceObservation(prev, entry, observation, ctx);
      next = reduced.state;
      // Asked for once per refresh, whether or not the source could read it (a failure is not retried every poll).
      if (target.exactSubscribersDue && observation.kind === 'visible') next = { ...next, exactSubscribersAt: new Date(ctx.nowMs).toISOString() };
      events = reduced.events;
      if (reduced.problem !== undefined) {
        failed('handle problem');
        next = { ...next, errors: prev.errors + 1, consecutiveErrors: prev.consecutiveErrors + 1 };
        log.warn({ handle, problem: reduced.problem }, 'watched handle problem');
      }
    } catch (err) {
      // Shutting down: leave the state as it was; the next run polls this channel again.
      if (abort.signal.aborted) return;
      failed(failureKind(err));
      const reason = errorMessage(err);
      next = { ...prev, health: 'unknown', reason, errors: prev.errors + 1, consecutiveErrors: prev.consecutiveErrors + 1, lastPollAt: new Date(ctx.nowMs).toISOString() };
      log.warn({ handle, err: reason }, 'poll failed; status unknown');
    }
    try {
      events = await publish(events, ctx.nowMs);
    } catch (err) {
      // Not the channel's fault: keep its previous state so the same events are produced again.
      failed(`delivery: ${failureKind(err)}`);
      log.error({ handle, err: errorMessage(err), events: events.length }, 'publish failed; the channel is polled again');
      states.set(handle, { ...prev, nextPollAt: new Date(clock.now() + options.minIntervalSecs * 1000).toISOString() });
      return;
    }
    next.nextPollAt = new Date(ctx.nowMs + nextIntervalSecs(next, ctx.nowMs, options, random) * 1000).toISOString();
    states.set(handle, next);
    void save();
    notify(channelStatus(next, events.length));
  }

  function launch(entry: WatchEntry): void {
    const running = poll(entry)
      .catch((err: unknown) => log.error({ handle: entry.handle, err: errorMessage(err) }, 'poll crashed'))
      .finally(() => {
        inFlight.delete(entry.handle);
        // Work-conserving: a free slot takes the next due channel now, not at the next tick.
        if (!stopping) fill();
      });
    inFlight.set(entry.handle, running);
  }

  function dueEntries(nowMs: number): WatchEntry[] {
    return watchList
      .filter((e) => !inFlight.has(e.handle) && isDue(e, nowMs))
      .sort((a, b) => Date.parse(states.get(a.handle)?.nextPollAt ?? '1970-01-01T00:00:00Z') - Date.parse(states.get(b.handle)?.nextPollAt ?? '1970-01-01T00:00:00Z'));
  }

  function fill(): void {
    const slots = options.concurrency - inFlight.size;
    if (slots <= 0) return;
    for (const entry of dueEntries(clock.now()).slice(0, slots)) launch(entry);
  }

  function reloadWatchList(): void {
    if (!params.watchListFile) return;
    try {
      const fresh = params.watchListFile.readIfChanged();
      if (fresh === undefined) return;
      const before = new Set(watchList.map((e) => e.handle));
      watchList = mergeWatchLists(params.watchList, fresh);
      const added = watchList.filter((e) => !before.has(e.handle)).map((e) => e.handle);
      log.info({ channels: watchList.length, added }, 'watch list reloaded');
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'watch list not reloaded; the previous one stays in use');
    }
  }

  function heartbeat(): CollectorHeartbeat {
    const health: Record<ChannelHealth, number> = { ok: 0, unknown: 0, gone: 0 };
    for (const e of watchList) health[states.get(e.handle)?.health ?? 'unknown']++;
    return {
      type: 'heartbeat',
      collector: options.name,
      at: new Date(clock.now()).toISOString(),
      source: source.type,
      channels: watchList.length,
      due: dueEntries(clock.now()).length,
      inFlight: inFlight.size,
      health,
      ...totals,
      requests: limiter.grantedCount,
    };
  }

  async function tick(): Promise<void> {
    if (stopping) return;
    reloadWatchList();
    fill();
    notify(heartbeat());
  }

  return {
    start() {
      task = cron.schedule(`*/${options.tickSecs} * * * * *`, tick, { name: `collector-${options.name}`, noOverlap: true });
      void tick();
    },
    tick,
    async runOnce() {
      const before = { ...totals };
      const failuresBefore = new Map(failures);
      const requestsBefore = limiter.grantedCount;
      const queue = [...watchList];
      const worker = async () => {
        for (let entry = queue.shift(); entry && !stopping; entry = queue.shift()) await poll(entry);
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency, queue.length) }, worker));
      await store.save(() => new Map(states));
      const hb = heartbeat();
      notify(hb);
      return {
        polled: totals.polls - before.polls,
        health: hb.health,
        eventsPublished: totals.eventsPublished - before.eventsPublished,
        eventsRejected: totals.eventsRejected - before.eventsRejected,
        pollErrors: totals.pollErrors - before.pollErrors,
        failures: Object.fromEntries([...failures].map(([k, n]) => [k, n - (failuresBefore.get(k) ?? 0)]).filter(([, n]) => (n as number) > 0)),
        requests: limiter.grantedCount - requestsBefore,
      };
    },
    async stop() {
      stopping = true;
      await task?.destroy();
      const settled = Promise.allSettled([...inFlight.values()]);
      const graceTimer = new AbortController();
      const graceOver = clock.sleep(options.shutdownGraceMs, graceTimer.signal).then(() => 'timeout' as const, () => 'settled' as const);
      const first = await Promise.race([settled.then(() => 'settled' as const), graceOver]);
      graceTimer.abort();
      if (first === 'timeout') {
        log.warn({ inFlight: [...inFlight.keys()] }, 'polls still running after the grace period: aborted');
        abort.abort(new Error('collector stopping'));
        await settled;
      }
      await store.save(() => new Map(states));
      notify(heartbeat());
    },
    channels: () => watchList.map((e) => channelStatus(states.get(e.handle) ?? initialState(e.handle), 0)),
    heartbeat,
  };
}
