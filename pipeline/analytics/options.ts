import { createHash } from 'node:crypto';
import { z } from 'zod';
import { statusSchema } from './status/options.ts';

/**
 * Analytics options: the `analytics` section of the one config schema. Every threshold is here
 * with its unit in its name; pipeline/analytics/README.md explains each one and its default.
 */
export const gapsSchema = z.strictObject({
  /** No gap is ever shorter than this, whatever the cadence says. */
  floorHours: z.number().positive().default(6),
  /** Probability, under the subject's own hourly rhythm, of seeing no activity at all for the gap. */
  alpha: z.number().gt(0).lt(1).default(0.001),
  /** A subject is judged only after this much history and this many events. */
  warmupDays: z.number().nonnegative().default(7),
  warmupEvents: z.number().int().nonnegative().default(30),
  /** "Unprecedented" compares with the earlier gaps of this window. */
  lookbackDays: z.number().positive().default(365),
  /** Half-life of the hourly profile, so a changed cadence replaces the old one. */
  profileHalfLifeDays: z.number().positive().default(28),
  /** Tolerated shift of the daily rhythm (DST, an operator in another zone). */
  rhythmShiftHours: z.number().int().min(0).max(6).default(1),
  /** Bound on the per-subject history of long inter-arrival intervals. */
  historyEntries: z.number().int().positive().default(64),
});

export const spikesSchema = z.strictObject({
  /** Poisson upper-tail probability under which an hour's count is a spike. */
  alpha: z.number().gt(0).lt(1).default(0.0001),
  /** Fewer events than this in an hour are never a spike (channels and networks). */
  minCount: z.number().int().positive().default(10),
  /** Same for channel creations per hour. */
  creationMinCount: z.number().int().positive().default(5),
  /** Expected events per hour never go below this, so a rare hour is not a spike at its second post. */
  minExpectedPerHour: z.number().positive().default(0.2),
  warmupDays: z.number().nonnegative().default(7),
  profileHalfLifeDays: z.number().positive().default(28),
  rhythmShiftHours: z.number().int().min(0).max(6).default(1),
});

export const migrationSchema = z.strictObject({
  /** JSON file of extra platforms, merged over the bundled catalogue (read by the command, not here). */
  catalogueFile: z.string().min(1).optional(),
  /** A platform surges on a day when its share of links is this many times its usual share... */
  surgeFactor: z.number().gt(1).default(3),
  /** ...and at least this many percentage points above it... */
  surgeMinSharePoints: z.number().min(0).max(100).default(10),
  /** ...with at least this many links that day. */
  surgeMinLinks: z.number().int().positive().default(10),
  /** Surges are judged once a subject has had links on this many days (a usual share needs history). */
  surgeWarmupDays: z.number().int().nonnegative().default(7),
  /** Half-life (in days with links) of the usual share. */
  shareHalfLifeDays: z.number().positive().default(14),
  /** Distinct unknown domains tracked by name; beyond that they are counted as "(other)". */
  maxUnknownDomains: z.number().int().positive().default(10_000),
});

export const takedownsSchema = z.strictObject({
  /** A day is a takedown wave from this many banned or deleted channels... */
  minChannels: z.number().int().positive().default(10),
  /** ...or when the platform's own tally is this many times its trailing median... */
  reportedFactor: z.number().gt(1).default(3),
  /** ...(judged once this many earlier tallies exist; before that, an absolute minimum applies). */
  reportedWarmupDays: z.number().int().positive().default(7),
  minReported: z.number().int().positive().default(1_000),
  reportedHistoryDays: z.number().int().positive().default(30),
});

export const resurrectionsSchema = z.strictObject({
  /** A channel created this long after a ban can still be its successor. */
  windowHours: z.number().positive().default(720),
  /** Regrowth of a successor is followed for this long after its creation. */
  trackHours: z.number().positive().default(720),
  /** Normalised names shorter than this never match (too generic). */
  minKeyChars: z.number().int().positive().default(3),
  subscribersMilestone: z.number().int().positive().default(1_000),
  /** Words dropped from either end of a handle or title before comparing. */
  suffixWords: z
    .array(z.string().min(1))
    .default(['new', 'official', 'backup', 'channel', 'jadid', 'جديد', 'الجديد', 'الجديدة', 'رسمي', 'الرسمي', 'الرسمية', 'احتياط', 'الاحتياطي']),
});

export const analyticsSchema = z.strictObject({
  /** The platform the channels live on: links to it are on-platform, others are migration. */
  homePlatform: z.string().default('telegram'),
  /** Actions that count as a channel being active (silence = none of these). */
  activityActions: z.array(z.string()).default(['post']),
  /** Events up to this late are put back in order; later ones are processed and counted as late. */
  allowedLatenessSecs: z.number().int().nonnegative().default(300),
  /** Duplicate ids are recognised within this window of event time, up to dedupMaxIds ids. */
  dedupWindowSecs: z.number().int().nonnegative().default(3_600),
  dedupMaxIds: z.number().int().positive().default(100_000),
  gaps: gapsSchema.default(gapsSchema.parse({})),
  spikes: spikesSchema.default(spikesSchema.parse({})),
  migration: migrationSchema.default(migrationSchema.parse({})),
  takedowns: takedownsSchema.default(takedownsSchema.parse({})),
  resurrections: resurrectionsSchema.default(resurrectionsSchema.parse({})),
  status: statusSchema.default(statusSchema.parse({})),
});

export type AnalyticsOptions = z.infer<typeof analyticsSchema>;
export type AnalyticsOptionsInput = z.input<typeof analyticsSchema>;
export type GapsOptions = z.infer<typeof gapsSchema>;
export type SpikesOptions = z.infer<typeof spikesSchema>;
export type MigrationOptions = z.infer<typeof migrationSchema>;
export type TakedownsOptions = z.infer<typeof takedownsSchema>;
export type ResurrectionsOptions = z.infer<typeof resurrectionsSchema>;

/** Defaults filled in and validated; throws a ZodError naming the bad option. */
export function analyticsOptions(input: AnalyticsOptionsInput = {}): AnalyticsOptions {
  return analyticsSchema.parse(input);
}

/** JSON with object keys sorted, so equal options hash alike whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Which analysis produced a finding: a short hash of the options and the platform catalogue.
 * Stored findings carry it (`analysis`), so a re-analysis with new thresholds is told apart from
 * the findings it replaces (Kappa's "job version").
 */
export function analysisVersion(options: AnalyticsOptions, catalogue: unknown): string {
  return createHash('sha256').update(canonical({ options, catalogue })).digest('hex').slice(0, 12);
}
