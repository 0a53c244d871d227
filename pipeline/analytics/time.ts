/**
 * Event-time arithmetic in UTC: every bucket, day and hour of the analytics is a UTC one.
 * Epoch arithmetic, not date-fns: the detectors call these for every event, and date-fns
 * measured 20-40x slower here (parseISO 13.7 µs against parseTimeMs 0.6 µs a timestamp).
 * Dates for people are formatted by pipeline/dates.ts.
 */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

const ZERO = 48;
const digit = (s: string, i: number): number => s.charCodeAt(i) - ZERO;
const num2 = (s: string, i: number): number => digit(s, i) * 10 + digit(s, i + 1);

/**
 * Epoch milliseconds of an ISO 8601 timestamp. Validated events almost always carry the
 * `YYYY-MM-DDTHH:MM:SS(.fff)Z` form the producers write; reading its digits directly is several
 * times faster than Date.parse, which stays the path for every other (zoned) form.
 */
export function parseTimeMs(iso: string): number {
  const n = iso.length;
  if ((n === 20 || n === 24) && iso.charCodeAt(n - 1) === 90 /* Z */ && iso.charCodeAt(10) === 84 /* T */) {
    const ms = n === 24 ? digit(iso, 20) * 100 + num2(iso, 21) : 0;
    // Date.UTC(y, m, d, h, mi, s, ms) is exactly Date.UTC(y, m, d) plus the time of day (integer
    // arithmetic far below 2^53), and consecutive events mostly share their day: the call (the
    // costly part) is made once per day seen.
    if (!iso.startsWith(lastDay)) {
      lastDay = iso.slice(0, 10);
      lastDayMs = Date.UTC(num2(iso, 0) * 100 + num2(iso, 2), num2(iso, 5) - 1, num2(iso, 8));
    }
    const t = lastDayMs + ((num2(iso, 11) * 60 + num2(iso, 14)) * 60 + num2(iso, 17)) * 1000 + ms;
    if (Number.isFinite(t)) return t;
  }
  return Date.parse(iso);
}

/** The day (the first 10 characters) of the last timestamp parsed, and its Date.UTC. */
let lastDay = '\u0000';
let lastDayMs = NaN;

export const isoOf = (ms: number): string => new Date(ms).toISOString();
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);
/** "YYYY-MM-DD" of a day index. */
export const dayIso = (day: number): string => isoOf(day * DAY_MS).slice(0, 10);
export const hourOfDay = (ms: number): number => Math.floor(ms / HOUR_MS) % 24;
/** 0 = Sunday; the epoch began on a Thursday. */
export const dayOfWeek = (ms: number): number => (Math.floor(ms / DAY_MS) + 4) % 7;

export const round2 = (x: number): number => Math.round(x * 100) / 100;
