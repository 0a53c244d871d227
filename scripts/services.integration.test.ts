// The services script's contract as the test runner and the fault suite rely on it: after `up`
// both engines run and answer, and a second `up` finds them instead of starting new ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status, up } from './services.mjs';
import { testElasticsearchUrl, testKafkaBrokers } from '../test/engines.ts';

test('status reports both engines running and healthy after up', async () => {
  const engines = await up({ quiet: true });
  const s = await status();
  assert.equal(s.dir, engines.dir);
  assert.equal(s.kafka.running, true);
  assert.equal(s.kafka.healthy, true);
  assert.equal(s.elasticsearch.running, true);
  assert.equal(s.elasticsearch.healthy, true);
  assert.deepEqual(s.kafka.brokers, engines.kafka.brokers);
  assert.equal(s.elasticsearch.url, engines.elasticsearch.url);
});

test('a second up is quick and returns the same endpoints the test runner exported', async () => {
  const t0 = performance.now();
  const engines = await up({ quiet: true });
  const ms = performance.now() - t0;
  assert.ok(ms < 5000, `second up took ${Math.round(ms)} ms: it should find the running engines`);
  assert.deepEqual(engines.kafka.brokers, testKafkaBrokers());
  assert.equal(engines.elasticsearch.url, testElasticsearchUrl());
  assert.equal(engines.dir, process.env.TIDEWATCH_SERVICES_DIR);
});
