import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './index.ts';

test('no engines configured: the embedded default, with documented defaults', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.kafka, undefined);
  assert.equal(c.elasticsearch, undefined);
  assert.equal(c.storeText, false);
  assert.equal(c.serve.host, '127.0.0.1');
  assert.equal(c.indexer.flushBytes, 4_000_000);
  assert.equal(c.display.timezone, 'UTC');
});

test('env vars select the real engines', () => {
  const c = loadConfig({ env: { KAFKA_BROKERS: 'a:9092, b:9092', ELASTICSEARCH_URL: 'http://es:9200', ELASTICSEARCH_API_KEY: 'k', TIDEWATCH_PORT: '9000' } });
  assert.deepEqual(c.kafka?.brokers, ['a:9092', 'b:9092']);
  assert.equal(c.kafka?.topic, 'tidewatch.activity');
  assert.equal(c.elasticsearch?.apiKey, 'k');
  assert.equal(c.serve.port, 9000);
});

test('every problem is listed with its path, unknown keys included, in one error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-config-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ storeTxt: true, indexer: { flushBytes: -1, concurrency: 'two' }, kafka: { brokers: ['nohost'] } }));
  assert.throws(
    () => loadConfig({ file, env: { TIDEWATCH_PORT: 'eighty' } }),
    (err: Error) => {
      for (const part of ['storeTxt', 'indexer.flushBytes', 'indexer.concurrency', 'kafka.brokers.0: must be host:port', 'serve.port', file]) {
        assert.ok(err.message.includes(part), `message names ${part}:\n${err.message}`);
      }
      return (err as { code?: string }).code === 'CONFIG_INVALID';
    },
  );
});

test('a config file that is not JSON is named in the error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-config-'));
  const file = join(dir, 'broken.json');
  writeFileSync(file, '{ "dataDir": ');
  assert.throws(() => loadConfig({ file, env: {} }), new RegExp(`config file ${c(file)}: not valid JSON`));
  assert.throws(() => loadConfig({ file: join(dir, 'missing.json'), env: {} }), /cannot read it/);
});

test('username without password is refused', () => {
  assert.throws(() => loadConfig({ env: { ELASTICSEARCH_URL: 'http://es:9200', ELASTICSEARCH_USERNAME: 'u' } }), /elasticsearch\.password: username and password must be given together/);
});

test('display.timezone must be an IANA zone name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-config-'));
  const write = (timezone: string) => {
    const file = join(dir, `${timezone.replace(/\W/g, '_')}.json`);
    writeFileSync(file, JSON.stringify({ display: { timezone } }));
    return file;
  };
  assert.equal(loadConfig({ file: write('Asia/Baghdad'), env: {} }).display.timezone, 'Asia/Baghdad');
  for (const bad of ['Mars/Olympus', '+01:00']) {
    assert.throws(() => loadConfig({ file: write(bad), env: {} }), /display\.timezone: must be an IANA time zone such as UTC or Europe\/Berlin/);
  }
});

function c(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
