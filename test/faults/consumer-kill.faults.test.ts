import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eventKey, type ActivityEvent } from '../../pipeline/events/index.ts';
import { activity, figures, privateEngines, releaseEngines, Scenario, sleep, waitUntil } from './harness.ts';

let sc: Scenario;

before(async () => {
  sc = new Scenario('consumer-kill', await privateEngines());
  await sc.setup();
});

after(async () => {
  await sc?.cleanup();
  releaseEngines();
});

interface AnalyzerStats {
  channel: { records: number };
  network: { records: number };
}

interface Finding {
  type: string;
  scope: string;
  subject: string;
  start: string;
  end: string | null;
  hours?: number;
}

/**
 * The analyzer's own groups and network topic. Replay mode (event time only), with a short idle
 * and tick so the network stage lets go of its last events soon after the input ends.
 */
const analyzerConfig = (name: string) => ({
  analyzer: { groupId: `${name}-analyzer`, networkGroupId: `${name}-analyzer-net`, networkTopic: `${name}.network`, mode: 'replay', tickSecs: 1, idleSecs: 3, instanceId: 'faults' },
});

async function analyzerDone(name: string): Promise<Finding[]> {
  await sc.caughtUp(240_000, `${name}-analyzer`);
  await sc.caughtUp(240_000, `${name}-analyzer-net`, `${name}.network`);
  // Then the findings stop changing (the network stage releases its last events on a tick).
  let last = '';
  for (let same = 0; same < 3; await sleep(2_000)) {
    const now = JSON.stringify([...(await sc.findings(name))].sort());
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return [...(await sc.findings(name)).values()] as Finding[];
}

/**
 * The same silence or spike reported twice under different ids: two findings of one type and
 * subject whose time spans overlap (an open gap reaches into the future).
 */
function overlapping(findings: readonly Finding[]): string[] {
  const bySubject = new Map<string, Finding[]>();
  for (const f of findings) {
    if (f.type !== 'gap' && f.type !== 'spike') continue;
    const key = `${f.type} ${f.scope} ${f.subject}`;
    bySubject.set(key, [...(bySubject.get(key) ?? []), f]);
  }
  const out: string[] = [];
  for (const [key, list] of bySubject) {
    list.sort((a, b) => a.start.localeCompare(b.start));
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      if (prev.end === null || list[i]!.start < prev.end) out.push(`${key}: ${prev.start}..${prev.end} and ${list[i]!.start}..${list[i]!.end}`);
    }
  }
  return out;
}

test('the analyzer SIGKILLed mid-stream (after storing findings and snapshots) and the indexer mid-batch, each restarted, three times: every event indexed once, every expected channel and network silence once and none twice', { timeout: 600_000 }, async () => {
  const N = 60_000;
  const KILLS = 3;
  const events = activity(sc.name, N);
  // A timeline with known silences, so there are findings to lose or to duplicate.
  const timeline = readFileSync(new URL('../../pipeline/analytics/testdata/timeline-2017-silence.jsonl', import.meta.url), 'utf8').split('\n').filter(Boolean);
  const publisher = await sc.transport.publisher();
  // In event-time order, so every partition is too: what the analyzer finds then depends on the
  // data only, and kills must not change it. (Data far older than what a partition already
  // carried is late by definition, and a streaming analysis of it depends on arrival order.)
  const all = [...events.map((e) => JSON.stringify(e)), ...timeline]
    .map((value) => ({ value, e: JSON.parse(value) as ActivityEvent }))
    .sort((a, b) => Date.parse(a.e['@timestamp']) - Date.parse(b.e['@timestamp']) || (a.e.event.id < b.e.event.id ? -1 : 1));
  // The analyzer first, on a topic published in KILLS + 1 slices, one more after each kill: it
  // cannot finish the stream before it has been killed three times, so every kill lands
  // mid-stream, with findings and snapshots already stored and records still to analyse.
  const sliceSize = Math.ceil(all.length / (KILLS + 1));
  let published = 0;
  const publishSlice = async () => {
    const slice = all.slice(published, published + sliceSize);
    for (let i = 0; i < slice.length; i += 10_000) await publisher.publishRaw(slice.slice(i, i + 10_000).map(({ value, e }) => ({ key: eventKey(e), value })));
    published += slice.length;
  };
  const analyzer = sc.consumer<AnalyzerStats>('analyzer', analyzerConfig(sc.name));
  analyzer.start();
  const analyzedAt: number[] = [];
  const analyzerLagAt: number[] = [];
  const findingsAt: number[] = [];
  for (let k = 1; k <= KILLS; k++) {
    const sliceStart = published;
    await publishSlice();
    // Killed once this process has analysed part of the new slice and saved snapshots covering
    // it (its progress is what it has stored, however often it saves), with findings stored: a
    // crash now must neither lose nor repeat what it found.
    let covered = 0;
    let stored = 0;
    await waitUntil(
      async () => {
        covered = await sc.analyzerCovered(`${sc.name}-analyzer`);
        stored = (await sc.findings(sc.name)).size;
        return covered > sliceStart && stored > 0;
      },
      `the analyzer's snapshots past record ${sliceStart} and findings stored before kill ${k}`,
      180_000,
    );
    await analyzer.kill();
    analyzedAt.push(covered);
    analyzerLagAt.push(await sc.lag(`${sc.name}-analyzer`));
    findingsAt.push(stored);
    analyzer.start();
  }
  await publishSlice();

  // Then the indexer, on the whole topic, while the analyzer goes on: killed mid-batch, since
  // offsets are committed once per batch (up to 50,000 records) while documents land one ~1 MB
  // bulk request at a time, so the count passing an arbitrary mark means a batch is half written
  // and not committed.
  // Small requests, one at a time: the whole topic takes the indexer seconds, not a few polls
  // of the document count, so the kills land inside its batches.
  const indexer = sc.consumer('indexer', { indexer: { groupId: sc.groupId, flushBytes: 100_000, concurrency: 1 } });
  indexer.start();
  const killedAt: number[] = [];
  for (let k = 1; k <= KILLS; k++) {
    // Past the documents of the killed processes too: a process killed before it wrote anything
    // would test nothing (its batch's first documents are the previous one's, answered 409).
    const mark = Math.max(Math.round((all.length * k) / (KILLS + 2)), killedAt[k - 2] ?? 0) + 777;
    await waitUntil(async () => (await sc.docCount()) >= mark, `${mark} documents before kill ${k}`, 180_000);
    await sleep(Math.random() * 300);
    await indexer.kill();
    killedAt.push(await sc.docCount());
    indexer.start();
  }
  await sc.caughtUp(240_000);
  const redelivered = indexer.stats?.duplicates ?? 0;
  await indexer.stop();
  const findings = await analyzerDone(sc.name);
  await analyzer.stop();

  const v = await sc.verify(new Set([...events, ...timeline.map((l) => JSON.parse(l) as ActivityEvent)].map((e) => e.event.id)));
  const dlq = await sc.dlqCount();
  // The timeline's silences (analytics testdata: what the core finds in it) must each be there
  // once, the channels' and the network's: the network stage merges the partitions by event time
  // and waits for offsets, not clocks, so kills do not change what it finds.
  const expected = (JSON.parse(readFileSync(new URL('../../pipeline/analytics/testdata/timeline-2017-silence.expected.json', import.meta.url), 'utf8')) as { gaps: Finding[] }).gaps;
  const found = (g: Finding) => findings.filter((f) => f.type === 'gap' && f.scope === g.scope && f.subject === g.subject && f.start === g.start && f.end === g.end).length;
  const missing = expected.filter((g) => g.scope === 'channel' && found(g) !== 1);
  const networkGaps = expected.filter((g) => g.scope === 'network');
  const networkMissing = networkGaps.filter((g) => found(g) !== 1);
  const twice = overlapping(findings);
  figures('consumer-kill', {
    in: N + timeline.length, indexed: v.indexed, dlq, duplicates: v.duplicates, lost: v.lost, unexpected: v.unexpected,
    kills: KILLS, docsAtKills: killedAt.join('/'), analyzedAtKills: analyzedAt.join('/'), analyzerLagAtKills: analyzerLagAt.join('/'), findingsAtKills: findingsAt.join('/'),
    redeliveredAfterLastRestart: redelivered,
    findings: findings.length, channelGapsMissing: missing.length, networkGapsFound: `${networkGaps.length - networkMissing.length}/${networkGaps.length}`, findingsDuplicated: twice.length,
    indexerCrashes: indexer.crashes.length, analyzerCrashes: analyzer.crashes.length,
  });
  assert.equal(v.lost, 0);
  assert.equal(v.duplicates, 0);
  assert.equal(v.unexpected, 0);
  assert.equal(dlq, 0);
  assert.deepEqual(missing, [], 'every channel silence of the timeline found exactly once');
  assert.ok(networkGaps.length > 0);
  assert.deepEqual(networkMissing, [], `every network silence of the timeline found exactly once; network-level findings: ${JSON.stringify(findings.filter((f) => f.scope !== 'channel'))}`);
  assert.deepEqual(twice, [], 'no silence or spike reported twice');
  assert.deepEqual(indexer.crashes, []);
  assert.deepEqual(analyzer.crashes, []);
  sc.passed = true;
});
