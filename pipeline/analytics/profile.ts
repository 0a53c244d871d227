import { DAY_MS, dayOf, dayOfWeek, hourOfDay } from './time.ts';

/**
 * A subject's rhythm: events per UTC hour of day and per weekday, exponentially decayed by day
 * so the recent cadence dominates. Fixed size (31 numbers) whatever the number of events.
 */
export interface Profile {
  hourOfDay: number[];
  dayOfWeek: number[];
  /** Completed days observed, decayed the same way as the counts. */
  exposureDays: number;
  /** Day index of the last roll; -1 before the first event. */
  day: number;
}

/**
 * Zeroed arrays that hold doubles from the start (a literal with a fraction, then zeroed): the
 * first decayed count does not move them to a new, distant double store, so a profile stays
 * next to its subject in memory, where the per-event update finds it.
 */
const ZERO_HOURS = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5].fill(0);
const ZERO_DAYS = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5].fill(0);

export function newProfile(): Profile {
  return { hourOfDay: ZERO_HOURS.slice(), dayOfWeek: ZERO_DAYS.slice(), exposureDays: 0, day: -1 };
}

/** Per-day decay factor for a half-life in days. */
export const decayPerDay = (halfLifeDays: number): number => Math.pow(0.5, 1 / halfLifeDays);

/** Bring the profile to the day of `t`: every elapsed day decays the counts and adds exposure. */
export function rollProfile(p: Profile, t: number, decay: number): void {
  const day = dayOf(t);
  if (p.day < 0) {
    p.day = day;
    return;
  }
  if (day <= p.day) return;
  const f = Math.pow(decay, day - p.day);
  for (let h = 0; h < 24; h++) p.hourOfDay[h]! *= f;
  for (let d = 0; d < 7; d++) p.dayOfWeek[d]! *= f;
  p.exposureDays = p.exposureDays * f + (1 - f) / (1 - decay);
  p.day = day;
}

export function countInProfile(p: Profile, t: number): void {
  p.hourOfDay[hourOfDay(t)]! += 1;
  p.dayOfWeek[dayOfWeek(t)]! += 1;
}

/** Days of exposure at `t` (within the profile's current day): completed days plus today's part. */
export function exposureAt(p: Profile, t: number): number {
  return p.exposureDays + (t - p.day * DAY_MS) / DAY_MS;
}
