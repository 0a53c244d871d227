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
import { CHANNELS, exportJson, messagesOf, writeOutletExports } from '../fixtures/outlets.ts';
import { startCli } from './process.ts';
import { until } from '../live-pipeline.ts';

/**
 * Kafka + Elasticsearch, used as an operator would: `tidewatch run indexer` and `tidewatch run
 * analyzer` already running, then three channel exports imported one after another with
 * `tidewatch import`. Whatever the analyzer saw first, once it has caught up the gaps index holds
 * the gaps `tidewatch analyze` finds for the same files (a live analyzer also keeps the silences
 * still open at its wall clock), without duplicates. With two analyzer processes (scaled out: each
 * holds one of the two activity partitions, one of them the network stage) too, with each export's
 * later half first: the late events land in both instances' partitions.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

type Gap = AnalysisReport['gaps'][number];
// With what the subject's history decides (its threshold, whether it is the longest yet): a state
// that missed late history finds the same silence with other values.
const gapKey = (g: Pick<Gap, 'scope' | 'subject' | 'start' | 'end' | 'hours' | 'baselineHours' | 'unprecedented'>) =>
  `${g.scope} ${g.subject} ${g.start} -> ${g.end} ${g.hours} (baseline ${g.baselineHours}, unprecedented ${g.unprecedented})`;
/** The same channels 23 days later (two days after the exports end): posted after the backfill, judged by the states it left. */
function continuations(dir: string): string[] {
  return CHANNELS.map((ch) => {
    const file = join(dir, `${ch.name}-later.json`);
    writeFileSync(file, exportJson(ch, messagesOf(ch).map((m) => ({ id: m.id + 10_000, unix: m.unix + 23 * 86_400 }))));
    return file;
  });
}

const runs = [['live', 1], ['replay', 1], ['live', 2], ['replay', 2]] as const;
for (const [mode, instances] of runs) {
  test(`Kafka + ES, analyzer ${mode}${instances > 1 ? `, ${instances} instances` : ''}: exports imported one after another end with the gaps of one sorted pass`, { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-backfill-kafka-'));
    const name = uniqueName(`backfill-${mode}-${instances}`);
    // One config per analyzer instance: each names itself (the owner of the snapshots it saves).
    const configs = Array.from({ length: instances }, (_, i) => join(dir, `config-${i}.json`));
    configs.forEach((file, i) => writeFileSync(file, JSON.stringify({
      kafka: { brokers: testKafkaBrokers(), topic: `${name}.activity`, dlqTopic: `${name}.dlq`, partitions: 2 },
      elasticsearch: { url: testElasticsearchUrl(), indexPrefix: name },
      indexer: { groupId: `${name}-indexer` },
      analyzer: { groupId: `${name}-analyzer`, networkGroupId: `${name}-network`, networkTopic: `${name}.network`, tickSecs: 1, idleSecs: 2, correctEverySecs: 5, instanceId: `analyzer-${i}` },
      metrics: { port: 0 },
    })));
    const envOf = (config: string) => ({ TIDEWATCH_CONFIG: config, KAFKA_BROKERS: '', ELASTICSEARCH_URL: '' });
    const env = envOf(configs[0]!);
    const es = createEsClient(elasticsearchSchema.parse({ url: testElasticsearchUrl(), indexPrefix: name }));
    const procs: ReturnType<typeof startCli>[] = [];
    try {
      // Two instances: each export's later half comes first, so a channel's own history arrives
      // late in whichever instance holds its partition (not only relative to other channels).
      const files = await writeOutletExports(dir, instances > 1 ? (ms) => [...ms.slice(ms.length / 2), ...ms.slice(0, ms.length / 2)] : undefined);
      const later = continuations(dir);
      const { stdout } = await run(process.execPath, ['bin/tidewatch.js', 'analyze', ...files, ...later, '--network', 'outlets', '--json'], { cwd: root, env: { ...process.env, ...env } });
      const report = JSON.parse(stdout) as AnalysisReport;
      const closed = report.gaps.map(gapKey).sort();

      await run(process.execPath, ['bin/tidewatch.js', 'setup'], { cwd: root, env: { ...process.env, ...env } });
      procs.push(startCli(['run', 'indexer'], env));
      for (const c of configs) procs.push(startCli(['run', 'analyzer', ...(mode === 'replay' ? ['--replay'] : [])], envOf(c)));
      for (const file of [files[1]!, files[2]!, files[0]!, ...later]) {
        await run(process.execPath, ['bin/tidewatch.js', 'import', file, '--network', 'outlets'], { cwd: root, env: { ...process.env, ...env } });
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
