import { tzOffset } from '@date-fns/tz';
import { isTimeZone } from '../dates.ts';
import { ErrorCode, TidewatchError } from '../errors.ts';

const HOUR_MS = 3_600_000;

/** Seconds optional: spreadsheets write `2017-11-22 09:10`. */
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * Converts zone-less local times (old Telegram Desktop exports and many CSVs hold the writing computer's
 * clock) to epoch milliseconds in an IANA zone. Offsets (@date-fns/tz, Intl underneath) are
 * cached per local hour: a GB export has millions of messages but only thousands of distinct
 * hours, and Intl is slow; the rest is epoch arithmetic.
 */
export class LocalTimeConverter {
  private readonly offsetByHour = new Map<number, number>();

  constructor(readonly zone: string) {
    if (!isTimeZone(zone)) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `--timezone ${zone}: not an IANA time zone (e.g. Europe/Berlin, UTC)`);
  }

  /** Zone offset (ms) at an instant, from @date-fns/tz. */
  private offsetAt(ms: number): number {
    return tzOffset(this.zone, new Date(ms)) * 60_000;
  }

  /**
   * Epoch ms of a local "YYYY-MM-DDTHH:mm(:ss)" (or with a space for the T), or undefined when it is
   * not one. Epoch arithmetic with a per-hour offset cache, not date-fns: this is every message of
   * an old Telegram export, and the cache makes it several times faster.
   */
  toEpochMs(local: string): number | undefined {
    const m = LOCAL.exec(local);
    if (!m) return undefined;
    const wall = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
    return Number.isFinite(wall) ? this.wallToEpochMs(wall) : undefined;
  }

  /**
   * Epoch ms of a wall-clock time in the zone, given as if it were UTC (Date.UTC of its fields).
   * A wall time in the hour a DST change skips lands after the skip; one in the repeated hour is
   * read as the later (standard-time) one.
   */
  wallToEpochMs(wall: number): number {
    const hour = Math.floor(wall / HOUR_MS);
    let offset = this.offsetByHour.get(hour);
    if (offset === undefined) {
      // Two passes settle the offset across a DST change (the first guess may sit on its other side).
      offset = this.offsetAt(wall - this.offsetAt(wall));
      if (this.offsetByHour.size > 100_000) this.offsetByHour.clear();
      this.offsetByHour.set(hour, offset);
    }
    return wall - offset;
  }
}
