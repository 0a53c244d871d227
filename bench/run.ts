/**
 * `npm run bench [-- name...]`: the registered benchmarks, one after the other (never side by
 * side: they measure the same cores). Each writes its table to bench/results/<name>.md and
 * returns it for printing; the ratios the targets are stated in end the output as one table.
 */
import { summaryTable } from './summary.ts';

const BENCHES: Record<string, () => Promise<{ run: () => Promise<string> }>> = {
  analytics: () => import('./analytics.ts'),
  alerts: () => import('./alerts.ts'),
  import: () => import('./import.ts'),
  pipeline: () => import('./pipeline.ts'),
};

// Flags (`--quick`, `--profile`, `--pin-es`) are read by the benches themselves.
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
  const load = BENCHES[name];
  if (!load) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`${await (await load()).run()}\n`);
}
process.stdout.write(summaryTable());
