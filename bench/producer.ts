/**
 * Producing into Kafka: tidewatch's publisher (the transport every producer uses: JSON encoding,
 * keys, idempotent acks=all sends of `producerBatchEvents`) and `tidewatch import` of a canonical
 * JSONL file (reading, validation, publishing, process start-up), each against a bare kafkajs
 * producer sending the same keys and bytes in the same batches with the same acks.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { kafkaSchema } from '../pipeline/config/index.ts';
import { eventKey, type ActivityEvent } from '../pipeline/events/index.ts';
import { retry } from '../pipeline/retry.ts';
import { KafkaTransport } from '../pipeline/transport/kafka/transport.ts';

const BIN = fileURLToPath(new URL('../bin/tidewatch.js', import.meta.url));

export interface ProducerFigures {
  events: number;
  bytes: number;
  /** Events per send of the bare producer: the publisher's producerBatchEvents. */
  batch: number;
  barePerSec: number;
  publisherPerSec: number;
  importPerSec: number;
}

async function bare(brokers: string[], topic: string, messages: { key: string; value: string }[], batch: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench-bare', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += batch) {
    await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages: messages.slice(i, i + batch) });
  }
  const secs = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return messages.length / secs;
}

async function importFile(brokers: string[], topic: string, file: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'import', '--format', 'jsonl', file], {
    env: { ...process.env, KAFKA_BROKERS: brokers.join(','), KAFKA_TOPIC: topic, KAFKA_DLQ_TOPIC: `${topic}.dlq`, TIDEWATCH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`tidewatch import exited ${code}: ${err.slice(-2000)}`);
  return (performance.now() - t0) / 1000;
}

export async function benchProducer(brokers: string[], events: readonly ActivityEvent[], run: string): Promise<ProducerFigures> {
  const messages = events.map((e) => ({ key: eventKey(e), value: JSON.stringify(e) }));
  const bytes = messages.reduce((n, m) => n + Buffer.byteLength(m.value), 0);
  const topics = ['bare', 'publisher', 'import'].map((t) => `${run}.${t}`);
  // Same partitions for every topic: the transport's default.
  const config = (topic: string) => kafkaSchema.parse({ brokers, topic, dlqTopic: `${topic}.dlq` });
  for (const topic of topics) await retry(() => new KafkaTransport(config(topic)).ensureTopics());
  const batch = config(topics[0]!).producerBatchEvents;
  const file = join(tmpdir(), `${run}.jsonl`);
  try {
    const published = async () => {
      const transport = new KafkaTransport(config(topics[1]!));
      const publisher = await transport.publisher();
      const t0 = performance.now();
      await publisher.publish(events);
      const perSec = events.length / ((performance.now() - t0) / 1000);
      await transport.close();
      return perSec;
    };
    // Alternated, best of two each: whichever ran first would pay for a cold broker and JIT.
    let barePerSec = 0;
    let publisherPerSec = 0;
    for (let round = 0; round < 2; round++) {
      barePerSec = Math.max(barePerSec, await bare(brokers, topics[0]!, messages, batch));
      publisherPerSec = Math.max(publisherPerSec, await published());
    }

    writeFileSync(file, messages.map((m) => m.value).join('\n') + '\n');
    const importSecs = await importFile(brokers, topics[2]!, file);
    return { events: events.length, bytes, batch, barePerSec, publisherPerSec, importPerSec: events.length / importSecs };
  } finally {
    rmSync(file, { force: true });
    const admin = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: topics.flatMap((t) => [t, `${t}.dlq`]) }).catch(() => {});
    await admin.disconnect();
  }
}
