import { z } from 'zod';

/**
 * The live analyzer's options: the `analyzer` section of the one config schema. Detector
 * thresholds are the `analytics` section's; these are about running them on a stream.
 */
export const analyzerSchema = z.strictObject({
  /** Consumer group of the channel stage on the activity topic (scales out by partition). */
  groupId: z.string().min(1).default('tidewatch-analyzer'),
  /** Consumer group of the network stage on `networkTopic`. */
  networkGroupId: z.string().min(1).default('tidewatch-analyzer-network'),
  /**
   * Input of the network stage: every record the channel stage has analysed, forwarded to a
   * single-partition topic, so exactly one instance runs the network-wide detectors.
   */
  networkTopic: z.string().min(1).default('tidewatch.analyzer.network'),
  /**
   * live: detectors are ticked on the wall clock, so a silence opens while no event arrives.
   * replay: only event time moves the clocks (re-analysing history from the topic).
   */
  mode: z.enum(['live', 'replay']).default('live'),
  /** Wall-clock tick period in live mode: a silence opens at most this late. */
  tickSecs: z.number().positive().default(10),
  /**
   * Quiet wall-clock time. Live mode: the network stage's merge stops waiting for a source
   * partition quiet this long. Replay mode: a partition that has analysed all its topic holds and
   * got no batch this long has its last events, held back for the allowed lateness, analysed (the
   * end of the replay so far); the merge itself waits for offsets, never for this.
   */
  idleSecs: z.number().positive().default(30),
  /**
   * At most one correction of late data (a re-analysis from the store, README "Late data") per
   * this many seconds: live batches wait while one runs, and a stream of late events (a collector
   * catching up) is corrected in one pass rather than one per tick.
   */
  correctEverySecs: z.number().nonnegative().default(60),
  /** Names this instance in the snapshots it owns; default: the host name (stable across restarts of a container). */
  instanceId: z.string().min(1).optional(),
  maxBatchRecords: z.number().int().positive().default(5_000),
  /**
   * A partition's state is saved (and its offsets committed) at most this often; a batch that
   * reaches the end of the partition is committed by the next save, at most this long after the
   * last one (a timer, or a tick); 0: after every batch.
   * Saving the whole state per batch dominated the analyzer's time (bench/analyzer.ts); at 5 s the
   * saves (several MB each while a backlog is read) were still 10-25% of its CPU on a loaded
   * machine (bench/analyzer.ts). A crash or a
   * rebalance reads again what came after the last save: at most this much work is redone.
   */
  snapshotEverySecs: z.number().nonnegative().default(15),
  /**
   * Activity partitions the channel stage analyses at once (each has its own state). Default:
   * all the topic has, so they advance together: the network stage's merge holds every event
   * until the slowest source partition passes its time, and partitions read one after another
   * left most of the input waiting there (and in its snapshots).
   */
  concurrentPartitions: z.number().int().positive().optional(),
  /** Retries of retriable store failures before the batch is given back to the transport. */
  retries: z.number().int().nonnegative().default(8),
  retryInitialDelayMs: z.number().int().positive().default(200),
  retryMaxDelayMs: z.number().int().positive().default(10_000),
});

export type AnalyzerOptions = z.infer<typeof analyzerSchema>;
