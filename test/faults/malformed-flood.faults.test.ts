import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { activity, figures, privateEngines, releaseEngines, Scenario, waitUntil } from './harness.ts';

let sc: Scenario;

before(async () => {
  sc = new Scenario('malformed-flood', await privateEngines());
  await sc.setup();
});

after(async () => {
  await sc?.cleanup();
  releaseEngines();
});

/** Ten ways to be malformed, each payload unique (it carries `i`), with the reason expected for it. */
function malformed(i: number, template: Record<string, unknown>): { value: Buffer; why: RegExp } {
  const e = structuredClone(template) as Record<string, any>;
  e.message.id = `bad-${i}`;
  switch (i % 10) {
    case 0: return { value: Buffer.from(`{"@timestamp":"2017-11-22T09:00:00Z","event":{"id":"${i}"`), why: /^not valid JSON/ };
    case 1: return { value: Buffer.from(`[${i}]`), why: /^\(event\): .*expected object/ };
    case 2: delete e.channel; return { value: Buffer.from(JSON.stringify(e)), why: /^channel: / };
    case 3: e[`extra${i}`] = true; return { value: Buffer.from(JSON.stringify(e)), why: /unknown field\(s\) "extra\d+"/ };
    case 4: return { value: Buffer.from(JSON.stringify(e)), why: /^event\.id: does not match/ };
    case 5: e['@timestamp'] = `2017-13-45T09:00:${String(i % 60).padStart(2, '0')}Z`; return { value: Buffer.from(JSON.stringify(e)), why: /^@timestamp: / };
    case 6: return { value: Buffer.from(' '.repeat(i % 7) + '\n'.repeat(1 + (i % 3)) + String.fromCharCode(97 + (i % 26)).repeat(i)), why: /^not valid JSON/ };
    case 7: e.event.action = `shout${i}`; return { value: Buffer.from(JSON.stringify(e)), why: /^event\.action: / };
    case 8: return { value: Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(String(i))]), why: /^not valid JSON/ };
    default: e.message.views = -i; return { value: Buffer.from(JSON.stringify(e)), why: /^message\.views: / };
  }
}

test('10,000 malformed messages among 20,000 valid ones: each malformed one dead-lettered with its reason and source offset, each valid one indexed', { timeout: 300_000 }, async () => {
  const valid = activity(sc.name, 20_000);
  const bad = Array.from({ length: 10_000 }, (_, i) => malformed(i, valid[i]!));
  const records = valid.flatMap((e, i) => {
    const v = { key: e.channel.id, value: JSON.stringify(e) };
    return i % 2 === 0 ? [v, { key: `bad-${i}`, value: bad[i / 2]!.value }] : [v];
  });
  await (await sc.transport.publisher()).publishRaw(records);

  const indexer = sc.consumer('indexer');
  const t0 = performance.now();
  indexer.start();
  // Start-up: process start, group join and the first batch handled.
  await waitUntil(() => (indexer.stats?.received ?? 0) > 0, 'the first batch', 120_000);
  const t1 = performance.now();
  await sc.caughtUp(240_000);
  const t2 = performance.now();
  await indexer.stop();

  const v = await sc.verify(new Set(valid.map((e) => e.event.id)));
  const letters = await sc.deadLetters();
  const source = await sc.sourceRecords(records.length);
  const byBytes = new Map(letters.map((l) => [l.originalBase64, l]));
  let wrongReason = 0;
  let wrongOffset = 0;
  let missing = 0;
  for (const b of bad) {
    const l = byBytes.get(b.value.toString('base64'));
    if (!l) { missing++; continue; }
    if (!b.why.test(l.reason) || l.stage !== 'decode') wrongReason++;
    if (l.source.topic !== sc.kafka.topic || !source.get(`${l.source.partition}:${l.source.offset}`)?.equals(b.value)) wrongOffset++;
  }
  figures('malformed-flood', {
    in: records.length, valid: valid.length, malformed: bad.length, indexed: v.indexed, dlq: letters.length,
    dlqDuplicates: letters.length - byBytes.size, duplicates: v.duplicates, lost: v.lost, unexpected: v.unexpected,
    dlqMissing: missing, wrongReason, wrongOffset, startSecs: ((t1 - t0) / 1000).toFixed(1),
    // The whole run, start-up included: with the indexer's large batches the first one can hold
    // most of the input, and the rate after it would say nothing.
    eventsPerSec: Math.round(records.length / ((t2 - t0) / 1000)),
  });
  assert.equal(v.lost, 0);
  assert.equal(v.duplicates, 0);
  assert.equal(v.unexpected, 0);
  assert.equal(missing, 0, 'every malformed message is in the DLQ');
  assert.equal(letters.length, bad.length, 'and only once');
  assert.equal(wrongReason, 0, 'with the reason for what is wrong with it');
  assert.equal(wrongOffset, 0, 'and the offset it came from');
  assert.deepEqual(indexer.crashes, []);
  sc.passed = true;
});
