import { z } from 'zod';
import { alerterSchema } from '../../consumers/alerter/options.ts';
import { analyzerSchema } from '../../consumers/analyzer/options.ts';
import { analyticsSchema } from '../analytics/options.ts';
import { bearerTokenSchema } from '../auth.ts';
import { displaySchema } from '../dates.ts';
import { metricsSchema } from '../metrics/options.ts';
import { collectorSchema } from '../producers/collector/options.ts';
import { watchListSchema } from '../watch/watch-list.ts';

/**
 * The one configuration schema. Each component's options are a section here; names carry
 * units. Unknown keys are rejected everywhere so a typo is an error, not a silent default.
 */
export const kafkaSchema = z.strictObject({
  brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port')).min(1, 'needs at least one broker'),
  clientId: z.string().default('tidewatch'),
  topic: z.string().min(1).default('tidewatch.activity'),
  dlqTopic: z.string().min(1).default('tidewatch.activity.dlq'),
  partitions: z.number().int().positive().default(6),
  replicationFactor: z.number().int().positive().default(1),
  ssl: z.boolean().default(false),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      password: z.string().min(1),
    })
    .optional(),
  connectionTimeoutMs: z.number().int().positive().default(10_000),
  requestTimeoutMs: z.number().int().positive().default(30_000),
  /** Producer batching: events per send and the linger before a partial batch goes. */
  producerBatchEvents: z.number().int().positive().default(5_000),
});

export const elasticsearchSchema = z
  .strictObject({
    url: z.url('must be a URL like http://127.0.0.1:9200'),
    apiKey: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    indexPrefix: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lowercase letters, digits, - or _').default('tidewatch'),
    requestTimeoutMs: z.number().int().positive().default(30_000),
    replicas: z.number().int().nonnegative().default(0),
    shards: z.number().int().positive().default(1),
  })
  .refine((e) => (e.username === undefined) === (e.password === undefined), {
    message: 'username and password must be given together',
    path: ['password'],
  });

export const kibanaSchema = z.strictObject({
  url: z.url('must be a URL like http://127.0.0.1:5601'),
  apiKey: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
});

export const indexerSchema = z.strictObject({
  groupId: z.string().default('tidewatch-indexer'),
  /**
   * A bulk request is sent once its body reaches this size (~12,000 typical events). 4 MB: the raw
   * `_bulk` ceiling's best body size on 2 cores, a translog sync per request fewer than at 1 MB.
   */
  flushBytes: z.number().int().positive().default(4_000_000),
  /** Bulk requests in flight per unit of `concurrentPartitions`: at most their product, over all batches. */
  concurrency: z.number().int().positive().default(3),
  /** Retries of retriable failures (429, 5xx, connection) before the consumer backs off the batch. */
  retries: z.number().int().nonnegative().default(10),
  retryInitialDelayMs: z.number().int().positive().default(200),
  retryMaxDelayMs: z.number().int().positive().default(30_000),
  /**
   * Records per handler call (the commit unit). Large: when each batch had its own bulk requests,
   * 10,000 -> 50,000 took the indexer from ~0.6 to ~0.9 of the raw bulk ceiling on 2 cores (bench).
   * Memory: about 1 KB per record in flight.
   */
  maxBatchRecords: z.number().int().positive().default(50_000),
  /**
   * Batches waiting for a bulk request at once (the next ones are fetched and decoded meanwhile);
   * bodies are cut across them, so one batch's tail shares a body with the next.
   */
  concurrentPartitions: z.number().int().positive().default(3),
});

export const serveSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  /** The reader's bearer token: the dashboard's data, /api/* (TIDEWATCH_READER_TOKEN). */
  readerToken: bearerTokenSchema.optional(),
  /** A file holding the reader's token (TIDEWATCH_READER_TOKEN_FILE), e.g. a mounted secret. */
  readerTokenFile: z.string().min(1).optional(),
  /** The writer's bearer token: ingest, /v1/* (TIDEWATCH_WRITER_TOKEN; formerly TIDEWATCH_INGEST_TOKEN). */
  writerToken: bearerTokenSchema.optional(),
  writerTokenFile: z.string().min(1).optional(),
  maxBodyBytes: z.number().int().positive().default(10 * 1024 * 1024),
  maxEventsPerRequest: z.number().int().positive().default(10_000),
  /** Each ingest client's budget (a token bucket): 429 + Retry-After beyond it. */
  ingestRequestsPerMinute: z.number().int().positive().default(600),
  ingestBurstRequests: z.number().int().positive().default(60),
  /** Behind a reverse proxy: a client is the X-Forwarded-For address the proxy adds, not the proxy. */
  trustProxy: z.boolean().default(false),
}).superRefine((s, ctx) => {
  for (const role of ['reader', 'writer'] as const) {
    if (s[`${role}Token`] !== undefined && s[`${role}TokenFile`] !== undefined) {
      ctx.addIssue({ code: 'custom', path: [`${role}TokenFile`], message: `give ${role}Token or ${role}TokenFile, not both` });
    }
  }
});

export const configSchema = z.strictObject({
  dataDir: z.string().min(1).default('./data'),
  /** Message text is never stored unless an operator turns this on. */
  storeText: z.boolean().default(false),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  kafka: kafkaSchema.optional(),
  elasticsearch: elasticsearchSchema.optional(),
  kibana: kibanaSchema.optional(),
  indexer: indexerSchema.default(indexerSchema.parse({})),
  serve: serveSchema.default(serveSchema.parse({})),
  analytics: analyticsSchema.default(analyticsSchema.parse({})),
  analyzer: analyzerSchema.default(analyzerSchema.parse({})),
  alerter: alerterSchema.default(alerterSchema.parse({})),
  collector: collectorSchema.default(collectorSchema.parse({})),
  /** How times read in alerts, summaries and the report (`timezone`: IANA zone, default UTC). */
  display: displaySchema.default(displaySchema.parse({})),
  metrics: metricsSchema.default(metricsSchema.parse({})),
  /** Channels `tidewatch collect` watches (see also collector.watchListFile). */
  watchList: watchListSchema.default([]),
});

export type Config = z.infer<typeof configSchema>;
export type KafkaConfig = z.infer<typeof kafkaSchema>;
export type ElasticsearchConfig = z.infer<typeof elasticsearchSchema>;
export type IndexerConfig = z.infer<typeof indexerSchema>;
export type ServeConfig = z.infer<typeof serveSchema>;
