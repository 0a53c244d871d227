#!/usr/bin/env node
// The test command (`npm test`): type-check, bring up the real engines if they are not running
// (services script, idempotent) and provision Chromium for the browser tests (scripts/provision.mjs:
// CHROMIUM_PATH, else found, else apt-get install chromium as root, else a message saying what to
// install), then run every test file with Node's test runner.
//   node scripts/test.mjs                 all tests (unit + integration on real Kafka/ES)
//   node scripts/test.mjs --unit          pure tests only, no engines
//   node scripts/test.mjs --faults        the fault-injection suite
//   node scripts/test.mjs path/to/x.test.ts ...   just these files (engines started if needed)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const faults = args.includes('--faults');
const explicit = args.filter((a) => !a.startsWith('--'));

const SEARCH = ['pipeline', 'consumers', 'dashboards', 'cli', 'test', 'scripts'];
function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const isBrowser = (f) => f.endsWith('.browser.test.ts');
const isIntegration = (f) => f.endsWith('.integration.test.ts') || isBrowser(f);
const isFault = (f) => f.endsWith('.faults.test.ts');
let files = explicit.length ? explicit : SEARCH.flatMap((d) => { try { return findTests(join(root, d)); } catch { return []; } });
if (!explicit.length) files = files.filter((f) => (faults ? isFault(f) : !isFault(f)));
if (unitOnly) files = files.filter((f) => !isIntegration(f) && !isFault(f));
files.sort();

function run(cmd, cmdArgs, env = process.env) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (!explicit.length) {
  process.stdout.write('> type-check (tsc --noEmit)\n');
  if (run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', '.']) !== 0) process.exit(1);
}

const env = { ...process.env };
// Fault files run engines of their own (test/faults/harness.ts); only the others need the shared pair.
if (files.some(isIntegration)) {
  const { up } = await import('./services.mjs');
  const engines = await up({ quiet: false });
  env.TIDEWATCH_TEST_KAFKA_BROKERS = engines.kafka.brokers.join(',');
  env.TIDEWATCH_TEST_ELASTICSEARCH_URL = engines.elasticsearch.url;
  env.TIDEWATCH_SERVICES_DIR = engines.dir;
}
if (files.some(isBrowser)) {
  const { chromiumPath } = await import('./provision.mjs');
  try {
    env.CHROMIUM_PATH = await chromiumPath();
  } catch (e) {
    process.stderr.write(`cannot run the browser tests: ${e.message}\n`);
    process.exit(1);
  }
}

if (!files.length) {
  process.stderr.write('no test files found\n');
  process.exit(1);
}
process.stdout.write(`> node --test (${files.length} files)\n`);
const status = run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], env);
process.exit(status);
