import { randomBytes } from 'node:crypto';

/**
 * Where the real engines of the test run are. scripts/test.mjs starts them (services script)
 * and exports these variables; a test that needs an engine fails loudly when they are missing.
 */
export function testKafkaBrokers(): string[] {
  const v = process.env.TIDEWATCH_TEST_KAFKA_BROKERS;
  if (!v) throw new Error('TIDEWATCH_TEST_KAFKA_BROKERS is not set: run the tests with `npm test`, which starts Kafka');
  return v.split(',');
}

export function testElasticsearchUrl(): string {
  const v = process.env.TIDEWATCH_TEST_ELASTICSEARCH_URL;
  if (!v) throw new Error('TIDEWATCH_TEST_ELASTICSEARCH_URL is not set: run the tests with `npm test`, which starts Elasticsearch');
  return v;
}

/** Unique lowercase name so tests running side by side never share a topic or index. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * The Chromium the browser tests drive: CHROMIUM_PATH, which scripts/test.mjs sets to the one it
 * found or installed; Debian's path when a browser test runs on its own.
 */
export function testChromiumPath(): string {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}
