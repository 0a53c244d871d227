import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaSchema } from '../config/index.ts';
import { decodeEvent } from '../events/index.ts';
import { KafkaTransport } from '../transport/kafka/transport.ts';
import { testKafkaBrokers, uniqueName } from '../../test/engines.ts';
import { fixture } from './testkit.ts';

const BIN = fileURLToPath(new URL('../../bin/tidewatch.js', import.meta.url));
const name = uniqueName('it-import');
const kafka = kafkaSchema.parse({ brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 3 });
const transport = new KafkaTransport(kafka);

after(() => transport.close());

function tidewatch(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const env = { ...process.env, KAFKA_BROKERS: kafka.brokers.join(','), KAFKA_TOPIC: kafka.topic, KAFKA_DLQ_TOPIC: kafka.dlqTopic, TIDEWATCH_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

test('tidewatch import and replay -> Kafka: every produced event is on the topic, rejects in the file, exit code 3', { timeout: 180_000 }, async () => {
  const rejects = join(mkdtempSync(join(tmpdir(), 'tw-rejects-')), 'rejects.jsonl');
  const files = ['channel-new.json', 'account-full.json', 'updates.jsonl', 'events.jsonl'].map(fixture);
  const imported = await tidewatch(['import', ...files, '--rejects-file', rejects]);
  assert.equal(imported.code, 3, imported.err);
  const produced = [...imported.out.matchAll(/produced (\d+), rejected (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.deepEqual(produced, [[7, 1], [2, 0], [4, 2], [2, 2]]);
  assert.equal(readFileSync(rejects, 'utf8').trim().split('\n').length, 5);

  const replayed = await tidewatch(['replay', '--from', '2015-11-18T17:00:00Z', '--to', '2015-11-19T03:00:00Z']);
  assert.equal(replayed.code, 0, replayed.err);
  const replayCount = Number(/: (\d+) events/.exec(replayed.out)?.[1]);
  assert.ok(replayCount > 100);

  const expected = 15 + replayCount;
  const ids = new Set<string>();
  let records = 0;
  const sub = await transport.subscribe({ groupId: `${name}-check`, fromBeginning: true }, async (batch) => {
    for (const r of batch.records) {
      records++;
      const v = decodeEvent(r.value);
      assert.ok(v.ok, v.ok ? '' : v.reason);
      ids.add(v.event.event.id);
    }
  });
  const deadline = Date.now() + 60_000;
  while (records < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await sub.stop();
  assert.equal(records, expected);
  assert.equal(ids.size, expected);
});
