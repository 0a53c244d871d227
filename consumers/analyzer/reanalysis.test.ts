import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticsOptions, type Finding } from '../../pipeline/analytics/index.ts';
import { eventKey, type ActivityEvent } from '../../pipeline/events/index.ts';
import { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';
import type { FindingDoc } from '../../pipeline/store/types.ts';
import { partitionerFor } from '../../pipeline/transport/partitioner.ts';
import { hourlyPosts } from '../../test/fixtures/hourly-posts.ts';
import { reanalyze } from './reanalysis.ts';

const analytics = analyticsOptions({ gaps: { warmupDays: 1, warmupEvents: 10 } });
/** Twelve days with the fixture's three-day silence. */
const posts = (id: string): ActivityEvent[] => hourlyPosts(id, 0, 12);

test('a pass that stores only the held partitions\' findings (an analyzer instance without the network stage) writes and deletes nothing another instance is the authority for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidewatch-reanalysis-'));
  const store = await DuckDbStore.open(dir);
  try {
    const partitionOf = partitionerFor(4);
    const of = (e: ActivityEvent) => partitionOf(eventKey(e));
    const ids = ['101', '102', '103', '104', '105', '106', '107', '108'];
    const mine = ids.find((c) => of(posts(c)[0]!) === 1)!;
    const theirs = ids.find((c) => of(posts(c)[0]!) !== 1)!;
    await store.writeEvents([...posts(mine), ...posts(theirs)]);
    // Stored by the other instance (its channel's gap) and by the network stage: a pass over the
    // same events would not produce them, so a pass storing everything deletes them.
    const stale = (subject: string, scope: 'channel' | 'network'): FindingDoc =>
      ({ type: 'gap', id: `gap:${scope}:${subject}:stale`, scope, subject, start: '2026-01-06T00:00:00.000Z', end: '2026-01-07T00:00:00.000Z', hours: 24, baselineHours: 8, unprecedented: true, previousLongestHours: null }) as Finding as FindingDoc;
    await store.writeFindings([stale(`h${theirs}`, 'channel'), stale('net', 'network'), stale(`h${mine}`, 'channel')]);
    await store.refresh();

    const result = await reanalyze({ store, analytics, partitions: { of, held: [1], storeHeldOnly: true } });
    await store.refresh();
    const gaps = (await store.findings('gap', { limit: 100 })) as Extract<Finding, { type: 'gap' }>[];
    const stored = gaps.map((g) => `${g.scope} ${g.subject} ${g.start}`).sort();
    assert.deepEqual(stored, [
      `channel h${mine} 2026-01-09T11:00:00.000Z`,
      `channel h${theirs} 2026-01-06T00:00:00.000Z`,
      'network net 2026-01-06T00:00:00.000Z',
    ].sort(), 'the held channel\'s gap found and its stale one removed; the other instance\'s and the network stage\'s left as they were');
    assert.equal(result.removed, 1);
    assert.ok(result.partitionStates.has(1), 'the held partition\'s state rebuilt');
    // Without the restriction (the instance holding the network stage) the same pass replaces everything.
    await reanalyze({ store, analytics, partitions: { of, held: [1] } });
    await store.refresh();
    const all = ((await store.findings('gap', { limit: 100 })) as Extract<Finding, { type: 'gap' }>[]).map((g) => `${g.scope} ${g.subject} ${g.start}`).sort();
    assert.deepEqual(all, [`channel h${mine} 2026-01-09T11:00:00.000Z`, `channel h${theirs} 2026-01-09T11:00:00.000Z`, 'network net 2026-01-09T11:00:00.000Z'].sort());
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
