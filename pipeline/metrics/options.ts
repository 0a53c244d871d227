import { z } from 'zod';

/**
 * `/metrics` and `/healthz` of the long-running processes (the `metrics` section of the config).
 * Each process has a default port of its own (METRICS_PORTS), so an indexer, an analyzer and an
 * alerter on one host do not collide; `port` (TIDEWATCH_METRICS_PORT) overrides it, 0 turns the
 * endpoint off.
 */
export const metricsSchema = z.strictObject({
  /** Loopback by default: the endpoint has no authentication. */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).optional(),
  /** How often consumer lag is read from the transport and Elasticsearch is probed. */
  probeSecs: z.number().positive().default(10),
  /** A partition with records waiting whose committed offset has not moved for this long is stalled (/healthz fails). */
  stallSecs: z.number().positive().default(300),
  /**
   * Channels with a last-successful-poll gauge of their own (the stalest first); every channel
   * counts in the label-free aggregate, so a large watch list cannot blow up the series count.
   */
  channelLabelsMax: z.number().int().nonnegative().default(20),
});

export type MetricsOptions = z.infer<typeof metricsSchema>;

/** Default ports, one per long-running command (Prometheus' "exporter" range is crowded below 9400). */
export const METRICS_PORTS = { indexer: 9471, analyzer: 9472, alerter: 9473, collect: 9474, serve: 9475 } as const;
export type MetricsProcess = keyof typeof METRICS_PORTS;
