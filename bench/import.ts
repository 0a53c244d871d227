/**
 * Import throughput and memory: a synthetic Telegram Desktop export (1 GB by default,
 * TIDEWATCH_BENCH_IMPORT_BYTES to change, 200 MB with `--quick`) written to the temp dir, then
 * `tidewatch import --dry-run` on it in a child process, so the figures are the command's own:
 * wall time, messages/s, MB/s and the kernel's peak RSS. Dry run isolates the reader from the
 * transport.
 *
 * The machine is shared, so absolute figures move with its load. Each run therefore also times a
 * bare loop over the same file that only decodes and JSON.parses each message (framed by the
 * synthetic file's own layout, no events): the ratio of the command to it is the import's cost
 * beyond parsing, measured on the same load. The two run twice, alternated; the best of each counts.
 *
 * `--compare` (or TIDEWATCH_BENCH_IMPORT_COMPARE=1) also drains the same file through each reader
 * of the source (the framed JSON.parse reader and the stream-json one it falls back to), each in
 * its own child, so the ratio between them is measured in the same run, on the same load.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeSyntheticExport } from '../pipeline/producers/telegram-export/synthetic.ts';
import { record } from './summary.ts';

const BIN = fileURLToPath(new URL('../bin/tidewatch.js', import.meta.url));
const REPORT_MAX_RSS = "data:text/javascript,process.on('exit',()=>process.stderr.write('MAXRSS_KB '+process.resourceUsage().maxRSS+'\\n'))";

const SOURCE = pathToFileURL(fileURLToPath(new URL('../pipeline/producers/telegram-export/source.ts', import.meta.url))).href;

interface Run {
  seconds: number;
  /** Events produced; for the bare parse loop, the messages it parsed. */
  produced: number;
  maxRssMb: number;
}

/** A child process; resolves with its stdout and stderr once it exits 0. */
async function child(args: string[]): Promise<{ out: string; err: string; seconds: number }> {
  const started = performance.now();
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d));
  proc.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${err}`);
  return { out, err, seconds: (performance.now() - started) / 1000 };
}

const maxRss = (err: string) => Number(/MAXRSS_KB (\d+)/.exec(err)?.[1]) / 1024;

/** Rounds of the command and the parse loop, alternated. */
const ROUNDS = 2;

/** The faster of two runs, with the higher peak RSS of the two (memory is a limit, not a race). */
const best = (a: Run | undefined, b: Run): Run => (a === undefined ? b : { ...(a.seconds <= b.seconds ? a : b), maxRssMb: Math.max(a.maxRssMb, b.maxRssMb) });

/** `tidewatch import --dry-run`: the command's own figures. */
async function runCommand(file: string): Promise<Run> {
  const { out, err, seconds } = await child(['--import', REPORT_MAX_RSS, BIN, 'import', '--dry-run', file]);
  return { seconds, produced: Number(/produced (\d+)/.exec(out)?.[1]), maxRssMb: maxRss(err) };
}

/** One reader of the source, drained in a child with nothing else loaded. */
async function runReader(file: string, reader: 'auto' | 'stream-json'): Promise<Run> {
  const script = `const { openTelegramExportSource } = await import(${JSON.stringify(SOURCE)});
let produced = 0;
for await (const item of openTelegramExportSource(${JSON.stringify(file)}, { format: 'telegram-export', storeText: false }, ${JSON.stringify(reader)}).items()) if (item.kind === 'event') produced++;
process.stdout.write('produced ' + produced + '\\n');`;
  const { out, err, seconds } = await child(['--import', 'tsx', '--import', REPORT_MAX_RSS, '--input-type=module', '-e', script]);
  return { seconds, produced: Number(/produced (\d+)/.exec(out)?.[1]), maxRssMb: maxRss(err) };
}

/**
 * The bare loop: each message's bytes decoded and JSON.parse'd, nothing else. It frames messages by
 * the layout writeSyntheticExport() uses ("\n  {" ... "\n  }"), so it is only valid for that file;
 * the caller checks it parsed every message.
 */
async function runParseOnly(file: string): Promise<Run> {
  const script = `import { openSync, readSync } from 'node:fs';
const fd = openSync(${JSON.stringify(file)}, 'r');
const read = Buffer.allocUnsafe(1 << 20);
let carry = Buffer.alloc(0);
let parsed = 0;
for (;;) {
  const n = readSync(fd, read, 0, read.length, null);
  if (n === 0) break;
  const buf = Buffer.concat([carry, read.subarray(0, n)]);
  let at = 0;
  for (;;) {
    const start = buf.indexOf('\\n  {', at);
    const end = start < 0 ? -1 : buf.indexOf('\\n  }', start);
    if (end < 0) {
      // From the element begun, or the last bytes, which may hold the start of the next marker.
      carry = buf.subarray(start < 0 ? Math.max(at, buf.length - 3) : start);
      break;
    }
    if (JSON.parse(buf.toString('utf8', start + 3, end + 4)) !== null) parsed++;
    at = end + 4;
  }
}
process.stdout.write('produced ' + parsed + '\\n');`;
  const { out, err, seconds } = await child(['--import', REPORT_MAX_RSS, '--input-type=module', '-e', script]);
  return { seconds, produced: Number(/produced (\d+)/.exec(out)?.[1]), maxRssMb: maxRss(err) };
}

export async function run(): Promise<string> {
  const quick = process.argv.includes('--quick');
  const targetBytes = Number(process.env.TIDEWATCH_BENCH_IMPORT_BYTES ?? (quick ? 2e8 : 1e9));
  const file = join(tmpdir(), `tidewatch-bench-import-${process.pid}.json`);
  try {
    const { messages, bytes } = await writeSyntheticExport(file, targetBytes);
    const loadBefore = loadavg();
    // Alternated, best of each: a burst of load on the shared cores then skews neither the figures
    // nor their ratio much. The parse loop first: it also brings the file into the page cache.
    let parseOnly: Run | undefined;
    let command: Run | undefined;
    for (let i = 0; i < ROUNDS; i++) {
      parseOnly = best(parseOnly, await runParseOnly(file));
      if (parseOnly.produced !== messages) throw new Error(`the parse-only loop parsed ${parseOnly.produced} of ${messages} messages`);
      command = best(command, await runCommand(file));
    }
    const compare = process.argv.includes('--compare') || process.env.TIDEWATCH_BENCH_IMPORT_COMPARE === '1';
    const readers = compare ? { framed: await runReader(file, 'auto'), streamJson: await runReader(file, 'stream-json') } : undefined;
    const loadAfter = loadavg();
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
    const row = (label: string, r: Run, produced = r.produced.toLocaleString('en')) =>
      `| ${label} | ${r.seconds.toFixed(1)} s | ${Math.round(messages / r.seconds).toLocaleString('en')} | ${(bytes / 1e6 / r.seconds).toFixed(1)} | ${produced} | ${r.maxRssMb.toFixed(0)} MB |`;
    const md = [
      '# Import benchmark (Telegram Desktop export, dry run)',
      '',
      `Machine: ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, shared), Node ${process.version}, load average (1/5/15 min) ${load(loadBefore)} before, ${load(loadAfter)} after. Wall time includes process start-up.`,
      `Input: synthetic single-channel export, ${(bytes / 1e6).toFixed(0)} MB, ${messages.toLocaleString('en')} messages (a third with entity arrays, 10% edited, forwards, photos).`,
      '',
      '| run | wall time | messages/s | MB/s | events produced | peak RSS |',
      '|---|---|---|---|---|---|',
      row('`tidewatch import --dry-run`', command!),
      row('bare loop: decode + JSON.parse each message, nothing else', parseOnly!, '(none)'),
      '',
      `Best of ${ROUNDS} alternated runs each (peak RSS: the highest). Import / bare parse loop, same run: ${(command!.seconds / parseOnly!.seconds).toFixed(2)}x the time (1.00 = the import costs nothing beyond parsing).`,
      ...(readers
        ? [
            '',
            '| reader of the source, alone | wall time | messages/s | MB/s | events produced | peak RSS |',
            '|---|---|---|---|---|---|',
            row('source, framed reader (JSON.parse)', readers.framed),
            row('source, stream-json reader (fallback)', readers.streamJson),
            '',
            `Framed / stream-json reader, same run: ${(readers.streamJson.seconds / readers.framed.seconds).toFixed(2)}x.`,
          ]
        : []),
      '',
    ].join('\n');
    record(
      { measure: '`tidewatch import --dry-run`, messages/s (import)', value: Math.round(messages / command!.seconds).toLocaleString('en'), target: '' },
      { measure: 'import time vs a bare parse loop over the same file (import)', value: `${(command!.seconds / parseOnly!.seconds).toFixed(2)}x`, target: '' },
    );
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(new URL('./results/import.md', import.meta.url), md);
    return md;
  } finally {
    await rm(file, { force: true });
  }
}
