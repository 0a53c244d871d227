import { UTCDate } from '@date-fns/utc';
// Subpath imports: the package index loads every date-fns function (~0.4 s at start-up).
import { format } from 'date-fns/format';
import { isValid } from 'date-fns/isValid';
import { parse } from 'date-fns/parse';
import type { LocalTimeConverter } from '../zone.ts';

/** What the reader accepts without `--date-format`, as a rejection names it. */
export const BUILT_IN_DATE_FORMS = ['ISO 8601 (seconds optional)', 'epoch seconds or ms'];

export interface UserDate {
  ms: number;
  /** Read in the zone (the pattern has no offset token). */
  local: boolean;
}

/** Offset tokens outside quoted text: such a pattern's dates carry their own zone. */
const OFFSET_TOKEN = /[xXO]/;

/** A pattern's tokens: text in single quotes is literal. */
const unquoted = (pattern: string): string => pattern.replace(/'[^']*'/g, '');

/** A sample with every field distinct (day > 12, hour > 12), used to check a pattern can be read back. */
const SAMPLE = new UTCDate(Date.UTC(2017, 10, 22, 21, 5, 7, 0));
const inUtc = (value: Date | number | string) => new UTCDate(value as number);

/** Why a `--date-format` pattern cannot be used (the first such), or undefined when all can. */
export function dateFormatProblem(patterns: readonly string[]): string | undefined {
  for (const pattern of patterns) {
    const tokens = unquoted(pattern);
    // date-fns would also print a console warning for these; the operator almost always meant yyyy / dd.
    if (/[YD]/.test(tokens)) return `--date-format ${JSON.stringify(pattern)}: Y is the week-numbering year and D the day of the year; write yyyy for the year and dd for the day of the month`;
    // date-fns fills missing fields from the reference date; a date must never borrow them.
    if (!/[tT]/.test(tokens) && !(/[yu]/.test(tokens) && /[ML]/.test(tokens) && /d/.test(tokens))) {
      return `--date-format ${JSON.stringify(pattern)}: needs the year, the month and the day (e.g. yyyy, MM, dd)`;
    }
    let sample = '';
    try {
      sample = format(SAMPLE, pattern, { in: inUtc });
      if (isValid(parse(sample, pattern, SAMPLE, { in: inUtc }))) continue;
    } catch (err) {
      return `--date-format ${JSON.stringify(pattern)}: ${(err as Error).message.replace(/ to the input `[^`]*`/, '')}`;
    }
    return `--date-format ${JSON.stringify(pattern)}: a date written with it cannot be read back (${JSON.stringify(sample)}); see https://date-fns.org/docs/parse for the tokens`;
  }
  return undefined;
}

/**
 * Operator-given date patterns (`--date-format`, date-fns Unicode tokens such as
 * `dd.MM.yyyy HH:mm` or `MM/dd/yyyy h:mm a`), tried in order with date-fns `parse`. Times carry
 * no zone of their own unless the pattern has an offset token (`xxx`, `XXX`); the others are wall
 * times in `zone` (--timezone), converted like zone-less ISO times (zone.ts: after a DST skip,
 * the later of a repeated hour).
 * A pattern that cannot be used is refused before any record is read: the reason, or a parser.
 *
 * The fields are parsed in UTC (@date-fns/utc) and the zone applied by the converter's cached
 * epoch arithmetic: parsing into an @date-fns/tz TZDate measured 13x slower per record (every
 * field set goes through Intl), which a million-row CSV would feel.
 */
export function userDateParser(patterns: readonly string[], zone: LocalTimeConverter): ((text: string) => UserDate | undefined) | string {
  const problem = dateFormatProblem(patterns);
  if (problem !== undefined) return problem;
  const zoned = patterns.map((p) => OFFSET_TOKEN.test(unquoted(p)));
  return (text) => {
    for (const [i, pattern] of patterns.entries()) {
      const d = parse(text, pattern, SAMPLE, { in: inUtc });
      if (!isValid(d)) continue;
      return zoned[i] ? { ms: d.getTime(), local: false } : { ms: zone.wallToEpochMs(d.getTime()), local: true };
    }
    return undefined;
  };
}
