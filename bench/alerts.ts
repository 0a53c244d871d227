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
import type { GapFinding } from '../pipeline/analytics/types.ts';
import { createEsClient } from '../pipeline/store/elasticsearch/client.ts';
import { HOUR, MIN, startLivePipeline, until } from '../test/live-pipeline.ts';
import { benchEngines, describeMachine, resultHead } from './engines.ts';
import { record } from './summary.ts';

const RESULTS = new URL('./results/', import.meta.url);
const SILENCE_PERIOD_MS = 1_000;
const SPIKE_PERIOD_MS = 2_000;
const ANALYZER_TICK_MS = 500;
/** analytics.allowedLatenessSecs of the live pipeline (60 s of its clock): the analyzer judges no silence before it has passed. */
const LATENESS_REAL_MS = 60_000 / 600;

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
    /** Each channel's latest post: where the silence it is stopped for begins. */
    const lastPost = new Map<string, number>();
    for (let t = now() - 26 * HOUR, i = 0; t < now(); t += 10 * MIN, i++) {
      for (const ch of [...silent, ...bursty]) {
        history.push(post(ch, t, i));
        lastPost.set(ch, t);
      }
    }
    await publisher.publish(history);
    const active = new Set([...silent, ...bursty]);
    let seq = 1_000_000;
    let published = history.length;
    posting = setInterval(() => {
      const t = now();
      for (const ch of active) lastPost.set(ch, t);
      const batch = [...active].map((ch) => post(ch, t, seq++));
      publisher.publish(batch).then(() => void (published += batch.length), () => {});
    }, 1_000);
    // Both stages caught up with everything published so far, live posts included, before any
    // channel stops: the silences measured start from an analyzer that is not behind its topic.
    await until(() => analyzer.stats.channel.records >= published && analyzer.stats.network.records >= published, 'the history analysed', 120_000);

    // Silences: one channel stops every 1.5 s. A channel can also have had an earlier gap, closed
    // since (a real alert: posts the analyzer had not yet consumed looked like silence while it
    // was behind), so each latency is that of the alert on the gap of this silence: the open gap
    // that starts at the channel's last post, found by the alert's findingId.
    for (const ch of silent) {
      active.delete(ch);
      await new Promise((r) => setTimeout(r, 1_500));
    }
    const silences = new Map<string, { gap: GapFinding; alertAt: number }>();
    await until(async () => {
      for (const ch of silent) {
        if (silences.has(ch)) continue;
        // Its last post, or the one before if that publish failed.
        const gap = (await store.findings('gap', { subject: ch, open: true })).find((g) => Date.parse(g.start) >= lastPost.get(ch)! - 10 * MIN);
        const alert = gap && received.find((r) => r.alert.rule === 'silence' && r.alert.state === 'firing' && r.alert.findingId === gap.id);
        if (gap && alert) silences.set(ch, { gap: gap as GapFinding, alertAt: alert.at });
      }
      return silences.size === silent.length;
    }, 'every silence alert on the gap of its silence', 120_000).catch(async (err: Error) => {
      const missing = await Promise.all(silent.filter((ch) => !silences.has(ch)).map(async (ch) => {
        const gaps = (await store.findings('gap', { subject: ch })).map((g) => `${g.start}${g.end === null ? ' (open)' : ''}`);
        const alerts = received.filter((r) => r.alert.subject === `channel:${ch}`).map((r) => `${r.alert.state} ${r.alert.findingId}`);
        return `${ch}: last post ${new Date(lastPost.get(ch)!).toISOString()}; gaps ${gaps.join(', ') || 'none'}; alerts ${alerts.join(', ') || 'none'}`;
      }));
      throw new Error(`${err.message}\n${missing.join('\n')}`);
    });
    const silenceMs = silent.map((ch) => {
      const { gap, alertAt } = silences.get(ch)!;
      return alertAt - realAt(Date.parse(gap.start) + gap.baselineHours * HOUR);
    });
    const earlier = received.filter((r) => r.alert.rule === 'silence' && r.alert.state === 'firing' && ![...silences.values()].some((v) => v.gap.id === r.alert.findingId)).length;

    // Spikes: a burst of 40 posts in a minute (one is usual) on one channel every 2.5 s.
    const burstAt = new Map<string, number>();
    for (const ch of bursty) {
      const t = now();
      burstAt.set(ch, Date.now());
      await publisher.publish(Array.from({ length: 40 }, (_, i) => post(ch, t + i * 1000, seq++)));
      await new Promise((r) => setTimeout(r, 2_500));
    }
    // The alert of this burst: one received after it was published.
    const spiked = (ch: string) => received.find((r) => r.alert.rule === 'spike' && r.alert.subject === `channel:${ch}` && r.at >= burstAt.get(ch)!);
    await until(() => bursty.every(spiked), 'every spike alert', 120_000);
    const spikeMs = bursty.map((ch) => spiked(ch)!.at - burstAt.get(ch)!);

    const md = [
      ...resultHead(`# Alert latency, live mode, ${new Date().toISOString().slice(0, 10)}${quick ? ' (--quick)' : ''}`, machine),
      `${2 * n} channels on Kafka + Elasticsearch, compressed clock (1 s = 10 min), analyzer tick ${ANALYZER_TICK_MS} ms, ` +
        `silence rule every ${SILENCE_PERIOD_MS / 1000} s, spike rule every ${SPIKE_PERIOD_MS / 1000} s (node-cron), ES refresh 1 s.`,
      '',
      '| alert | samples | min | p50 | p90 | max | in schedule periods (p50 / max) | bound |',
      '|---|---|---|---|---|---|---|---|',
      row('silence: threshold crossed -> webhook', silenceMs, SILENCE_PERIOD_MS, `one schedule period (+ ${LATENESS_REAL_MS} ms allowed lateness)`),
      row('spike: burst published -> webhook', spikeMs, SPIKE_PERIOD_MS, '5 s'),
      '',
      `A silence alert waits for the allowed lateness (${LATENESS_REAL_MS} ms here), the analyzer's tick at the silence's deadline, ` +
        'the refreshed write of the gap and its announcement to the alerter over Kafka (alerter.findingsTopic), which evaluates the ' +
        'silence rule at once; without the announcement, the next scheduled run of the rule (consumers/alerter/README.md, "Latency"). ' +
        'The threshold is read from the finding (baselineHours, rounded to 0.01 h = 60 ms here).',
      `Silence alerts on other gaps (channels that looked silent while the analyzer was behind its topic): ${earlier}.`,
    ].join('\n');
    const maxPeriods = (samples: number[], periodMs: number) => (Math.max(...samples) / periodMs).toFixed(2);
    record(
      { measure: 'silence alert after the threshold, max, in schedule periods (alerts)', value: maxPeriods(silenceMs, SILENCE_PERIOD_MS), target: '<= 1' },
      { measure: 'spike alert after the burst, max, in schedule periods (alerts)', value: maxPeriods(spikeMs, SPIKE_PERIOD_MS), target: '' },
    );
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(new URL('alerts.md', RESULTS), `${md}\n`);
    return md;
  } finally {
    clearInterval(posting);
    await live.close();
  }
}
