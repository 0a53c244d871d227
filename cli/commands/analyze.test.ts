import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { addInputOptions } from '../input-options.ts';
import { createProgram } from '../program.ts';
import { registerAnalyze } from './analyze.ts';
import { registerImport } from './import.ts';

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

test('analyze takes events as users write them (no ids, platform or source; numeric message ids): the same report', () => {
  const r = tidewatch('--json', `${root}pipeline/producers/testdata/user-written.jsonl`);
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(readFileSync(`${data}timeline-2017-silence.expected.json`, 'utf8'));
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
  assert.match(r.stdout, /^  18 Nov 2015 \(UTC day\) WAVE: \d+ channels/m);
  assert.match(r.stdout, /^  \S+ -> \S+: \d+ min \(\d+ h \d+ min\) after the ban/m);
  const json = run({ TIDEWATCH_DISPLAY_TIMEZONE: 'Asia/Baghdad' }, '--json', `${data}timeline-2015-takedown.jsonl`);
  assert.match(JSON.parse(json.stdout).resurrections[0].createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.match(run({ TIDEWATCH_DISPLAY_TIMEZONE: 'Mars/Olympus' }, `${data}timeline-2015-takedown.jsonl`).stderr, /display\.timezone: must be an IANA time zone/);
});

test('every input flag of import works in analyze too: one shared set', () => {
  const inputFlags = addInputOptions(new Command('x')).options.map((o) => o.long);
  assert.ok(inputFlags.includes('--map') && inputFlags.includes('--rejects-file'), inputFlags.join(' '));
  const program = createProgram();
  registerImport(program);
  registerAnalyze(program);
  for (const name of ['import', 'analyze']) {
    const flags = program.commands.find((c) => c.name() === name)!.options.map((o) => o.long);
    for (const f of inputFlags) assert.ok(flags.includes(f), `${name} lacks ${f}`);
  }
});

test('analyze reads a CSV through --map and --timezone; rejections go to --rejects-file, --max-rejects sets the exit code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-analyze-'));
  try {
    const rejectsFile = join(dir, 'rejects.jsonl');
    const args = ['--json', '--map', 'timestamp=ts', '--map', 'channel=chan', '--map', 'language=lang', '--map', 'subscribers=subs', '--map', 'message_id=msg',
      '--timezone', 'Asia/Baghdad', '--rejects-file', rejectsFile, `${root}pipeline/producers/testdata/activity.csv`];
    const tolerated = tidewatch(...args, '--max-rejects', '3');
    assert.equal(tolerated.status, 0, tolerated.stderr);
    const report = JSON.parse(tolerated.stdout) as { events: number; rejected: number; platforms: { platform: string; firstSeen: string }[] };
    assert.deepEqual([report.events, report.rejected], [3, 3]);
    // 10:00 without a zone, read in Baghdad (UTC+3).
    assert.equal(report.platforms.find((p) => p.platform === 'tamtam')?.firstSeen, '2018-12-14T07:00:00.000Z');
    const rejects = readFileSync(rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { location: string });
    assert.deepEqual(rejects.map((r) => r.location), ['activity.csv:line 5', 'activity.csv:line 6', 'activity.csv:line 7']);
    assert.equal(tidewatch(...args, '--max-rejects', '2').status, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
