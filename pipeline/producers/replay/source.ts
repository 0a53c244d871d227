import { setTimeout as sleepMs } from 'node:timers/promises';
import type { ActivityEvent } from '../../events/index.ts';
import { StatsCounter } from '../common.ts';
import type { Source, SourceItem } from '../types.ts';
import { REPLAY_DEFAULTS, replayEvents, type ReplayOptions } from './generate.ts';

/** Wall clock and sleep, injected so tests run a compressed replay without waiting. */
export interface ReplayClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: ReplayClock = { now: () => Date.now(), sleep: (ms) => sleepMs(ms) };

export interface PacedReplayOptions extends ReplayOptions {
  /** Simulated ms per wall ms: 3600 = one simulated hour per second. Undefined = as fast as possible. */
  speed?: number | undefined;
  clock?: ReplayClock | undefined;
}

/**
 * The replay emitted in compressed real time: each event waits until the wall clock reaches its
 * simulated time divided by `speed`, counted from the start of the window. Without `speed` it
 * yields as fast as the consumer takes events.
 */
export async function* pacedReplay(options: PacedReplayOptions = {}): AsyncGenerator<ActivityEvent> {
  const { speed, clock = systemClock } = options;
  const fromMs = options.fromMs ?? REPLAY_DEFAULTS.fromMs;
  const startedAt = clock.now();
  for (const event of replayEvents(options)) {
    if (speed !== undefined) {
      const dueAt = startedAt + (Date.parse(event['@timestamp']) - fromMs) / speed;
      const wait = dueAt - clock.now();
      if (wait > 0) await clock.sleep(wait);
    }
    yield event;
  }
}

/** The replay as a Source, for `tidewatch replay`, the demo and the tests. */
export function openReplaySource(options: PacedReplayOptions = {}): Source {
  const stats = new StatsCounter();
  return {
    name: `replay(seed ${options.seed ?? REPLAY_DEFAULTS.seed})`,
    stats: () => stats.snapshot(),
    async *items(): AsyncGenerator<SourceItem> {
      for await (const event of pacedReplay(options)) {
        stats.read++;
        yield stats.count({ kind: 'event', event });
      }
    },
  };
}
