import { z } from 'zod';
import { previewOptionsSchema } from '../preview/options.ts';
import { mtprotoOptionsSchema } from '../mtproto/options.ts';

/** Options of `tidewatch collect` (`collector` in the config). The channels are in `watchList`. */
export const collectorSchema = z
  .strictObject({
    /** Names the state file `<dataDir>/collector/<name>.json`: two collectors need two names. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lowercase letters, digits, - or _').default('default'),
    source: z.enum(['preview', 'mtproto']).default('preview'),
    /** A JSON watch list re-read when it changes, merged over `watchList` (same handle: the file wins). */
    watchListFile: z.string().min(1).optional(),
    /**
     * Without Kafka, `tidewatch collect` delivers to a running `tidewatch serve` here (default:
     * http://<serve.host>:<serve.port>); `serve --watch-list` collects in its own process instead.
     */
    serveUrl: z.url('must be a URL like http://127.0.0.1:8080').optional(),
    /** How often the scheduler looks for due channels (and re-checks the watch list file). */
    tickSecs: z.number().int().min(1).max(59).default(5),
    /** Polls in flight at once; the request budget is enforced separately by the rate limit. */
    concurrency: z.number().int().positive().default(4),
    minIntervalSecs: z.number().int().positive().default(120),
    maxIntervalSecs: z.number().int().positive().default(3_600),
    /**
     * Adaptive polling: the next poll comes after this share of the time since the channel's last
     * post (0.1: posted 5 hours ago, polled again in 30 minutes), within min/max.
     */
    dormancyFactor: z.number().positive().max(1).default(0.1),
    /** Each interval is stretched or shrunk by up to this share at random, so polls spread out. */
    jitterRatio: z.number().min(0).max(0.9).default(0.2),
    /**
     * Subscriber snapshots are emitted when the count changes, and at least this often when it does
     * not, so a flat line is told apart from missing data.
     */
    subscribersRefreshMins: z.number().int().positive().default(360),
    /** On SIGINT/SIGTERM polls in flight get this long to finish before they are aborted. */
    shutdownGraceMs: z.number().int().positive().default(15_000),
    preview: previewOptionsSchema.default(previewOptionsSchema.parse({})),
    mtproto: mtprotoOptionsSchema.default(mtprotoOptionsSchema.parse({})),
  })
  .refine((c) => c.minIntervalSecs <= c.maxIntervalSecs, { message: 'must not exceed maxIntervalSecs', path: ['minIntervalSecs'] });

export type CollectorOptions = z.infer<typeof collectorSchema>;
