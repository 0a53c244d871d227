import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const data = `${root}pipeline/analytics/testdata/`;
const tidewatch = (...args: string[]) => spawnSync(process.execPath, [`${root}bin/tidewatch.js`, 'analyze', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TIDEWATCH_CONFIG: '' } });

test('analyze --json prints the contract: the same report as the data-file test expects', () => {
  const r = tidewatch('--json', '--format', 'jsonl', `${data}timeline-2015-takedown.jsonl`);
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(readFileSync(`${data}timeline-2015-takedown.expected.json`, 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), expected);
});

test('analyze takes events as users write them (no ids, platform or source; numeric message ids): the same report', () => {
  const r = tidewatch('--json', `${root}pipeline/producers/testdata/user-written.jsonl`);
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(readFileSync(`${data}timeline-2017-silence.expected.json`, 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), expected);
});

test('analyze without --json prints a summary', () => {
  const r = tidewatch(`${data}timeline-2017-silence.jsonl`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /network is-official: 2017-11-22T09:00:00.000Z -> 2017-11-23T10:01:00.000Z, 25.02 h .*UNPRECEDENTED/);
});
