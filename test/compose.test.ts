import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { configFromEnv, configSchema } from '../pipeline/config/index.ts';
import { METRICS_PORTS } from '../pipeline/metrics/options.ts';

// Docker cannot run here, so the compose file is checked by reading it: images match the
// versions the services script runs, env is what the config schema accepts, order is healthy.
const root = new URL('..', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: unknown; environment?: Record<string, unknown>; healthcheck?: unknown; depends_on?: Record<string, { condition: string }>; command?: string[] }>;
};
const engines = JSON.parse(readFileSync(new URL('engines.json', root), 'utf8')) as Record<string, { image: string }>;

test('engine images are the versions of engines.json', () => {
  assert.equal(compose.services.kafka?.image, engines.kafka!.image);
  assert.equal(compose.services.elasticsearch?.image, engines.elasticsearch!.image);
  assert.equal(compose.services.kibana?.image, engines.kibana!.image);
});

test('engines have healthchecks and tidewatch services wait for them', () => {
  for (const s of ['kafka', 'elasticsearch', 'kibana']) assert.ok(compose.services[s]?.healthcheck, `${s} healthcheck`);
  assert.equal(compose.services.setup?.depends_on?.kafka?.condition, 'service_healthy');
  assert.equal(compose.services.setup?.depends_on?.elasticsearch?.condition, 'service_healthy');
  for (const [name, svc] of Object.entries(compose.services)) {
    if (!svc.build || name === 'setup') continue;
    assert.equal(svc.depends_on?.setup?.condition, 'service_completed_successfully', `${name} waits for setup`);
  }
});

test('every tidewatch service environment is a valid configuration selecting Kafka and Elasticsearch', () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    if (!svc.build) continue;
    const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, String(v)]));
    const known = new Set(['KAFKA_BROKERS', 'ELASTICSEARCH_URL', 'KIBANA_URL', 'TIDEWATCH_LOG_LEVEL', 'TIDEWATCH_DATA_DIR', 'TIDEWATCH_PORT', 'TIDEWATCH_HOST', 'TIDEWATCH_CONFIG', 'TIDEWATCH_METRICS_HOST', 'TIDEWATCH_METRICS_PORT']);
    for (const k of Object.keys(env)) assert.ok(known.has(k), `${name}: ${k} is not a variable tidewatch reads`);
    const config = configSchema.parse(configFromEnv(env));
    assert.deepEqual(config.kafka?.brokers, ['kafka:9092'], name);
    assert.equal(config.elasticsearch?.url, 'http://elasticsearch:9200', name);
    assert.ok(svc.command?.length, `${name} has a tidewatch command`);
  }
});

test('the long-running tidewatch services are health-checked on their own /healthz', () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    if (!svc.build || svc.command?.[0] !== 'run') continue;
    const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, String(v)]));
    const port = configSchema.parse(configFromEnv(env)).metrics.port ?? METRICS_PORTS[svc.command[1] as keyof typeof METRICS_PORTS];
    const check = (svc.healthcheck as { test?: string[] } | undefined)?.test?.join(' ') ?? '';
    assert.ok(check.includes(`http://127.0.0.1:${port}/healthz`), `${name} healthcheck uses its /healthz (port ${port}): ${check}`);
  }
});

test('the dashboard/ingest and the live collector are services: serve reachable from the host, the collector with a watch list and a kept state', () => {
  const serve = compose.services.serve as { command?: string[]; ports?: string[] } | undefined;
  assert.deepEqual(serve?.command, ['serve', '--host', '0.0.0.0']);
  assert.deepEqual(serve?.ports, ['127.0.0.1:8080:8080']);
  const collector = compose.services.collector as { command?: string[]; volumes?: string[]; environment?: Record<string, unknown>; profiles?: string[] } | undefined;
  assert.deepEqual(collector?.command, ['collect', '--watch-list', '/config/watch.json']);
  // A plain `docker compose up` on a fresh clone has no ./watch.json: the collector is opt-in.
  assert.deepEqual(collector?.profiles, ['collector']);
  assert.equal(collector?.environment?.TIDEWATCH_DATA_DIR, '/data');
  assert.ok(collector?.volumes?.includes('collector-data:/data'), 'the collector state is on a volume');
  assert.ok(collector?.volumes?.some((v) => v.endsWith(':/config/watch.json:ro')), 'the watch list is mounted');
});
