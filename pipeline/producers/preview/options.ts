import { z } from 'zod';

/** Options of the public web preview source (`collector.preview` in the config). */
export const previewOptionsSchema = z.strictObject({
  /** Where the preview lives; tests point it at a local fixture server. */
  baseUrl: z.url('must be a URL like https://t.me').default('https://t.me'),
  /** One honest User-Agent for every request, so the site can tell who is asking. */
  userAgent: z.string().min(1).default('tidewatch/0.1 (trend research; public channel metadata)'),
  /** The collector's global budget; a poll of a quiet channel costs one request. */
  requestsPerMinute: z.number().positive().default(30),
  burstRequests: z.number().int().positive().default(5),
  requestTimeoutMs: z.number().int().positive().default(15_000),
  /**
   * A preview page is about 100-300 KB; anything past this is not a page we can read (a proxy's
   * error page, a stream that never ends), so reading stops there and the poll's status is unknown.
   */
  maxResponseBytes: z.number().int().positive().default(2 * 1024 * 1024),
  /** Older pages fetched per poll to reach the last seen post; what is left is fetched next poll. */
  maxPagesPerPoll: z.number().int().positive().default(5),
  retries: z.number().int().nonnegative().default(3),
  retryInitialDelayMs: z.number().int().positive().default(2_000),
  retryMaxDelayMs: z.number().int().positive().default(60_000),
  /** A Retry-After longer than this ends the poll (status unknown) instead of holding it open. */
  maxRetryAfterMs: z.number().int().positive().default(120_000),
});

export type PreviewOptions = z.infer<typeof previewOptionsSchema>;
