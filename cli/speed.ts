/** `--speed` of `replay` and `demo`, one meaning for both. */
export const SPEED_HELP = 'simulated seconds per wall-clock second (3600 = an hour per second); 0 = as fast as possible';

/**
 * A `--speed` value as pacedReplay() takes it: simulated seconds per second, 0 meaning as fast as
 * possible (undefined); anything else a message for the usage error.
 */
export function parseSpeed(raw: string): number | undefined | { error: string } {
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n) || n < 0) return { error: `--speed ${raw}: must be a number >= 0 (${SPEED_HELP})` };
  return n === 0 ? undefined : n;
}
