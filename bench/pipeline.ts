/**
 * The pipeline on the real engines, against baselines run in the same process on the same
 * machine, reported as ratios (absolute figures move with whatever else the machine runs):
 *   - producing: tidewatch's publisher and `tidewatch import` vs a bare kafkajs producer;
 *   - indexing: the indexer (Kafka -> ES) vs the raw `_bulk` ceiling and vs a naive consumer;
 *   - analysing: the live analyzer (both stages, findings written) on the same events vs the indexer,
 *     as one instance and as two (this process and a child process in the same groups).
 * Engines come from the services script (TIDEWATCH_SERVICES_DIR and the port variables choose
 * which pair). `--quick`: a short smoke run; `--profile`: CPU profiles of the indexer and analyzer phases;
 * `--pin-es`: the raw and indexer phases again with Elasticsearch alone on core 1 (taskset).
 * The table goes to bench/results/<date>.md and is returned for printing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { elasticsearchSchema, indexerSchema } from '../pipeline/config/index.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { benchEngines, benchEvents, describeMachine, resultHead, warmUp } from './engines.ts';
import { cpuMsPerKDocs, formatCpu } from './cpu.ts';
import { benchAnalyzer, type Cores } from './analyzer.ts';
import { benchIndexer, decodeCost } from './indexer.ts';
import { benchProducer } from './producer.ts';
import { record } from './summary.ts';

const RESULTS = new URL('./results/', import.meta.url);
const rate = (n: number) => `${Math.round(n).toLocaleString('en')}/s`;
/** The cores the analyzer's processes (from their CPU per event), Kafka, Elasticsearch and the rest of the machine used. */
const cores = (c: Cores, cpuMsPerKEvents: number, perSec: number): string => {
  const analyzer = (cpuMsPerKEvents * perSec) / 1e6;
  return `machine ${c.machine.toFixed(2)}: analyzer ${analyzer.toFixed(2)}, Kafka ${c.kafka.toFixed(2)}, Elasticsearch ${c.elasticsearch.toFixed(2)}, others ${Math.max(0, c.machine - analyzer - c.kafka - c.elasticsearch).toFixed(2)}`;
};

export async function run(): Promise<string> {
  const quick = process.argv.includes('--quick');
  const profile = process.argv.includes('--profile');
  const pinEs = process.argv.includes('--pin-es');
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
    const ix = await benchIndexer(engines, client, data, { naiveSecs, profileTo, run: runName, pinEs });
    const an = await benchAnalyzer(engines, data, { run: runName, profileTo: profile ? fileURLToPath(new URL(`${date}-analyzer.cpuprofile`, RESULTS)) : undefined });
    const decode = decodeCost(data.slice(0, 100_000));
    const options = indexerSchema.parse({});
    const ceiling = ix.ceiling;
    const steady = Math.max(...ix.indexerRuns.map((r) => r.steady));
    const total = Math.max(...ix.indexerRuns.map((r) => r.total));
    const leastCpu = (runs: { cpu: Parameters<typeof cpuMsPerKDocs>[0]; rate: number }[]) => Math.min(...runs.map((r) => cpuMsPerKDocs(r.cpu, r.rate)));
    const cpuRatio = leastCpu(ix.rawRuns) / leastCpu(ix.indexerRuns.map((r) => ({ cpu: r.cpu, rate: r.total })));
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

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
      ...ix.indexerRuns.flatMap((r, i) => [
        `| indexer run ${i + 1}, steady (after its first batch is handled, to the last document) | ${rate(r.steady)} | ${(r.steady / ceiling).toFixed(2)} of (a); ${(r.steady / ix.naivePerSec).toFixed(1)}x (b) | >= 0.8 of (a); >= 10x (b) |`,
        `| indexer run ${i + 1}, whole run (its first ${r.joinSecs.toFixed(1)} s, group join and first batch, included) | ${rate(r.total)} | ${(r.total / ceiling).toFixed(2)} of (a) | |`,
      ]),
      `| (a) raw \`_bulk\` ceiling: the best of the raw runs below | ${rate(ceiling)} | 1.00 | |`,
      `| re-analysis: the indexed events read back from Elasticsearch in (time, id) order and analysed, findings written (${ix.reanalysisEvents.toLocaleString('en')} events) | ${rate(ix.reanalysisPerSec)} | ${(ix.reanalysisPerSec / steady).toFixed(2)} of the indexer, steady | |`,
      `| (b) naive: kafkajs eachMessage + one index call each (${ix.naiveDocs.toLocaleString('en')} docs in ${ix.naiveSecs.toFixed(1)} s) | ${rate(ix.naivePerSec)} | | |`,
      '',
      `Indexer options: the defaults (flushBytes ${options.flushBytes.toLocaleString('en')}, concurrency ${options.concurrency}, concurrentPartitions ${options.concurrentPartitions}, maxBatchRecords ${options.maxBatchRecords.toLocaleString('en')}); the topic has the default partitions.`,
      'Raw runs post the topic\'s own records, read back from Kafka, as the bodies the indexer sends (same documents, indices, ids), pre-built; every run (raw or indexer) writes fresh indices of the same template. ' +
        'The sweep comes first, then the indexer and the best raw setting alternate.',
      '',
      '## CPU used per phase (cores of the 2, over the phase; "others" is the rest of the machine)',
      '',
      '| phase | docs/s | CPU | CPU ms per 1,000 docs (ES + Kafka + bench) |',
      '|---|---|---|---|',
      ...ix.rawRuns.map((r) => `| raw \`_bulk\`, ~${mb(r.flushBytes)} bodies, ${r.concurrency} in flight | ${rate(r.rate)} | ${formatCpu(r.cpu)} | ${cpuMsPerKDocs(r.cpu, r.rate).toFixed(0)} |`),
      ...ix.indexerRuns.map((r, i) => `| indexer run ${i + 1} (whole run) | ${rate(r.total)} | ${formatCpu(r.cpu)} | ${cpuMsPerKDocs(r.cpu, r.total).toFixed(0)} |`),
      '',
      `Where the cores are the limit, the indexer can reach at most raw CPU per document / indexer CPU per document of the ceiling: ${cpuRatio.toFixed(2)} in this run (least CPU per document of each kind of run); this hardly moves with other work on the machine, while rates do.`,
      '',
      '## `_bulk` requests: time inside Elasticsearch (its `took`) and outside it',
      '',
      'Inside: the sum of the requests\' `took` over the phase, i.e. the requests Elasticsearch held at once on average (it has 2 write threads); a low figure means it waited for bodies, a high one with a high `took` per document and its threads waiting for a core (CPU table) means it had the work but not the cores. Outside: a request\'s latency minus its `took` (sending the body; the answer waiting for this process\'s event loop).',
      '',
      '| phase | requests | inside ES at once | ES `took` per 1,000 docs | outside ES per request, p50 / p90 |',
      '|---|---|---|---|---|',
      ...[...ix.rawRuns.map((r) => ({ name: `raw \`_bulk\`, ~${mb(r.flushBytes)} bodies, ${r.concurrency} in flight`, bulk: r.bulk })), ...ix.indexerRuns.map((r, i) => ({ name: `indexer run ${i + 1}`, bulk: r.bulk })),
        ...(ix.pinned ? [{ name: 'raw `_bulk`, Elasticsearch pinned to core 1', bulk: ix.pinned.raw.bulk }, { name: 'indexer, Elasticsearch pinned to core 1', bulk: ix.pinned.indexer.bulk }] : []),
      ].map(
        ({ name, bulk: b }) => `| ${name} | ${b.requests} | ${b.insideEs.toFixed(2)} | ${b.tookMsPerKDocs.toFixed(0)} ms | ${b.outsideMsP50.toFixed(0)} / ${b.outsideMsP90.toFixed(0)} ms |`,
      ),
      ...(ix.pinned
        ? [
            '',
            '## Elasticsearch pinned to core 1 (taskset -a), Kafka and this process on core 0 (`--pin-es`)',
            '',
            '| phase | docs/s | ratio | CPU |',
            '|---|---|---|---|',
            `| raw \`_bulk\`, ~${mb(ix.pinned.raw.flushBytes)} bodies, ${ix.pinned.raw.concurrency} in flight | ${rate(ix.pinned.raw.rate)} | 1.00 | ${formatCpu(ix.pinned.raw.cpu)} |`,
            `| indexer, steady | ${rate(ix.pinned.indexer.steady)} | ${(ix.pinned.indexer.steady / ix.pinned.raw.rate).toFixed(2)} of the pinned raw run | |`,
            `| indexer, whole run | ${rate(ix.pinned.indexer.total)} | ${(ix.pinned.indexer.total / ix.pinned.raw.rate).toFixed(2)} of the pinned raw run | ${formatCpu(ix.pinned.indexer.cpu)} |`,
          ]
        : []),
      '',
      '## Live analyzer (`run analyzer --replay`: both stages, findings and snapshots on Elasticsearch; the same events on a topic of their own)',
      '',
      '| path | events/s | vs the indexer, steady |',
      '|---|---|---|',
      `| channel stage alone (first batch received to the last record analysed and forwarded) | ${rate(an.channelPerSec)} | ${(an.channelPerSec / steady).toFixed(2)} |`,
      `| both stages (first batch received to the network stage having taken the last record) | ${rate(an.bothSteadyPerSec)} | ${(an.bothSteadyPerSec / steady).toFixed(2)} |`,
      `| both stages, whole run (its first ${an.startSecs.toFixed(1)} s, group joins, included) | ${rate(an.bothTotalPerSec)} | ${(an.bothTotalPerSec / steady).toFixed(2)} |`,
      '',
      `${an.findingsStored.toLocaleString('en')} findings stored (${an.findingsWritten.toLocaleString('en')} writes), ${an.snapshots.toLocaleString('en')} snapshots saved (largest ${(an.snapshotMaxChars / 1e6).toFixed(1)} MB, ${an.snapshotSaveSecs.toFixed(1)} s saving in all); analyzer options: the defaults in replay mode. ` +
        `CPU of the analyzer's process (all its threads, from its start to the last record): ${an.cpuMsPerKEvents.toFixed(1)} ms per 1,000 events.`,
      '',
      '### Two instances (this process\'s and a child process\'s, same topic and groups, started together on the backlog)',
      '',
      '| path | events/s | vs the indexer, steady |',
      '|---|---|---|',
      `| two instances, both stages (first batch received by either to a network stage having taken the last record of every partition) | ${rate(an.two.bothSteadyPerSec)} | ${(an.two.bothSteadyPerSec / steady).toFixed(2)} |`,
      `| two instances, both stages, whole run (its first ${an.two.startSecs.toFixed(1)} s, group joins, included) | ${rate(an.two.bothTotalPerSec)} | ${(an.two.bothTotalPerSec / steady).toFixed(2)} |`,
      '',
      `CPU of both processes (all their threads, from their start to the last record): ${an.two.cpuMsPerKEvents.toFixed(1)} ms per 1,000 events (this process ${an.two.cpuMsPerKEventsHere.toFixed(1)}, the child ${an.two.cpuMsPerKEventsChild.toFixed(1)}). ` +
        `Cores busy over the measurement (of ${cpus().length}): ${cores(an.two.cores, an.two.cpuMsPerKEvents, an.two.bothTotalPerSec)} (one instance: ${cores(an.cores, an.cpuMsPerKEvents, an.bothTotalPerSec)}). ` +
        `Findings stored: ${an.two.findingsStored.toLocaleString('en')} (one instance: ${an.findingsStored.toLocaleString('en')}); ${an.two.findingsOnlyInOne} only in the one-instance run, ${an.two.findingsOnlyInTwo} only in the two-instance run (by index and id).`,
      '',
      '| instance | records analysed, channel / network stage | skipped (covered by a restored snapshot) | states restored | assignments (from the start) |',
      '|---|---|---|---|---|',
      ...an.two.instances.map((i) => `| ${i.name} | ${i.channel.toLocaleString('en')} / ${i.network.toLocaleString('en')} | ${i.skipped.toLocaleString('en')} | ${i.restored} | ${i.assignments.join('; ')} |`),
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
      { measure: 'tidewatch publisher vs a bare kafkajs producer (pipeline)', value: (producer.publisherPerSec / producer.barePerSec).toFixed(2), target: '' },
      { measure: '`tidewatch import` vs a bare kafkajs producer (pipeline)', value: (producer.importPerSec / producer.barePerSec).toFixed(2), target: '' },
      { measure: 'indexer, steady, vs the raw `_bulk` ceiling on the same records (pipeline)', value: (steady / ceiling).toFixed(2), target: '>= 0.8' },
      { measure: 'indexer, whole run, vs the raw `_bulk` ceiling on the same records (pipeline)', value: (total / ceiling).toFixed(2), target: '' },
      { measure: 'raw `_bulk` CPU per document / indexer CPU per document, ES + Kafka + bench process (pipeline)', value: cpuRatio.toFixed(2), target: '' },
      ...(ix.pinned
        ? [{ measure: 'indexer, steady, vs raw `_bulk`, Elasticsearch pinned to its own core (pipeline --pin-es)', value: (ix.pinned.indexer.steady / ix.pinned.raw.rate).toFixed(2), target: '' }]
        : []),
      { measure: 're-analysis vs the indexer, steady (pipeline)', value: (ix.reanalysisPerSec / steady).toFixed(2), target: '' },
      { measure: 'live analyzer, both stages, vs the indexer, steady (pipeline)', value: (an.bothSteadyPerSec / steady).toFixed(2), target: '>= 0.8' },
      { measure: 'live analyzer, two instances, both stages, vs the indexer, steady (pipeline)', value: (an.two.bothSteadyPerSec / steady).toFixed(2), target: '' },
    );
    writeFileSync(new URL(`${date}.md`, RESULTS), md);
    return md;
  } finally {
    await client.close();
  }
}
