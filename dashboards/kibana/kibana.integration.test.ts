import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@elastic/elasticsearch';
import { elasticsearchSchema } from '../../pipeline/config/schema.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { activityIndex, indexTemplates, installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { testElasticsearchUrl, uniqueName } from '../../test/engines.ts';
import { Indexer } from '../../consumers/indexer/indexer.ts';
import { BUNDLED_CATALOGUE } from '../../pipeline/analytics/links.ts';
import { buildEvent } from '../../pipeline/events/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import { EsEventSink } from '../../pipeline/store/elasticsearch/sink.ts';
import { activityMapping } from '../../pipeline/store/elasticsearch/templates.ts';
import type { Transport } from '../../pipeline/transport/types.ts';
import type { Column, SavedObject } from './lens.ts';
import { savedObjects } from './objects.ts';
import { incompatibility, kqlToQuery, usedFields } from './testing.ts';

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
    const type = fieldsByPattern.get(String(dv.attributes.title))?.get(u.field);
    if (!type) problems.push(`${u.object}: ${u.field} (${u.use}) is not in the mapping of ${String(dv.attributes.title)}`);
    else {
      const why = incompatibility(u.use, type);
      if (why) problems.push(`${u.object}: ${u.field}: ${why}`);
    }
  }
  assert.deepEqual(problems, []);
});

/**
 * A fixed set of links, indexed the way the deployment does it (the indexer's handler into the
 * bulk sink, which stores `link.domain` / `link.platform`): mixed case, www., tt.me (TamTam)
 * beside t.me (Telegram), "t.me" inside another site's path, a link-less post.
 */
const LINKS: Record<string, string[]> = {
  a: ['https://www.TamTam.chat/nashir_1', 'xmpp:nashir1@conference.jabber.example.org?join'],
  b: ['https://tt.me/ansar_2', 'https://open.rocket.chat:443/invite/x'],
  c: ['HTTPS://T.ME/joinchat/abc'],
  d: ['https://t.me/news', 'https://TT.me/news', 'https://t.me/other'],
  e: ['https://example.com/t.me/page'],
  f: [],
  g: ['https://CHAT.WhatsApp.com/invite'],
};
/** Events per platform, by hand (not by the classifier under test). */
const EXPECTED_PLATFORMS: Record<string, number> = { tamtam: 3, telegram: 2, xmpp: 1, rocketchat: 1, whatsapp: 1 };
const EXPECTED_DOMAINS = { 'chat.whatsapp.com': 1, 'conference.jabber.example.org': 1, 'example.com': 1, 'open.rocket.chat': 1, 't.me': 2, 'tamtam.chat': 1, 'tt.me': 2 };

async function indexLinks(): Promise<void> {
  const records = Object.entries(LINKS).map(([k, links], i) => {
    const e = buildEvent({ timestamp: Date.UTC(2019, 10, 22, 10, i), action: 'post', channel: { id: `ch-${k}` }, message: { id: k }, links, source: { type: 'test' } });
    return { topic: 't', partition: 0, offset: String(i), key: null, value: Buffer.from(JSON.stringify(e)) };
  });
  const indexer = new Indexer({
    transport: {} as Transport,
    sink: new EsEventSink(client, config, { flushBytes: 1_000_000, concurrency: 1 }),
    deadLetters: { write: async (l) => assert.fail(`dead letters: ${JSON.stringify(l)}`) },
    options: { groupId: 'g', storeText: false, retries: 3, retryInitialDelayMs: 100, retryMaxDelayMs: 1_000, maxBatchRecords: 100, concurrentPartitions: 1, flushBytes: 4_000_000, concurrency: 3 },
    log: createLogger('silent'),
  });
  await indexer.handle({ topic: 't', partition: 0, records, heartbeat: async () => {}, isStale: () => false });
  assert.equal(indexer.stats.indexed, records.length);
  await client.indices.refresh({ index: `${prefix}-activity-*` });
}

const layerOf = (o: SavedObject) =>
  (o.attributes.state as { datasourceStates: { formBased: { layers: Record<string, { columns: Record<string, Column> }> } }; query: { query: string } });

test('each platform panel counts the fixed links exactly, with its own query on the real node', async () => {
  await indexLinks();
  const objects = savedObjects(prefix);
  const count = async (kql: string, base: string) =>
    (await client.count({ index: `${prefix}-activity-*`, query: { bool: { filter: [kqlToQuery(base), kqlToQuery(kql)] } } })).count;

  const panel = objects.find((o) => o.id === `${prefix}-links-by-platform`)!;
  const state = layerOf(panel);
  const split = Object.values(state.datasourceStates.formBased.layers.layer1!.columns).find((c) => c.operationType === 'filters')!;
  const filters = split.params!.filters as { label: string; input: { query: string } }[];
  const messengers = BUNDLED_CATALOGUE.filter((p) => p.kind === 'messenger');
  assert.deepEqual(filters.map((f) => f.label), messengers.map((p) => p.name));
  const got: Record<string, number> = {};
  for (const [i, f] of filters.entries()) got[messengers[i]!.id] = await count(f.input.query, state.query.query);
  const want = Object.fromEntries(messengers.map((p) => [p.id, EXPECTED_PLATFORMS[p.id] ?? 0]));
  assert.deepEqual(got, want);
  // The panel's own query: every event with a classified link, and nothing else.
  assert.equal(await count('', state.query.query), Object.values(LINKS).filter((l) => l.length).length);

  const domains = objects.find((o) => o.id === `${prefix}-top-domains`)!;
  const terms = Object.values(layerOf(domains).datasourceStates.formBased.layers.layer1!.columns).find((c) => c.operationType === 'terms')!;
  const res = await client.search({ index: `${prefix}-activity-*`, size: 0, query: kqlToQuery(layerOf(domains).query.query), aggs: { d: { terms: { field: terms.sourceField!, size: 25 } } } });
  const buckets = (res.aggregations as { d: { buckets: { key: string; doc_count: number }[] } }).d.buckets;
  assert.deepEqual(Object.fromEntries(buckets.map((b) => [b.key, b.doc_count]).sort()), EXPECTED_DOMAINS);
});

test('an activity index created before the link fields gets them from installTemplates, so new events are not refused', async () => {
  const index = activityIndex(prefix, '2015-11-18T00:00:00Z');
  const { link: _link, ...older } = (activityMapping as { properties: Record<string, unknown> }).properties;
  // As an earlier version left it: its template, and so its index, without `link`.
  await client.indices.deleteIndexTemplate({ name: `${prefix}-activity` });
  await client.indices.create({ index, mappings: { dynamic: 'strict', properties: older } as never });
  await installTemplates(client, config);
  const e = buildEvent({ timestamp: Date.UTC(2015, 10, 18, 12), action: 'post', channel: { id: 'old' }, message: { id: '1' }, links: ['https://tt.me/x'], source: { type: 'test' } });
  const results = await new EsEventSink(client, config, { flushBytes: 1_000_000, concurrency: 1 }).writeEvents([{ ...e, link: { domain: ['tt.me'], platform: ['tamtam'] } }]);
  assert.deepEqual(results, [{ id: e.event.id, status: 'written' }]);
});
