import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@elastic/elasticsearch';
import { elasticsearchSchema } from '../../pipeline/config/schema.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { activityIndex, indexTemplates, installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { testElasticsearchUrl, uniqueName } from '../../test/engines.ts';
import type { RuntimeField } from './lens.ts';
import { savedObjects } from './objects.ts';
import { incompatibility, usedFields } from './testing.ts';

/**
 * The saved objects against the real mapping: the indices are created from tidewatch's own
 * templates on the real Elasticsearch node and `_mapping` is read back, so a renamed or retyped
 * field breaks this test, not an analyst's dashboard.
 */
const prefix = uniqueName('twkb');
const config = elasticsearchSchema.parse({ url: testElasticsearchUrl(), indexPrefix: prefix });
let client: Client;
/** Index pattern -> field path -> type, as Elasticsearch reports it. */
const fieldsByPattern = new Map<string, Map<string, string>>();

function flatten(properties: Record<string, { type?: string; properties?: Record<string, unknown>; fields?: Record<string, { type: string }> }>, into: Map<string, string>, path = ''): void {
  for (const [name, def] of Object.entries(properties)) {
    const full = path + name;
    if (def.properties) flatten(def.properties as never, into, `${full}.`);
    else into.set(full, def.type ?? 'object');
    for (const [sub, subDef] of Object.entries(def.fields ?? {})) into.set(`${full}.${sub}`, subDef.type);
  }
}

before(async () => {
  client = createEsClient(config);
  await installTemplates(client, config);
  const indices = [activityIndex(prefix, '2019-11-22T00:00:00Z'), ...indexTemplates(prefix).slice(1).map((t) => t.indexPatterns[0]!)];
  for (const index of indices) await client.indices.create({ index });
  const mappings = await client.indices.getMapping({ index: `${prefix}-*` });
  for (const t of indexTemplates(prefix)) {
    const fields = new Map<string, string>();
    for (const [index, m] of Object.entries(mappings)) {
      if (t.indexPatterns.some((p) => new RegExp(`^${p.replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`).test(index))) {
        flatten((m.mappings.properties ?? {}) as never, fields);
      }
    }
    fieldsByPattern.set(t.indexPatterns[0]!, fields);
  }
});

after(async () => {
  await client.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  for (const t of indexTemplates(prefix)) await client.indices.deleteIndexTemplate({ name: t.name }).catch(() => {});
  await client.close();
});

test('every data view matches indices created from the templates', () => {
  for (const dv of savedObjects(prefix).filter((o) => o.type === 'index-pattern')) {
    const fields = fieldsByPattern.get(String(dv.attributes.title));
    assert.ok(fields && fields.size > 0, `data view ${dv.id} (${String(dv.attributes.title)}) matches no template`);
  }
});

test('every field a data view or visualization uses exists in the real mapping with a compatible type', () => {
  const objects = savedObjects(prefix);
  const views = new Map(objects.filter((o) => o.type === 'index-pattern').map((o) => [o.id, o]));
  const problems: string[] = [];
  const uses = usedFields(objects);
  assert.ok(uses.length > 80, `only ${uses.length} field uses found: the walker is missing columns`);
  for (const u of uses) {
    const dv = views.get(u.dataViewId);
    if (!dv) {
      problems.push(`${u.object}: data view ${u.dataViewId} does not exist`);
      continue;
    }
    const runtime = JSON.parse(String(dv.attributes.runtimeFieldMap)) as Record<string, RuntimeField>;
    const type = runtime[u.field]?.type ?? fieldsByPattern.get(String(dv.attributes.title))?.get(u.field);
    if (!type) problems.push(`${u.object}: ${u.field} (${u.use}) is not in the mapping of ${String(dv.attributes.title)}`);
    else {
      const why = incompatibility(u.use, type);
      if (why) problems.push(`${u.object}: ${u.field}: ${why}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the link.domain runtime field of the activity data view runs on the real node', async (t) => {
  const dv = savedObjects(prefix).find((o) => o.id === `${prefix}-activity`)!;
  const runtime = JSON.parse(String(dv.attributes.runtimeFieldMap)) as Record<string, RuntimeField>;
  const index = activityIndex(prefix, '2019-11-22T00:00:00Z');
  const doc = (id: string, links: string[]) => ({
    '@timestamp': '2019-11-22T10:00:00Z', event: { id, action: 'post' }, platform: 'telegram', channel: { id: '1' }, links, source: { type: 'test' },
  });
  await client.bulk({
    refresh: true,
    operations: [
      { index: { _index: index, _id: 'a' } }, doc('a', ['https://www.TamTam.chat/nashir_1', 'xmpp:nashir1@conference.jabber.example.org?join']),
      { index: { _index: index, _id: 'b' } }, doc('b', ['https://tt.me/ansar_2', 'https://open.rocket.chat:443/invite/x']),
      { index: { _index: index, _id: 'c' } }, doc('c', []),
    ],
  });
  let res;
  try {
    res = await client.search({
      index: `${prefix}-activity-*`,
      size: 0,
      runtime_mappings: runtime as never,
      aggs: { d: { terms: { field: 'link.domain', size: 10, order: { _key: 'asc' } } } },
    });
  } catch (err) {
    // The Maven Central artifact the services script runs is the minimal distribution, without
    // the painless module every packaged Elasticsearch (and Kibana's runtime fields) has.
    if (/script_lang not supported \[painless\]/.test(String((err as Error).message) + JSON.stringify((err as { meta?: { body?: unknown } }).meta?.body ?? ''))) {
      t.skip('this Elasticsearch node has no painless module (minimal distribution)');
      return;
    }
    throw err;
  }
  const buckets = (res.aggregations as { d: { buckets: { key: string; doc_count: number }[] } }).d.buckets;
  assert.deepEqual(buckets.map((b) => b.key), ['conference.jabber.example.org', 'open.rocket.chat', 'tamtam.chat', 'tt.me']);
});
