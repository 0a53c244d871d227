import { DAY_MS, dayOf, dayOfWeek, hourOfDay } from './time.ts';

/**
 * A subject's rhythm: events per UTC hour of day and per weekday, exponentially decayed by day
 * so the recent cadence dominates. Fixed size (33 numbers) whatever the number of events, in one
 * flat array: hours of day at 0-23, weekdays (0 = Sunday) at WEEKDAYS + 0-6, then the completed
 * days observed (decayed the same way as the counts) and the day index of the last roll (-1
 * before the first event). One heap object per subject rather than an object of arrays: the
 * detectors are bound by memory access, and an event's update then touches one place.
 */
export type Profile = number[];
/** Where profiles live: a profile's own array, or a pool of them side by side (the gap detector's). */
type Cells = number[] | Float64Array;
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

/**
 * Zeroes in an array that holds doubles from the start (a literal with a fraction, then zeroed):
 * the first decayed count does not move the copies to a new, distant double store.
 */
const ZERO = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5].fill(0);
ZERO[DAY] = -1;

export function newProfile(): Profile {
  return ZERO.slice();
}

/** An empty profile at offset `o` of a pool. */
export function clearProfile(f: Float64Array, o: number): void {
  f.fill(0, o, o + PROFILE_SIZE);
  f[o + DAY] = -1;
}

/** A profile saved in layout 1, written at offset `o` of `f` (a new flat profile by default). */
export function profileFromV1(p: ProfileV1, f: Cells = newProfile(), o = 0): Cells {
  for (let h = 0; h < 24; h++) f[o + h] = p.hourOfDay[h]!;
  for (let d = 0; d < 7; d++) f[o + WEEKDAYS + d] = p.dayOfWeek[d]!;
  f[o + EXPOSURE] = p.exposureDays;
  f[o + DAY] = p.day;
  return f;
}

/** Per-day decay factor for a half-life in days. */
export const decayPerDay = (halfLifeDays: number): number => Math.pow(0.5, 1 / halfLifeDays);

/**
 * Bring the profile (at offset `o` of `p`) to the day of `t`: every elapsed day decays the counts
 * and adds exposure.
 */
export function rollProfile(p: Cells, o: number, t: number, decay: number): void {
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
export function countInProfile(p: Cells, o: number, t: number, n: number): void {
  p[o + hourOfDay(t)]! += n;
  p[o + WEEKDAYS + dayOfWeek(t)]! += n;
}

/** Days of exposure at `t` (within the profile's current day): completed days plus today's part. */
export function exposureAt(p: Cells, o: number, t: number): number {
  return p[o + EXPOSURE]! + (t - p[o + DAY]! * DAY_MS) / DAY_MS;
}
