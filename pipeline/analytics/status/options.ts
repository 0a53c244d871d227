import { z } from 'zod';

/**
 * Watch-list status options: the `analytics.status` section. Silence itself is judged by the gap
 * detector's threshold (`analytics.gaps`); these only add what status needs on top of it.
 */
export const statusSchema = z.strictObject({
  /**
   * A member is `quiet` once seeing nothing since its last activity had probability below this
   * under its own rhythm (`silent` uses gaps.alpha and gaps.floorHours, far stricter).
   */
  quietAlpha: z.number().gt(0).lt(1).default(0.05),
  /**
   * Allowed lateness per source type (an event's `source.type`, e.g. "preview", "telegram-export");
   * sources not named use analytics.allowedLatenessSecs. Quiet/silent are decided only once the
   * source's watermark (now minus this) has passed the moment they would begin.
   */
  allowedLatenessSecs: z.record(z.string(), z.number().int().nonnegative()).default({}),
  /** A collector without a heartbeat for this long has stalled: its channels become unknown. */
  heartbeatStaleSecs: z.number().int().positive().default(300),
  /**
   * A source's health alert fires once one of its channels has been unknown this long (a single
   * failed poll is retried by the collector before anyone is told); a stalled heartbeat fires at once.
   */
  unknownAlertSecs: z.number().int().nonnegative().default(600),
  /** Network silence is judged only for networks with at least this many members expected active. */
  networkMinMembers: z.number().int().positive().default(2),
});

export type StatusOptions = z.infer<typeof statusSchema>;
