import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, type ActivityEvent } from '../../pipeline/events/index.ts';
import { activity, figures, privateEngines, releaseEngines, Scenario } from './harness.ts';
import { RejectingProxy } from './rejecting-proxy.ts';

let sc: Scenario;
let proxy: RejectingProxy;
let proxyUrl: string;

before(async () => {
  const engines = await privateEngines();
  sc = new Scenario('es-rejections', engines);
  await sc.setup();
  // A month index created by hand with a type the events contradict: ES itself refuses them.
  await sc.client.indices.create({ index: `${sc.name}-activity-2016.01`, mappings: { dynamic: 'strict', properties: { channel: { properties: { handle: { type: 'date' } } } } } });
  // Every 4th of the first 40 bulk requests refused whole; a third of the documents refused
  // item by item on their first two attempts (as a full write queue does), so every retry path
  // runs. Whole-request refusals stop after a while: one fails the whole attempt of a batch
  // (the bulk helper aborts), so a steady 1-in-4 would make a 3-request batch start over until
  // chance lets all three through.
  proxy = new RejectingProxy(engines.esUrl, {
    rejectRequest: (n) => n % 4 === 0 && n <= 40,
    rejectItem: (id, attempt) => parseInt(id.slice(0, 4), 16) % 3 === 0 && attempt <= 2,
  });
  proxyUrl = await proxy.start();
});

after(async () => {
  await sc?.cleanup();
  await proxy?.close();
  releaseEngines();
});

test('bulk 429s are retried until written; mapping conflicts are dead-lettered with the reason', { timeout: 300_000 }, async () => {
  const valid = activity(sc.name, 20_000);
  const conflict = (i: number, ts: string, length = 10): ActivityEvent =>
    buildEvent({ timestamp: ts, action: 'post', channel: { id: `conflict-${i}`, handle: `not_a_date_${i}` }, message: { id: String(i), length }, source: { type: 'test' } });
  // Against the hand-made index: channel.handle is a date there.
  const wrongType = Array.from({ length: 100 }, (_, i) => conflict(i, new Date(Date.UTC(2016, 0, 10) + i * 60_000).toISOString()));
  // Against the real template: message.length is an `integer`, the event schema allows more.
  const outOfRange = Array.from({ length: 100 }, (_, i) => conflict(1000 + i, new Date(Date.UTC(2017, 10, 1) + i * 60_000).toISOString(), 3_000_000_000 + i));
  const refused = [...wrongType, ...outOfRange];
  const all = valid.flatMap((e, i) => (i % 100 === 0 && refused[i / 100] ? [e, refused[i / 100]!] : [e]));
  await (await sc.transport.publisher()).publish(all);

  const indexer = sc.consumer('indexer', {}, { url: proxyUrl });
  indexer.start();
  await sc.caughtUp(240_000);
  const stats = indexer.stats;
  await indexer.stop();

  const v = await sc.verify(new Set(valid.map((e) => e.event.id)));
  const letters = await sc.deadLetters();
  const byId = new Map(letters.map((l) => [(JSON.parse(Buffer.from(l.originalBase64, 'base64').toString('utf8')) as ActivityEvent).event.id, l]));
  figures('es-rejections', {
    in: all.length, indexed: v.indexed, dlq: letters.length, duplicates: v.duplicates, lost: v.lost, unexpected: v.unexpected,
    bulkRequests: proxy.stats.bulkRequests, rejected429Requests: proxy.stats.rejectedRequests, rejected429Items: proxy.stats.rejectedItems,
    retriedItems: stats?.retried ?? 0, indexerCrashes: indexer.crashes.length,
  });
  assert.ok(proxy.stats.rejectedRequests > 0 && proxy.stats.rejectedItems > 0, 'the proxy injected 429s');
  assert.equal(v.lost, 0);
  assert.equal(v.duplicates, 0);
  assert.equal(v.unexpected, 0);
  assert.equal(letters.length, refused.length, 'one dead letter per refused event');
  for (const e of wrongType) {
    const l = byId.get(e.event.id);
    assert.ok(l, `dead letter for ${e.channel.id}`);
    assert.equal(l.stage, 'index');
    assert.match(l.reason, /^400 (document_parsing_exception|mapper_parsing_exception): .*channel\.handle/);
  }
  for (const e of outOfRange) {
    const l = byId.get(e.event.id);
    assert.ok(l, `dead letter for ${e.channel.id}`);
    assert.equal(l.stage, 'index');
    assert.match(l.reason, /^400 (document_parsing_exception|mapper_parsing_exception): .*message\.length/);
    assert.match(l.source.offset, /^\d+$/);
  }
  assert.deepEqual(indexer.crashes, []);
  sc.passed = true;
});
