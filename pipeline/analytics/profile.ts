import { DAY_MS, dayOf, dayOfWeek, hourOfDay } from './time.ts';

/**
 * A subject's rhythm: events per UTC hour of day and per weekday, exponentially decayed by day
 * so the recent cadence dominates. Fixed size (33 numbers) whatever the number of events, side by
 * side in the detector's Float64Array of per-subject numbers from an offset: hours of day at
 * 0-23, weekdays (0 = Sunday) at WEEKDAYS + 0-6, then the completed days observed (decayed the
 * same way as the counts) and the day index of the last roll (-1 before the first event). No heap
 * object per subject: the detectors are bound by memory access.
 */
/** A profile as saved in state layout 2: the same numbers in an array of its own. */
export type Profile = number[];
export const WEEKDAYS = 24;
const EXPOSURE = 31;
const DAY = 32;
/** Numbers in a profile. */
export const PROFILE_SIZE = 33;

/** The layout saved before the flat array (state layout 1): kept to upgrade such snapshots. */
export interface ProfileV1 {
  hourOfDay: number[];
  dayOfWeek: number[];
  exposureDays: number;
  day: number;
}

/** An empty profile at offset `o` of a pool. */
export function clearProfile(f: Float64Array, o: number): void {
  f.fill(0, o, o + PROFILE_SIZE);
  f[o + DAY] = -1;
}

/** A profile saved in layout 1, written at offset `o` of `f`. */
export function profileFromV1(p: ProfileV1, f: Float64Array, o: number): void {
  for (let h = 0; h < 24; h++) f[o + h] = p.hourOfDay[h]!;
  for (let d = 0; d < 7; d++) f[o + WEEKDAYS + d] = p.dayOfWeek[d]!;
  f[o + EXPOSURE] = p.exposureDays;
  f[o + DAY] = p.day;
}

/** Per-day decay factor for a half-life in days. */
export const decayPerDay = (halfLifeDays: number): number => Math.pow(0.5, 1 / halfLifeDays);

/**
 * Bring the profile (at offset `o` of `p`) to the day of `t`: every elapsed day decays the counts
 * and adds exposure.
 */
export function rollProfile(p: Float64Array, o: number, t: number, decay: number): void {
  const day = dayOf(t);
  const last = p[o + DAY]!;
  if (last < 0) {
    p[o + DAY] = day;
    return;
  }
  if (day <= last) return;
  const f = Math.pow(decay, day - last);
  for (let i = o; i < o + WEEKDAYS + 7; i++) p[i]! *= f;
  p[o + EXPOSURE] = p[o + EXPOSURE]! * f + (1 - f) / (1 - decay);
  p[o + DAY] = day;
}

/** Count `n` events at `t`. */
export function countInProfile(p: Float64Array, o: number, t: number, n: number): void {
  p[o + hourOfDay(t)]! += n;
  p[o + WEEKDAYS + dayOfWeek(t)]! += n;
}

/**
 * The profile's numbers that rolling it to `t` and counting at `t` read first (its day, the hour
 * of day, the weekday), loaded together: a caller reads them ahead so their cache misses overlap.
 */
export function touchProfile(p: Float64Array, o: number, t: number): number {
  return p[o + DAY]! + p[o + hourOfDay(t)]! + p[o + WEEKDAYS + dayOfWeek(t)]!;
}

/** Days of exposure at `t` (within the profile's current day): completed days plus today's part. */
export function exposureAt(p: Float64Array, o: number, t: number): number {
  return p[o + EXPOSURE]! + (t - p[o + DAY]! * DAY_MS) / DAY_MS;
}
