import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DuckDbStore } from '../../pipeline/store/duckdb/store.ts';
import type { AnalysisReport } from '../../pipeline/analytics/index.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import { openSource } from '../../pipeline/producers/index.ts';
import { writeOutletExports } from '../fixtures/outlets.ts';

/**
 * The embedded default, used as a new user would: three channel exports imported one after
 * another (one `tidewatch import` each, into the store under the data directory), then
 * `tidewatch reanalyze` with another threshold and back. The findings stored must end as
 * `tidewatch analyze` gives them for the same files, whatever the order of the imports.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

async function cli(dataDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/tidewatch.js', ...args], {
    cwd: root,
    env: { ...process.env, TIDEWATCH_DATA_DIR: dataDir, TIDEWATCH_LOG_LEVEL: 'warn', KAFKA_BROKERS: '', ELASTICSEARCH_URL: '', TIDEWATCH_CONFIG: '' },
  });
  return stdout;
}

type Gap = AnalysisReport['gaps'][number];
const gapKey = (g: Gap) => `${g.scope} ${g.subject} ${g.start} -> ${g.end} ${g.hours}`;

async function storedGaps(dataDir: string): Promise<string[]> {
  const store = await DuckDbStore.open(dataDir);
  try {
    return (await store.findings('gap', { limit: 10_000 })).map(gapKey).sort();
  } finally {
    await store.close();
  }
}

test('embedded: three exports imported one after another (any order) store the gaps `analyze` finds; reanalyze changes them in place and back', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-backfill-'));
  try {
    const files = await writeOutletExports(dir);
    const report = JSON.parse(await cli(join(dir, 'unused'), 'analyze', ...files, '--network', 'outlets', '--json')) as AnalysisReport;
    const expected = report.gaps.map(gapKey).sort();
    assert.equal(report.gaps.filter((g) => g.scope === 'network').length, 1);

    for (const order of [[2, 0, 1], [0, 1, 2]]) {
      const dataDir = join(dir, `data-${order.join('')}`);
      for (const i of order) await cli(dataDir, 'import', files[i]!, '--network', 'outlets');
      assert.deepEqual(await storedGaps(dataDir), expected, `imports in the order ${order.join(', ')}`);
    }

    const dataDir = join(dir, 'data-012');
    const looser = JSON.parse(await cli(dataDir, 'reanalyze', '--set', 'analytics.gaps.alpha=0.2', '--json')) as Record<string, number | string>;
    assert.ok(Number(looser.events) > 900, JSON.stringify(looser));
    assert.ok(Number(looser.added) + Number(looser.changed) + Number(looser.removed) > 0, `a looser gaps.alpha changes findings: ${JSON.stringify(looser)}`);
    const withLooser = await storedGaps(dataDir);
    assert.notDeepEqual(withLooser, expected);

    const back = JSON.parse(await cli(dataDir, 'reanalyze', '--json')) as Record<string, number | string>;
    assert.equal(Number(back.added) + Number(back.changed) + Number(back.removed) > 0, true, JSON.stringify(back));
    assert.deepEqual(await storedGaps(dataDir), expected, 'the default thresholds give the original findings back');
    const again = JSON.parse(await cli(dataDir, 'reanalyze', '--json')) as Record<string, number | string>;
    assert.deepEqual([again.added, again.changed, again.removed], [0, 0, 0], 'a second pass with the same options changes nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('embedded: the last week imported first, then the weeks before it (history backfilled after live data), end like one sorted import', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-backfill-week-'));
  try {
    const files = await writeOutletExports(dir);
    const report = JSON.parse(await cli(join(dir, 'unused'), 'analyze', ...files, '--network', 'outlets', '--json')) as AnalysisReport;
    // The same events as canonical JSONL, split a week before the end.
    const events: ActivityEvent[] = [];
    for (const f of files) for await (const item of openSource(f, { format: 'auto', network: 'outlets', storeText: false }).items()) if (item.kind === 'event') events.push(item.event);
    const cut = Math.max(...events.map((e) => Date.parse(e['@timestamp']))) - 7 * 86_400_000;
    const write = (name: string, keep: (t: number) => boolean) => {
      const file = join(dir, name);
      writeFileSync(file, events.filter((e) => keep(Date.parse(e['@timestamp']))).map((e) => JSON.stringify(e)).join('\n') + '\n');
      return file;
    };
    const lastWeek = write('last-week.jsonl', (t) => t >= cut);
    const before = write('before.jsonl', (t) => t < cut);
    const dataDir = join(dir, 'data');
    await cli(dataDir, 'import', lastWeek);
    await cli(dataDir, 'import', before);
    assert.deepEqual(await storedGaps(dataDir), report.gaps.map(gapKey).sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
