import { z } from 'zod';

/**
 * The embedded transport's options. Memory is bounded by `maxBufferedBytes` per topic (plus the
 * dead-letter bound): a record counts until every consumer group of its topic has committed it,
 * and publishers wait while a topic is full, so a slow consumer slows producers instead of
 * growing the heap.
 */
export const memoryTransportSchema = z.strictObject({
  topic: z.string().min(1).default('tidewatch.activity'),
  dlqTopic: z.string().min(1).default('tidewatch.activity.dlq'),
  /** Channels are spread over partitions by key hash, as in Kafka; one handler call per partition batch. */
  partitions: z.number().int().positive().default(4),
  /** Record bytes a topic holds that some consumer group has not committed yet (~200k typical events). */
  maxBufferedBytes: z.number().int().positive().default(64 * 1024 * 1024),
  /** Dead letters kept for readDeadLetters; beyond it the oldest are dropped (and logged). */
  maxDeadLetterBytes: z.number().int().positive().default(16 * 1024 * 1024),
  /** Backoff before a batch whose handler threw is delivered again. */
  redeliveryInitialDelayMs: z.number().int().positive().default(300),
  redeliveryMaxDelayMs: z.number().int().positive().default(30_000),
  /** How long close() waits for running consumers to drain what was published. */
  closeTimeoutMs: z.number().int().positive().default(30_000),
});

export type MemoryTransportOptions = z.infer<typeof memoryTransportSchema>;
