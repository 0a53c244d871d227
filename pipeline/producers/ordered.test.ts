import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { runAnalysis, type AnalysisReport } from '../analytics/index.ts';
import type { ActivityEvent } from '../events/index.ts';
import { ALL_SILENT, CHANNELS, H, writeOutletExports } from '../../test/fixtures/outlets.ts';
import { openSource, OrderedSources, type OrderedOptions } from './index.ts';

/**
 * `analyze` over several inputs: one channel export per channel, as Telegram Desktop writes them,
 * must give the report of one sorted pass whatever the order of the files and of the events in
 * them. Each export is in order by itself; read one after another they are not.
 */
async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tidewatch-ordered-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function analyzeFiles(files: string[], options?: OrderedOptions): Promise<{ report: AnalysisReport; sortedOnDisk: number[] }> {
  const ordered = new OrderedSources(files.map((f) => openSource(f, { format: 'auto', network: 'outlets', storeText: false, nowMs: Date.UTC(2026, 0, 1) })), options);
  const report = await ordered.read((items) =>
    runAnalysis((async function* () {
      for await (const item of items) yield item.kind === 'event' ? item.event : item;
    })()),
  );
  return { report, sortedOnDisk: ordered.sortedOnDisk };
}

/** The reference: every event of every channel in one time-sorted canonical file. */
async function sortedPass(dir: string): Promise<AnalysisReport> {
  const files = await writeOutletExports(dir);
  const events: ActivityEvent[] = [];
  for (const f of files) for await (const item of openSource(f, { format: 'auto', network: 'outlets', storeText: false }).items()) if (item.kind === 'event') events.push(item.event);
  events.sort((a, b) => a['@timestamp'].localeCompare(b['@timestamp']) || a.event.id.localeCompare(b.event.id));
  const one = join(dir, 'sorted.jsonl');
  await writeFile(one, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const report = await runAnalysis((async function* () {
    for await (const item of openSource(one, { format: 'jsonl', storeText: false }).items()) if (item.kind === 'event') yield item.event;
  })());
  assert.equal(report.late, 0);
  return report;
}

const permutations = <T>(xs: T[]): T[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));

test('three channel exports in every order: the report of one sorted pass, one network silence where all three are silent', async () => {
  await inTempDir(async (dir) => {
    const reference = await sortedPass(dir);
    const network = reference.gaps.filter((g) => g.scope === 'network');
    assert.equal(network.length, 1, JSON.stringify(network));
    assert.equal(network[0]!.subject, 'outlets');
    // From the last post before the silence to the first after it.
    assert.ok(Date.parse(network[0]!.start) < ALL_SILENT[0] && Date.parse(network[0]!.start) >= ALL_SILENT[0] - H, network[0]!.start);
    assert.ok(Date.parse(network[0]!.end!) >= ALL_SILENT[1] && Date.parse(network[0]!.end!) < ALL_SILENT[1] + H, network[0]!.end!);
    // Each channel's own day off is a channel gap, not a network one.
    assert.deepEqual(new Set(reference.gaps.filter((g) => g.scope === 'channel').map((g) => g.subject)), new Set(CHANNELS.map((c) => String(c.id))));

    const files = await writeOutletExports(dir);
    // What reading them one after another gave: most events late, the first file's gaps as the network's.
    const naive = await runAnalysis((async function* () {
      for (const f of files) for await (const item of openSource(f, { format: 'auto', network: 'outlets', storeText: false }).items()) if (item.kind === 'event') yield item.event;
    })());
    assert.ok(naive.late > naive.events / 2, `late ${naive.late} of ${naive.events}`);
    assert.notDeepEqual(naive.gaps, reference.gaps);
    for (const order of permutations(files)) {
      const { report, sortedOnDisk } = await analyzeFiles(order);
      assert.deepEqual(report, reference, order.join(' '));
      assert.deepEqual(sortedOnDisk, [], 'exports in order need no disk');
    }
  });
});

test('a shuffled export is sorted on disk (runs merged), with the same report; the runs are removed', async () => {
  await inTempDir(async (dir) => {
    const reference = await sortedPass(dir);
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const files = await writeOutletExports(dir, (ms) => {
      const a = [...ms];
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    });
    const { report, sortedOnDisk } = await analyzeFiles(files.reverse(), { reorderEvents: 50, runEvents: 100, tmpDir: dir });
    assert.deepEqual(report, reference);
    assert.deepEqual(sortedOnDisk, [0, 1, 2]);
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('tidewatch-sort-')), []);
  });
});

test('property: the events split over any number of files, each in any order, give the sorted pass', async () => {
  await inTempDir(async (dir) => {
    const reference = await sortedPass(dir);
    const events: ActivityEvent[] = [];
    for (const f of await writeOutletExports(dir)) for await (const item of openSource(f, { format: 'auto', network: 'outlets', storeText: false }).items()) if (item.kind === 'event') events.push(item.event);
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.nat(), { minLength: events.length, maxLength: events.length }),
        fc.boolean(),
        async (parts, keys, nearlyOrdered) => {
          // Either a shuffle, or each file in order but for small local swaps (what exports look like).
          const order = events.map((e, i) => ({ e, k: nearlyOrdered ? i + (keys[i]! % 8) : keys[i]! }));
          order.sort((a, b) => a.k - b.k);
          round++;
          const files: string[] = [];
          for (let p = 0; p < parts; p++) {
            const file = join(dir, `r${round}-part${p}.jsonl`);
            await writeFile(file, order.filter((_, i) => keys[i]! % parts === p).map(({ e }) => JSON.stringify(e)).join('\n') + '\n');
            files.push(file);
          }
          const { report } = await analyzeFiles(files, { reorderEvents: 16, runEvents: 500 });
          assert.deepEqual(report, reference);
        },
      ),
      { numRuns: 12 },
    );
  });
});
