import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSession, sessionFilePath, writeSession } from './session.ts';

const mode = (file: string) => statSync(file).mode & 0o777;

test('the session file is written 0600, also over a leftover temporary file with a loose mode', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tidewatch-session-')), 'data');
  const file = sessionFilePath(dir);
  await writeSession(file, 'first-session');
  assert.equal(mode(file), 0o600);
  assert.equal(readFileSync(file, 'utf8'), 'first-session');

  // A crash left the temporary file behind, world-readable.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, 'stale', { mode: 0o644 });
  chmodSync(tmp, 0o644);
  await writeSession(file, 'second-session');
  assert.equal(mode(file), 0o600);
  assert.equal(await readSession(file), 'second-session');
});

test('reading a session copied with a loose mode tightens it to 0600', async () => {
  const file = sessionFilePath(mkdtempSync(join(tmpdir(), 'tidewatch-session-')));
  writeFileSync(file, 'copied-session\n');
  chmodSync(file, 0o644);
  assert.equal(await readSession(file), 'copied-session');
  assert.equal(mode(file), 0o600);
});
