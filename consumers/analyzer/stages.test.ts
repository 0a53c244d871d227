import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { analyzer, analyticsOptions, type AnalyzerState, type Finding } from '../../pipeline/analytics/index.ts';
import { buildEvent, validateEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import { stageOf, type StageName } from './stages.ts';

/**
 * Each stage's state computes only the findings the stage is the authority for (analyzer.init's
 * `scope`): held to stageOf here, so the two cannot drift. Every call (step, tick, flush) of a
 * scoped state must return exactly what the default core returns for it, filtered by stageOf, and
 * its next silence deadline be the default core's for that stage.
 */
const dir = new URL('../../pipeline/analytics/testdata/', import.meta.url);
const STAGES: readonly StageName[] = ['channel', 'network'];
const DATA_FILES = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();

/** A fresh state of each stage's scope. */
const scopedStates = (): Record<StageName, AnalyzerState> => ({ channel: analyzer.init(analyticsOptions(), undefined, { scope: 'channel' }), network: analyzer.init(analyticsOptions(), undefined, { scope: 'network' }) });

function readEvents(file: string): ActivityEvent[] {
  return readFileSync(new URL(file, dir), 'utf8').split('\n').filter(Boolean).flatMap((line) => {
    const v = validateEvent(JSON.parse(line), { nowMs: Date.UTC(2026, 0, 1), storeText: true });
    return v.ok ? [v.event] : [];
  });
}

type Call = { kind: 'step'; event: ActivityEvent } | { kind: 'tick'; aheadMs: number } | { kind: 'flush' };

/** The events, with a tick at the latest event time every 97 events and one 12 h ahead of it (what follows is late) every 389, then a flush. */
function calls(events: readonly ActivityEvent[]): Call[] {
  const out: Call[] = [];
  events.forEach((event, i) => {
    out.push({ kind: 'step', event });
    if (i % 97 === 96) out.push({ kind: 'tick', aheadMs: 0 });
    if (i % 389 === 388) out.push({ kind: 'tick', aheadMs: 12 * 3_600_000 });
  });
  out.push({ kind: 'flush' });
  return out;
}

function call(st: AnalyzerState, c: Call): readonly Finding[] {
  if (c.kind === 'step') return analyzer.step(st, c.event);
  if (c.kind === 'tick') return analyzer.tick(st, st.maxSeenMs + c.aheadMs);
  return analyzer.flush(st);
}

/** Runs `cs` on the default core and on one state per stage (made by `scoped`, default a fresh one), comparing every call's findings. */
function compare(cs: readonly Call[], label: string, from = 0, states?: { whole: AnalyzerState; scoped: Record<StageName, AnalyzerState> }): Record<StageName, number> {
  const whole = states?.whole ?? analyzer.init(analyticsOptions());
  const scoped = states?.scoped ?? scopedStates();
  const found: Record<StageName, number> = { channel: 0, network: 0 };
  for (let i = from; i < cs.length; i++) {
    const all = call(whole, cs[i]!);
    for (const stage of STAGES) {
      const expected = all.filter((f) => stageOf(f) === stage);
      assert.deepEqual(call(scoped[stage], cs[i]!), expected, `${label}: call ${i} (${cs[i]!.kind}), ${stage} stage`);
      found[stage] += expected.length;
      // The live analyzer's silence timer: the stage's deadline, from its own state alone.
      if (cs[i]!.kind !== 'step') assert.equal(analyzer.nextDeadline(scoped[stage]), analyzer.nextDeadline(whole, stage), `${label}: call ${i}, ${stage} stage's next deadline`);
    }
  }
  return found;
}

/**
 * The test data has no spike of a single channel: a channel of network "net" posting every 2 hours
 * for 10 days, then 40 posts in an hour; another posting every 3 hours; one without a network.
 */
function burst(): ActivityEvent[] {
  const t0 = Date.UTC(2020, 0, 1);
  const H = 3_600_000;
  const post = (id: string, network: string | undefined, t: number, n: number): ActivityEvent =>
    buildEvent({ timestamp: t, action: 'post', channel: { id, handle: `h${id}`, ...(network ? { network } : {}) }, message: { id: String(n) }, source: { type: 'test' } });
  const out: ActivityEvent[] = [];
  for (let h = 0; h < 240; h++) {
    if (h % 2 === 0) out.push(post('1', 'net', t0 + h * H, h));
    if (h % 3 === 0) out.push(post('2', 'net', t0 + h * H + 60_000, h));
    if (h % 4 === 0) out.push(post('3', undefined, t0 + h * H + 120_000, h));
  }
  for (let i = 0; i < 40; i++) out.push(post('1', 'net', t0 + 240 * H + i * 60_000, 1000 + i));
  out.push(post('1', 'net', t0 + 300 * H, 2000));
  return out;
}

test('a burst of one channel: its spike is the channel stage\'s, its network\'s the network stage\'s', () => {
  const whole = analyzer.init(analyticsOptions());
  const spikes = calls(burst()).flatMap((c) => call(whole, c)).filter((f) => f.type === 'spike').map((f) => `${f.scope}:${f.subject}`);
  assert.deepEqual([...new Set(spikes)].sort(), ['channel:h1', 'network:net']);
  compare(calls(burst()), 'burst');
});

for (const file of DATA_FILES) {
  test(`${file}: each stage's scoped core finds exactly the default core's findings of that stage, call by call`, () => {
    const found = compare(calls(readEvents(file)), file);
    if (file.startsWith('timeline-')) assert.ok(found.channel > 0 && found.network > 0, `${file}: both stages find something (${JSON.stringify(found)})`);
  });
}

test('the data compared has findings of every type and scope', () => {
  const kinds = new Set<string>();
  for (const events of [...DATA_FILES.map(readEvents), burst()]) {
    const st = analyzer.init(analyticsOptions());
    for (const c of calls(events)) for (const f of call(st, c)) kinds.add(`${f.type}:${'scope' in f ? f.scope : ''}`);
  }
  assert.deepEqual([...kinds].sort(), ['gap:channel', 'gap:network', 'lifespan:', 'link_day:', 'migration:all', 'migration:channel', 'migration:network', 'resurrection:', 'spike:channel', 'spike:creation', 'spike:network', 'takedown:']);
});

test('shuffled arrival (late events, duplicates) changes nothing in the split', () => {
  const events = readEvents('timeline-2015-takedown.jsonl').slice(0, 400);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: events.length - 1 }), { minLength: events.length, maxLength: events.length }), fc.integer({ min: 0, max: events.length - 1 }), (keys, dup) => {
      // A random order (sorted by random keys) with one event repeated.
      const order = events.map((e, i) => [keys[i]!, i, e] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, , e]) => e);
      compare(calls([...order, events[dup]!]), 'shuffled');
    }),
    { numRuns: 15 },
  );
});

/**
 * A snapshot of the whole state (what the stages saved before scopes existed), restored for a
 * stage, is trimmed to that stage's subjects: the same state a scoped run would have, going on
 * with the same findings. Also for snapshots of earlier layouts (testdata/X.layoutN-state-at-K.json:
 * the state after the first K events of X).
 */
const oldSnapshots = [
  ['ordering-messy', 700, 'layout1'], ['ordering-messy', 700, 'layout2'], ['ordering-messy', 700, 'layout3'],
  ['timeline-2015-takedown', 120, 'layout1'], ['timeline-2015-takedown', 120, 'layout2'], ['timeline-2017-silence', 900, 'layout3'],
] as const;
for (const [file, cut, layout] of oldSnapshots) {
  test(`a whole-state snapshot (${layout}) of ${file} after ${cut} events restores for each stage, trimmed, with the same findings`, () => {
    const events = readEvents(`${file}.jsonl`);
    const saved = readFileSync(new URL(`${file}.${layout}-state-at-${cut}.json`, dir), 'utf8');
    const rest: Call[] = [...events.slice(cut).map((event) => ({ kind: 'step' as const, event })), { kind: 'flush' }];
    const scoped = { channel: analyzer.restore(saved, 'channel'), network: analyzer.restore(saved, 'network') };
    compare(rest, `${file} ${layout}`, 0, { whole: analyzer.restore(saved), scoped });
  });
}

test('a whole state narrowed to a stage is the state a scoped run has: trimmed, not only ignored', () => {
  for (const file of ['timeline-2015-takedown.jsonl', 'timeline-2018-2019-migration.jsonl', 'ordering-messy.jsonl']) {
    const cs = calls(readEvents(file));
    const half = Math.floor(cs.length / 2);
    const whole = analyzer.init(analyticsOptions());
    const scoped = scopedStates();
    for (const c of cs.slice(0, half)) {
      call(whole, c);
      for (const stage of STAGES) call(scoped[stage], c);
    }
    const snapshot = analyzer.snapshot(whole);
    for (const stage of STAGES) {
      const narrowed = analyzer.restore(snapshot, stage);
      assert.deepEqual(JSON.parse(analyzer.snapshot(narrowed)), JSON.parse(analyzer.snapshot(scoped[stage])), `${file}: ${stage}`);
      assert.equal(stage === 'channel' ? narrowed.gaps.networks.size : narrowed.gaps.channels.size, 0, `${file}: ${stage}: no subjects of the other stage`);
    }
    // A state going on after the cut (the re-analysis's state handed to the network stage) narrows in place.
    const network = analyzer.scoped(whole, 'network');
    compare(cs, `${file}, narrowed while running`, half, { whole: analyzer.restore(snapshot), scoped: { channel: analyzer.restore(snapshot, 'channel'), network } });
  }
});

test("a stage's snapshot restores as that stage's; the other stage's is refused", () => {
  const st = analyzer.init(analyticsOptions(), undefined, { scope: 'channel' });
  for (const e of readEvents('single.jsonl')) analyzer.step(st, e);
  const snapshot = analyzer.snapshot(st);
  assert.equal(analyzer.restore(snapshot).scope, 'channel');
  assert.equal(analyzer.restore(snapshot, 'channel').scope, 'channel');
  assert.throws(() => analyzer.restore(snapshot, 'network'), (e: unknown) => e instanceof TidewatchError && e.code === ErrorCode.INPUT_UNSUPPORTED && /channel scope/.test(e.message));
});
