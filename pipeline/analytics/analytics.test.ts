import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateEvent, type ActivityEvent } from '../events/index.ts';
import { runAnalysis, type AnalysisReport, type RejectedInput } from './index.ts';

/**
 * Data-file tests: testdata/X.jsonl in, testdata/X.expected.json out, compared exactly. The
 * expected files were checked by hand against ../../../shared/timeline.md (the facts are also
 * asserted one by one below); after a deliberate change, rewrite them with
 * TIDEWATCH_UPDATE_EXPECTED=1 node scripts/test.mjs pipeline/analytics/analytics.test.ts
 */
const dir = fileURLToPath(new URL('./testdata/', import.meta.url));
const NOW = Date.UTC(2026, 0, 1);

function readEvents(name: string): (ActivityEvent | RejectedInput)[] {
  return readFileSync(dir + name, 'utf8').split('\n').filter(Boolean).map((line, i) => {
    const v = validateEvent(JSON.parse(line), { nowMs: NOW, storeText: true });
    return v.ok ? v.event : { kind: 'rejected', reason: v.reason, location: `${name}:${i + 1}` };
  });
}

const analyze = (name: string): Promise<AnalysisReport> => runAnalysis(readEvents(name));

for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()) {
  const expectedFile = dir + file.replace(/\.jsonl$/, '.expected.json');
  test(`${file} gives exactly ${file.replace(/\.jsonl$/, '.expected.json')}`, async () => {
    const report = await analyze(file);
    if (process.env.TIDEWATCH_UPDATE_EXPECTED === '1') writeFileSync(expectedFile, JSON.stringify(report, null, 2) + '\n');
    assert.ok(existsSync(expectedFile), `${expectedFile} is missing`);
    assert.deepEqual(report, JSON.parse(readFileSync(expectedFile, 'utf8')));
  });
}

test('Nov 2017: the ~25 h network silence is found and unprecedented; nightly lulls are not gaps', async () => {
  const r = await analyze('timeline-2017-silence.jsonl');
  const network = r.gaps.filter((g) => g.scope === 'network');
  assert.deepEqual(network, [{
    scope: 'network', subject: 'is-official', start: '2017-11-22T09:00:00.000Z', end: '2017-11-23T10:01:00.000Z',
    hours: 25.02, baselineHours: 6, unprecedented: true,
  }]);
  // Four weeks of nights at 21:00-04:00 and no channel gap outside the silence.
  for (const g of r.gaps) {
    assert.ok(g.start >= '2017-11-22T00:00' && g.end! <= '2017-11-23T13:00', `unexpected gap ${JSON.stringify(g)}`);
    assert.equal(g.unprecedented, true);
  }
});

test('18 Nov 2015: a wave of 78 channels in 12 languages; Nashir and Amaq resurrected within hours', async () => {
  const r = await analyze('timeline-2015-takedown.jsonl');
  // The 78 handles as generate.ts builds them: Nashir, Amaq and outlet_<language>_<i> for i = 2..77.
  const languages = ['ar', 'en', 'fr', 'de', 'ru', 'tr', 'fa', 'ur', 'id', 'bs', 'ku', 'es'];
  const handles = ['nashir_news', 'amaq_agency'];
  for (let i = 2; i < 78; i++) handles.push(`outlet_${languages[i % 12]}_${i}`);
  assert.deepEqual(r.takedowns, [{
    day: '2015-11-18', channels: 78, languages: 12, networks: ['is-official', 'supporters'], subjects: handles.sort(), reported: null, wave: true,
  }]);
  assert.deepEqual(r.takedowns[0]!.subjects.slice(0, 4), ['amaq_agency', 'nashir_news', 'outlet_ar_12', 'outlet_ar_24'], 'sorted as strings');
  const nashir = r.resurrections.find((x) => x.banned === 'nashir_news');
  assert.equal(nashir?.successor, 'nashir_news2');
  assert.ok(nashir.delayMinutes < 12 * 60);
  assert.ok(nashir.minutesTo1000 !== null && nashir.minutesTo1000 < 30);
  const amaq = r.resurrections.find((x) => x.banned === 'amaq_agency');
  assert.equal(amaq?.successor, 'a_backup_15', 'the Arabic title variant is recognised');
  assert.equal(r.resurrections.length, 2, 'the unrelated new channel and the relays are not successors');
  assert.equal(r.lifespans.length, 78);
  assert.ok(r.spikes.some((s) => s.scope === 'creation' && s.subject === 'all' && s.start === '2015-11-19T00:00:00.000Z'));
});

test('Dec 2018 / Nov 2019: new platforms first seen, the TamTam surge, and the platform-reported waves', async () => {
  const r = await analyze('timeline-2018-2019-migration.jsonl');
  const firstSeen = (p: string) => r.platforms.find((x) => x.platform === p)?.firstSeen.slice(0, 10);
  for (const p of ['tamtam', 'rocketchat', 'element']) assert.equal(firstSeen(p), '2018-12-14', p);
  for (const p of ['hoop', 'threema', 'xmpp', 'nandbox']) assert.equal(firstSeen(p), '2019-11-22', p);
  assert.ok(r.migrations.some((m) => m.kind === 'surge' && m.platform === 'tamtam' && m.subject === 'all' && m.at.startsWith('2019-11-22')));
  assert.ok(!r.migrations.some((m) => m.kind === 'surge' && m.at < '2019-11-22'), 'no surge before the Action Day');
  const waves = r.takedowns.filter((t) => t.wave);
  assert.deepEqual(waves.map((t) => [t.day, t.reported, t.subjects]), [['2018-12-06', 3276, []], ['2019-11-22', 2096, []], ['2019-11-23', 2959, []]], 'waves from the tally alone name no channel');
  // Every day the platform reported bans is there, waves or not, one per day.
  const reportedDays = new Set(readFileSync(`${dir}timeline-2018-2019-migration.jsonl`, 'utf8').split('\n').filter((l) => l.includes('"bans_reported"')).map((l) => l.slice(15, 25)));
  assert.deepEqual(r.takedowns.map((t) => t.day), [...reportedDays].sort());
  assert.ok(r.takedowns.length > waves.length);
  assert.equal(r.platforms.find((x) => x.platform === 'tamtam')?.events, 1, 'activity on TamTam itself counts');
  assert.ok(r.platforms.some((x) => x.platform === 'unknown' && x.domain === 'example-mirror.org'), 'links in message text, unknown domain kept');
});

test('out-of-order, duplicated and late input gives the findings of the clean input', async () => {
  const clean = await analyze('ordering-clean.jsonl');
  const messy = await analyze('ordering-messy.jsonl');
  assert.ok(messy.duplicates > 0 && messy.late === 1);
  assert.deepEqual({ ...messy, events: 0, duplicates: 0, late: 0 }, { ...clean, events: 0, duplicates: 0, late: 0 });
});

test('zoned timestamps: a DST switch is not a gap, and days are UTC days', async () => {
  const r = await analyze('zones-dst.jsonl');
  assert.deepEqual(r.gaps, []);
  assert.deepEqual(r.spikes, []);
  assert.deepEqual(r.takedowns.map((t) => [t.day, t.subjects.length]), [['2019-04-11', 10]]);
});

test('empty and single-event inputs', async () => {
  const empty = await analyze('empty.jsonl');
  assert.equal(empty.events, 0);
  assert.deepEqual([empty.gaps, empty.platforms, empty.takedowns], [[], [], []]);
  const single = await analyze('single.jsonl');
  assert.equal(single.events, 1);
  assert.deepEqual(single.gaps, []);
});

test('rejected inputs are counted', async () => {
  const r = await runAnalysis([{ kind: 'rejected', reason: 'not JSON', location: 'x.jsonl:1' }]);
  assert.equal(r.rejected, 1);
});
