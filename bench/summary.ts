/**
 * The ratios the throughput targets are stated in, gathered from the benches of one `npm run bench`
 * run so they print as one table at the end (each bench still writes its own full table).
 */
export interface SummaryRow {
  measure: string;
  value: string;
  target: string;
}

const rows: SummaryRow[] = [];

export function record(...r: SummaryRow[]): void {
  rows.push(...r);
}

/** The table, or "" when no bench recorded anything. */
export function summaryTable(): string {
  if (rows.length === 0) return '';
  return ['# Summary of this run', '', '| measure | value | target |', '|---|---|---|', ...rows.map((r) => `| ${r.measure} | ${r.value} | ${r.target} |`), ''].join('\n');
}
