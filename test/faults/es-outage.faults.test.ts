import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { activity, figures, privateEngines, produceSteadily, releaseEngines, Scenario, sleep, waitUntil } from './harness.ts';

let engines: Awaited<ReturnType<typeof privateEngines>>;
let sc: Scenario;

before(async () => {
  engines = await privateEngines();
  sc = new Scenario('es-outage', engines);
  await sc.setup();
});

after(async () => {
  await sc?.cleanup();
  releaseEngines();
});

test('Elasticsearch stopped for 30 s in the middle of indexing, then restarted: every event indexed exactly once', { timeout: 420_000 }, async () => {
  const N = 30_000;
  const events = activity(sc.name, N);
  const indexer = sc.consumer('indexer');
  indexer.start();
  const publisher = await sc.transport.publisher();
  // A live producer: 500 events every half second, so events keep arriving during the outage.
  const producing = produceSteadily(publisher, events, { batch: 500, everyMs: 500 });

  await waitUntil(async () => (await sc.docCount()) >= N / 5, 'the first fifth indexed', 120_000);
  const stoppedAt = Date.now();
  await engines.services.stop('elasticsearch');
  const indexedBefore = indexer.stats?.indexed ?? 0;
  await sleep(30_000);
  await engines.services.start('elasticsearch');
  const outageSecs = (Date.now() - stoppedAt) / 1000;
  const { failures } = await producing;
  await sc.caughtUp(300_000);

  const v = await sc.verify(new Set(events.map((e) => e.event.id)));
  const dlq = await sc.dlqCount();
  figures('es-outage', {
    in: N, indexed: v.indexed, dlq, duplicates: v.duplicates, lost: v.lost, unexpected: v.unexpected,
    outageSecs: outageSecs.toFixed(0), indexedBeforeStop: indexedBefore, retried: indexer.stats?.retried ?? 0,
    indexerCrashes: indexer.crashes.length, publishFailures: failures,
  });
  assert.equal(v.lost, 0);
  assert.equal(v.duplicates, 0);
  assert.equal(v.unexpected, 0);
  assert.equal(dlq, 0);
  assert.deepEqual(indexer.crashes, [], `the indexer exited on its own; log ${indexer.logFile}`);
  sc.passed = true;
});
