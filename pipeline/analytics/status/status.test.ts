import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { buildEvent, type EventAction, type SourceType } from '../../events/index.ts';
import type { CollectorStatusUpdate } from '../../watch/status.ts';
import { parseWatchList } from '../../watch/watch-list.ts';
import { analyticsOptions, type AnalyticsOptionsInput } from '../options.ts';
import { statusCore, type StatusState } from './core.ts';
import type { StatusAlertDoc, StatusChangeDoc, StatusDoc, StatusOutput, StatusOverrideDoc } from './types.ts';
import { statusView } from './view.ts';

/**
 * Status scenarios from testdata/*.json: a watch list, timed inputs (events, the collector's
 * updates and heartbeats, analysts' overrides, clock ticks) replayed in order of arrival, and the
 * alert episodes, status changes and final statuses expected.
 */
type Channels = string[] | string;
type Input =
  /** `arrive`: when they all arrive (a catch-up after an outage); default: each at its own time. */
  | { posts: { channels: Channels; from: string; to: string; everyMins: number; source?: SourceType; arrive?: string } }
  | { event: { at: string; channel: string; action?: EventAction; source?: SourceType; arrive?: string } }
  | { channelUpdates: { channels: Channels; from: string; to: string; everyMins: number; collector: string; health: 'ok' | 'unknown' | 'gone'; reason: string; lastPostAt?: string; arrive?: string } }
  | { heartbeats: { collector: string; from: string; to: string; everyMins: number } }
  | { ticks: { from: string; to: string; everyMins: number } }
  | { override: Omit<StatusOverrideDoc, 'type' | 'id'> };

interface Scenario {
  name: string;
  options?: AnalyticsOptionsInput;
  /** The display zone of reasons and alert messages; UTC when absent. */
  display?: string;
  watchList: unknown;
  start: string;
  inputs: Input[];
  expect: {
    /** Every alert episode emitted, in order (see alertLine). */
    alerts: string[];
    /** The messages of those episodes, in the same order, when the scenario checks their text. */
    messages?: string[];
    /** Every change of these members: "<at> <from>-><to>[ correction]". */
    changes?: Record<string, string[]>;
    /** Changes of all members, counted by "<from>-><to>". */
    changeCounts?: Record<string, number>;
    /** Final status per member, or counted by status under "*". */
    final: Record<string, string | Record<string, number>>;
  };
}

const MIN = 60_000;
const ms = (iso: string): number => Date.parse(iso);

/** "chan_{01..50}" -> chan_01 ... chan_50. */
function channels(c: Channels): string[] {
  if (Array.isArray(c)) return c;
  const m = /^(.*)\{(\d+)\.\.(\d+)\}(.*)$/.exec(c);
  if (!m) return [c];
  const [, pre, a, b, post] = m;
  const out: string[] = [];
  for (let i = Number(a); i <= Number(b); i++) out.push(`${pre}${String(i).padStart(a!.length, '0')}${post}`);
  return out;
}

function* every(from: string, to: string, everyMins: number): Generator<number> {
  for (let t = ms(from); t <= ms(to); t += everyMins * MIN) yield t;
}

type Timed = [arriveMs: number, order: number, run: (st: StatusState) => StatusOutput];

function timeline(sc: Scenario, networkOf: Map<string, string | undefined>): Timed[] {
  const out: Timed[] = [];
  let order = 0;
  const event = (at: number, handle: string, action: EventAction, source: SourceType, n: number) =>
    buildEvent({ timestamp: at, action, channel: { id: `tg:${handle}`, handle, ...(networkOf.get(handle) ? { network: networkOf.get(handle)! } : {}) }, message: { id: String(n) }, source: { type: source } });
  for (const input of sc.inputs) {
    if ('posts' in input) {
      const p = input.posts;
      for (const handle of channels(p.channels)) {
        let n = 0;
        for (const t of every(p.from, p.to, p.everyMins)) {
          const e = event(t, handle, 'post', p.source ?? 'test', n++);
          out.push([p.arrive === undefined ? t : ms(p.arrive), order++, (st) => statusCore.step(st, e)]);
        }
      }
    } else if ('event' in input) {
      const p = input.event;
      const e = event(ms(p.at), p.channel, p.action ?? 'post', p.source ?? 'test', ms(p.at));
      out.push([ms(p.arrive ?? p.at), order++, (st) => statusCore.step(st, e)]);
    } else if ('channelUpdates' in input) {
      const p = input.channelUpdates;
      for (const t of every(p.from, p.to, p.everyMins)) {
        for (const handle of channels(p.channels)) {
          const u: CollectorStatusUpdate = {
            type: 'channel', collector: p.collector, at: new Date(t).toISOString(), handle, channelId: `tg:${handle}`, health: p.health, reason: p.reason,
            lastPostAt: p.lastPostAt, errors: 0, consecutiveErrors: p.health === 'unknown' ? 1 : 0, events: 0,
          };
          out.push([p.arrive === undefined ? t : ms(p.arrive), order++, (st) => statusCore.observe(st, u)]);
        }
      }
    } else if ('heartbeats' in input) {
      const p = input.heartbeats;
      for (const t of every(p.from, p.to, p.everyMins)) {
        const u: CollectorStatusUpdate = {
          type: 'heartbeat', collector: p.collector, at: new Date(t).toISOString(), source: 'preview', channels: 0, due: 0, inFlight: 0,
          health: { ok: 0, unknown: 0, gone: 0 }, polls: 0, pollErrors: 0, eventsPublished: 0, eventsRejected: 0, requests: 0,
        };
        out.push([t, order++, (st) => statusCore.observe(st, u)]);
      }
    } else if ('ticks' in input) {
      const p = input.ticks;
      for (const t of every(p.from, p.to, p.everyMins)) out.push([t, order++, (st) => statusCore.tick(st, t)]);
    } else {
      const doc: StatusOverrideDoc = { type: 'status_override', id: `${input.override.subject}:${input.override.at}`, ...input.override };
      out.push([ms(doc.at), order++, (st) => statusCore.override(st, doc)]);
    }
  }
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/** "open", "update" (same episode, corrected), "end <reason>[ notify]"; "notice" for one opened and closed at once (takedowns). */
const alertLine = (a: StatusAlertDoc, seen: Set<string>): string => {
  const known = seen.has(a.id);
  seen.add(a.id);
  if (a.end !== null) return known ? `end ${a.id} ${a.endReason}${a.notifyEnd ? ' notify' : ''}` : `notice ${a.id}`;
  return `${known ? 'update' : 'open'} ${a.id}`;
};
const changeLine = (c: StatusChangeDoc): string => `${c.at} ${c.from}->${c.to}${c.correction ? ' correction' : ''}`;

const dir = new URL('testdata/', import.meta.url);
/**
 * Besides its own snapshot halfway through, a scenario can be restored halfway from the state an
 * earlier version saved at that point (late-data.layout1-state-at-half.json: main's status core,
 * gap profiles in their first layout): it must go on to the same expected outcome.
 */
const runs: [file: string, saved: string | null][] = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => [f, null]);
runs.push(['late-data.json', readFileSync(new URL('../late-data.layout1-state-at-half.json', dir), 'utf8')]);
for (const [file, saved] of runs) {
  const sc = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Scenario;
  test(`status: ${sc.name} (${file}${saved === null ? '' : ', restored halfway from a layout-1 snapshot'})`, () => {
    const watchList = parseWatchList(JSON.stringify(sc.watchList), file);
    const networkOf = new Map(watchList.map((e) => [e.handle, e.network]));
    let st = statusCore.init(analyticsOptions(sc.options ?? {}), watchList, ms(sc.start), { timezone: sc.display ?? 'UTC' });
    const alerts: string[] = [];
    const messages: string[] = [];
    const seen = new Set<string>();
    const changes: StatusChangeDoc[] = [];
    const steps = timeline(sc, networkOf);
    steps.forEach(([, , run], i) => {
      const out = run(st);
      alerts.push(...out.alerts.map((a) => alertLine(a, seen)));
      messages.push(...out.alerts.map((a) => a.message));
      changes.push(...out.changes);
      // Snapshots halfway through: the state survives a restart as JSON.
      if (i === steps.length >> 1) {
        if (saved !== null) assert.deepEqual(JSON.parse(statusCore.snapshot(statusCore.restore(saved))).members, JSON.parse(statusCore.snapshot(st)).members, 'the saved state is the one reached here');
        st = statusCore.restore(saved ?? statusCore.snapshot(st));
      }
    });
    assert.deepEqual(alerts, sc.expect.alerts, 'alerts');
    if (sc.expect.messages) assert.deepEqual(messages, sc.expect.messages, 'alert messages');
    for (const [handle, expected] of Object.entries(sc.expect.changes ?? {})) {
      assert.deepEqual(changes.filter((c) => c.subject === handle).map(changeLine), expected, `changes of ${handle}`);
    }
    if (sc.expect.changeCounts) {
      const counts: Record<string, number> = {};
      for (const c of changes) {
        const key = `${c.from}->${c.to}${c.correction ? ' correction' : ''}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      assert.deepEqual(counts, sc.expect.changeCounts, 'change counts');
    }
    const docs = statusCore.docs(st);
    for (const [handle, expected] of Object.entries(sc.expect.final)) {
      if (handle === '*') {
        const counts: Record<string, number> = {};
        for (const d of docs) counts[d.status] = (counts[d.status] ?? 0) + 1;
        assert.deepEqual(counts, expected, 'final statuses');
      } else {
        const d = docs.find((x) => x.subject === handle);
        assert.equal(d ? `${d.status}${d.watched ? '' : ' discovered'}` : 'missing', expected, `final status of ${handle}`);
      }
    }
  });
}

const override = (subject: string, action: StatusOverrideDoc['action'], at: string, until: string | null = null): StatusOverrideDoc => ({
  type: 'status_override', id: `${subject}:${at}`, subject, action, by: 'analyst', at, reason: 'test', until,
});

test('status view: overrides apply the moment they are recorded; unmute never ends a retirement; discovered listed last', () => {
  const watchList = parseWatchList(JSON.stringify([{ handle: 'alpha_one', network: 'alpha' }, 'beta_two', 'gamma_three']), 'test');
  const doc = (subject: string, status: StatusDoc['status'], watched = true): StatusDoc => ({
    type: 'status', id: subject, subject, watched, network: null, language: null, status, since: '2024-03-01T00:00:00.000Z', reason: 'from the analyzer',
    lastActivityAt: '2024-03-01T00:00:00.000Z', collector: null, override: null, updatedAt: '2024-03-02T00:00:00.000Z',
  });
  const log = [
    override('beta_two', 'retire', '2024-03-02T00:00:00.000Z'),
    override('beta_two', 'unmute', '2024-03-02T01:00:00.000Z'),
    override('alpha_one', 'mute', '2024-03-02T00:00:00.000Z', '2024-03-03T00:00:00.000Z'),
  ];
  const rows = statusView(watchList, [doc('alpha_one', 'silent'), doc('stray_four', 'active', false)], log, new Map([['gamma_three', '2024-02-01T00:00:00.000Z']]), ms('2024-03-02T12:00:00Z'), 'UTC');
  assert.deepEqual(rows.map((r) => [r.subject, r.status, r.network, r.lastActivityAt]), [
    ['alpha_one', 'muted', 'alpha', '2024-03-01T00:00:00.000Z'],
    ['beta_two', 'retired', null, null],
    ['gamma_three', 'unknown', null, '2024-02-01T00:00:00.000Z'],
    ['stray_four', 'active', null, '2024-03-01T00:00:00.000Z'],
  ]);
  assert.equal(rows[0]!.reason, 'muted by analyst: test (until 3 Mar 2024 00:00 UTC)');
  // The mute lapses by itself: the analyzer's status shows again.
  const later = statusView(watchList, [doc('alpha_one', 'silent')], log, new Map(), ms('2024-03-03T00:00:00Z'), 'UTC');
  assert.equal(later[0]!.status, 'silent');
});

test('status: a state created with no time (a replay) starts its clock at its first input, stamping the watch list with it; a state with a clock restores it', () => {
  const watchList = parseWatchList(JSON.stringify([{ handle: 'alpha_one', network: 'alpha' }, 'beta_two']), 'test');
  const options = analyticsOptions({ gaps: { warmupDays: 0, warmupEvents: 1 } });
  const st = statusCore.init(options, watchList, null);
  assert.deepEqual(statusCore.docs(st), [], 'no documents before any time is known');
  const first = '2019-05-01T10:00:00.000Z';
  const post = buildEvent({ timestamp: ms(first), action: 'post', channel: { id: 'tg:alpha_one', handle: 'alpha_one', network: 'alpha' }, message: { id: '1' }, source: { type: 'test' } });
  const out = statusCore.step(statusCore.restore(statusCore.snapshot(st)), post);
  assert.deepEqual(out.changes.map((c) => c.id), [`alpha_one:${first}:active`]);
  const again = statusCore.restore(statusCore.snapshot(st));
  statusCore.step(again, post);
  assert.deepEqual(statusCore.docs(again).map((d) => [d.subject, d.status, d.since, d.updatedAt]), [
    ['alpha_one', 'active', first, first],
    ['beta_two', 'unknown', first, first],
  ]);
  // A state saved with a clock (any before this change) keeps it: the clock never goes back.
  const live = statusCore.restore(statusCore.snapshot(statusCore.init(options, watchList, ms('2026-03-01T00:00:00Z'))));
  statusCore.step(live, post);
  assert.deepEqual(statusCore.docs(live).map((d) => [d.subject, d.updatedAt]), [
    ['alpha_one', '2026-03-01T00:00:00.000Z'],
    ['beta_two', '2026-03-01T00:00:00.000Z'],
  ]);
});
