import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, setLogger } from '../../log.ts';
import { startFixtureServer, type FixtureServer } from '../preview/fixture-server.ts';
import { PreviewSource } from '../preview/source.ts';
import { systemClock, type Clock } from '../../clock.ts';
import { createCollector } from './collector.ts';
import { collectorSchema } from './options.ts';
import { TokenBucket } from '../../rate-limit.ts';
import { FakeClock, RecordingPublisher } from './testing.ts';

/**
 * How many channels one collector polls per minute within its request budget, measured against
 * the local fixture server: once with the budget enforced on an injected clock (the bound), once
 * unthrottled on the real clock (the collector's own ceiling: fetch + parse + publish).
 */
setLogger(createLogger('silent'));

let server: FixtureServer;
before(async () => {
  server = await startFixtureServer();
});
after(() => server.close());

async function pollAll(channels: number, requestsPerMinute: number, burstRequests: number, clock: Clock) {
  const handles = Array.from({ length: channels }, (_, i) => `chan_${String(i).padStart(4, '0')}`);
  for (const h of handles) server.serve(`/s/${h}`, 'channel_first.html');
  const options = collectorSchema.parse({ name: 'capacity', concurrency: 8, preview: { baseUrl: server.baseUrl, requestsPerMinute, burstRequests } });
  const limiter = new TokenBucket(options.preview, clock);
  const collector = await createCollector({
    options,
    watchList: handles.map((handle) => ({ handle })),
    source: new PreviewSource(options.preview, limiter, clock),
    limiter,
    publisher: new RecordingPublisher(),
    stateFile: join(mkdtempSync(join(tmpdir(), 'tidewatch-capacity-')), 'capacity.json'),
    storeText: false,
    clock,
  });
  // The first pass also reads each channel's exact subscriber count (t.me/<handle>, 404 here): one
  // more request per channel every subscribersRefreshMins. The second is the steady state.
  const first = await collector.runOnce();
  const startedAt = clock.now();
  const summary = await collector.runOnce();
  const finishedAt = clock.now();
  await collector.stop();
  return { first, ...summary, startedAt, finishedAt };
}

test('within a budget of 30 requests a minute, one collector polls 30 quiet channels a minute', async (t) => {
  const clock = new FakeClock(Date.parse('2024-10-01T00:00:00Z'));
  const summary = await pollAll(300, 30, 5, clock);
  assert.equal(summary.first.requests, 600);
  const minutes = (summary.finishedAt - summary.startedAt) / 60_000;
  assert.equal(summary.polled, 300);
  assert.equal(summary.requests, 300);
  // The bucket is empty after the first pass: every request costs 2 s of budget.
  assert.equal(summary.finishedAt - summary.startedAt, 300 * 2_000);
  t.diagnostic(`budget 30 req/min: 300 channels in ${minutes.toFixed(2)} budget-minutes = ${(300 / minutes).toFixed(1)} channels/min`);
});

test('unthrottled, the collector itself is far from being the bottleneck', async (t) => {
  const summary = await pollAll(400, 1e6, 1e6, systemClock);
  const secs = (summary.finishedAt - summary.startedAt) / 1000;
  assert.equal(summary.polled, 400);
  t.diagnostic(`unthrottled against 127.0.0.1: 400 polls (5 posts each) in ${secs.toFixed(2)} s = ${Math.round((400 / secs) * 60)} channels/min`);
});
