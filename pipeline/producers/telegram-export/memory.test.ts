import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticExport } from './synthetic.ts';

const BIN = fileURLToPath(new URL('../../../bin/tidewatch.js', import.meta.url));
/** Printed by the child on exit: the kernel's peak resident set size, in KiB on Linux. */
const REPORT_MAX_RSS = "data:text/javascript,process.on('exit',()=>process.stderr.write('MAXRSS_KB '+process.resourceUsage().maxRSS+'\\n'))";

test('a 200 MB export imports (dry run) with peak RSS <= 300 MB', { timeout: 180_000 }, async () => {
  const file = join(tmpdir(), `tidewatch-memory-${process.pid}.json`);
  try {
    const { messages } = await writeSyntheticExport(file, 200e6);
    const child = spawn(process.execPath, ['--import', REPORT_MAX_RSS, BIN, 'import', '--dry-run', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, err);
    assert.match(out, new RegExp(`read ${messages}, produced \\d+, rejected 0`));
    const maxRssKb = Number(/MAXRSS_KB (\d+)/.exec(err)?.[1]);
    assert.ok(maxRssKb > 0, err);
    assert.ok(maxRssKb <= 300 * 1024, `peak RSS ${Math.round(maxRssKb / 1024)} MB`);
  } finally {
    await rm(file, { force: true });
  }
});
