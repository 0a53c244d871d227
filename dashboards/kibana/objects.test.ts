import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { SavedObject } from './lens.ts';
import { savedObjects, savedObjectsNdjson } from './objects.ts';
import { kqlFields } from './testing.ts';

const shipped = readFileSync(new URL('./tidewatch.ndjson', import.meta.url), 'utf8');

test('tidewatch.ndjson is the generator output for the default prefix (regenerate: node --import tsx dashboards/kibana/export.ts)', () => {
  assert.equal(shipped, savedObjectsNdjson('tidewatch'));
});

test('the NDJSON parses line by line and ids are unique per type', () => {
  const objects = shipped.trimEnd().split('\n').map((line) => JSON.parse(line) as SavedObject);
  const keys = objects.map((o) => `${o.type}/${o.id}`);
  assert.equal(new Set(keys).size, keys.length);
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
