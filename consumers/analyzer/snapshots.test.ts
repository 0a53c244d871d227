import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzer } from '../../pipeline/analytics/analyzer.ts';
import { analyticsSchema } from '../../pipeline/analytics/options.ts';
import { restoreState, snapshotState } from '../../pipeline/analytics/state.ts';
import { buildEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { newMerge, type MergeState } from './merge.ts';
import { decodeStageState, encodeStageState } from './snapshots.ts';

const merge = (events: number): MergeState => {
  const m = newMerge(0, 1_000);
  // (A source not heard from, -Infinity, reads back as null, in every version: JSON has no infinities.)
  m.sources.set('0', [4_000, 1_000]);
  m.sources.set('1', [5_000, 2_000, true]);
  m.forwarded!.set('1', '41');
  for (let i = 0; i < events; i++) m.pending.push([i, `e${i}`, { '@timestamp': new Date(i).toISOString(), event: { id: `e${i}` }, channel: { id: `c${i % 7}` } } as unknown as ActivityEvent]);
  return m;
};
const parts = (events: number) => ({ state: { recent: new Set(['a', 'b']), counts: new Map([['c1', 3]]), hist: Float64Array.from([1, 2.5]) }, merge: merge(events), status: { members: new Map([['c1', { since: 7 }]]) } });

test('a stage state comes back from its snapshot as it was: small ones as JSON, large ones compressed', async () => {
  for (const events of [3, 20_000]) {
    const saved = parts(events);
    const text = await encodeStageState(saved);
    assert.equal(text.startsWith('gz:'), events > 3, `${events} events`);
    if (events > 3) assert.ok(text.length < snapshotState(saved).length / 4, `compressed to ${text.length} characters`);
    assert.deepEqual(decodeStageState(text), saved);
  }
});

test('a snapshot saved by an earlier version (snapshotState JSON of the whole) is read as before', async () => {
  const saved = parts(10);
  assert.deepEqual(decodeStageState(snapshotState(saved)), saved);
  assert.deepEqual(decodeStageState(await encodeStageState({ ...saved, merge: null, status: null })), { ...saved, merge: null, status: null });
});

test("the core's state reads back from a stage snapshot exactly as from snapshotState JSON of the whole", async () => {
  const st = analyzer.init(analyticsSchema.parse({}));
  for (let i = 0; i < 3_000; i++) {
    analyzer.step(st, buildEvent({
      timestamp: Date.UTC(2024, 0, 1) + i * 1_000,
      action: i % 500 === 499 ? 'channel_banned' : 'post',
      channel: { id: `c${i % 13}`, network: `n${i % 3}` },
      message: { id: String(i), media: 'text', length: 10 },
      ...(i % 7 ? {} : { links: ['https://t.me/x', 'https://vk.com/y'] }),
      source: { type: 'test' },
    }));
  }
  const saved = analyzer.saved(st);
  // The reorder buffer and the recent ids hold entries: the parts written without the replacer are there.
  assert.ok(saved.bufferEvents.length > 0 && saved.recentOrder.length > 0);
  const text = await encodeStageState({ state: saved, merge: null, status: null });
  assert.deepEqual(decodeStageState<{ state: unknown }>(text).state, restoreState(snapshotState(saved)));
});
