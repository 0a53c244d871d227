import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, eventId, type ActivityEvent } from '../../pipeline/events/index.ts';
import { figures, privateEngines, releaseEngines, Scenario } from './harness.ts';

let sc: Scenario;

before(async () => {
  sc = new Scenario('adversarial', await privateEngines());
  await sc.setup();
});

after(async () => {
  await sc?.cleanup();
  releaseEngines();
});

const post = (channel: ActivityEvent['channel'], ts: number | string, id: string) =>
  buildEvent({ timestamp: ts, action: 'post', channel, message: { id }, source: { type: 'test' } });

/** A valid event's JSON with its `@timestamp` spelled as given (same instant, another zone). */
function spelled(e: ActivityEvent, timestamp: string): string {
  const id = eventId({ platform: e.platform, channelId: e.channel.id, action: e.event.action, messageId: e.message?.id, timestamp });
  return JSON.stringify({ ...e, '@timestamp': timestamp, event: { ...e.event, id } });
}

test('adversarial data: huge, deep, broken and hostile messages are dead-lettered or stored verbatim; memory stays bounded over 100,000 channels', { timeout: 300_000 }, async () => {
  const now = Date.now();
  const titles = [
    'قناة الأخبار العاجلة', 'ערוץ חדשות \u200Fבדיקה\u200E', '\u202Egnp.exe\u202C', 'zero\u200Bwidth\u200C\u200Djoin\u2060\uFEFFers',
    '<script>alert(1)</script>', '"><img src=x onerror=alert(document.cookie)>', "'; DROP TABLE channels; --", '{{constructor.constructor("alert(1)")()}}',
    'Z\u0337\u031B\u0324a\u0336l\u0335g\u0338o', '👩‍👩‍👧‍👦 \uD83D\uDE00', '\u0000\u0001\u0007 control', 'x'.repeat(512),
  ];
  const hostile = titles.map((title, i) => post({ id: `hostile-${i}`, handle: `h\u200B${i}`, title, language: 'ar' }, Date.UTC(2019, 5, 1) + i * 1000, String(i)));
  const okTimes = [post({ id: 'time-2000' }, '2000-01-01T00:00:00.000Z', '1'), post({ id: 'time-soon' }, now + 23 * 3600_000, '1')];
  // The same instant written in two zones is the same event (same id): one document.
  const zoned = post({ id: 'zoned' }, '2018-01-01T04:30:00.000Z', '1');
  // Invalid UTF-8 inside a string: decoded to U+FFFD, the rest of the event intact.
  const brokenTitle = post({ id: 'broken-utf8', title: 'AAAA' }, Date.UTC(2019, 0, 1), '1');
  const brokenBytes = Buffer.from(JSON.stringify(brokenTitle));
  brokenBytes.set([0xff, 0xc3, 0x28, 0xa0], brokenBytes.indexOf('AAAA'));

  const depth = 100_000;
  const refused: { value: Buffer; why: RegExp; what: string }[] = [
    ...[0, 1, 2].map((i) => ({ value: Buffer.from(JSON.stringify({ ...post({ id: `big-${i}` }, Date.UTC(2019, 0, 1), '1'), padding: 'p'.repeat(1_000_000 - 300 - i) })), why: /over the 262144-byte limit/, what: '1 MB message' })),
    { value: Buffer.from('['.repeat(depth) + ']'.repeat(depth)), why: /^\(event\): .*expected object/, what: 'arrays nested 100,000 deep' },
    { value: Buffer.from(JSON.stringify(post({ id: 'deep' }, Date.UTC(2019, 0, 1), '1')).replace('"source":', `"labels":${'['.repeat(depth)}${']'.repeat(depth)},"source":`)), why: /^labels\.0: /, what: 'deep labels' },
    { value: Buffer.from(`{"channel":${'{"id":'.repeat(30_000)}1${'}'.repeat(30_000)}}`), why: /channel\.id: /, what: 'objects nested 30,000 deep' },
    ...[['1999-12-31T23:59:59.999Z', /before 2000-01-01/], ['1970-01-01T00:00:00Z', /before 2000-01-01/], [new Date(now + 25 * 3600_000).toISOString(), /more than 24 h in the future/], ['9999-12-31T23:59:59Z', /more than 24 h in the future/]].map(
      ([ts, why], i) => ({ value: Buffer.from(spelled(post({ id: `time-bad-${i}` }, Date.UTC(2019, 0, 1), '1'), ts as string)), why: why as RegExp, what: `timestamp ${ts as string}` }),
    ),
  ];

  const CHANNELS = 100_000;
  const many = Array.from({ length: CHANNELS }, (_, i) => post({ id: `ch-${i}-${'x'.repeat(100)}`, handle: `ch_${i}`, network: `net-${i % 5000}` }, Date.UTC(2020, 2, 1) + i * 1000, String(i)));

  const publisher = await sc.transport.publisher();
  await publisher.publishRaw([
    ...hostile.map((e) => ({ key: e.channel.id, value: JSON.stringify(e) })),
    ...okTimes.map((e) => ({ key: e.channel.id, value: JSON.stringify(e) })),
    { key: 'zoned', value: JSON.stringify(zoned) },
    { key: 'broken', value: brokenBytes },
    ...refused.map((r, i) => ({ key: `refused-${i}`, value: r.value })),
  ]);
  await publisher.publish(many);

  const indexer = sc.consumer('indexer');
  indexer.start();
  await sc.caughtUp(240_000);
  // The same instant in another zone, in a later batch (within one batch the indexer drops it
  // before Elasticsearch sees it): its month in that zone is another monthly index.
  await publisher.publishRaw([{ key: 'zoned', value: spelled(zoned, '2017-12-31T23:30:00-05:00') }]);
  await sc.caughtUp(60_000);
  await indexer.stop();

  const expected = new Set([...hostile, ...okTimes, zoned, brokenTitle, ...many].map((e) => e.event.id));
  const v = await sc.verify(expected);
  const letters = await sc.deadLetters();
  const stored = await sc.client.search<ActivityEvent>({ index: `${sc.name}-activity-*`, size: 100, query: { prefix: { 'channel.id': 'hostile-' } } });
  const titleOf = new Map(stored.hits.hits.map((h) => [h._source!.channel.id, h._source!.channel.title]));
  const broken = await sc.client.search<ActivityEvent>({ index: `${sc.name}-activity-*`, query: { term: { 'channel.id': 'broken-utf8' } } });
  figures('adversarial', {
    in: hostile.length + okTimes.length + 2 + 1 + refused.length + many.length, indexed: v.indexed, dlq: letters.length, duplicates: v.duplicates,
    lost: v.lost, unexpected: v.unexpected, distinctChannels: CHANNELS, indexerPeakRssMB: Math.round(indexer.peakRssKb / 1024),
  });

  assert.equal(v.lost, 0);
  assert.equal(v.duplicates, 0, 'one instant in two zones is one document');
  assert.equal(v.unexpected, 0);
  for (const e of hostile) assert.equal(titleOf.get(e.channel.id), e.channel.title, `title of ${e.channel.id} stored verbatim`);
  assert.equal(broken.hits.hits[0]?._source?.channel.title, '\uFFFD\uFFFD(\uFFFD', 'invalid UTF-8 becomes U+FFFD, the event is kept');
  assert.equal(letters.length, refused.length);
  for (const r of refused) {
    const l = letters.find((x) => r.value.subarray(0, 64).equals(Buffer.from(x.originalBase64, 'base64').subarray(0, 64)) && r.why.test(x.reason));
    assert.ok(l, `dead letter for ${r.what}`);
    assert.ok(r.value.subarray(0, Buffer.from(l.originalBase64, 'base64').length).equals(Buffer.from(l.originalBase64, 'base64')), `the letter for ${r.what} holds its bytes (or their start)`);
  }
  // The indexer keeps nothing per channel: its memory is the batch in flight, whatever the cardinality.
  assert.ok(indexer.peakRssKb < 768 * 1024, `indexer peak RSS ${Math.round(indexer.peakRssKb / 1024)} MB`);
  assert.deepEqual(indexer.crashes, []);
  sc.passed = true;
});
