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
export const WEEKDAYS = 24;
const EXPOSURE = 31;
const DAY = 32;

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

export function profileFromV1(p: ProfileV1): Profile {
  const f = newProfile();
  for (let h = 0; h < 24; h++) f[h] = p.hourOfDay[h]!;
  for (let d = 0; d < 7; d++) f[WEEKDAYS + d] = p.dayOfWeek[d]!;
  f[EXPOSURE] = p.exposureDays;
  f[DAY] = p.day;
  return f;
}

/** Per-day decay factor for a half-life in days. */
export const decayPerDay = (halfLifeDays: number): number => Math.pow(0.5, 1 / halfLifeDays);

/** Bring the profile to the day of `t`: every elapsed day decays the counts and adds exposure. */
export function rollProfile(p: Profile, t: number, decay: number): void {
  const day = dayOf(t);
  const last = p[DAY]!;
  if (last < 0) {
    p[DAY] = day;
    return;
  }
  if (day <= last) return;
  const f = Math.pow(decay, day - last);
  for (let i = 0; i < WEEKDAYS + 7; i++) p[i]! *= f;
  p[EXPOSURE] = p[EXPOSURE]! * f + (1 - f) / (1 - decay);
  p[DAY] = day;
}

/** Count `n` events at `t`. */
export function countInProfile(p: Profile, t: number, n: number): void {
  p[hourOfDay(t)]! += n;
  p[WEEKDAYS + dayOfWeek(t)]! += n;
}

/** Days of exposure at `t` (within the profile's current day): completed days plus today's part. */
export function exposureAt(p: Profile, t: number): number {
  return p[EXPOSURE]! + (t - p[DAY]! * DAY_MS) / DAY_MS;
}
