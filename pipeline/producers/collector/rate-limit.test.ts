import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from './rate-limit.ts';
import { FakeClock } from './testing.ts';

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
