import { z } from 'zod';

export const webhookSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lowercase letters, digits, - or _'),
  url: z.url('must be a URL like https://hooks.example.org/...'),
  /** json: the alert record; slack: `{ "text": ... }`, which Slack and Mattermost incoming webhooks accept. */
  format: z.enum(['json', 'slack']).default('json'),
  /** Extra headers (e.g. an Authorization for the receiver); never logged. */
  headers: z.record(z.string(), z.string()).default({}),
  timeoutMs: z.number().int().positive().default(5_000),
  /** Attempts after the first within one delivery; an alert still undelivered is tried again at the next evaluation. */
  retries: z.number().int().nonnegative().default(3),
  retryInitialDelayMs: z.number().int().positive().default(500),
  retryMaxDelayMs: z.number().int().positive().default(10_000),
});

/** The alerter's options: the `alerter` section of the one config schema. */
export const alerterSchema = z.strictObject({
  /** JSON file of alert rules (see consumers/alerter/README.md); the default rules without it. */
  rulesFile: z.string().min(1).optional(),
  /** Log every alert transition (the console sink). */
  log: z.boolean().default(true),
  webhooks: z.array(webhookSchema).default([]),
  /**
   * Kafka: the analyzer announces here, as it stores them, silences whose threshold has just
   * passed; the alerter evaluates its silence rules at once (README "Latency"). One partition.
   */
  findingsTopic: z.string().min(1).default('tidewatch.alerter.findings'),
  /** The alerter's consumer group on `findingsTopic`. */
  groupId: z.string().min(1).default('tidewatch-alerter'),
  /** Retries of retriable store failures when reading or saving alert state. */
  retries: z.number().int().nonnegative().default(5),
  retryInitialDelayMs: z.number().int().positive().default(200),
  retryMaxDelayMs: z.number().int().positive().default(5_000),
});

export type AlerterOptions = z.infer<typeof alerterSchema>;
export type WebhookOptions = z.infer<typeof webhookSchema>;
