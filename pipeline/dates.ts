import { tz } from '@date-fns/tz';
// Subpath imports: the package index loads every date-fns function (~0.4 s at start-up).
import { format } from 'date-fns/format';
import { isValid } from 'date-fns/isValid';
import { parseISO } from 'date-fns/parseISO';
import { z } from 'zod';

/**
 * Dates as people write and read them. Read: alert messages, console sinks, CLI summaries, the
 * report, in the team's display zone; everything machine-read (--json, the stores, webhook payload
 * fields) keeps ISO 8601 instants, and only text for people goes through here. Days of the
 * analytics are UTC days. Write: the instants operators type (--from, --window, ?from=).
 * Input files' own date patterns are the producers' (producers/generic/date-formats.ts).
 */

/** An IANA zone name this runtime knows (UTC, Europe/Berlin); offsets such as +01:00 are not names. */
export function isTimeZone(zone: string): boolean {
  if (/^[+-]/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The `display` section of the config: the zone a team reads times in. */
export const displaySchema = z.strictObject({
  timezone: z.string().refine(isTimeZone, 'must be an IANA time zone such as UTC or Europe/Berlin').default('UTC'),
});

export type DisplayOptions = z.infer<typeof displaySchema>;
export const DEFAULT_DISPLAY: DisplayOptions = { timezone: 'UTC' };

/**
 * An instant an operator typed: "2017-11-20" (midnight UTC), "2017-11-22T09:00" or
 * "2017-11-22 09:00" (UTC), or ISO 8601 with its zone; undefined when it is none of these.
 * Zone-less times are UTC whatever the machine's zone.
 */
export function parseInstant(text: string): number | undefined {
  const d = parseISO(text.trim(), { in: tz('UTC') });
  return isValid(d) ? d.getTime() : undefined;
}

const epochMs = (at: number | string): number => (typeof at === 'number' ? at : Date.parse(at));

/** "22 Nov 2017 08:49", without the zone (seconds dropped: nobody reads alerts to the second). */
const wallTime = (at: number | string, zone: string): string => format(epochMs(at), 'd MMM yyyy HH:mm', { in: tz(zone) });

/**
 * Recent answers of formatTime. date-fns in a zone costs tens of µs a call (Intl underneath), and
 * the status core describes every silent member again on every tick, with the same times.
 */
const recent = new Map<string, string>();
const RECENT_MAX = 10_000;

/** "22 Nov 2017 08:49 UTC", "22 Nov 2017 09:49 Europe/Berlin". */
export function formatTime(at: number | string, zone: string): string {
  const key = `${zone} ${at}`;
  let text = recent.get(key);
  if (text === undefined) {
    if (recent.size >= RECENT_MAX) recent.clear();
    text = `${wallTime(at, zone)} ${zone}`;
    recent.set(key, text);
  }
  return text;
}

/** "22 Nov 2017 08:49 to 23 Nov 2017 10:01 UTC": the zone named once. */
export function formatRange(from: number | string, to: number | string, zone: string): string {
  return `${wallTime(from, zone)} to ${wallTime(to, zone)} ${zone}`;
}

/**
 * "18 Nov 2015" of a UTC day ("2015-11-18"); marked as a UTC day when the team reads another zone,
 * since the day of a wave or a surge is counted in UTC whatever the display zone.
 */
export function formatDay(day: string, zone: string): string {
  const text = format(Date.parse(`${day.slice(0, 10)}T00:00:00Z`), 'd MMM yyyy', { in: tz('UTC') });
  return zone === 'UTC' ? text : `${text} (UTC day)`;
}

/** "25.2 h" */
export const formatHours = (h: number): string => `${Math.round(h * 10) / 10} h`;

/** "25 min", "528 min (8 h 48 min)", "2,890 min (2 d 0 h 10 min)". */
export function formatMinutes(minutes: number): string {
  const total = Math.round(minutes);
  const head = `${total.toLocaleString('en-US')} min`;
  if (total < 60) return head;
  const days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60);
  const parts = [...(days ? [`${days} d`] : []), `${hours} h`, `${total % 60} min`];
  return `${head} (${parts.join(' ')})`;
}
