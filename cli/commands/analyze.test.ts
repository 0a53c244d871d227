import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const data = `${root}pipeline/analytics/testdata/`;
const tidewatch = (...args: string[]) => run({}, ...args);
const run = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [`${root}bin/tidewatch.js`, 'analyze', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TIDEWATCH_CONFIG: '', ...env } });

test('analyze --json prints the contract: the same report as the data-file test expects', () => {
  const r = tidewatch('--json', '--format', 'jsonl', `${data}timeline-2015-takedown.jsonl`);
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(readFileSync(`${data}timeline-2015-takedown.expected.json`, 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), expected);
});

test('analyze without --json prints a summary', () => {
  const r = tidewatch(`${data}timeline-2017-silence.jsonl`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /network is-official: 22 Nov 2017 09:00 to 23 Nov 2017 10:01 UTC, 25.02 h .*UNPRECEDENTED/);
});

test('the summary reads its times in display.timezone; --json keeps ISO 8601', () => {
  const r = run({ TIDEWATCH_DISPLAY_TIMEZONE: 'Asia/Baghdad' }, `${data}timeline-2015-takedown.jsonl`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^  18 Nov 2015 \(UTC day\): \d+ channels/m);
  assert.match(r.stdout, /^  \S+ -> \S+: \d+ min \(\d+ h \d+ min\) after the ban/m);
  const json = run({ TIDEWATCH_DISPLAY_TIMEZONE: 'Asia/Baghdad' }, '--json', `${data}timeline-2015-takedown.jsonl`);
  assert.match(JSON.parse(json.stdout).resurrections[0].createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.match(run({ TIDEWATCH_DISPLAY_TIMEZONE: 'Mars/Olympus' }, `${data}timeline-2015-takedown.jsonl`).stderr, /display\.timezone: must be an IANA time zone/);
});
