/**
 * Import throughput and memory: a synthetic Telegram Desktop export (1 GB by default,
 * TIDEWATCH_BENCH_IMPORT_BYTES to change) written to the temp dir, then `tidewatch import
 * --dry-run` on it in a child process, so the figures are the command's own: wall time,
 * messages/s, MB/s and the kernel's peak RSS. Dry run isolates the reader from the transport.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticExport } from '../pipeline/producers/telegram-export/synthetic.ts';

const BIN = fileURLToPath(new URL('../bin/tidewatch.js', import.meta.url));
const REPORT_MAX_RSS = "data:text/javascript,process.on('exit',()=>process.stderr.write('MAXRSS_KB '+process.resourceUsage().maxRSS+'\\n'))";

export async function run(): Promise<string> {
  const targetBytes = Number(process.env.TIDEWATCH_BENCH_IMPORT_BYTES ?? 1e9);
  const file = join(tmpdir(), `tidewatch-bench-import-${process.pid}.json`);
  try {
    const { messages, bytes } = await writeSyntheticExport(file, targetBytes);
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', REPORT_MAX_RSS, BIN, 'import', '--dry-run', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`import exited ${code}: ${err}`);
    const produced = Number(/produced (\d+)/.exec(out)?.[1]);
    const maxRssMb = Number(/MAXRSS_KB (\d+)/.exec(err)?.[1]) / 1024;
    const md = [
      '# Import benchmark (Telegram Desktop export, dry run)',
      '',
      `Machine: ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}. Wall time includes process start-up.`,
      `Input: synthetic single-channel export, ${(bytes / 1e6).toFixed(0)} MB, ${messages.toLocaleString('en')} messages (a third with entity arrays, 10% edited, forwards, photos).`,
      '',
      '| measure | value |',
      '|---|---|',
      `| wall time | ${seconds.toFixed(1)} s |`,
      `| messages/s | ${Math.round(messages / seconds).toLocaleString('en')} |`,
      `| events produced | ${produced.toLocaleString('en')} |`,
      `| MB/s | ${(bytes / 1e6 / seconds).toFixed(1)} |`,
      `| peak RSS | ${maxRssMb.toFixed(0)} MB |`,
      '',
    ].join('\n');
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(new URL('./results/import.md', import.meta.url), md);
    return md;
  } finally {
    await rm(file, { force: true });
  }
}
