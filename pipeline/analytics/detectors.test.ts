import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCode, TidewatchError } from '../errors.ts';
import fc from 'fast-check';
import { buildEvent, validateEvent, type ActivityEvent } from '../events/index.ts';
import {
  analyzer, restoreState, type AnalyzerState, analyticsOptions, classifyLink, MAX_TAKEDOWN_SUBJECTS, nameKey, poissonCriticalCount, poissonUpperTail, runAnalysis, suffixSet,
  type Finding, type GapFinding, type TakedownFinding,
} from './index.ts';
import { compactGaps, gapsDetector } from './gaps.ts';
import { takedownsDetector } from './takedowns.ts';
import { CELLS, KeyCells } from './keys.ts';
import { hashId, RecentIds } from './recent.ts';
import { parseTimeMs } from './time.ts';

const H = 3_600_000;
const MIN = 60_000;
const start = Date.UTC(2017, 9, 1);
const channel = { id: '1', handle: 'outlet', network: 'net' };
const post = (t: number, n: number): ActivityEvent =>
  buildEvent({ timestamp: t, action: 'post', channel, message: { id: String(n) }, source: { type: 'test' } });

/** Posts every 40 minutes between 06:00 and 22:00 UTC for 20 days, then silence from day 20 noon. */
function history(): ActivityEvent[] {
  const out: ActivityEvent[] = [];
  let n = 0;
  for (let day = 0; day <= 20; day++) {
    for (let m = 6 * 60; m < 22 * 60; m += 40) if (day < 20 || m <= 12 * 60) out.push(post(start + day * 24 * H + m * MIN, n++));
  }
  return out;
}

test('live: tick opens the gap once the threshold and the lateness have passed; activity closes it under the same id', () => {
  const st = analyzer.init(analyticsOptions());
  for (const e of history()) analyzer.step(st, e);
  const last = start + 20 * 24 * H + 12 * H; // the last post before the silence
  const gapsAt = (now: number) => analyzer.tick(st, now).filter((f): f is GapFinding => f.type === 'gap' && f.scope === 'channel');
  assert.deepEqual(gapsAt(last + 5 * H), [], 'not yet');
  const open = gapsAt(last + 30 * H);
  assert.equal(open.length, 1);
  assert.equal(open[0]!.end, null);
  const resumed = analyzer.step(st, post(last + 31 * H, 9999));
  assert.deepEqual(resumed, [], 'the resuming post waits out the allowed lateness');
  const closed = analyzer.tick(st, last + 31 * H + 10 * MIN).filter((f): f is GapFinding => f.type === 'gap' && f.scope === 'channel');
  assert.equal(closed[0]?.id, open[0]!.id);
  assert.equal(closed[0]?.end, new Date(last + 31 * H).toISOString());
  assert.equal(closed[0]?.hours, 31);
});

test('snapshot and restore mid-stream give the same findings as an uninterrupted run', () => {
  const events = history();
  const whole = analyzer.init(analyticsOptions());
  const a: Finding[] = [];
  for (const e of events) a.push(...analyzer.step(whole, e));
  a.push(...analyzer.flush(whole, start + 22 * 24 * H));
  let st = analyzer.init(analyticsOptions());
  const b: Finding[] = [];
  events.forEach((e, i) => {
    if (i % 97 === 0) st = analyzer.restore(analyzer.snapshot(st));
    b.push(...analyzer.step(st, e));
  });
  b.push(...analyzer.flush(st, start + 22 * 24 * H));
  assert.deepEqual(b, a);
  assert.ok(a.some((f) => f.type === 'gap'));
});

const gapsOf = async (events: ActivityEvent[]) => (await runAnalysis(events)).gaps;

test('property: shuffling within the allowed lateness does not change the gaps', async () => {
  const events = history();
  const expected = await gapsOf(events);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 299_000 }), { minLength: events.length, maxLength: events.length }), async (delays) => {
      const arrival = events.map((e, i) => ({ e, at: Date.parse(e['@timestamp']) + delays[i]! })).sort((x, y) => x.at - y.at);
      assert.deepEqual(await gapsOf(arrival.map((x) => x.e)), expected);
    }),
    { numRuns: 25 },
  );
});

test('property: duplicates change nothing but the duplicate count', async () => {
  const events = history();
  const expected = await runAnalysis(events);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(events.length - 1), { maxLength: 200 }), async (picks) => {
      const input = [...events];
      // A sorted copy: fast-check keeps the generated array to shrink and report; sorting it in place changes it under it.
      for (const i of [...picks].sort((x, y) => y - x)) input.splice(i + 1, 0, structuredClone(events[i]!));
      const r = await runAnalysis(input);
      assert.equal(r.duplicates, picks.length);
      assert.deepEqual({ ...r, events: 0, duplicates: 0 }, { ...expected, events: 0, duplicates: 0 });
    }),
    { numRuns: 25 },
  );
});

test('names: case, digits (Arabic-Indic too), suffixes, tatweel, diacritics and alef forms', () => {
  const s = suffixSet(analyticsOptions().resurrections.suffixWords);
  const same = (a: string, b: string) => assert.equal(nameKey(a, s), nameKey(b, s), `${a} ~ ${b}`);
  same('nashir_news', 'Nashir_News_2');
  same('nashir_news', 'nashir news NEW');
  same('nashir_news', 'official_nashir_news');
  same('ناشر', 'نـــاشِر ٢');
  same('أعماق', 'اعماق ۳');
  same('إصدارات', 'اصدارات');
  same('ناشر', 'ناشر الجديد');
  assert.notEqual(nameKey('nashir_news', s), nameKey('amaq_agency', s));
});

test('links: catalogue forms and unknown domains', () => {
  const cases: [string, string | null, string?][] = [
    ['https://t.me/joinchat/AAAAE', 'telegram'], ['t.me/+AbCd', 'telegram'], ['tg://resolve?domain=x', 'telegram'],
    ['https://tamtam.chat/x', 'tamtam'], ['tt.me/x', 'tamtam'],
    ['https://open.rocket.chat/home', 'rocketchat'], ['https://chat.some-server.net/invite/Xy', 'rocketchat'], ['https://srv.example/channel/nashir', 'rocketchat'],
    ['https://matrix.to/#/#r:matrix.org', 'element'], ['https://riot.im/app', 'element'], ['https://app.element.io/#/room/x', 'element'],
    ['https://threema.id/ABCD1234', 'threema'], ['xmpp:room@conference.jabber.ru?join', 'xmpp', 'conference.jabber.ru'],
    ['https://chat.whatsapp.com/X', 'whatsapp'], ['discord.gg/x', 'discord'], ['https://signal.group/#x', 'signal'],
    ['https://web.archive.org/web/2019/x', 'archive.org'], ['https://mega.nz/file/x', 'mega'],
    ['HTTPS://WWW.Example.ORG/path).', 'unknown', 'example.org'], ['mailto:a@b.org', null], ['not a link', null],
  ];
  for (const [link, platform, domain] of cases) {
    const c = classifyLink(link);
    assert.equal(c?.platform ?? null, platform, link);
    if (domain) assert.equal(c?.domain, domain, link);
  }
});

test('poisson tails and critical counts', () => {
  assert.ok(Math.abs(poissonUpperTail(1, 2) - (1 - Math.exp(-2))) < 1e-12);
  assert.ok(Math.abs(poissonUpperTail(3, 1) - (1 - Math.exp(-1) * 2.5)) < 1e-12);
  for (const mu of [0.2, 3, 40, 900, 20_000]) {
    const k = poissonCriticalCount(mu, 1e-4);
    assert.ok(poissonUpperTail(k, mu) <= 1e-4 && poissonUpperTail(k - 1, mu) > 1e-4, `mu=${mu} k=${k}`);
  }
});

const DAY_START = Date.UTC(2015, 10, 18);
const ban = (i: number, channel: { id: string; handle?: string; language?: string }, extra: { platform?: string; action?: 'channel_banned' | 'channel_deleted' } = {}): ActivityEvent =>
  buildEvent({ timestamp: DAY_START + i * 1000, action: extra.action ?? 'channel_banned', channel, source: { type: 'test' }, ...(extra.platform ? { platform: extra.platform } : {}) });

/** The latest version of every takedown finding, by id. */
function takedowns(events: ActivityEvent[]): TakedownFinding[] {
  const st = analyzer.init(analyticsOptions());
  const latest = new Map<string, TakedownFinding>();
  for (const f of [...events.flatMap((e) => analyzer.step(st, e)), ...analyzer.flush(st)]) if (f.type === 'takedown') latest.set(f.id, f);
  return [...latest.values()];
}

test('takedown subjects: handle else id, one per channel counted, sorted; the id keeps its format', () => {
  const events = [
    ban(0, { id: '9', handle: 'zulu' }), ban(1, { id: '10' }), ban(2, { id: '11', handle: 'alpha' }),
    // Deleted after the ban: the same channel, counted and named once.
    ban(3, { id: '11', handle: 'alpha' }, { action: 'channel_deleted' }),
    // The same id on another platform is another channel.
    ban(4, { id: '9', handle: 'zulu_tt' }, { platform: 'tamtam' }),
  ];
  for (let i = 0; i < 7; i++) events.push(ban(10 + i, { id: String(100 + i), handle: `mid_${i}` }));
  const [wave, ...rest] = takedowns(events);
  assert.deepEqual(rest, []);
  assert.equal(wave!.id, 'takedown:2015-11-18');
  assert.equal(wave!.channels, 11);
  assert.deepEqual(wave!.subjects, ['10', 'alpha', 'mid_0', 'mid_1', 'mid_2', 'mid_3', 'mid_4', 'mid_5', 'mid_6', 'zulu', 'zulu_tt']);
});

test('every ban day is a takedown finding; those passing the thresholds are waves, and a day turns into one as it grows', () => {
  const DAY = 86_400_000;
  // Day 1: three bans (under minChannels 10). Day 2: nine, then the tenth.
  const events = [0, 1, 2].map((i) => ban(i, { id: `a${i}` }));
  for (let i = 0; i < 10; i++) events.push(ban(DAY / 1000 + i, { id: `b${i}` }));
  const st = takedownsDetector.init(analyticsOptions());
  const emitted = events.flatMap((e) => takedownsDetector.step(st, e, Date.parse(e['@timestamp']))) as TakedownFinding[];
  assert.deepEqual(emitted.filter((f) => f.day === '2015-11-19').map((f) => [f.channels, f.wave]), [[1, false], [2, false], [3, false], [4, false], [5, false], [6, false], [7, false], [8, false], [9, false], [10, true]]);
  assert.deepEqual(takedowns(events).map((f) => [f.day, f.channels, f.wave]), [['2015-11-18', 3, false], ['2015-11-19', 10, true]]);
});

test(`takedown subjects: capped at ${MAX_TAKEDOWN_SUBJECTS}, the first in sort order whatever the arrival order; counts stay exact`, () => {
  const n = MAX_TAKEDOWN_SUBJECTS + 250;
  // Handles in an order unrelated to time; every fifth channel has none and is named by its id.
  const events = Array.from({ length: n }, (_, i) => {
    const k = (i * 7919) % n;
    return ban(i, k % 5 === 0 ? { id: `id_${k}` } : { id: `id_${k}`, handle: `h_${String(k).padStart(4, '0')}` });
  });
  const names = events.map((e) => e.channel.handle ?? e.channel.id).sort();
  const [inOrder] = takedowns(events);
  assert.equal(inOrder!.channels, n);
  assert.equal(inOrder!.subjects.length, MAX_TAKEDOWN_SUBJECTS);
  assert.deepEqual(inOrder!.subjects, names.slice(0, MAX_TAKEDOWN_SUBJECTS));
  assert.ok(inOrder!.subjects.includes('h_0001') && !inOrder!.subjects.includes('id_995'), 'handles sort before the ids beyond the cap');
  // Reversed: almost every ban arrives late, and the finding is the same.
  assert.deepEqual(takedowns([...events].reverse()), [inOrder]);
});

test('takedown subjects: a day restored from a snapshot taken before the list existed goes on without it', () => {
  const st = analyzer.init(analyticsOptions());
  for (let i = 0; i < 10; i++) analyzer.step(st, ban(i, { id: String(i), handle: `old_${i}` }));
  analyzer.flush(st);
  const snapshot = analyzer.snapshot(st);
  assert.match(snapshot, /"subjects":\["old_0",/);
  const json = snapshot.replace(/,"subjects":\[[^\]]*\]/g, '');
  assert.doesNotMatch(json, /"subjects":\[/);
  const restored = analyzer.restore(json);
  const found = [...analyzer.step(restored, ban(600, { id: '99', handle: 'new_one' })), ...analyzer.flush(restored)];
  const wave = found.filter((f): f is TakedownFinding => f.type === 'takedown').at(-1);
  assert.equal(wave?.channels, 11);
  assert.deepEqual(wave?.subjects, ['new_one'], 'the channels before the restore are counted but cannot be named');
});

/**
 * Snapshots written before the state had a `layout` (reorder buffer as [time, id, event] entries,
 * one spikes map keyed "<scope>:<key>"): testdata/X.layout1-state-at-N.json is the state main's
 * analyzer saved after the first N events of X.jsonl. Restored, by the analyzer or by the plain
 * restoreState the live analyzer uses, it must go on exactly as an uninterrupted run.
 */
/**
 * And X.layout2-state-at-N.json, saved the same way by the version before the gap detector's slots
 * (layout 3): one object per subject, its profile a flat array. And X.layout3-state-at-N.json, saved
 * before the gap detector's pending intervals (its layout 4), cut where subjects have a history.
 */
const layouts = [
  ...[1, 2].flatMap((layout) => ([['ordering-messy', 700], ['timeline-2015-takedown', 120]] as const).map(([file, cut]) => [file, cut, layout] as const)),
  ['ordering-messy', 700, 3], ['timeline-2017-silence', 900, 3],
] as const;
for (const [file, cut, layout] of layouts) {
  test(`a layout-${layout} snapshot of ${file} after ${cut} events restores and goes on with the same findings`, () => {
    const dir = new URL('./testdata/', import.meta.url);
    const events = readFileSync(new URL(`${file}.jsonl`, dir), 'utf8').split('\n').filter(Boolean).map((line) => {
      const v = validateEvent(JSON.parse(line), { nowMs: Date.UTC(2026, 0, 1), storeText: true });
      if (!v.ok) throw new Error(v.reason);
      return v.event;
    });
    const saved = readFileSync(new URL(`${file}.layout${layout}-state-at-${cut}.json`, dir), 'utf8');
    if (layout === 1) {
      assert.match(saved, /"buffer":\[(null,)*\[\d+,"[^"]+",\{/, 'events were waiting in the reorder buffer');
      assert.doesNotMatch(saved, /"layout"/);
    } else {
      assert.match(saved, /"bufferTimes":\[\d+/, 'events were waiting in the reorder buffer');
      const { layout: analyzerLayout, gaps } = JSON.parse(saved) as { layout: number; gaps: { layout: number } };
      assert.deepEqual([analyzerLayout, gaps.layout], [layout, layout]);
      if (layout === 3 && file === 'timeline-2017-silence') assert.match(saved, /"history":\[\[\d+/, 'subjects have a history of intervals');
    }
    const whole = analyzer.init(analyticsOptions());
    const expected: Finding[] = [];
    events.forEach((e, i) => {
      const found = analyzer.step(whole, e);
      if (i >= cut) expected.push(...found);
    });
    expected.push(...analyzer.flush(whole));
    assert.ok(expected.some((f) => f.type === 'spike' || f.type === 'gap' || f.type === 'takedown'), 'the continuation finds something');
    // The plain restoreState of layouts 1 and 2 upgrades on first use; a later layout is revived as the live analyzer does.
    for (const restored of [analyzer.restore(saved), layout < 3 ? restoreState<AnalyzerState>(saved) : analyzer.revive(restoreState<AnalyzerState>(saved))]) {
      const found: Finding[] = [];
      for (const e of events.slice(cut)) found.push(...analyzer.step(restored, e));
      found.push(...analyzer.flush(restored));
      assert.deepEqual(found, expected);
      assert.deepEqual(JSON.parse(analyzer.snapshot(restored)), JSON.parse(analyzer.snapshot(whole)), 'same state afterwards');
    }
  });
}

test('snapshots taken while running (the gap slots renumbered each time) change no finding', () => {
  const dir = new URL('./testdata/', import.meta.url);
  for (const file of ['timeline-2015-takedown', 'ordering-messy', 'timeline-2017-silence']) {
    const events = readFileSync(new URL(`${file}.jsonl`, dir), 'utf8').split('\n').filter(Boolean).map((line) => {
      const v = validateEvent(JSON.parse(line), { nowMs: Date.UTC(2026, 0, 1), storeText: true });
      if (!v.ok) throw new Error(v.reason);
      return v.event;
    });
    const run = (every: number): Finding[] => {
      const st = analyzer.init(analyticsOptions());
      const found: Finding[] = [];
      events.forEach((e, i) => {
        found.push(...analyzer.step(st, e));
        if (i % every === every - 1) analyzer.snapshot(st);
      });
      return [...found, ...analyzer.flush(st)];
    };
    const expected = run(Number.MAX_SAFE_INTEGER);
    assert.ok(expected.some((f) => f.type === 'gap' || f.type === 'takedown'), `${file} finds something`);
    assert.deepEqual(run(37), expected, file);
  }
});

test('a snapshot of a layout newer than this version reads is refused, naming the layout', () => {
  const st = analyzer.init(analyticsOptions());
  const json = analyzer.snapshot(st);
  const refused = (layout: number) => (e: unknown): boolean => e instanceof TidewatchError && e.code === ErrorCode.INPUT_UNSUPPORTED && new RegExp(`layout ${layout}`).test(e.message);
  // The analyzer's own layout (the last in the JSON), then the gap detector's (the first).
  assert.throws(() => analyzer.restore(json.replace(/"layout":3(?![^]*"layout")/, '"layout":4')), refused(4));
  const gapsNewer = analyzer.restore(json.replace('"layout":4', '"layout":5'));
  assert.throws(() => analyzer.tick(gapsNewer, start), refused(5));
});

test('property: parseTimeMs reads ISO timestamps exactly, whatever day came before', () => {
  const iso = fc.date({ min: new Date(Date.UTC(1000, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }).chain((d) =>
    fc.constantFrom(d.toISOString(), `${d.toISOString().slice(0, 19)}Z`, `${d.toISOString().slice(0, 19)}+02:00`));
  fc.assert(fc.property(fc.array(iso, { minLength: 1, maxLength: 20 }), (list) => {
    for (const s of list) assert.equal(parseTimeMs(s), Date.parse(s), s);
  }), { numRuns: 500 });
});

test('a snapshot saves the recent ids once, and a copy of an event seen before it is still a duplicate after the restore', () => {
  const st = analyzer.init(analyticsOptions());
  // A post a minute for 50 minutes: all within the hour of ids remembered, the first 45 past the
  // five minutes the reorder buffer holds (where an event is saved whole, id included).
  const events = Array.from({ length: 50 }, (_, i) => post(start + i * MIN, i));
  for (const e of events) analyzer.step(st, e);
  const json = analyzer.snapshot(st);
  const id = events[10]!.event.id;
  assert.equal(json.split(id).length - 1, 1, 'an id saved once (the ring), not twice (ring and set)');
  // As the live analyzer saves it: inside a document of its own, revived after reading it back.
  const live = analyzer.revive(restoreState<{ state: AnalyzerState }>(JSON.stringify({ state: JSON.parse(json) })).state);
  for (const restored of [analyzer.restore(json), live]) {
    analyzer.step(restored, events[10]!);
    analyzer.step(restored, events[30]!);
    assert.equal(restored.counts.duplicates, 2, 'both copies recognised');
  }
});

test('property: the recent ids table answers as a set of the ids in its ring, through adds and evictions', () => {
  // A ring of 8 in a table of 16 slots: probe runs collide and wrap, so deletions shift entries.
  const capacity = 8;
  const op = fc.oneof(fc.record({ add: fc.integer({ min: 0, max: 40 }) }), fc.constant({ evict: true }));
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
    const order: string[] = new Array<string>(capacity).fill('');
    const table = new RecentIds(order, 0, 0);
    const model = new Set<string>();
    let head = 0;
    let count = 0;
    for (const o of ops) {
      if ('add' in o) {
        const id = `id-${o.add}`;
        assert.equal(table.find(id, hashId(id)) >= 0, model.has(id), id);
        if (model.has(id) || count === capacity) continue;
        const at = (head + count++) % capacity;
        order[at] = id;
        table.add(at, hashId(id));
        model.add(id);
      } else if (count > 0) {
        table.remove(head);
        model.delete(order[head]!);
        order[head] = '';
        head = (head + 1) % capacity;
        count--;
      }
      for (let k = 0; k <= 40; k++) assert.equal(table.has(`id-${k}`), model.has(`id-${k}`), `id-${k}`);
    }
    // Rebuilt from the ring (as on restore or resize), it answers the same.
    const rebuilt = new RecentIds(order, head, count);
    for (let k = 0; k <= 40; k++) assert.equal(rebuilt.has(`id-${k}`), model.has(`id-${k}`));
  }), { numRuns: 300 });
});

test('property: the channel table keeps each key\'s numbers as a map of keys would, through growth and fills', () => {
  // Up to 3,000 distinct keys: the table (1,024 entries at first) grows twice; short keys collide in probe runs.
  const key = fc.oneof(fc.integer({ min: 0, max: 2_999 }).map((n) => `${n}`), fc.string({ maxLength: 3 }), fc.integer({ min: 0, max: 50 }).map((n) => `telegram:-100${n}`));
  const op = fc.oneof(
    { weight: 20, arbitrary: fc.record({ key, cell: fc.integer({ min: 1, max: CELLS - 1 }), value: fc.integer({ min: -5, max: 1_000_000 }) }) },
    { weight: 1, arbitrary: fc.record({ fill: fc.integer({ min: 1, max: CELLS - 1 }) }) },
  );
  fc.assert(fc.property(fc.array(op, { minLength: 1_500, maxLength: 4_000 }), (ops) => {
    const table = new KeyCells();
    const model = new Map<string, number[]>();
    for (const o of ops) {
      if ('fill' in o) {
        table.fill(o.fill, 0);
        for (const cells of model.values()) cells[o.fill] = 0;
        continue;
      }
      const entry = table.entryOf(o.key);
      const cells = model.get(o.key) ?? new Array<number>(CELLS).fill(0);
      model.set(o.key, cells);
      for (let c = 1; c < CELLS; c++) assert.equal(table.cells[entry + c], cells[c], `${o.key} cell ${c}`);
      table.cells[entry + o.cell] = cells[o.cell] = o.value;
    }
    assert.equal(table.size, model.size);
    for (const [k, cells] of model) {
      const entry = table.entryOf(k);
      for (let c = 1; c < CELLS; c++) assert.equal(table.cells[entry + c], cells[c], `${k} cell ${c}`);
    }
    assert.equal(table.size, model.size, 'looking the keys up again adds none');
  }), { numRuns: 30 });
});

/**
 * The gap detector keeps a subject's newest intervals pending beside its numbers and remembers them
 * in its deque of long intervals only when read or when there are too many: the deque and every
 * `previousLongestHours` must be what remembering each interval at once gives (the model below:
 * the deque as it was kept before, longest first, bounded by historyEntries).
 */
test('property: pending intervals give the same history deque and precedents as remembering each at once', () => {
  const ops = fc.array(fc.oneof(
    fc.record({ kind: fc.constant('post' as const), gapMins: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ kind: fc.constant('tick' as const), gapMins: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ kind: fc.constant('snapshot' as const), gapMins: fc.constant(0) }),
  ), { minLength: 1, maxLength: 120 });
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), ops, (cap, list) => {
    const options = analyticsOptions({ gaps: { floorHours: 1, warmupDays: 0, warmupEvents: 1, lookbackDays: 2, historyEntries: cap } });
    const st = gapsDetector.init(options);
    const single = { id: '1', handle: 'outlet' };
    const model: number[] = [];
    let last = -1;
    let open = false;
    let now = start;
    // A gap found by a fresh judgement drops the intervals past the lookback, then names the longest left.
    const judged = (found: readonly Finding[]): void => {
      const gap = found.find((f): f is GapFinding => f.type === 'gap');
      if (gap === undefined || open) return;
      let drop = 0;
      while (drop < model.length && model[drop]! < last - 2 * 24 * H) drop += 2;
      model.splice(0, drop);
      assert.equal(gap.previousLongestHours, model.length ? Math.round((model[1]! / H) * 100) / 100 : null);
    };
    [{ kind: 'post' as const, gapMins: 0 }, ...list].forEach((op, n) => {
      now += op.gapMins * MIN;
      if (op.kind === 'snapshot') compactGaps(st);
      else if (op.kind === 'tick') {
        const found = gapsDetector.tick(st, now);
        judged(found);
        if (found.length) open = true;
      } else {
        const found = gapsDetector.step(st, buildEvent({ timestamp: now, action: 'post', channel: single, message: { id: String(n) }, source: { type: 'test' } }), now);
        if (last >= 0 && (open || now - last >= H)) {
          judged(found);
          open = false;
          let k = model.length;
          while (k > 0 && model[k - 1]! <= now - last) k -= 2;
          if (k < cap * 2) model.splice(k, model.length - k, now, now - last);
          else model.length = k;
        }
        last = now;
      }
    });
    compactGaps(st);
    assert.deepEqual(st.history[st.channels.get('1')!], model);
  }), { numRuns: 300 });
});
