import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const input = join(root, 'pipeline/analytics/testdata/timeline-2017-silence.jsonl');
const expected = JSON.parse(readFileSync(input.replace('.jsonl', '.expected.json'), 'utf8')) as { events: number; gaps: { scope: string; subject: string; start: string }[] };

async function runImport(dataDir: string, file = input): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/tidewatch.js', 'import', file, '--format', 'jsonl', '--rejects-file', join(dataDir, 'rejects.jsonl')], {
    cwd: root,
    env: { ...process.env, TIDEWATCH_DATA_DIR: dataDir, TIDEWATCH_LOG_LEVEL: 'warn', KAFKA_BROKERS: '', ELASTICSEARCH_URL: '' },
  });
  return stdout;
}

// The embedded default has no broker: `tidewatch import` must land every record in the store
// under the data directory before it exits (findings included), and importing again adds nothing.
test('import on the embedded default stores every event and its findings, idempotently', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tw-embedded-import-'));
  try {
    const first = await runImport(dataDir);
    assert.match(first, new RegExp(`read ${expected.events}, produced ${expected.events}, rejected 0`));
    await runImport(dataDir);
    const store = await DuckDbStore.open(dataDir);
    try {
      assert.equal((await store.summary()).events, expected.events);
      const gaps = await store.findings('gap', { scope: 'network', limit: 100 });
      const networkGap = expected.gaps.find((g) => g.scope === 'network');
      assert.ok(networkGap, 'the data file expects a network gap');
      assert.ok(gaps.some((g) => g.subject === networkGap.subject && g.start === networkGap.start), `network gap ${networkGap.subject} ${networkGap.start} stored: ${JSON.stringify(gaps.map((g) => [g.subject, g.start]))}`);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// What a user writes (no ids, platform or source; Telegram's numeric message ids), written from the
// same data file: imported whole, with the same findings.
test('import takes user-written JSONL with zero rejections and the expected findings', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tw-embedded-import-'));
  try {
    const out = await runImport(dataDir, join(root, 'pipeline/producers/testdata/user-written.jsonl'));
    assert.match(out, new RegExp(`read ${expected.events}, produced ${expected.events}, rejected 0`));
    const store = await DuckDbStore.open(dataDir);
    try {
      assert.equal((await store.summary()).events, expected.events);
      const gaps = await store.findings('gap', { scope: 'network', limit: 100 });
      const networkGap = expected.gaps.find((g) => g.scope === 'network')!;
      assert.ok(gaps.some((g) => g.subject === networkGap.subject && g.start === networkGap.start), JSON.stringify(gaps));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
