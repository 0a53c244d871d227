/**
 * The time range and per-day interval the dashboards are saved with. `tidewatch setup` fits them
 * to the data it finds, so the dashboards open on all of it (a relative `now-10y` cut the start
 * of the record more each day); without data they open on the last 30 days.
 */

/** Earliest and latest document time across the dashboards' indices. */
export interface DataExtent {
  firstAt: string;
  lastAt: string;
}

/**
 * Calendar intervals for the per-day panels, finest first. Kibana scales an interval that would
 * draw more than `histogram:maxBars` (default 100) bars over the range, and a per-day panel then
 * silently shows weeks: the finest interval that stays under it is saved instead, and the
 * counts are normalised per day, so "per day" holds at any interval.
 */
const INTERVALS = [
  { interval: '1d', days: 1, unit: 'Day' },
  { interval: '1w', days: 7, unit: 'Week' },
  { interval: '1M', days: 28, unit: 'Month' },
  { interval: '1y', days: 365, unit: 'Year' },
] as const;

export const MAX_BARS = 100;
/** A feed whose last document is this recent is live: its range ends at `now`, not at its last day. */
const LIVE_DAYS = 30;

export interface DashboardTime {
  /** Kibana time expressions: ISO instants or relative (`now-30d`, `now`). */
  from: string;
  to: string;
  /** Date histogram interval of the per-day panels, and what one of its buckets is called. */
  dayInterval: (typeof INTERVALS)[number]['interval'];
  bucketName: (typeof INTERVALS)[number]['unit'];
}

const DAY_MS = 86_400_000;

export function dashboardTime(extent: DataExtent | null, nowMs: number): DashboardTime {
  if (extent === null) return { from: `now-${LIVE_DAYS}d`, to: 'now', dayInterval: '1d', bucketName: 'Day' };
  const fromMs = Math.floor(Date.parse(extent.firstAt) / DAY_MS) * DAY_MS;
  const lastMs = Date.parse(extent.lastAt);
  const live = lastMs >= nowMs - LIVE_DAYS * DAY_MS;
  // The end of the last day: the picker's end is inclusive, and the last day is drawn whole.
  const toMs = live ? Math.max(nowMs, lastMs) : (Math.floor(lastMs / DAY_MS) + 1) * DAY_MS;
  const days = (toMs - fromMs) / DAY_MS;
  // Shortest length of the unit, and one bar more: calendar buckets at both ends can be partial.
  const pick = INTERVALS.find((i) => Math.ceil(days / i.days) + 1 <= MAX_BARS) ?? INTERVALS[INTERVALS.length - 1]!;
  return { from: new Date(fromMs).toISOString(), to: live ? 'now' : new Date(toMs).toISOString(), dayInterval: pick.interval, bucketName: pick.unit };
}
