import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { elasticsearchSchema } from '../../pipeline/config/schema.ts';
import { buildEvent } from '../../pipeline/events/index.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { EsEventSink } from '../../pipeline/store/elasticsearch/sink.ts';
import { indexTemplates, installTemplates } from '../../pipeline/store/elasticsearch/templates.ts';
import { startCli } from '../../test/e2e/process.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from '../../test/engines.ts';

/**
 * `tidewatch setup` end to end against the real engines and a stand-in Kibana (it cannot run
 * here) that records what it is sent: the import lands under KIBANA_URL's base path and space,
 * and the dashboards are saved with a time range covering the data already in Elasticsearch.
 */
const name = uniqueName('twsetup');
const es = elasticsearchSchema.parse({ url: testElasticsearchUrl(), indexPrefix: name });
const client = createEsClient(es);
const dir = mkdtempSync(join(tmpdir(), 'tw-setup-'));
const topics = { KAFKA_TOPIC: `${name}.activity`, KAFKA_DLQ_TOPIC: `${name}.dlq`, network: `${name}.network`, findings: `${name}.findings` };

after(async () => {
  await client.indices.delete({ index: `${name}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  for (const t of indexTemplates(name)) await client.indices.deleteIndexTemplate({ name: t.name }).catch(() => {});
  await client.close();
  const admin = new Kafka({ clientId: name, brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topics.KAFKA_TOPIC, topics.KAFKA_DLQ_TOPIC, topics.network, topics.findings] }).catch(() => {});
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

test('setup imports into the space under the base path, with a saved range covering the data it finds', { timeout: 120_000 }, async () => {
  // History first: the 2015 wave and the 2019 migration, as an import before setup leaves them.
  await installTemplates(client, es);
  const at = ['2015-11-18T08:10:00Z', '2017-11-22T23:00:00Z', '2019-11-22T21:30:00Z'];
  const events = at.map((t, i) => buildEvent({ timestamp: t, action: 'post', channel: { id: `c${i}` }, message: { id: String(i) }, source: { type: 'test' } }));
  const written = await new EsEventSink(client, es, { flushBytes: 1_000_000, concurrency: 1 }).writeEvents(events);
  assert.ok(written.every((r) => r.status === 'written'));
  await client.indices.refresh({ index: `${name}-activity-*` });

  const requests: { path: string; body: string }[] = [];
  const kibana = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url!, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, successCount: 35 }));
    });
  });
  await new Promise<void>((r) => kibana.listen(0, '127.0.0.1', r));
  const { port } = kibana.address() as AddressInfo;
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ analyzer: { networkTopic: topics.network }, alerter: { findingsTopic: topics.findings } }));
  try {
    const cli = startCli(['--config', configFile, 'setup'], {
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      KAFKA_TOPIC: topics.KAFKA_TOPIC,
      KAFKA_DLQ_TOPIC: topics.KAFKA_DLQ_TOPIC,
      ELASTICSEARCH_URL: testElasticsearchUrl(),
      ELASTICSEARCH_INDEX_PREFIX: name,
      KIBANA_URL: `http://127.0.0.1:${port}/kibana/s/analysts/`,
    });
    await cli.waitFor(/Kibana dashboards' time range: .*\n/, 90_000);
    const code = cli.child.exitCode ?? (await once(cli.child, 'exit'))[0];
    assert.equal(code, 0, cli.stderr());
  } finally {
    await new Promise((r) => kibana.close(r));
  }

  assert.deepEqual(requests.map((r) => r.path), ['/kibana/s/analysts/api/saved_objects/_import?overwrite=true']);
  const objects = requests[0]!.body.split(/\r?\n/).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; id: string; attributes: Record<string, unknown> });
  const dashboards = objects.filter((o) => o.type === 'dashboard');
  assert.equal(dashboards.length, 5);
  for (const d of dashboards) {
    const from = Date.parse(String(d.attributes.timeFrom));
    const to = Date.parse(String(d.attributes.timeTo));
    assert.ok(from <= Date.parse(at[0]!) && to > Date.parse(at.at(-1)!), `${d.id}: ${String(d.attributes.timeFrom)} .. ${String(d.attributes.timeTo)}`);
    // Tight: the first day of the data to the end of its last, not a decade back from today.
    assert.equal(d.attributes.timeFrom, '2015-11-18T00:00:00.000Z');
    assert.equal(d.attributes.timeTo, '2019-11-23T00:00:00.000Z');
  }
});
