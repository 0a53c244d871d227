import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { activity, figures, privateEngines, produceSteadily, releaseEngines, Scenario, waitUntil } from './harness.ts';

let engines: Awaited<ReturnType<typeof privateEngines>>;
let sc: Scenario;

before(async () => {
  engines = await privateEngines();
  sc = new Scenario('kafka-restart', engines);
  await sc.setup();
});

after(async () => {
  await sc?.cleanup();
  releaseEngines();
});

test('the Kafka broker restarted while producing and consuming: every event indexed exactly once', { timeout: 420_000 }, async () => {
  const N = 40_000;
  const events = activity(sc.name, N);
  const indexer = sc.consumer('indexer');
  indexer.start();
  const publisher = await sc.transport.publisher();
  // 500 events every 400 ms: the producer is mid-stream when the broker goes away.
  const producing = produceSteadily(publisher, events, { batch: 500, everyMs: 400 });

  await waitUntil(async () => (await sc.docCount()) >= N / 5, 'the first fifth indexed', 120_000);
  const t0 = Date.now();
  await engines.services.restart('kafka');
  const restartSecs = (Date.now() - t0) / 1000;
  const { failures } = await producing;
  await sc.caughtUp(300_000);

  const v = await sc.verify(new Set(events.map((e) => e.event.id)));
  const dlq = await sc.dlqCount();
  figures('kafka-restart', {
    in: N, indexed: v.indexed, dlq, duplicates: v.duplicates, lost: v.lost, unexpected: v.unexpected,
    restartSecs: restartSecs.toFixed(0), publishRetries: failures, indexerExits: indexer.crashes.length,
  });
  assert.equal(v.lost, 0);
  assert.equal(v.duplicates, 0);
  assert.equal(v.unexpected, 0);
  assert.equal(dlq, 0);
  sc.passed = true;
});
