import { test } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { configSchema } from '../pipeline/config/index.ts';
import { Metrics } from '../pipeline/metrics/index.ts';
import type { CollectorHeartbeat, ChannelStatusUpdate } from '../pipeline/watch/status.ts';
import { TokenBucket } from '../pipeline/rate-limit.ts';
import type { AlertSink } from '../consumers/alerter/sinks.ts';
import type { AlertRecord } from '../pipeline/store/types.ts';
import { collectorMetrics, measuredAlertSinks } from './metrics.ts';

type Family = { name: string; metrics: { value?: string; labels?: Record<string, string>; count?: string }[] };
const scrape = async (m: Metrics) => new Map((parsePrometheusTextFormat(await m.exposition()) as Family[]).map((f) => [f.name, f]));
const values = (f: Family | undefined, label: string) => Object.fromEntries((f?.metrics ?? []).map((s) => [s.labels?.[label] ?? '', Number(s.value ?? s.count)]));

test('collector metrics: polls by outcome, request budget, last successful poll per channel capped, stale heartbeat unhealthy', async () => {
  let now = Date.UTC(2026, 0, 1);
  const clock = { now: () => now, sleep: async () => {} };
  const config = configSchema.parse({ metrics: { channelLabelsMax: 2 }, analytics: { status: { heartbeatStaleSecs: 300 } } });
  const m = new Metrics({ now: () => now, processMetrics: false });
  const limiter = new TokenBucket({ requestsPerMinute: 30, burstRequests: 5 }, clock);
  const channels = ['a', 'b', 'c'];
  const observe = collectorMetrics(m, config, { now: () => now, limiter, channels: () => channels });
  const poll = (handle: string, health: ChannelStatusUpdate['health']): ChannelStatusUpdate => ({ type: 'channel', collector: 'default', at: new Date(now).toISOString(), handle, channelId: handle, health, reason: '', errors: 0, consecutiveErrors: 0, events: 0 });
  const heartbeat: CollectorHeartbeat = { type: 'heartbeat', collector: 'default', at: '', source: 'preview', channels: 3, due: 0, inFlight: 0, health: { ok: 1, unknown: 1, gone: 1 }, polls: 3, pollErrors: 1, eventsPublished: 4, eventsRejected: 0, requests: 3 };
  observe(heartbeat);
  now += 60_000;
  observe(poll('a', 'ok'));
  now += 60_000;
  observe(poll('b', 'gone'));
  observe(poll('c', 'unknown'));
  now += 60_000;
  await limiter.take();
  const f = await scrape(m);
  assert.deepEqual(values(f.get('tidewatch_collector_polls_total'), 'outcome'), { ok: 1, gone: 1, unknown: 1 });
  assert.equal(values(f.get('tidewatch_collector_request_budget_remaining'), '')[''], 4);
  assert.equal(values(f.get('tidewatch_collector_poll_errors_total'), '')[''], 1);
  // c never polled successfully: its age counts from the start (180 s), then a (120 s); b (60 s) is beyond the cap of 2.
  assert.deepEqual(values(f.get('tidewatch_collector_last_success_age_seconds'), 'channel'), { c: 180, a: 120 });
  assert.equal(values(f.get('tidewatch_collector_oldest_success_age_seconds'), '')[''], 180);
  assert.equal(m.health.verdict().checks.collector?.ok, true);
  now += 300_000;
  const v = m.health.verdict();
  assert.equal(v.live, false);
  assert.match(v.checks.collector?.reason ?? '', /no collector heartbeat for 480 s/);
  observe(heartbeat);
  assert.equal(m.health.verdict().live, true);
});

test('alert sinks: sent and failures per sink, and the time of each delivery', async () => {
  const m = new Metrics({ processMetrics: false });
  const ok: AlertSink = { name: 'log', send: async () => {} };
  const down: AlertSink = { name: 'webhook:ops', send: async () => { throw new Error('HTTP 502'); } };
  const [a, b] = measuredAlertSinks(m, [ok, down]);
  const alert = {} as AlertRecord;
  await a!.send(alert);
  await a!.send(alert);
  await assert.rejects(b!.send(alert), /HTTP 502/);
  assert.equal(b!.name, 'webhook:ops');
  const f = await scrape(m);
  assert.deepEqual(values(f.get('tidewatch_alerter_alerts_sent_total'), 'sink'), { log: 2 });
  assert.deepEqual(values(f.get('tidewatch_alerter_alert_send_failures_total'), 'sink'), { 'webhook:ops': 1 });
  // Read from the registry: the text parser drops the labels of a labelled histogram's samples.
  const timed = (await m.registry.getSingleMetric('tidewatch_alerter_send_duration_seconds')!.get()).values.filter((v) => (v as { metricName?: string }).metricName === 'tidewatch_alerter_send_duration_seconds_count');
  assert.deepEqual(Object.fromEntries(timed.map((v) => [v.labels.sink, v.value])), { log: 2, 'webhook:ops': 1 });
});
