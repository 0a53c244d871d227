import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../pipeline/config/index.ts';
import { buildEvent } from '../../pipeline/events/index.ts';
import { createLogger } from '../../pipeline/log.ts';
import { fixture } from '../../pipeline/producers/testkit.ts';
import { startCli, type CliProcess } from '../../test/e2e/process.ts';
import { isLoopbackHost, startServe } from './serve.ts';

const READER = 'reader-5f0c2a9e7b1d4c38a6e2';
const WRITER = 'writer-9a41d7c3e2b84f06d1c5';
const log = createLogger('silent');
/** No Kafka, no Elasticsearch, no config file from the environment: the embedded default in a temp dir. */
const CLEAN = { TIDEWATCH_CONFIG: '', KAFKA_BROKERS: '', ELASTICSEARCH_URL: '', TIDEWATCH_HOST: '', TIDEWATCH_PORT: '', TIDEWATCH_READER_TOKEN: '', TIDEWATCH_WRITER_TOKEN: '', TIDEWATCH_INGEST_TOKEN: '' };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tidewatch-serve-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const config = (env: Record<string, string>, sub: string) => loadConfig({ env: { ...CLEAN, TIDEWATCH_DATA_DIR: join(dir, sub), ...env } });

const event = buildEvent({ timestamp: '2017-11-23T10:01:00Z', action: 'post', channel: { id: '42', network: 'is-official' }, message: { id: '1', media: 'audio' }, source: { type: 'http' } });
const update = readFileSync(fixture('updates.jsonl'), 'utf8').split('\n')[0]!;

type Who = 'none' | 'wrong' | 'reader' | 'writer';
const TOKENS: Record<Who, string | undefined> = { none: undefined, wrong: 'wrong-0123456789abcdef', reader: READER, writer: WRITER };

/** Every route of `serve`, and which role it needs (public: the page and its scripts, which hold no data). */
const ROUTES: { method: 'GET' | 'POST'; path: string; body?: string; needs: 'public' | 'reader' | 'writer' }[] = [
  { method: 'GET', path: '/', needs: 'public' },
  { method: 'GET', path: '/static/app.js', needs: 'public' },
  { method: 'GET', path: '/static/app.css', needs: 'public' },
  { method: 'GET', path: '/static/echarts.min.js', needs: 'public' },
  { method: 'GET', path: '/healthz', needs: 'public' },
  { method: 'GET', path: '/api/meta', needs: 'reader' },
  ...['overview', 'gaps', 'migration', 'takedowns', 'spikes'].map((v) => ({ method: 'GET' as const, path: `/api/view/${v}`, needs: 'reader' as const })),
  { method: 'POST', path: '/v1/events', body: JSON.stringify(event), needs: 'writer' },
  { method: 'POST', path: '/v1/telegram/updates', body: update, needs: 'writer' },
];

test('every route without a token, with a wrong one, and with each role\'s: only the right role gets in, and a refusal says why', async () => {
  const serving = await startServe(config({ TIDEWATCH_READER_TOKEN: READER, TIDEWATCH_WRITER_TOKEN: WRITER }, 'roles'), log, { host: '127.0.0.1', port: 0, clock: { mode: 'live' } });
  try {
    const seen: string[] = [];
    const expected: string[] = [];
    for (const route of ROUTES) {
      for (const who of ['none', 'wrong', 'reader', 'writer'] as const) {
        const token = TOKENS[who];
        const res = await fetch(new URL(route.path, serving.url), {
          method: route.method,
          body: route.body,
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        const text = await res.text();
        let want = 200;
        if (route.needs !== 'public' && who !== route.needs) want = who === 'none' || who === 'wrong' ? 401 : 403;
        seen.push(`${route.method} ${route.path} as ${who}: ${res.status}`);
        expected.push(`${route.method} ${route.path} as ${who}: ${want}`);
        if (want !== 200) {
          const body = JSON.parse(text) as { error: string };
          assert.match(body.error, new RegExp(`needs the ${route.needs} token`), `${route.path} as ${who}`);
          assert.ok(!text.includes(READER) && !text.includes(WRITER) && !text.includes(TOKENS.wrong!), 'a refusal never echoes a token');
        }
      }
    }
    assert.deepEqual(seen, expected);
  } finally {
    await serving.stop();
  }
});

test('the former TIDEWATCH_INGEST_TOKEN still sets the writer token', () => {
  assert.equal(config({ TIDEWATCH_INGEST_TOKEN: WRITER }, 'x').serve.writerToken, WRITER);
  assert.equal(config({ TIDEWATCH_INGEST_TOKEN: 'old-0123456789abcdef', TIDEWATCH_WRITER_TOKEN: WRITER }, 'x').serve.writerToken, WRITER);
});

test('tokens from files; a missing or short file, a token and a file for one role, or one token for both roles are refused', async () => {
  const readerFile = join(dir, 'reader.token');
  const writerFile = join(dir, 'writer.token');
  writeFileSync(readerFile, `${READER}\n`);
  writeFileSync(writerFile, `${WRITER}\n`);
  const serving = await startServe(config({ TIDEWATCH_READER_TOKEN_FILE: readerFile, TIDEWATCH_WRITER_TOKEN_FILE: writerFile }, 'files'), log, { host: '0.0.0.0', port: 0, clock: { mode: 'live' } });
  try {
    const url = serving.url.replace('0.0.0.0', '127.0.0.1');
    assert.equal((await fetch(new URL('/api/meta', url))).status, 401);
    assert.equal((await fetch(new URL('/api/meta', url), { headers: { authorization: `Bearer ${READER}` } })).status, 200, 'the newline the file ends with is not part of the token');
  } finally {
    await serving.stop();
  }
  const start = (env: Record<string, string>) => startServe(config(env, 'bad'), log, { host: '127.0.0.1', port: 0, clock: { mode: 'live' } });
  await assert.rejects(start({ TIDEWATCH_READER_TOKEN_FILE: join(dir, 'absent') }), { code: 'CONFIG_INVALID', message: /serve\.readerTokenFile .*absent: cannot read it \(ENOENT\)/ });
  writeFileSync(join(dir, 'short'), 'abc\n');
  await assert.rejects(start({ TIDEWATCH_WRITER_TOKEN_FILE: join(dir, 'short') }), { message: /serve\.writerTokenFile .*short: the token in it must be at least 16 characters/ });
  assert.throws(() => config({ TIDEWATCH_READER_TOKEN: READER, TIDEWATCH_READER_TOKEN_FILE: readerFile }, 'x'), /serve\.readerTokenFile: give readerToken or readerTokenFile, not both/);
  assert.throws(() => config({ TIDEWATCH_READER_TOKEN: 'has a space 0123456789' }, 'x'), /serve\.readerToken: must be printable ASCII without spaces/);
  await assert.rejects(start({ TIDEWATCH_READER_TOKEN: READER, TIDEWATCH_WRITER_TOKEN: READER }), /the reader and writer tokens are the same/);
});

test('loopback: 127/8, ::1 and localhost are; the wildcard, an empty host and other addresses are not', async () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) assert.equal(await isLoopbackHost(host), true, host);
  for (const host of ['0.0.0.0', '::', '', '192.0.2.10', '10.0.0.1', 'no-such-host.invalid']) assert.equal(await isLoopbackHost(host), false, host);
});

test('off the loopback, serve refuses to start without both tokens and says how to set them', async () => {
  const start = (env: Record<string, string>) => startServe(config(env, 'refuse'), log, { host: '0.0.0.0', port: 0, clock: { mode: 'live' } });
  await assert.rejects(start({}), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /refusing to listen on 0\.0\.0\.0, which is not a loopback address, without reader and writer tokens/);
    assert.match(err.message, /TIDEWATCH_READER_TOKEN .* and TIDEWATCH_WRITER_TOKEN .*openssl rand -hex 32.*--insecure/);
    return true;
  });
  await assert.rejects(start({ TIDEWATCH_READER_TOKEN: READER }), /without a writer token: anyone who can reach the port could write events\. Set TIDEWATCH_WRITER_TOKEN/);
});

test('behind a reverse proxy (serve.trustProxy) the loopback is no shelter: tokens are required there too', async () => {
  const file = join(dir, 'proxied.json');
  writeFileSync(file, JSON.stringify({ serve: { trustProxy: true } }));
  const proxied = loadConfig({ file, env: { ...CLEAN, TIDEWATCH_DATA_DIR: join(dir, 'proxied') } });
  await assert.rejects(startServe(proxied, log, { host: '127.0.0.1', port: 0, clock: { mode: 'live' } }), /refusing to listen on 127\.0\.0\.1 behind a reverse proxy \(serve\.trustProxy\) without reader and writer tokens/);
});

/** Resolves with the exit code once the process has ended. */
function exited(cli: CliProcess): Promise<number | null> {
  if (cli.child.exitCode !== null) return Promise.resolve(cli.child.exitCode);
  return new Promise((resolve) => cli.child.once('exit', (code) => resolve(code)));
}

test('the command: exit 2 with the reason off the loopback; --insecure starts, with a warning, and no token is ever logged', async () => {
  const env = { ...CLEAN, TIDEWATCH_DATA_DIR: join(dir, 'cli') };
  const refused = startCli(['serve', '--host', '0.0.0.0', '--port', '0'], env);
  assert.equal(await exited(refused), 2);
  assert.match(refused.stderr(), /^tidewatch: serve: refusing to listen on 0\.0\.0\.0.*--insecure/m);

  // Debug logging, one token set: the token must not reach the log whatever is logged.
  const insecure = startCli(['serve', '--host', '0.0.0.0', '--port', '0', '--insecure'], { ...env, TIDEWATCH_LOG_LEVEL: 'debug', TIDEWATCH_READER_TOKEN: READER });
  const [, port] = (await insecure.waitFor(/dashboard at http:\/\/0\.0\.0\.0:(\d+)\//, 60_000))!;
  assert.match(insecure.stderr(), /tidewatch: WARNING: --insecure: listening on 0\.0\.0\.0 without a writer token; anyone who can reach the port can write events/);
  assert.match(insecure.stderr(), /"level":40.*--insecure/, 'and as a warning in the JSON log');
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/meta`)).status, 401, 'the reader token it has is still enforced');
  const ingest = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', body: JSON.stringify(event) });
  assert.equal(ingest.status, 200, 'ingest is open, as warned');
  assert.equal(await insecure.stop(), 0);
  assert.ok(!insecure.stderr().includes(READER) && !insecure.stdout().includes(READER), 'the token is never logged');
});

test('the logger redacts both tokens wherever a config section puts them', () => {
  const script = `import { createLogger } from './pipeline/log.ts';
    const log = createLogger('info');
    log.info({ readerToken: '${READER}', serve: { writerToken: '${WRITER}' }, config: { serve: { readerToken: '${READER}', writerToken: '${WRITER}' } } }, 'config');`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../../', import.meta.url)), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const line = JSON.parse(r.stderr) as { readerToken: string; serve: { writerToken: string }; config: { serve: Record<string, string> } };
  assert.deepEqual([line.readerToken, line.serve.writerToken, line.config.serve.readerToken, line.config.serve.writerToken], Array(4).fill('[redacted]'));
});
