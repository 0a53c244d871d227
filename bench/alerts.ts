/**
 * Alert latency in live mode on the real engines: producer -> Kafka -> analyzer -> Elasticsearch
 * -> alerter (node-cron) -> webhook, with a compressed clock (1 s = 10 min, as in the live
 * integration test). Many channels post at their usual pace; some stop, one after the other
 * (silence alerts), others burst (spike alerts). Latency of a silence: from the moment its gap
 * crosses the threshold to the webhook receiving the alert; of a spike: from publishing the burst
 * to the webhook. Reported as a distribution and in units of the rule's schedule period, the
 * bound the alerter promises ("within one scheduler tick"). `--quick`: fewer channels.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { elasticsearchSchema } from '../pipeline/config/index.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { HOUR, MIN, startLivePipeline, until } from '../test/live-pipeline.ts';
import { benchEngines, describeMachine, resultHead } from './engines.ts';

const RESULTS = new URL('./results/', import.meta.url);
const SILENCE_PERIOD_MS = 1_000;
const SPIKE_PERIOD_MS = 2_000;
const ANALYZER_TICK_MS = 500;

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

function row(what: string, samples: number[], periodMs: number, bound: string): string {
  const s = [...samples].sort((a, b) => a - b);
  const ms = (v: number) => `${Math.round(v).toLocaleString('en')} ms`;
  const ticks = (v: number) => (v / periodMs).toFixed(2);
  return `| ${what} | ${s.length} | ${ms(quantile(s, 0))} | ${ms(quantile(s, 0.5))} | ${ms(quantile(s, 0.9))} | ${ms(s.at(-1)!)} | ${ticks(quantile(s, 0.5))} / ${ticks(s.at(-1)!)} | ${bound} |`;
}

export async function run(): Promise<string> {
  const quick = process.argv.includes('--quick');
  const n = quick ? 4 : 12;
  const engines = await benchEngines();
  const client = createEsClient(elasticsearchSchema.parse({ url: engines.esUrl }));
  const machine = await describeMachine(client).finally(() => client.close());
  const live = await startLivePipeline({
    name: `bench-alerts-${Date.now().toString(36)}`, brokers: engines.brokers, esUrl: engines.esUrl, speed: 600,
    analyzerTickSecs: ANALYZER_TICK_MS / 1000, silenceSchedule: '* * * * * *', spikeSchedule: '*/2 * * * * *',
  });
  const silent = Array.from({ length: n }, (_, i) => `quiet-${i}`);
  const bursty = Array.from({ length: n }, (_, i) => `burst-${i}`);
  let posting: NodeJS.Timeout | undefined;
  try {
    const { now, realAt, received, store, analyzer, publisher, post } = live;
    const history = [];
    for (let t = now() - 26 * HOUR, i = 0; t < now(); t += 10 * MIN, i++) for (const ch of [...silent, ...bursty]) history.push(post(ch, t, i));
    await publisher.publish(history);
    const active = new Set([...silent, ...bursty]);
    let seq = 1_000_000;
    posting = setInterval(() => void publisher.publish([...active].map((ch) => post(ch, now(), seq++))).catch(() => {}), 1_000);
    await until(() => analyzer.stats.channel.records >= history.length, 'the history analysed', 120_000);

    // Silences: one channel stops every 1.5 s; each alert is awaited at the end.
    for (const ch of silent) {
      active.delete(ch);
      await new Promise((r) => setTimeout(r, 1_500));
    }
    const firing = (ch: string) => received.find((r) => r.alert.rule === 'silence' && r.alert.state === 'firing' && r.alert.subject === `channel:${ch}`);
    await until(() => silent.every(firing), 'every silence alert', 120_000);
    const silenceMs: number[] = [];
    for (const ch of silent) {
      const gap = (await store.findings('gap', { subject: ch, open: true }))[0];
      if (!gap) throw new Error(`bench: no open gap stored for ${ch}`);
      silenceMs.push(firing(ch)!.at - realAt(Date.parse(gap.start) + gap.baselineHours * HOUR));
    }

    // Spikes: a burst of 40 posts in a minute (one is usual) on one channel every 2.5 s.
    const burstAt = new Map<string, number>();
    for (const ch of bursty) {
      const t = now();
      burstAt.set(ch, Date.now());
      await publisher.publish(Array.from({ length: 40 }, (_, i) => post(ch, t + i * 1000, seq++)));
      await new Promise((r) => setTimeout(r, 2_500));
    }
    const spiked = (ch: string) => received.find((r) => r.alert.rule === 'spike' && r.alert.subject === `channel:${ch}`);
    await until(() => bursty.every(spiked), 'every spike alert', 120_000);
    const spikeMs = bursty.map((ch) => spiked(ch)!.at - burstAt.get(ch)!);

    const md = [
      ...resultHead(`# Alert latency, live mode, ${new Date().toISOString().slice(0, 10)}${quick ? ' (--quick)' : ''}`, machine),
      `${2 * n} channels on Kafka + Elasticsearch, compressed clock (1 s = 10 min), analyzer tick ${ANALYZER_TICK_MS} ms, ` +
        `silence rule every ${SILENCE_PERIOD_MS / 1000} s, spike rule every ${SPIKE_PERIOD_MS / 1000} s (node-cron), ES refresh 1 s.`,
      '',
      '| alert | samples | min | p50 | p90 | max | in schedule periods (p50 / max) | bound |',
      '|---|---|---|---|---|---|---|---|',
      row('silence: threshold crossed -> webhook', silenceMs, SILENCE_PERIOD_MS, 'one analyzer tick + refresh + one schedule period'),
      row('spike: burst published -> webhook', spikeMs, SPIKE_PERIOD_MS, '5 s'),
      '',
      'A silence alert waits for the analyzer tick that opens the gap, the index refresh and the next run of the rule; ' +
        'with the default one-minute schedule that overhead is a small fraction of one period.',
    ].join('\n');
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(new URL('alerts.md', RESULTS), `${md}\n`);
    return md;
  } finally {
    clearInterval(posting);
    await live.close();
  }
}
