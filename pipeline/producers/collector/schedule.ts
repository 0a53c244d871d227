import type { ChannelState } from './lifecycle.ts';

export interface IntervalOptions {
  minIntervalSecs: number;
  maxIntervalSecs: number;
  dormancyFactor: number;
  jitterRatio: number;
}

/**
 * Seconds until a channel's next poll. Active channels (posted recently) are polled near the
 * minimum, dormant ones drift to the maximum: the next poll comes after `dormancyFactor` of the
 * time since the last post. Failures back off exponentially (to the maximum) so a broken or
 * throttled channel does not eat the budget; gone channels are checked at the maximum for a
 * comeback. Jitter spreads channels that were added together.
 */
export function nextIntervalSecs(state: ChannelState, nowMs: number, opts: IntervalOptions, random: () => number = Math.random): number {
  let secs: number;
  if (state.health === 'gone') {
    secs = opts.maxIntervalSecs;
  } else if (state.consecutiveErrors > 0) {
    secs = opts.minIntervalSecs * 2 ** Math.min(state.consecutiveErrors, 16);
  } else if (state.gaps.length > 0) {
    // Posts are still missing between two fetched pages: come back soon to fetch them.
    secs = opts.minIntervalSecs;
  } else if (state.lastPostAt === undefined) {
    secs = opts.maxIntervalSecs;
  } else {
    secs = (Math.max(0, nowMs - Date.parse(state.lastPostAt)) / 1000) * opts.dormancyFactor;
  }
  const bounded = Math.min(opts.maxIntervalSecs, Math.max(opts.minIntervalSecs, secs));
  const jittered = bounded * (1 + opts.jitterRatio * (2 * random() - 1));
  return Math.max(1, Math.round(jittered));
}
