import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { activity, figures, privateEngines, releaseEngines, Scenario, sleep, waitUntil } from './harness.ts';

let sc: Scenario;

before(async () => {
  sc = new Scenario('consumer-kill', await privateEngines());
  await sc.setup();
});

after(async () => {
  await sc?.cleanup();
  releaseEngines();
});

test('the indexer SIGKILLed mid-batch and restarted, three times: every event indexed exactly once', { timeout: 420_000 }, async () => {
  const N = 60_000;
  const KILLS = 3;
  const events = activity(sc.name, N);
  await (await sc.transport.publisher()).publish(events);
  const indexer = sc.consumer('indexer');
  indexer.start();

  const killedAt: number[] = [];
  for (let k = 1; k <= KILLS; k++) {
    // Mid-stream, and mid-batch: offsets are committed once per 10,000-record batch, while
    // documents land one ~1 MB bulk request at a time, so the count passing an arbitrary mark
    // means a batch is half written and not committed.
    const mark = Math.round((N * k) / (KILLS + 2)) + 777;
    await waitUntil(async () => (await sc.docCount()) >= mark, `${mark} documents before kill ${k}`, 180_000);
    await sleep(Math.random() * 300);
    await indexer.kill();
    killedAt.push(await sc.docCount());
    indexer.start();
  }
  await sc.caughtUp(240_000);
  const redelivered = indexer.stats?.duplicates ?? 0;
  await indexer.stop();

  const v = await sc.verify(new Set(events.map((e) => e.event.id)));
  const dlq = await sc.dlqCount();
  figures('consumer-kill', {
    in: N, indexed: v.indexed, dlq, duplicates: v.duplicates, lost: v.lost, unexpected: v.unexpected,
    kills: KILLS, docsAtKills: killedAt.join('/'), redeliveredAfterLastRestart: redelivered, indexerCrashes: indexer.crashes.length,
  });
  assert.equal(v.lost, 0);
  assert.equal(v.duplicates, 0);
  assert.equal(v.unexpected, 0);
  assert.equal(dlq, 0);
  assert.deepEqual(indexer.crashes, []);
});
