import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumPath, ensureCommand } from './provision.mjs';

/** Runs `fn` with PATH and CHROMIUM_PATH as given (undefined: unset), then puts them back. */
async function withEnv<T>(env: { PATH: string; CHROMIUM_PATH?: string }, fn: () => Promise<T>): Promise<T> {
  const saved = { PATH: process.env.PATH, CHROMIUM_PATH: process.env.CHROMIUM_PATH };
  process.env.PATH = env.PATH;
  if (env.CHROMIUM_PATH === undefined) delete process.env.CHROMIUM_PATH;
  else process.env.CHROMIUM_PATH = env.CHROMIUM_PATH;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.CHROMIUM_PATH === undefined) delete process.env.CHROMIUM_PATH;
    else process.env.CHROMIUM_PATH = saved.CHROMIUM_PATH;
  }
}

test('Chromium: CHROMIUM_PATH wins, else chromium on PATH; without either (and no apt-get) the error says what to install', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-provision-'));
  try {
    const fake = join(dir, 'chromium');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    const empty = mkdtempSync(join(dir, 'empty-'));
    assert.equal(await withEnv({ PATH: empty, CHROMIUM_PATH: fake }, chromiumPath), fake);
    await assert.rejects(withEnv({ PATH: empty, CHROMIUM_PATH: join(dir, 'missing') }, chromiumPath), /CHROMIUM_PATH=.*missing is not an executable file/);
    assert.equal(await withEnv({ PATH: dir }, chromiumPath), fake);
    // No chromium and no apt-get on PATH: nothing can be installed, so the message says what to do.
    await assert.rejects(withEnv({ PATH: empty }, chromiumPath), /the browser tests need Chromium.*apt-get install chromium.*CHROMIUM_PATH/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('other system commands: found on PATH, or an error naming the package to install', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-provision-'));
  try {
    const mvn = join(dir, 'mvn');
    writeFileSync(mvn, '#!/bin/sh\n');
    chmodSync(mvn, 0o755);
    assert.equal(await withEnv({ PATH: dir }, () => ensureCommand('mvn', ['maven'], 'resolving the engines')), mvn);
    const empty = mkdtempSync(join(dir, 'empty-'));
    await assert.rejects(withEnv({ PATH: empty }, () => ensureCommand('mvn', ['maven'], 'resolving the engines')), /resolving the engines needs `mvn`.*apt-get install maven/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
