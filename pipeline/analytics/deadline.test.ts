import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, type ActivityEvent } from '../events/index.ts';
import { analyzer, analyticsOptions, type GapFinding } from './index.ts';
import { nextDeadline } from './gaps.ts';

const H = 3_600_000;
const MIN = 60_000;
const start = Date.UTC(2017, 9, 1);
const post = (handle: string, t: number, n: number): ActivityEvent =>
  buildEvent({ timestamp: t, action: 'post', channel: { id: handle, handle, network: 'net' }, message: { id: `${handle}-${n}` }, source: { type: 'test' } });

/** `handle` posts every 40 minutes between 06:00 and 22:00 UTC for 20 days, its last post on day 20 at `lastHour`. */
function history(handle: string, lastHour: number): ActivityEvent[] {
  const out: ActivityEvent[] = [];
  let n = 0;
  for (let day = 0; day <= 20; day++) {
    for (let m = 6 * 60; m < 22 * 60; m += 40) if (day < 20 || m <= lastHour * 60) out.push(post(handle, start + day * 24 * H + m * MIN, n++));
  }
  return out;
}

const lateness = analyticsOptions().allowedLatenessSecs * 1000;
const openGaps = (found: readonly { type: string }[], scope: 'channel' | 'network') =>
  found.filter((f): f is GapFinding => f.type === 'gap' && (f as GapFinding).scope === scope && (f as GapFinding).end === null);

test('nextDeadline: the first tick at the deadline opens the silence, a tick a millisecond earlier does not', () => {
  const st = analyzer.init(analyticsOptions());
  for (const e of history('a', 12)) analyzer.step(st, e);
  const last = start + 20 * 24 * H + 12 * H;
  analyzer.tick(st, last + lateness + MIN); // releases what the lateness held back; nothing is due yet
  const due = analyzer.nextDeadline(st);
  assert.ok(due !== null && due > last + 6 * H, `a deadline after the floor (got ${due})`);
  assert.deepEqual(openGaps(analyzer.tick(st, due - 1), 'channel'), [], 'a millisecond early: still within the threshold');
  const [gap] = openGaps(analyzer.tick(st, due), 'channel');
  assert.ok(gap, 'the tick at the deadline opens the gap');
  assert.equal(gap.start, new Date(last).toISOString());
  // The finding's own threshold (rounded to 0.01 h) places the deadline, the lateness after it.
  assert.ok(Math.abs(Date.parse(gap.start) + gap.baselineHours * H + lateness - due) <= 0.005 * H + 1);
  assert.equal(analyzer.nextDeadline(st), null, 'an open gap (channel and network) has no deadline left');
});

test('nextDeadline by scope: channel gaps only, network gaps only', () => {
  const st = analyzer.init(analyticsOptions());
  const events = [...history('a', 12), ...history('b', 16)].sort((x, y) => x['@timestamp'].localeCompare(y['@timestamp']));
  for (const e of events) analyzer.step(st, e);
  analyzer.tick(st, start + 20 * 24 * H + 16 * H + lateness + MIN);
  const channel = analyzer.nextDeadline(st, 'channel')!;
  const network = analyzer.nextDeadline(st, 'network')!;
  // The network is silent only once b, its later channel, is: after a's deadline.
  assert.ok(network > channel, `${new Date(network).toISOString()} after ${new Date(channel).toISOString()}`);
  assert.equal(analyzer.nextDeadline(st), channel);
  assert.deepEqual(openGaps(analyzer.tick(st, network - 1), 'network'), []);
  assert.equal(openGaps(analyzer.tick(st, network), 'network').length, 1);
});

test('nextDeadline: the earliest subject, moved on by new activity; none before warm-up', () => {
  const st = analyzer.init(analyticsOptions());
  assert.equal(analyzer.nextDeadline(st), null, 'no subject yet');
  const warmup = analyzer.init(analyticsOptions());
  for (const e of history('a', 12).slice(0, 20)) analyzer.step(warmup, e);
  analyzer.tick(warmup, start + 2 * 24 * H);
  assert.equal(nextDeadline(warmup.gaps), null, 'a subject not warmed up is never judged');

  const events = [...history('a', 12), ...history('b', 16)].sort((x, y) => x['@timestamp'].localeCompare(y['@timestamp']));
  for (const e of events) analyzer.step(st, e);
  analyzer.tick(st, start + 20 * 24 * H + 16 * H + lateness + MIN);
  const a = analyzer.init(analyticsOptions());
  for (const e of history('a', 12)) analyzer.step(a, e);
  analyzer.tick(a, start + 20 * 24 * H + 12 * H + lateness + MIN);
  // The network's last activity is b's, later than a's: channel a is due first.
  assert.equal(analyzer.nextDeadline(st), analyzer.nextDeadline(a));
  const before = analyzer.nextDeadline(st)!;
  analyzer.step(st, post('a', start + 20 * 24 * H + 17 * H, 9999));
  analyzer.tick(st, start + 20 * 24 * H + 17 * H + lateness + MIN);
  assert.ok(analyzer.nextDeadline(st)! > before, 'a post of a moves its deadline later');
});
