import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AnalysisReport } from '../../pipeline/analytics/index.ts';
import { createEsClient } from '../../pipeline/store/elasticsearch/client.ts';
import { elasticsearchSchema } from '../../pipeline/config/index.ts';
import { testElasticsearchUrl, testKafkaBrokers, uniqueName } from '../engines.ts';
import { writeOutletExports } from '../fixtures/outlets.ts';
import { startCli } from './process.ts';
import { until } from '../live-pipeline.ts';

/**
 * Kafka + Elasticsearch, used as an operator would: `tidewatch run indexer` and `tidewatch run
 * analyzer` already running, then three channel exports imported one after another with
 * `tidewatch import`. Whatever the analyzer saw first, once it has caught up the gaps index holds
 * the gaps `tidewatch analyze` finds for the same files (a live analyzer also keeps the silences
 * still open at its wall clock), without duplicates.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

type Gap = AnalysisReport['gaps'][number];
const gapKey = (g: Pick<Gap, 'scope' | 'subject' | 'start' | 'end' | 'hours'>) => `${g.scope} ${g.subject} ${g.start} -> ${g.end} ${g.hours}`;

for (const mode of ['live', 'replay'] as const) {
  test(`Kafka + ES, analyzer ${mode}: exports imported one after another end with the gaps of one sorted pass`, { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-backfill-kafka-'));
    const name = uniqueName(`backfill-${mode}`);
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({
      kafka: { brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 2 },
      elasticsearch: { url: testElasticsearchUrl(), indexPrefix: name },
      indexer: { groupId: `${name}-indexer` },
      analyzer: { groupId: `${name}-analyzer`, networkGroupId: `${name}-network`, networkTopic: `${name}.network`, tickSecs: 1, idleSecs: 2, correctEverySecs: 5 },
      metrics: { port: 0 },
    }));
    const env = { TIDEWATCH_CONFIG: config, KAFKA_BROKERS: '', ELASTICSEARCH_URL: '' };
    const es = createEsClient(elasticsearchSchema.parse({ url: testElasticsearchUrl(), indexPrefix: name }));
    const procs: ReturnType<typeof startCli>[] = [];
    try {
      const files = await writeOutletExports(dir);
      const { stdout } = await run(process.execPath, ['bin/tidewatch.js', 'analyze', ...files, '--network', 'outlets', '--json'], { cwd: root, env: { ...process.env, ...env } });
      const report = JSON.parse(stdout) as AnalysisReport;
      const closed = report.gaps.map(gapKey).sort();

      await run(process.execPath, ['bin/tidewatch.js', 'setup'], { cwd: root, env: { ...process.env, ...env } });
      procs.push(startCli(['run', 'indexer'], env));
      procs.push(startCli(['run', 'analyzer', ...(mode === 'replay' ? ['--replay'] : [])], env));
      for (const i of [1, 2, 0]) {
        await run(process.execPath, ['bin/tidewatch.js', 'import', files[i]!, '--network', 'outlets'], { cwd: root, env: { ...process.env, ...env } });
      }
      let last: string[] = [];
      await until(async () => {
        await es.indices.refresh({ index: `${name}-gaps` }).catch(() => {});
        const res = await es.search<Gap & { end: string | null }>({ index: `${name}-gaps`, size: 1_000, query: { match_all: {} } }).catch(() => null);
        const hits = res?.hits.hits.map((h) => h._source!) ?? [];
        // A live analyzer judges at its wall clock: silences still open now are findings too.
        last = hits.filter((g) => mode === 'replay' || g.end !== null).map(gapKey).sort();
        return last.length === closed.length && last.every((k, i) => k === closed[i]);
      }, `the gaps index to equal analyze's gaps (last seen ${last.length} vs ${closed.length})`, 240_000).catch((err: Error) => {
        assert.deepEqual(last, closed, err.message);
      });
      const ids = await es.search({ index: `${name}-gaps`, size: 1_000, query: { match_all: {} } });
      assert.equal(new Set(ids.hits.hits.map((h) => h._id)).size, ids.hits.hits.length, 'no duplicates');
    } finally {
      for (const p of procs) await p.stop(30_000);
      await es.indices.delete({ index: `${name}-*` }).catch(() => {});
      await es.indices.deleteIndexTemplate({ name: `${name}-*` }).catch(() => {});
      await es.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
