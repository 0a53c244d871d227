import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerClientLimit, TokenBucket } from './rate-limit.ts';
import { FakeClock } from './producers/collector/testing.ts';

/** Most requests that started in any window of `windowMs` (sliding, by start time). */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

test('the token bucket never lets more than burst + rate x window requests start in any window', async () => {
  const clock = new FakeClock(0);
  const bucket = new TokenBucket({ requestsPerMinute: 30, burstRequests: 5 }, clock);
  const starts: number[] = [];
  // Eight concurrent takers, as the collector's concurrent polls would be.
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 25; i++) {
        await bucket.take();
        starts.push(clock.now());
      }
    }),
  );
  assert.equal(starts.length, 200);
  assert.equal(bucket.grantedCount, 200);
  assert.ok(maxInWindow(starts, 60_000) <= 5 + 30, `at most 35 a minute, saw ${maxInWindow(starts, 60_000)}`);
  assert.ok(maxInWindow(starts, 10_000) <= 5 + 5);
  // 195 requests after the burst at 30 a minute: 6.5 minutes.
  assert.equal(starts.at(-1), 195 * 2_000);
});

test('pauseFor holds every taker (a 429 or FLOOD_WAIT is about the client, not one channel)', async () => {
  const clock = new FakeClock(0);
  const bucket = new TokenBucket({ requestsPerMinute: 600, burstRequests: 10 }, clock);
  await bucket.take();
  bucket.pauseFor(30_000);
  await bucket.take();
  assert.equal(clock.now(), 30_000);
});

test('an aborted taker does not block the ones behind it', async () => {
  const clock = new FakeClock(0);
  const bucket = new TokenBucket({ requestsPerMinute: 60, burstRequests: 1 }, clock);
  await bucket.take();
  const aborted = AbortSignal.abort();
  await assert.rejects(bucket.take(aborted));
  await bucket.take();
  assert.equal(bucket.grantedCount, 2);
});

test('tryTake: the burst goes at once, then one a refill interval, and it says how long to wait', () => {
  const clock = new FakeClock(0);
  const bucket = new TokenBucket({ requestsPerMinute: 60, burstRequests: 3 }, clock);
  assert.deepEqual([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()], [0, 0, 0]);
  assert.equal(bucket.tryTake(), 1_000);
  clock.ms += 400;
  assert.equal(bucket.tryTake(), 600, 'a refused take costs nothing');
  clock.ms += 600;
  assert.equal(bucket.tryTake(), 0);
  assert.equal(bucket.grantedCount, 4);
});

test('PerClientLimit: each client has its own budget; refilled clients are forgotten when many are known', () => {
  const clock = new FakeClock(0);
  const limit = new PerClientLimit({ requestsPerMinute: 6, burstRequests: 2 }, clock, 3);
  assert.deepEqual([limit.take('a'), limit.take('a'), limit.take('a')], [0, 0, 10_000]);
  assert.equal(limit.take('b'), 0, 'b is not slowed by a');
  limit.take('c');
  clock.ms += 5_000;
  // No bucket has refilled yet: the sweep before d forgets nobody.
  assert.equal(limit.take('d'), 0);
  assert.equal(limit.size, 4);
  clock.ms += 60_000;
  assert.equal(limit.take('e'), 0);
  assert.equal(limit.size, 1, 'the refilled buckets were dropped');
  assert.equal(limit.take('a'), 0, 'a forgotten client starts with a full bucket');
});
