import { readFileSync } from 'node:fs';
import cron from 'node-cron';
import { z } from 'zod';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';

/**
 * Alert rules: which findings become alerts, how often they are looked at, how many may go out.
 * A rules file is JSON `{ "rules": [...] }`; without one, DEFAULT_RULES apply.
 */
const cronExpression = z.string().refine((s) => cron.validate(s), 'must be a cron expression (5 fields, or 6 with seconds first)');

const common = {
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lowercase letters, digits, - or _'),
  enabled: z.boolean().default(true),
  /** node-cron expression; six fields put seconds first. */
  schedule: cronExpression.default('* * * * *'),
  severity: z.enum(['info', 'warning', 'critical']).default('warning'),
  /** Findings are looked at while they overlap the last lookbackHours; older history never alerts. */
  lookbackHours: z.number().positive().default(48),
  /**
   * At most maxAlerts new alerts per perMinutes from this rule. Over the limit an alert waits for
   * a later evaluation: throttled, never dropped. Recovery notices are not throttled.
   */
  throttle: z
    .strictObject({ maxAlerts: z.number().int().positive().default(20), perMinutes: z.number().positive().default(60) })
    .default({ maxAlerts: 20, perMinutes: 60 }),
  /**
   * Findings that only a re-analysis found (history backfilled, late data corrected): `alert`
   * sends them like any other, saying so; `skip` leaves them to the dashboards.
   */
  backfill: z.enum(['alert', 'skip']).default('alert'),
};

export const silenceRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('silence'),
  scope: z.enum(['channel', 'network', 'any']).default('any'),
  /** Only silences longer than any earlier one of their subject. */
  onlyUnprecedented: z.boolean().default(false),
  /** Silences shorter than this never alert (the detector's own threshold applies first). */
  minHours: z.number().nonnegative().default(0),
  /** Send a recovery notice when an alerted silence ends. */
  notifyRecovery: z.boolean().default(true),
});

export const spikeRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('spike'),
  scope: z.enum(['channel', 'network', 'creation', 'any']).default('any'),
  minCount: z.number().int().nonnegative().default(0),
  maxPValue: z.number().gt(0).max(1).default(1),
});

export const platformRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('platform'),
  /** first_seen: a platform linked for the first time; surge: a day far above its usual share. */
  events: z.array(z.enum(['first_seen', 'surge'])).min(1).default(['first_seen', 'surge']),
  scopes: z.array(z.enum(['channel', 'network', 'all'])).min(1).default(['network', 'all']),
});

export const takedownRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('takedown_wave'),
  /** The detector's wave threshold applies first; this can only raise it. */
  minChannels: z.number().int().positive().default(10),
});

export const resurrectionRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('resurrection'),
  /** Only successors created within this many minutes of the ban. */
  maxDelayMinutes: z.number().positive().default(43_200),
});

/**
 * Watch-list status episodes (pipeline/analytics/status): silence of a member expected active,
 * a whole network silent, a takedown, a source that cannot see. Each episode carries its own
 * severity, which the alert keeps; its end is announced only when it is news (`notifyEnd`).
 */
export const statusRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('status'),
  kinds: z.array(z.enum(['silence', 'network_silence', 'takedown', 'source'])).min(1).default(['silence', 'network_silence', 'takedown', 'source']),
});

export const ruleSchema = z.discriminatedUnion('kind', [silenceRuleSchema, spikeRuleSchema, platformRuleSchema, takedownRuleSchema, resurrectionRuleSchema, statusRuleSchema]);
export const rulesFileSchema = z.strictObject({
  rules: z.array(ruleSchema).refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, 'rule names must be unique'),
});

export type Rule = z.infer<typeof ruleSchema>;
export type RuleInput = z.input<typeof ruleSchema>;

/**
 * Spikes are judged every 2 seconds: a spike alert must go out within 5 s of the event that makes
 * it, and the query (spikes of the last hours) is cheap. Everything else: every minute.
 */
export const DEFAULT_RULES: Rule[] = rulesFileSchema.parse({
  rules: [
    { name: 'silence', kind: 'silence', severity: 'warning' },
    { name: 'spike', kind: 'spike', schedule: '*/2 * * * * *', lookbackHours: 6, severity: 'info' },
    { name: 'platform', kind: 'platform', severity: 'info' },
    { name: 'takedown-wave', kind: 'takedown_wave', severity: 'critical' },
    { name: 'resurrection', kind: 'resurrection', severity: 'warning' },
    { name: 'status', kind: 'status' },
  ],
}).rules;

export function parseRules(input: unknown, where: string): Rule[] {
  const result = rulesFileSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `alert rules ${where}:\n${lines.join('\n')}`);
  }
  return result.data.rules;
}

/** The rules of `file`, validated; the defaults when no file is configured. */
export function loadRules(file: string | undefined): Rule[] {
  if (file === undefined) return DEFAULT_RULES;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TidewatchError(ErrorCode.CONFIG_INVALID, `alert rules file ${file}: cannot read it as JSON (${(err as Error).message})`);
  }
  return parseRules(parsed, `file ${file}`);
}
