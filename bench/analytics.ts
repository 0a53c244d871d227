/**
 * Analytics core throughput: every detector together (the analyzer: dedup, reorder buffer, gaps,
 * spikes, migration, takedowns, resurrections) over synthetic events, against a bare loop that
 * only parses the same JSON lines. Events are generated in chunks of pre-serialised lines, so
 * memory holds one chunk, never the whole input; generation is not timed.
 */
import { createHash, type Hash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { analyticsOptions, analyzer, type AnalyzerState } from '../pipeline/analytics/index.ts';
import type { ActivityEvent } from '../pipeline/events/index.ts';
import { record } from './summary.ts';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const CHUNK = 100_000;
/** Events parsed and analysed at a time: a transport batch. */
const BATCH = 5_000;
const LANGS = ['ar', 'en', 'fr', 'de', 'ru', 'tr', 'fa', 'ur'];
const LINKS = ['https://t.me/c/{n}', 'https://tt.me/x{n}', 'https://archive.org/details/{n}', 'https://open.rocket.chat/channel/{n}', 'https://example{n}.org/a'];

/** Deterministic generator of JSON lines: mostly posts, some with links, lifecycle and counts. */
function generator(channels: number, seed: number) {
  let s = seed;
  const random = () => ((s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0) / 4_294_967_296);
  let t = Date.UTC(2019, 0, 1);
  let n = 0;
  // Mean spacing such that each channel posts ~12 times a day.
  const stepMs = (86_400_000 / 12 / channels) * 2;
  return (): string[] => {
    const lines: string[] = new Array(CHUNK);
    for (let i = 0; i < CHUNK; i++) {
      t += Math.floor(random() * stepMs);
      const c = Math.floor(random() * channels);
      const r = random();
      const id = (n++).toString(16).padStart(32, '0');
      const ch = `{"id":"${c}","handle":"ch_${c}","language":"${LANGS[c % LANGS.length]}","network":"net_${c % 100}"}`;
      let action = 'post';
      let extra = `,"message":{"id":"${n}","media":"text","length":120}`;
      if (r < 0.04) extra += `,"links":["${LINKS[n % LINKS.length]!.replace('{n}', String(n % 5000))}"]`;
      else if (r < 0.05) [action, extra] = ['subscribers', `,"subscribers":${1000 + (n % 20_000)}`];
      else if (r < 0.0505) [action, extra] = ['channel_created', ''];
      else if (r < 0.051) [action, extra] = ['channel_banned', ''];
      lines[i] = `{"@timestamp":"${new Date(t).toISOString()}","event":{"id":"${id}","action":"${action}"},"platform":"telegram","channel":${ch}${extra},"source":{"type":"test"}}`;
    }
    return lines;
  };
}

interface Measure {
  events: number;
  parseMs: number;
  detectMs: number;
  heldBytes: number;
  state: AnalyzerState;
}

/**
 * Bytes of typed-array storage reachable from `root`, each buffer once. The gap and spike
 * detectors keep their per-subject numbers in Float64Arrays, whose storage lives outside the JS
 * heap (about 1 kB of a channel's 1.4 kB at 100,000 channels, which heapUsed alone left out).
 * Counted from the state itself rather than process.memoryUsage().arrayBuffers: buffers of a
 * state already dropped are freed lazily after GC, which made that figure go negative.
 */
function typedBytes(root: unknown): number {
  const seen = new Set<unknown>();
  const buffers = new Set<ArrayBufferLike>();
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) buffers.add(v.buffer);
    else if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) for (const x of v) stack.push(x);
    else {
      // Every own property, symbol-keyed and non-enumerable ones too (the analyzer keeps its
      // channel table beside the state that way); values only, no getters run.
      for (const k of Reflect.ownKeys(v)) {
        const d = Object.getOwnPropertyDescriptor(v, k);
        if (d && 'value' in d) stack.push(d.value);
      }
    }
  }
  let bytes = 0;
  for (const b of buffers) bytes += b.byteLength;
  return bytes;
}

function measure(totalEvents: number, channels: number): Measure {
  const next = generator(channels, 42);
  const state = analyzer.init(analyticsOptions());
  let parseMs = 0;
  let detectMs = 0;
  let findings = 0;
  const parsed: ActivityEvent[] = new Array(BATCH);
  for (let done = 0; done < totalEvents; done += CHUNK) {
    const lines = next();
    // Parsed a batch at a time, as a consumer does (a transport batch): the events die young
    // instead of being promoted, so the detectors are not charged for collecting parse garbage.
    for (let from = 0; from < CHUNK; from += BATCH) {
      const to = Math.min(CHUNK, from + BATCH);
      // CPU time of this process, not wall time: the machine may be shared with other work.
      const c0 = process.cpuUsage();
      for (let i = from; i < to; i++) parsed[i - from] = JSON.parse(lines[i]!) as ActivityEvent;
      const c1 = process.cpuUsage();
      for (let i = 0; i < to - from; i++) findings += analyzer.step(state, parsed[i]!).length;
      const c2 = process.cpuUsage();
      parseMs += (c1.user + c1.system - c0.user - c0.system) / 1000;
      detectMs += (c2.user + c2.system - c1.user - c1.system) / 1000;
    }
  }
  findings += analyzer.flush(state).length;
  parsed.fill(undefined as unknown as ActivityEvent);
  gc();
  gc();
  if (findings < 0) throw new Error('unreachable: keeps the findings count observable');
  return { events: totalEvents, parseMs, detectMs, heldBytes: process.memoryUsage().heapUsed + typedBytes(state), state };
}

type Analytics = Pick<typeof import('../pipeline/analytics/index.ts'), 'analyzer' | 'analyticsOptions'>;

/**
 * This tree's analyzer and another's (TIDEWATCH_BENCH_PAIR: the path of its
 * pipeline/analytics/index.ts) over the same parsed batches in one process, taking turns at going
 * first batch by batch: on a machine shared with other work, two runs apart differ by more than a
 * change under test, while the two halves of one run see the same load. Findings are hashed
 * outside the timed part, to show both give the same.
 */
async function paired(totalEvents: number, channels: number, otherPath: string): Promise<string[]> {
  if (totalEvents <= CHUNK) throw new Error(`TIDEWATCH_BENCH_PAIR needs more than ${CHUNK} events (TIDEWATCH_BENCH_EVENTS), the first ${CHUNK} being a warm-up`);
  const other = (await import(pathToFileURL(resolve(otherPath)).href)) as Analytics;
  const sides: Analytics[] = [{ analyzer, analyticsOptions }, other];
  const states = sides.map((m) => m.analyzer.init(m.analyticsOptions()));
  const ms = [0, 0];
  const found = [0, 0];
  // Every finding's JSON in order: equal digests mean the same findings in the same order.
  const hashes: Hash[] = [createHash('sha256'), createHash('sha256')];
  const next = generator(channels, 42);
  const parsed: ActivityEvent[] = new Array(BATCH);
  const out: (readonly unknown[])[] = new Array(BATCH);
  const take = (k: number, findings: readonly unknown[]): void => {
    for (const f of findings) {
      found[k]!++;
      hashes[k]!.update(JSON.stringify(f));
    }
  };
  let turn = 0;
  for (let done = 0; done < totalEvents; done += CHUNK) {
    const lines = next();
    for (let from = 0; from < CHUNK; from += BATCH) {
      const to = Math.min(CHUNK, from + BATCH);
      for (let i = from; i < to; i++) parsed[i - from] = JSON.parse(lines[i]!) as ActivityEvent;
      turn ^= 1;
      for (const k of [turn, turn ^ 1]) {
        const c0 = process.cpuUsage();
        for (let i = 0; i < to - from; i++) out[i] = sides[k]!.analyzer.step(states[k]!, parsed[i]!);
        const c1 = process.cpuUsage();
        // The first chunk warms both up (this tree's code ran in the main measure already).
        if (done >= CHUNK) ms[k]! += (c1.user + c1.system - c0.user - c0.system) / 1000;
        for (let i = 0; i < to - from; i++) take(k, out[i]!);
      }
    }
  }
  sides.forEach((m, k) => take(k, m.analyzer.flush(states[k]!)));
  const [hex0, hex1] = hashes.map((h) => h.digest('hex'));
  const timed = totalEvents - CHUNK;
  return [
    `Paired with ${otherPath}: both analyzers in this process over the same ${totalEvents.toLocaleString('en')} events (${channels.toLocaleString('en')} channels), taking turns at going first batch by batch; CPU time of step after the first ${CHUNK.toLocaleString('en')} (a warm-up).`,
    '',
    '| analyzer | detectors, events/s per core | findings | findings hash |',
    '|---|---|---|---|',
    `| this tree | ${perSec(timed, ms[0]!)} | ${found[0]} | ${hex0!.slice(0, 8)} |`,
    `| ${otherPath} | ${perSec(timed, ms[1]!)} | ${found[1]} | ${hex1!.slice(0, 8)} |`,
    '',
    `This tree ${(ms[1]! / ms[0]!).toFixed(3)}x as fast; findings ${hex0 === hex1 && found[0] === found[1] ? 'identical' : 'DIFFER'}.`,
    '',
  ];
}

/**
 * The channel counts of the paired runs (TIDEWATCH_BENCH_PAIR_CHANNELS, comma-separated; 10,000
 * by default): a change that only helps once the detectors' per-channel state outgrows the CPU's
 * caches shows as a ratio growing with the count.
 */
function pairedChannels(): number[] {
  const raw = process.env.TIDEWATCH_BENCH_PAIR_CHANNELS ?? '10000';
  const counts = raw.split(',').map((c) => Number(c.trim()));
  if (counts.some((c) => !Number.isInteger(c) || c <= 0)) {
    throw new Error(`TIDEWATCH_BENCH_PAIR_CHANNELS: expected positive whole numbers separated by commas, got "${raw}"`);
  }
  return counts;
}

const perSec = (events: number, ms: number): string => `${((events / ms) * 1000 / 1e6).toFixed(2)} M/s`;
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

export async function run(): Promise<string> {
  const events = Number(process.env.TIDEWATCH_BENCH_EVENTS ?? 10_000_000);
  const pairWith = process.env.TIDEWATCH_BENCH_PAIR;
  const pairCounts = pairWith ? pairedChannels() : []; // checked before the long main measure
  gc();
  const baseHeap = process.memoryUsage().heapUsed;
  const main = measure(events, 10_000);
  const mainHeld = main.heldBytes - baseHeap;
  main.state = undefined as unknown as AnalyzerState;
  const rows: string[] = [];
  let perChannel = '';
  for (const channels of [1_000, 10_000, 100_000]) {
    gc();
    const before = process.memoryUsage().heapUsed;
    const m = measure(1_000_000, channels);
    perChannel = `${((m.heldBytes - before) / channels / 1000).toFixed(2)} kB`;
    rows.push(`| ${channels.toLocaleString('en')} | 1,000,000 | ${mb(m.heldBytes - before)} | ${perChannel} |`);
  }
  const total = main.parseMs + main.detectMs;
  const pair: string[] = [];
  for (const channels of pairCounts) pair.push(...(await paired(events, channels, pairWith!)));
  const md = [
    '# Analytics core benchmark',
    '',
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}; one thread, measured in process CPU time (load average at start: ${loadavg()[0]!.toFixed(1)}).`,
    `Input: ${events.toLocaleString('en')} synthetic events, 10,000 channels in 100 networks, ~95% posts (4% with a link), 1% subscriber counts, 0.1% lifecycle; all detectors with default options.`,
    '',
    '| measure | CPU time | events/s per core |',
    '|---|---|---|',
    `| bare loop: JSON.parse only | ${(main.parseMs / 1000).toFixed(2)} s | ${perSec(events, main.parseMs)} |`,
    `| detectors only (already parsed) | ${(main.detectMs / 1000).toFixed(2)} s | ${perSec(events, main.detectMs)} |`,
    `| parse + detectors | ${(total / 1000).toFixed(2)} s | ${perSec(events, total)} |`,
    '',
    `Ratio of parse + detectors to the bare parse loop: ${(main.parseMs / total).toFixed(2)} (1.00 = the detectors cost nothing). Detectors alone vs parsing alone: ${(main.parseMs / main.detectMs).toFixed(2)}x as fast.`,
    `Memory held by the detector state (JS heap and typed arrays) after ${events.toLocaleString('en')} events (10,000 channels): ${mb(mainHeld)}.`,
    '',
    'Memory vs subjects (held by the state after the run, after GC: JS heap and typed arrays):',
    '',
    '| channels | events | memory | per channel |',
    '|---|---|---|---|',
    ...rows,
    '',
    ...pair,
  ].join('\n');
  record(
    { measure: 'detectors on parsed events, default options (analytics)', value: `${perSec(events, main.detectMs)} per core`, target: '>= 1 M/s' },
    { measure: 'detector state per channel, 100,000 channels (analytics)', value: perChannel, target: 'proportional to subjects' },
  );
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/analytics.md', import.meta.url), md);
  return md;
}
