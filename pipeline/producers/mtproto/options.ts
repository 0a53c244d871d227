import { z } from 'zod';

/**
 * Options of the MTProto source (`collector.mtproto`). Credentials are not options: they come from
 * TELEGRAM_API_ID / TELEGRAM_API_HASH and the session file, so they never sit in a config file.
 */
export const mtprotoOptionsSchema = z.strictObject({
  /**
   * Far below the preview's: accounts that read many channels quickly get FLOOD_WAITs of hours
   * and bans (a 24-hour wait after 4 channels every 4 minutes was reported).
   */
  requestsPerMinute: z.number().positive().default(6),
  burstRequests: z.number().int().positive().default(2),
  /** Messages fetched per poll, oldest first from the last seen id; the rest comes next poll. */
  maxMessagesPerPoll: z.number().int().positive().max(100).default(100),
  /** A FLOOD_WAIT up to this long is waited out inside the poll; longer ones pause the collector. */
  maxFloodWaitMs: z.number().int().positive().default(60_000),
  connectionRetries: z.number().int().nonnegative().default(3),
});

export type MtprotoOptions = z.infer<typeof mtprotoOptionsSchema>;
