import type { Client } from '@elastic/elasticsearch';
import { esError } from './client.ts';

/**
 * Earliest and latest `@timestamp` over the given index patterns (missing ones are skipped);
 * null when they hold no document. What `tidewatch setup` fits the dashboards' time range to.
 */
export async function timeExtent(client: Client, patterns: readonly string[]): Promise<{ firstAt: string; lastAt: string } | null> {
  let res;
  try {
    res = await client.search({
      index: patterns.join(','),
      size: 0,
      ignore_unavailable: true,
      allow_no_indices: true,
      aggs: { first: { min: { field: '@timestamp' } }, last: { max: { field: '@timestamp' } } },
    });
  } catch (err) {
    throw esError(err, `reading the time extent of ${patterns.join(', ')}`);
  }
  const a = res.aggregations as { first?: { value: number | null }; last?: { value: number | null } } | undefined;
  const first = a?.first?.value;
  const last = a?.last?.value;
  return first == null || last == null ? null : { firstAt: new Date(first).toISOString(), lastAt: new Date(last).toISOString() };
}
