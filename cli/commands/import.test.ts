import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const csv = `${root}pipeline/producers/testdata/dates.csv`;

function importDryRun(...args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'tw-import-'));
  const rejectsFile = join(dir, 'rejects.jsonl');
  try {
    const r = spawnSync(process.execPath, [`${root}bin/tidewatch.js`, 'import', '--dry-run', '--rejects-file', rejectsFile, ...args, csv], {
      cwd: root, encoding: 'utf8', env: { ...process.env, TIDEWATCH_CONFIG: '' },
    });
    let rejects: { location: string; reason: string }[] = [];
    try {
      rejects = readFileSync(rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    } catch {
      // No rejects file: nothing was rejected.
    }
    return { ...r, rejects };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('import --date-format: spreadsheet dates accepted, the line no pattern reads rejected naming them all', () => {
  const r = importDryRun('--date-format', 'dd.MM.yyyy HH:mm', '--date-format', 'MM/dd/yyyy h:mm a', '--timezone', 'Europe/Berlin');
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /dates\.csv: read 7, produced 6, rejected 1/);
  assert.deepEqual(r.rejects.map((x) => x.location), ['dates.csv:line 8']);
  assert.match(r.rejects[0]!.reason, /tried \(dd\.MM\.yyyy HH:mm; MM\/dd\/yyyy h:mm a; ISO 8601 \(seconds optional\); epoch seconds or ms\)/);
});

test('import without --date-format reads ISO 8601 without seconds; a pattern date-fns cannot use is a usage error', () => {
  assert.match(importDryRun().stdout, /dates\.csv: read 7, produced 3, rejected 4/);
  const bad = importDryRun('--date-format', 'dd.MM.YYYY');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--date-format "dd\.MM\.YYYY": Y is the week-numbering year/);
  assert.doesNotMatch(bad.stdout, /read \d+/);
});
