import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Column, SavedObject } from './lens.ts';
import { savedObjects, savedObjectsNdjson } from './objects.ts';
import { kqlFields, kqlToQuery } from './testing.ts';
import { dashboardTime, MAX_BARS, type DashboardTime } from './time.ts';

const shipped = readFileSync(new URL('./tidewatch.ndjson', import.meta.url), 'utf8');

test('tidewatch.ndjson is the generator output for the default prefix (regenerate: node --import tsx dashboards/kibana/export.ts)', () => {
  assert.equal(shipped, savedObjectsNdjson('tidewatch'));
});

test('the NDJSON parses line by line and every id is unique, across types too (no data view and Lens object share one)', () => {
  const objects = shipped.trimEnd().split('\n').map((line) => JSON.parse(line) as SavedObject);
  const ids = objects.map((o) => o.id);
  assert.deepEqual(ids.filter((id, i) => ids.indexOf(id) !== i), []);
  assert.deepEqual(new Set(objects.map((o) => o.type)), new Set(['index-pattern', 'lens', 'dashboard']));
});

test('every reference resolves to an object of the file, and objects come after what they reference', () => {
  const objects = savedObjects('tidewatch');
  const seen = new Set<string>();
  for (const o of objects) {
    for (const r of o.references) assert.ok(seen.has(`${r.type}/${r.id}`), `${o.type}/${o.id} references ${r.type}/${r.id}, which is missing or comes later`);
    seen.add(`${o.type}/${o.id}`);
  }
});

test('the five dashboards: every panel has its reference, and every visualization is on a dashboard', () => {
  const objects = savedObjects('tidewatch');
  const dashboards = objects.filter((o) => o.type === 'dashboard');
  assert.deepEqual(dashboards.map((d) => d.attributes.title), [
    'tidewatch: Overview', 'tidewatch: Silence gaps', 'tidewatch: Platform migration', 'tidewatch: Takedowns & resurrections', 'tidewatch: Spikes & alerts',
  ]);
  const onDashboards = new Set<string>();
  for (const d of dashboards) {
    const panels = JSON.parse(d.attributes.panelsJSON as string) as { panelRefName: string; panelIndex: string; gridData: { x: number; w: number } }[];
    assert.ok(panels.length >= 4, `${d.id} has ${panels.length} panels`);
    for (const p of panels) {
      const ref = d.references.find((r) => r.name === p.panelRefName);
      assert.ok(ref, `${d.id} panel ${p.panelIndex} has no reference ${p.panelRefName}`);
      assert.ok(objects.some((o) => o.type === ref.type && o.id === ref.id), `${d.id} panel ${p.panelIndex} -> ${ref.type}/${ref.id} does not exist`);
      assert.ok(p.gridData.x + p.gridData.w <= 48, `${d.id} panel ${p.panelIndex} is wider than the grid`);
      onDashboards.add(ref.id);
    }
  }
  for (const o of objects.filter((x) => x.type === 'lens')) assert.ok(onDashboards.has(o.id), `${o.id} is on no dashboard`);
});

test('a custom index prefix renames every id and index pattern', () => {
  const objects = savedObjects('acme');
  for (const o of objects) assert.ok(o.id.startsWith('acme-'), o.id);
  for (const o of objects.filter((x) => x.type === 'index-pattern')) assert.match(String(o.attributes.title), /^acme-/);
});

test('kqlFields reads field names, not values', () => {
  assert.deepEqual(kqlFields('type : "migration" and kind : "first_seen"'), ['type', 'kind']);
  assert.deepEqual(kqlFields('not end : *'), ['end']);
  assert.deepEqual(kqlFields('links : *tt.me* or links : xmpp\\:*'), ['links', 'links']);
  assert.deepEqual(kqlFields('message : "a: b"'), ['message']);
});

test('the takedown waves table lists the channels of each wave next to the counts', () => {
  const wave = savedObjects('tidewatch').find((o) => o.id === 'tidewatch-takedown-waves')!;
  const layer = (wave.attributes.state as { datasourceStates: { formBased: { layers: Record<string, { columns: Record<string, { sourceField?: string; operationType: string; params?: Record<string, unknown> }>; columnOrder: string[] }> } } })
    .datasourceStates.formBased.layers.layer1!;
  const names = layer.columns.names!;
  assert.deepEqual([names.sourceField, names.operationType, names.params?.showArrayValues], ['subjects', 'last_value', true]);
  assert.equal(layer.columnOrder.at(-1), 'names');
  assert.equal(layer.columns.ch?.sourceField, 'channels');
});

interface Layer {
  columns: Record<string, Column>;
  columnOrder: string[];
}
const layerOf = (o: SavedObject) => (o.attributes.state as { datasourceStates: { formBased: { layers: Record<string, Layer> } } }).datasourceStates.formBased.layers.layer1!;
const lensObjects = (objects: SavedObject[]) => objects.filter((o) => o.type === 'lens');

test('breakdown charts rank their top values over the whole range: terms before the date histogram, metrics last', () => {
  const objects = savedObjects('tidewatch');
  const breakdowns = ['activity-by-network', 'activity-by-language', 'bans-per-day', 'alerts-over-time', 'links-by-platform'];
  for (const name of breakdowns) {
    const layer = layerOf(objects.find((o) => o.id === `tidewatch-${name}`)!);
    const ops = layer.columnOrder.map((c) => layer.columns[c]!.operationType);
    assert.ok(['terms', 'filters'].includes(ops[0]!) && ops[1] === 'date_histogram', `${name}: ${ops.join(', ')}`);
  }
  // And the rule holds everywhere: no bucket column after a metric, no breakdown after a histogram.
  for (const o of lensObjects(objects)) {
    const layer = layerOf(o);
    const rank = layer.columnOrder.map((c) => (!layer.columns[c]!.isBucketed ? 2 : layer.columns[c]!.operationType === 'date_histogram' ? 1 : 0));
    assert.deepEqual(rank, [...rank].sort(), o.id);
    assert.deepEqual([...layer.columnOrder].sort(), Object.keys(layer.columns).sort(), o.id);
  }
});

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-04T12:00:00Z');

test('the saved range covers the data: from its first day to the end of its last, or to now while it is live', () => {
  const history = dashboardTime({ firstAt: '2015-09-21T23:59:00Z', lastAt: '2019-12-31T18:00:00Z' }, NOW);
  assert.deepEqual([history.from, history.to], ['2015-09-21T00:00:00.000Z', '2020-01-01T00:00:00.000Z']);
  const live = dashboardTime({ firstAt: '2015-09-21T10:00:00Z', lastAt: new Date(NOW - 3 * DAY).toISOString() }, NOW);
  assert.deepEqual([live.from, live.to], ['2015-09-21T00:00:00.000Z', 'now']);
  // Nothing yet (setup before the first import): the last 30 days, daily.
  assert.deepEqual(dashboardTime(null, NOW), { from: 'now-30d', to: 'now', dayInterval: '1d', bucketName: 'Day' });
  for (const d of savedObjects('tidewatch', { time: history }).filter((o) => o.type === 'dashboard')) {
    assert.deepEqual([d.attributes.timeRestore, d.attributes.timeFrom, d.attributes.timeTo], [true, history.from, history.to], d.id);
    // No 60 s auto-refresh of every panel over the whole range.
    assert.equal((d.attributes.refreshInterval as { pause: boolean }).pause, true, d.id);
  }
});

const bars = (t: DashboardTime, nowMs: number) => {
  const span = ((t.to === 'now' ? nowMs : Date.parse(t.to)) - Date.parse(t.from)) / DAY;
  const shortest = { '1d': 1, '1w': 7, '1M': 28, '1y': 365 }[t.dayInterval];
  return Math.ceil(span / shortest) + 1;
};

test('per-day panels: daily when the range allows, else the finest calendar interval under histogram:maxBars, values still per day', () => {
  const cases: [string, string, DashboardTime['dayInterval']][] = [
    ['2017-11-01T00:00:00Z', '2017-12-31T00:00:00Z', '1d'],
    ['2017-01-01T00:00:00Z', '2018-06-30T00:00:00Z', '1w'],
    ['2015-09-01T00:00:00Z', '2019-12-31T00:00:00Z', '1M'],
    ['2013-08-14T00:00:00Z', '2026-11-01T00:00:00Z', '1y'],
  ];
  for (const [firstAt, lastAt, interval] of cases) {
    const time = dashboardTime({ firstAt, lastAt }, NOW);
    assert.equal(time.dayInterval, interval, `${firstAt}..${lastAt}`);
    assert.ok(bars(time, NOW) <= MAX_BARS, `${firstAt}..${lastAt}: ${bars(time, NOW)} bars`);
    const objects = savedObjects('tidewatch', { time });
    const perDay = lensObjects(objects).filter((o) => /per day/.test(String(o.attributes.title)));
    assert.deepEqual(perDay.map((o) => o.id).sort(), ['tidewatch-bans-per-day', 'tidewatch-bans-reported', 'tidewatch-off-platform-share']);
    for (const o of perDay) {
      const columns = Object.values(layerOf(o).columns);
      const x = columns.find((c) => c.operationType === 'date_histogram')!;
      assert.equal(x.params?.interval, interval, o.id);
      assert.equal(x.label, time.bucketName, o.id);
      // A count is normalised per day; other metrics are daily values (a mean or the largest of the days).
      for (const c of columns.filter((c) => c.operationType === 'count')) assert.equal(c.timeScale, 'd', o.id);
      if (interval !== '1d') assert.match(`${o.attributes.description} ${columns.map((c) => c.label).join(' ')}`, /mean|largest|per day/i, o.id);
    }
  }
});

test('kqlToQuery: the Elasticsearch query Kibana builds for the KQL subset the panels use, and refuses the rest', () => {
  assert.deepEqual(kqlToQuery('link.platform : "tamtam"'), { match_phrase: { 'link.platform': 'tamtam' } });
  assert.deepEqual(kqlToQuery('link.platform : *'), { exists: { field: 'link.platform' } });
  assert.deepEqual(kqlToQuery('type : "migration" and not (kind : a or kind : "b c")'), {
    bool: { filter: [{ match_phrase: { type: 'migration' } }, { bool: { must_not: [{ bool: { should: [{ match: { kind: 'a' } }, { match_phrase: { kind: 'b c' } }], minimum_should_match: 1 } }] } }] },
  });
  assert.deepEqual(kqlToQuery(''), { match_all: {} });
  assert.throws(() => kqlToQuery('links : *t.me*'), /wildcard/);
  assert.throws(() => kqlToQuery('count >= 3'), /subset|expected/);
});
