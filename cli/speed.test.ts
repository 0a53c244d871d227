import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseSpeed } from './speed.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const tidewatch = (...args: string[]) => spawnSync(process.execPath, [`${root}bin/tidewatch.js`, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TIDEWATCH_CONFIG: '' } });

test('--speed: simulated seconds per second, 0 = as fast as possible; negative or not a number refused', () => {
  assert.equal(parseSpeed('0'), undefined);
  assert.equal(parseSpeed('604800'), 604_800);
  assert.equal(parseSpeed('0.5'), 0.5);
  for (const bad of ['-1', 'fast', '', 'Infinity']) assert.ok(typeof parseSpeed(bad) === 'object', bad);
});

test('replay and demo take the same --speed: 0 runs replay as fast as possible, a bad value is a usage error in both', () => {
  const fast = tidewatch('replay', '--dry-run', '--speed', '0', '--from', '2016-03-01', '--to', '2016-03-02');
  assert.equal(fast.status, 0, fast.stderr);
  assert.match(fast.stdout, /^replay seed \d+: \d+ events/);
  for (const cmd of ['replay', 'demo']) {
    const bad = tidewatch(cmd, '--speed', '-1');
    assert.equal(bad.status, 2, `${cmd}: ${bad.stderr}`);
    assert.match(bad.stderr, /--speed -1: must be a number >= 0/);
  }
});
