/**
 * The pipeline on the real engines, against baselines run in the same process on the same
 * machine, reported as ratios (absolute figures move with whatever else the machine runs):
 *   - producing: tidewatch's publisher and `tidewatch import` vs a bare kafkajs producer;
 *   - indexing: the indexer (Kafka -> ES) vs the raw `_bulk` ceiling and vs a naive consumer;
 *   - analysing: the live analyzer (both stages, findings written) on the same events vs the indexer.
 * Engines come from the services script (TIDEWATCH_SERVICES_DIR and the port variables choose
 * which pair). `--quick`: a short smoke run; `--profile`: CPU profiles of the indexer and analyzer phases.
 * The table goes to bench/results/<date>.md and is returned for printing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { elasticsearchSchema, indexerSchema } from '../pipeline/config/index.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { benchEngines, benchEvents, describeMachine, resultHead, warmUp } from './engines.ts';
import { benchAnalyzer } from './analyzer.ts';
import { benchIndexer, decodeCost } from './indexer.ts';
import { benchProducer } from './producer.ts';
import { record } from './summary.ts';

const RESULTS = new URL('./results/', import.meta.url);
const rate = (n: number) => `${Math.round(n).toLocaleString('en')}/s`;

export async function run(): Promise<string> {
  const quick = process.argv.includes('--quick');
  const profile = process.argv.includes('--profile');
  const events = quick ? 50_000 : 300_000;
  const warmDocs = quick ? 50_000 : 300_000;
  const naiveSecs = quick ? 10 : 20;
  const date = new Date().toISOString().slice(0, 10);
  const runName = `bench-${Date.now().toString(36)}`;

  const engines = await benchEngines();
  const client = createEsClient(elasticsearchSchema.parse({ url: engines.esUrl, requestTimeoutMs: 120_000 }));
  try {
    const machine = await describeMachine(client);
    const warmRate = await warmUp(client, runName, warmDocs);
    const data = benchEvents(events);
    const producer = await benchProducer(engines.brokers, data, runName);
    mkdirSync(RESULTS, { recursive: true });
    const profileTo = profile ? fileURLToPath(new URL(`${date}-indexer.cpuprofile`, RESULTS)) : undefined;
    const ix = await benchIndexer(engines, client, data, { naiveSecs, profileTo, run: runName });
    const an = await benchAnalyzer(engines, data, { run: runName, profileTo: profile ? fileURLToPath(new URL(`${date}-analyzer.cpuprofile`, RESULTS)) : undefined });
    const decode = decodeCost(data.slice(0, 100_000));
    const options = indexerSchema.parse({});
    const ceiling = Math.max(...ix.rawPerSec.map((r) => r.rate));

    const md = [
      ...resultHead(`# Pipeline benchmark, ${date}${quick ? ' (--quick smoke run: too short for conclusions)' : ''}`, machine),
      `Documents: ${events.toLocaleString('en')} channel activity events of ~${Math.round(producer.bytes / events)} bytes, 200 channels, two monthly indices, 0 replicas. ` +
        `Elasticsearch warmed first with ${warmDocs.toLocaleString('en')} documents indexed and deleted (${rate(warmRate)}).`,
      '',
      '## Producing (Kafka, acks=all; best of two alternated runs each)',
      '',
      '| path | events/s | vs bare kafkajs |',
      '|---|---|---|',
      `| bare kafkajs producer, same keys and bytes, ${producer.batch.toLocaleString('en')} per send | ${rate(producer.barePerSec)} | 1.00 |`,
      `| tidewatch publisher (encode + idempotent send) | ${rate(producer.publisherPerSec)} | ${(producer.publisherPerSec / producer.barePerSec).toFixed(2)} |`,
      `| \`tidewatch import\` of the same events as JSONL (whole command, start-up included) | ${rate(producer.importPerSec)} | ${(producer.importPerSec / producer.barePerSec).toFixed(2)} |`,
      '',
      '## Indexing (Kafka -> Elasticsearch)',
      '',
      '| path | docs/s | ratio | target |',
      '|---|---|---|---|',
      ...ix.rawPerSec.map((r) => `| (a) raw \`_bulk\`, pre-built ~${(options.flushBytes / 1e6).toFixed(0)} MB bodies, ${r.concurrency} in flight, no Kafka | ${rate(r.rate)} | ${(r.rate / ceiling).toFixed(2)} of (a) | |`),
      `| indexer, steady (after its first batch is handled, to the last document) | ${rate(ix.indexerSteadyPerSec)} | ${(ix.indexerSteadyPerSec / ceiling).toFixed(2)} of (a); ${(ix.indexerSteadyPerSec / ix.naivePerSec).toFixed(1)}x (b) | >= 0.8 of (a); >= 10x (b) |`,
      `| indexer, whole run (its first ${ix.groupJoinSecs.toFixed(1)} s, group join and first batch, included) | ${rate(ix.indexerTotalPerSec)} | ${(ix.indexerTotalPerSec / ceiling).toFixed(2)} of (a) | |`,
      `| re-analysis: the indexed events read back from Elasticsearch in (time, id) order and analysed, findings written (${ix.reanalysisEvents.toLocaleString('en')} events) | ${rate(ix.reanalysisPerSec)} | ${(ix.reanalysisPerSec / ix.indexerSteadyPerSec).toFixed(2)} of the indexer, steady | |`,
      `| (b) naive: kafkajs eachMessage + one index call each (${ix.naiveDocs.toLocaleString('en')} docs in ${ix.naiveSecs.toFixed(1)} s) | ${rate(ix.naivePerSec)} | | |`,
      '',
      `Indexer options: the defaults (flushBytes ${options.flushBytes.toLocaleString('en')}, concurrency ${options.concurrency}, concurrentPartitions ${options.concurrentPartitions}, maxBatchRecords ${options.maxBatchRecords.toLocaleString('en')}); the topic has the default partitions. The ceiling (a) is the best of the raw runs.`,
      '',
      '## Live analyzer (`run analyzer --replay`: both stages, findings and snapshots on Elasticsearch; the same events on a topic of their own)',
      '',
      '| path | events/s | vs the indexer, steady |',
      '|---|---|---|',
      `| channel stage alone (first batch received to the last record analysed and forwarded) | ${rate(an.channelPerSec)} | ${(an.channelPerSec / ix.indexerSteadyPerSec).toFixed(2)} |`,
      `| both stages (first batch received to the network stage having taken the last record) | ${rate(an.bothSteadyPerSec)} | ${(an.bothSteadyPerSec / ix.indexerSteadyPerSec).toFixed(2)} |`,
      `| both stages, whole run (its first ${an.startSecs.toFixed(1)} s, group joins, included) | ${rate(an.bothTotalPerSec)} | ${(an.bothTotalPerSec / ix.indexerSteadyPerSec).toFixed(2)} |`,
      '',
      `${an.findingsWritten.toLocaleString('en')} findings written, ${an.snapshots.toLocaleString('en')} snapshots saved; analyzer options: the defaults in replay mode.`,
      '',
      '## CPU cost per event of the decode step (one core, no I/O)',
      '',
      '| step | events/s |',
      '|---|---|',
      ...decode.map((d) => `| ${d.step} | ${rate(d.perSec)} |`),
      ...(ix.profile.length ? ['', `## Where the indexer's time goes (CPU profile of this process during the indexer phase; ${profileTo})`, '', ...ix.profile] : []),
      '',
    ].join('\n');
    record(
      { measure: 'indexer, steady, vs the raw `_bulk` ceiling (pipeline)', value: (ix.indexerSteadyPerSec / ceiling).toFixed(2), target: '>= 0.8' },
      { measure: 'indexer, whole run, vs the raw `_bulk` ceiling (pipeline)', value: (ix.indexerTotalPerSec / ceiling).toFixed(2), target: '' },
      { measure: 're-analysis vs the indexer, steady (pipeline)', value: (ix.reanalysisPerSec / ix.indexerSteadyPerSec).toFixed(2), target: '' },
      { measure: 'live analyzer, both stages, vs the indexer, steady (pipeline)', value: (an.bothSteadyPerSec / ix.indexerSteadyPerSec).toFixed(2), target: '>= 0.8' },
    );
    writeFileSync(new URL(`${date}.md`, RESULTS), md);
    return md;
  } finally {
    await client.close();
  }
}
