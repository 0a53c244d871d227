import { analyzer, type AnalyzerState } from '../../pipeline/analytics/analyzer.ts';
import { BUNDLED_CATALOGUE, type PlatformCatalogue } from '../../pipeline/analytics/links.ts';
import type { AnalyticsOptions } from '../../pipeline/analytics/options.ts';
import type { Finding } from '../../pipeline/analytics/types.ts';
import { parseTimeMs } from '../../pipeline/analytics/time.ts';
import { statusCore, type StatusOutput, type StatusState } from '../../pipeline/analytics/status/index.ts';
import { parseStatusRecord, STATUS_RECORD_KEY } from '../../pipeline/watch/status.ts';
import type { WatchList } from '../../pipeline/watch/watch-list.ts';
import { DEFAULT_DISPLAY, type DisplayOptions } from '../../pipeline/dates.ts';
import { ErrorCode, errorMessage, TidewatchError } from '../../pipeline/errors.ts';
import { decodeEvent, eventKey } from '../../pipeline/events/index.ts';
import { partitionerFor } from '../../pipeline/transport/partitioner.ts';
import { DETECTOR_TYPES, reanalyze } from './reanalysis.ts';
import { analysisVersion } from '../../pipeline/analytics/options.ts';

const DETECTOR_TYPE_SET: ReadonlySet<string> = new Set(DETECTOR_TYPES);
import type { Logger } from '../../pipeline/log.ts';
import { retry, type RetryOptions } from '../../pipeline/retry.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import { MAX_FINDINGS } from '../../pipeline/store/queries.ts';
import type { FindingDoc, Store } from '../../pipeline/store/types.ts';
import { caughtUp, type Batch, type BatchResult, type DeadLetter, type DeadLetterWriter, type PartitionProgress, type Publisher, type Subscription, type Transport, type TransportRecord } from '../../pipeline/transport/types.ts';
import type { AnalyzerOptions } from './options.ts';
import { decodeStageState, encodeStageState, snapshotKey, type Snapshot, type SnapshotHead, type SnapshotStore } from './snapshots.ts';
import { addEvents, admit, admitPacked, allDone, anyDone, newMerge, setSources, release, type MergeState } from './merge.ts';
import { stageOf, type StageName } from './stages.ts';
import { ForwardedEvents, pack, packCount, parseForwarded, unpack, PACK_KEY_PREFIX, type Forwarded } from './forward.ts';

export interface AnalyzerStats {
  batches: number;
  /** Records analysed (valid or not; the network stage counts the events of a pack); records already covered by a restored snapshot are `skipped`. */
  records: number;
  skipped: number;
  /** Undecodable records. Channel stage: skipped here, dead-lettered by the indexer, which reads the same topic. Network stage: dead-lettered here (stage 'analyze'). */
  invalid: number;
  findingsWritten: number;
  /** Refused by the store for good (logged with the reason); retriable failures are retried. */
  findingsRejected: number;
  forwarded: number;
  ticks: number;
  /** Partition states read back from a snapshot (start, rebalance, redelivery). */
  restored: number;
  /** Network stage: collector status records handed to the status core (`invalid` counts bad ones). */
  collectorStatus: number;
  /** Network stage: copies the channel stage forwarded again after a crash, dropped by source offset (within `records`). */
  resent: number;
  /**
   * Records never read: a batch's first new offset lies beyond the one after the state's last (the
   * topic's retention deleted them before they were analysed, or a bug). Counted and logged: the
   * findings of that partition lack them, and nothing else would say so.
   */
  missing: number;
  /**
   * Partitions whose held-back tail was analysed and its findings stored: the end of a replay so
   * far (idle and analysed to the end of its topic), or `finish()`.
   */
  flushed: number;
  /**
   * Findings (and status documents) waiting to be written (a gauge): a tick's or `finish()`'s
   * write failed after its retries; kept with their partition's state and written first by its
   * next write, before any save of it.
   */
  unwritten: number;
}

export interface AnalyzerDeps {
  /** The activity topic (the transport's default topic). */
  transport: Transport;
  /**
   * A transport whose default topic is the network stage's input (`analyzer.networkTopic`; in the
   * embedded deployment a second memory transport).
   */
  network: Transport;
  /**
   * Partitions of the activity topic: the network stage waits for each (merge.ts). Without it the
   * stage learns them as they arrive, which is exact in live mode (the wall clock bounds the wait)
   * but lets a replay take a partition that starts late for late events.
   */
  sourcePartitions?: number;
  store: Store;
  snapshots: SnapshotStore;
  options: AnalyzerOptions & { instanceId: string; storeText: boolean };
  analytics: AnalyticsOptions;
  catalogue?: PlatformCatalogue;
  /**
   * The watch list of the status core (network stage): the config's `watchList` with the
   * collectors' watch list file merged over it. Default: none (every channel is "discovered").
   */
  watchList?: WatchList;
  /** Called every tick: a new watch list when it changed (the file was edited), else undefined. */
  reloadWatchList?: () => WatchList | undefined;
  log: Logger;
  /**
   * The indexer's consumer group on the activity topic. With it, late events are corrected: once
   * the indexer has stored everything the topic holds and both stages have analysed it, the
   * findings are recomputed from the store in event-time order (reanalysis.ts) and the stages go
   * on from the corrected state. Without it late events are only counted.
   */
  indexerGroupId?: string;
  /** The zone of the status core's reasons and alert messages (the config's `display`); UTC without it. */
  display?: DisplayOptions;
  /** The wall clock of live mode; injected so tests can compress time. */
  now?: () => number;
  /** Milliseconds of `now` per real millisecond (a compressed clock's speed): turns a silence deadline into a timer. Default 1. */
  nowRate?: number;
  /**
   * Live mode: called after a tick at which a silence threshold was due, once the gaps it opened
   * are stored and visible to search, so the alerter evaluates its silence rules at once rather
   * than at their next scheduled run (cli/embedded.ts calls the alerter, `run analyzer` publishes
   * to `alerter.findingsTopic`). A failure is logged; the rules' schedule still finds the gap.
   */
  onSilenceDue?: () => Promise<void>;
  /**
   * Replay: each time the network stage (the last) has analysed another `everyMs` of event time,
   * within a batch too, it writes the findings so far and awaits `reached` with the event time
   * analysed to and whether it wrote anything since the last checkpoint. What runs on event time
   * (the demo's alert rules) follows it, however far behind the producer the analysis is.
   */
  checkpoints?: { everyMs: number; reached: (eventTimeMs: number, wrote: boolean) => Promise<void> };
}

interface PartitionState {
  key: string;
  state: AnalyzerState;
  /** Network stage only: events waiting for the slowest source partition. */
  merge: MergeState | null;
  /**
   * Network stage only: each source partition's end offset when it was last judged done or not
   * (markSourcesDone); not saved. A forwarded record at or past it was published after that.
   */
  checkedEnds?: Map<string, bigint>;
  /** Network stage only: the watch-list status core (pipeline/analytics/status/), saved in the same snapshot. */
  status: StatusState | null;
  /** The watch list version `status` has; -1 after a restore (the list may have changed meanwhile). */
  watchListVersion: number;
  /** Last offset in `state`; '-1' before the first record. */
  lastOffset: string;
  /** Offset of the last snapshot saved (the commit point), and when (Date.now()). */
  savedOffset: string;
  savedAtMs: number;
  /**
   * Owner of the snapshot this state extends: this instance once it saved, else the instance
   * whose snapshot it restored (a batch can reach a partition before its adoption, onAssigned).
   */
  savedOwner: string;
  /**
   * Batches at the end of the partition answered `{ durable }` instead of a save (one promise for
   * them all), settled by the next save of this state; the timer makes that save at most
   * snapshotEverySecs after the last.
   */
  waiting: Waiting | null;
  /** Wall clock of the last batch, and whether the replay's held-back tail was analysed since. */
  lastBatchAtMs: number;
  flushed: boolean;
  /** The flush's findings are among `unwritten`: counted in stats.flushed once they are stored. */
  flushUnwritten: boolean;
  /**
   * Findings of a tick (or finish) whose write failed: the state has moved on (a silence opened,
   * a flush done, merged events released), so nothing would find them again. Written first by the
   * partition's next write, and before any save: a snapshot is never ahead of the findings stored.
   * A state dropped loses them with itself, rightly: it is restored from its last snapshot, which
   * predates them, so the tick or flush that found them is done again (a live tick at the new
   * clock, a replay's flush once idle, the merge's events released again).
   */
  unwritten: FindingDoc[];
}

interface Waiting {
  durable: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

/** Deadline ticks come at least this long after the previous tick: many thresholds due together share one. */
const MIN_TICK_SPACING_MS = 50;

/**
 * A replay on the events' clock ticks the status core each time the events pass another hour:
 * where batches end depends on the transport's timing, so ticking there would decide (and stamp)
 * the same change at other times in another run, and a replay read in one batch would decide no
 * quiet or silent spell before its end. An hour is well within a silence (gaps.floorHours) and
 * costs one scan of the members per hour of history.
 */
const STATUS_REPLAY_TICK_MS = 3_600_000;

const newer = (offset: string, than: string): boolean => BigInt(offset) > BigInt(than);

/** One document per type and id, the last version of each: written in one go, an older version must not land after a newer one (a retry writes only the failed ones). */
function latestById(docs: readonly FindingDoc[]): FindingDoc[] {
  const latest = new Map<string, FindingDoc>();
  for (const d of docs) latest.set(`${d.type}\u001f${d.id}`, d);
  return [...latest.values()];
}

/**
 * One stage of the live analyzer (see stages.ts): per partition of its topic a detector state,
 * saved with the offset it covers (at most every snapshotEverySecs), *after* the batches' findings
 * are stored and *before* the transport commits them. So after a crash at any point the state and the committed
 * offset never disagree in a way that loses or double-counts an event: records the snapshot
 * already covers are skipped, findings are upserts by deterministic id.
 */
class Stage {
  private readonly partitions = new Map<number, PartitionState>();
  private readonly locks = new Map<number, Promise<unknown>>();
  private forward: Publisher | undefined;
  private dlq: Promise<DeadLetterWriter> | undefined;
  private ticking = false;
  private closing = false;
  private adopting: Promise<void> = Promise.resolve();
  private watchList: WatchList;
  private watchListVersion = 0;
  /** Status overrides are read from this time on (re-read from the start after a restart: applying one twice changes nothing). */
  private overridesFrom: string | undefined;
  /** Status documents as last written (without updatedAt): only the ones that changed are written again. */
  private readonly statusWritten = new Map<string, string>();
  /** Event time of the next checkpoint (deps.checkpoints), and whether anything was written since the last. */
  private nextCheckpointMs = -Infinity;
  private wroteSinceCheckpoint = false;
  /** Replay mode: event time is the only clock, the status core's too (initStatus). Read per event. */
  private readonly replay: boolean;

  private readonly analysis: string;

  constructor(
    readonly name: StageName,
    private readonly transport: Transport,
    private readonly groupId: string,
    private readonly next: Transport | undefined,
    private readonly deps: AnalyzerDeps,
    readonly stats: AnalyzerStats,
    /** Shared by the two stages of one Analyzer: the channel stage puts, the network stage takes. */
    private readonly handoff: ForwardedEvents,
  ) {
    this.watchList = deps.watchList ?? [];
    this.analysis = analysisVersion(deps.analytics, deps.catalogue ?? BUNDLED_CATALOGUE);
    this.replay = deps.options.mode === 'replay';
  }

  private get retryOptions(): Partial<RetryOptions> {
    const o = this.deps.options;
    return {
      retries: o.retries,
      initialDelayMs: o.retryInitialDelayMs,
      maxDelayMs: o.retryMaxDelayMs,
      onRetry: ({ attempt, delayMs, error }) => this.deps.log.warn({ stage: this.name, attempt, delayMs, err: errorMessage(error) }, 'analyzer retry'),
    };
  }

  async start(): Promise<Subscription> {
    const { options } = this.deps;
    if (this.next) this.forward = await this.next.publisher();
    return this.transport.subscribe(
      {
        groupId: this.groupId,
        fromBeginning: true,
        maxBatchRecords: options.maxBatchRecords,
        // The network stage's topic has one partition.
        // The channel stage's partitions advance together (a fetch's worth of each at a time): the
        // network stage's merge holds every event until the slowest source partition passes its time.
        ...(this.name === 'channel' ? { concurrentPartitions: options.concurrentPartitions ?? this.deps.sourcePartitions ?? 1, fetchBytesPerPartition: 2 * 1024 * 1024 } : {}),
        onAssigned: (topic, partitions) => {
          // In order of the rebalances; a tick waits for the adoption in progress.
          this.adopting = this.adopting
            .then(() => this.assigned(topic, partitions))
            .catch((err: unknown) => this.deps.log.warn({ stage: this.name, partitions, err: errorMessage(err) }, 'analyzer: adopting assigned partitions failed; their next batch loads them'));
        },
      },
      (batch) => this.exclusive(batch.partition, () => this.handle(batch)),
    );
  }

  /**
   * After a rebalance (or a restart): drop the states of partitions that moved away, and adopt the
   * saved state of every partition assigned here. A partition that stays silent gets no batch, yet
   * its silence must be judged by someone: its new owner, from the assignment on. Adopting saves
   * the snapshot under this instance's name, so a previous owner that is still alive stops ticking it.
   */
  private async assigned(topic: string, partitions: readonly number[]): Promise<void> {
    // Stopping: the next owner adopts them (a rebalance while stopping, e.g. another instance
    // leaving too, would otherwise load and save snapshots through a store being closed).
    if (this.closing) return;
    const mine = new Set(partitions);
    for (const held of [...this.partitions.keys()]) {
      if (!mine.has(held)) await this.exclusive(held, async () => this.drop(held, 'assigned elsewhere'));
    }
    const { snapshots, options } = this.deps;
    for (const partition of partitions) {
      await this.exclusive(partition, async () => {
        if (this.closing || this.partitions.has(partition)) return;
        const saved = await retry(() => snapshots.load(snapshotKey(this.groupId, topic, partition)), this.retryOptions);
        if (!saved) return;
        if (saved.owner !== options.instanceId) await retry(() => snapshots.save({ ...saved, owner: options.instanceId, savedAt: new Date(this.now()).toISOString() }), this.retryOptions);
        this.partitions.set(partition, this.restore({ ...saved, owner: options.instanceId }));
      });
    }
  }

  /** Batches and ticks of one partition never interleave: both read and write its state. */
  private exclusive<T>(partition: number, fn: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(partition) ?? Promise.resolve()).then(fn);
    this.locks.set(partition, run.catch(() => {}));
    return run;
  }

  /** `fn` with every partition held here locked: no batch or tick runs meanwhile. */
  withAllLocked<T>(fn: () => Promise<T>): Promise<T> {
    const held = [...this.partitions.keys()].sort((a, b) => a - b);
    const nest = (i: number): Promise<T> => (i === held.length ? fn() : this.exclusive(held[i]!, () => nest(i + 1)));
    return nest(0);
  }

  /** Partitions held here and their detector states. */
  held(): Map<number, AnalyzerState> {
    return new Map([...this.partitions].map(([n, p]) => [n, p.state]));
  }

  /** Whether this instance has the progress of every partition of its topic in hand (offsets, not clocks). */
  async caughtUp(): Promise<boolean> {
    const progress = await this.transport.progress(this.groupId);
    return progress.length > 0 && progress.every((x) => {
      const p = this.partitions.get(x.partition);
      return caughtUp(x) || (p !== undefined && BigInt(x.end) <= BigInt(p.lastOffset) + 1n);
    });
  }

  /**
   * A partition's state replaced by one rebuilt from a sorted pass over the store (the caller
   * holds the lock). The network stage's held-back events are in that pass already: dropped. Saved
   * at the same offset, so a restart goes on from the corrected state.
   */
  async replaceState(partition: number, state: AnalyzerState): Promise<void> {
    const p = this.partitions.get(partition);
    if (!p) return;
    p.state = state;
    if (p.merge) p.merge.pending = [];
    // The pass stored the findings of everything the state had seen, corrected: the old state's
    // unwritten ones would overwrite them with uncorrected versions.
    p.unwritten = [];
    p.flushUnwritten = false;
    this.countUnwritten();
    await this.save(p);
  }

  /** The partition's state saved at the offset it covers (ahead of the commit is safe: covered records are skipped). */
  private async save(p: PartitionState): Promise<void> {
    let snapshot: Snapshot;
    try {
      // Findings a failed tick left unwritten first: else the snapshot would be ahead of them, and
      // a restore from it would never find them again.
      await this.write(p, []);
      snapshot = {
        key: p.key,
        offset: p.lastOffset,
        owner: this.deps.options.instanceId,
        state: await encodeStageState({ state: analyzer.saved(p.state), merge: p.merge, status: p.status }),
        savedAt: new Date(this.now()).toISOString(),
      };
      await retry(() => this.deps.snapshots.save(snapshot), this.retryOptions);
    } catch (err) {
      // The transport delivers the waiting batches again from the last commit. They were handled
      // in full (findings stored, records forwarded): unless the batch being handled failed
      // (handle drops the state), the state keeps them and skips them then.
      this.settle(p, err);
      throw err;
    }
    p.savedOffset = snapshot.offset;
    p.savedOwner = snapshot.owner;
    p.savedAtMs = Date.now();
    this.settle(p);
  }

  /** Resolve (a save covers them) or reject the batches waiting for a save of `p`. */
  private settle(p: PartitionState, err?: unknown): void {
    const w = p.waiting;
    if (!w) return;
    p.waiting = null;
    clearTimeout(w.timer);
    if (err === undefined) w.resolve();
    else w.reject(err);
  }

  /** A partition's state dropped (moved away, stale, failed batch): its waiting batches are delivered again from the last commit. */
  private drop(partition: number, why: string): void {
    const p = this.partitions.get(partition);
    if (!p) return;
    this.partitions.delete(partition);
    // Its unwritten findings go with it: the snapshot it is restored from predates them (PartitionState.unwritten).
    if (p.unwritten.length) this.countUnwritten();
    this.settle(p, new TidewatchError(ErrorCode.STORE_FAILED, `analyzer: ${this.name} stage state of partition ${partition} not saved (${why})`, { retriable: true }));
  }

  /**
   * A batch at the end of the partition, handled in full, whose state was saved less than
   * snapshotEverySecs ago: committed once the next save covers it (a later batch's, or the
   * timer's at most snapshotEverySecs after the last save), not saved now.
   */
  private saveLater(p: PartitionState, partition: number): { durable: Promise<void> } {
    if (!p.waiting) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const durable = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      const inMs = Math.max(0, p.savedAtMs + this.deps.options.snapshotEverySecs * 1000 - Date.now());
      const timer = setTimeout(() => void this.saveWaiting(partition), inMs);
      p.waiting = { durable, resolve, reject, timer };
    }
    return { durable: p.waiting.durable };
  }

  /** Save a partition whose batches wait for it (timer, stop, finish); a failure rejects them (save). */
  private saveWaiting(partition: number): Promise<void> {
    return this.exclusive(partition, async () => {
      const p = this.partitions.get(partition);
      if (p?.waiting) await this.save(p);
    }).catch((err: unknown) => this.deps.log.warn({ stage: this.name, partition, err: errorMessage(err) }, 'analyzer: snapshot not saved; its batches are delivered again from the last commit'));
  }

  /**
   * Stopping: every batch still waiting is saved now (the transport's stop waits for their
   * commits), and batches handled from now on are saved at once.
   */
  async close(): Promise<void> {
    this.closing = true;
    // An adoption under way finishes first: its snapshot saves land while the store is open.
    await this.adopting;
    await Promise.all([...this.partitions.keys()].map((n) => this.saveWaiting(n)));
  }

  /** Replay mode: the partition's held-back tail has been judged (flush), so a rebuilt state must be too. */
  flushed(partition: number): boolean {
    return this.partitions.get(partition)?.flushed ?? false;
  }

  private restore(s: Snapshot): PartitionState {
    this.stats.restored++;
    const saved = decodeStageState<{ state: AnalyzerState; merge: MergeState | null; status?: StatusState | null }>(s.state);
    // A snapshot from before the stages' scopes holds every finding's state: trimmed to this stage's.
    saved.state = analyzer.revive(saved.state, this.name);
    // Idleness is judged from now on: the time this instance was down says nothing about the
    // sources, and counting it would release the merge past partitions that are merely behind.
    if (saved.merge) for (const src of saved.merge.sources.values()) src[1] = this.now();
    // A snapshot from before the status core existed starts it afresh.
    const status = this.name === 'network' ? (saved.status ?? this.initStatus()) : null;
    // Messages read in the zone configured now, not the one the snapshot was taken under.
    if (status) status.display = this.deps.display ?? DEFAULT_DISPLAY;
    return { key: s.key, state: saved.state, merge: saved.merge, status, watchListVersion: -1, lastOffset: s.offset, savedOffset: s.offset, savedOwner: s.owner, savedAtMs: Date.now(), waiting: null, lastBatchAtMs: this.now(), flushed: false, flushUnwritten: false, unwritten: [] };
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /**
   * A replay runs the status core on the events' clock alone: it starts at its first input, not at
   * the wall clock of this call (`run analyzer --replay`, which would stamp every change of
   * historical data with it), nor at the clock the embedded import and demo inject (the latest
   * time published: a fast import put it at the input's end before the first batch was analysed,
   * and the history before it was never judged).
   */
  private initStatus(): StatusState {
    return statusCore.init(this.deps.analytics, this.watchList, this.replay ? null : this.now(), this.deps.display);
  }

  /**
   * The status core's clock at event time `ms`: in a replay, the hour it is in, the one grid the
   * core is ticked on (as events pass each hour, at the stage's ticks, at the end of the input). A
   * change is stamped with the tick that decides it; ticks at the latest event time fell wherever
   * a wall-clock tick, a pause or a batch's end happened to be, and two runs over the same data
   * stamped changes differently. The last part of an hour is judged when the events pass it.
   */
  private statusClock(ms: number): number {
    return this.replay ? Math.floor(ms / STATUS_REPLAY_TICK_MS) * STATUS_REPLAY_TICK_MS : ms;
  }

  /** An event for both cores; the status core only gets events the analytics core has not seen (its duplicate filter). */
  private step(p: PartitionState, event: ActivityEvent, status: StatusOutput[]): readonly Finding[] {
    if (p.status && !p.state.recentIds.has(event.event.id)) {
      if (this.replay && p.status.nowMs !== null) {
        const hourMs = this.statusClock(parseTimeMs(event['@timestamp']));
        if (hourMs > p.status.nowMs) status.push(statusCore.tick(p.status, hourMs));
      }
      status.push(statusCore.step(p.status, event));
    }
    return analyzer.step(p.state, event);
  }

  /** The status core's changes and alert episodes, latest version of each (by type and id). */
  private statusDocs(outs: readonly StatusOutput[]): FindingDoc[] {
    const docs = new Map<string, FindingDoc>();
    for (const o of outs) for (const d of [...o.changes, ...o.alerts]) docs.set(`${d.type}:${d.id}`, d);
    return [...docs.values()];
  }

  /**
   * The status core's clock (network stage): a new watch list, new analysts' overrides from the
   * store, then tick. Returns what to write: changes, alerts and the status documents that changed.
   */
  private async tickStatus(p: PartitionState, nowMs: number): Promise<FindingDoc[]> {
    const st = p.status!;
    const outs: StatusOutput[] = [];
    if (p.watchListVersion !== this.watchListVersion) {
      outs.push(statusCore.setWatchList(st, this.watchList, nowMs));
      p.watchListVersion = this.watchListVersion;
    }
    const overrides = await this.deps.store.findings('status_override', {
      ...(this.overridesFrom === undefined ? {} : { from: this.overridesFrom }),
      limit: MAX_FINDINGS,
      sort: { by: 'time', order: 'asc' },
    });
    for (const o of overrides) outs.push(statusCore.override(st, o));
    if (overrides.length) this.overridesFrom = overrides[overrides.length - 1]!.at;
    outs.push(statusCore.tick(st, nowMs));
    return [...this.statusDocs(outs), ...this.changedStatusDocs(st)];
  }

  /**
   * The members' status documents that changed since last written (one per member, updated in
   * place). The memory of what was written is cleared when a write fails, so all are written again.
   */
  private changedStatusDocs(st: StatusState): FindingDoc[] {
    const docs: FindingDoc[] = [];
    for (const d of statusCore.docs(st)) {
      const { updatedAt: _, ...content } = d;
      const text = JSON.stringify(content);
      if (this.statusWritten.get(d.id) === text) continue;
      this.statusWritten.set(d.id, text);
      docs.push(d);
    }
    return docs;
  }

  /**
   * The saved snapshot is still the one this state extends: the one this instance saved or restored
   * last (none yet, before a partition's first save). Comparing with this instance's name instead
   * made a state restored from another instance's snapshot before its adoption reload at every
   * batch until its first save, losing the batches in between (bench `pipeline`, two instances).
   */
  private stillOurs(p: PartitionState, head: SnapshotHead | null): boolean {
    return head === null ? p.savedOffset === '-1' : head.owner === p.savedOwner && head.offset === p.savedOffset;
  }

  /**
   * The state for a batch: the one in memory if the saved snapshot is still ours and at the same
   * offset; otherwise (first batch, partition moved away and back, a failed batch) the saved one.
   */
  private async stateFor(batch: Batch): Promise<PartitionState> {
    const key = snapshotKey(this.groupId, batch.topic, batch.partition);
    const { snapshots, options } = this.deps;
    const held = this.partitions.get(batch.partition);
    if (held) {
      const head = await retry(() => snapshots.head(key), this.retryOptions);
      if (this.stillOurs(held, head)) return held;
      this.drop(batch.partition, 'saved by another instance since');
    }
    const saved = await retry(() => snapshots.load(key), this.retryOptions);
    const p = saved
      ? this.restore(saved)
      : {
          key,
          state: analyzer.init(this.deps.analytics, this.deps.catalogue ?? BUNDLED_CATALOGUE, { scope: this.name }),
          merge: this.name === 'network' ? newMerge(this.deps.sourcePartitions ?? 0, this.now()) : null,
          status: this.name === 'network' ? this.initStatus() : null,
          watchListVersion: this.watchListVersion,
          lastOffset: '-1',
          savedOffset: '-1',
          savedOwner: options.instanceId,
          // Never saved: the first batch is.
          savedAtMs: -Infinity,
          waiting: null,
          lastBatchAtMs: this.now(),
          flushed: false,
          flushUnwritten: false,
          unwritten: [],
        };
    this.partitions.set(batch.partition, p);
    return p;
  }

  private async handle(batch: Batch): Promise<BatchResult> {
    if (this.name === 'network' && batch.partition !== 0) {
      // Records are keyed by their source partition: with several partitions the network state
      // would be split, and every network finding wrong.
      throw new TidewatchError(ErrorCode.CONFIG_INVALID, `analyzer: the network stage's topic ${batch.topic} must have exactly one partition (got a batch from partition ${batch.partition})`);
    }
    const p = await this.stateFor(batch);
    const fresh = batch.records.filter((r) => newer(r.offset, p.lastOffset));
    this.stats.skipped += batch.records.length - fresh.length;
    if (fresh.length && p.lastOffset !== '-1') {
      const missing = BigInt(fresh[0]!.offset) - BigInt(p.lastOffset) - 1n;
      if (missing > 0n) {
        this.stats.missing += Number(missing);
        this.deps.log.error({ stage: this.name, partition: batch.partition, after: p.lastOffset, next: fresh[0]!.offset, missing: Number(missing) }, 'analyzer: records of the partition were never read (deleted by the topic\'s retention before they were analysed?); its findings lack them');
      }
    }
    // Records the state covers but its last snapshot does not (read again after a rebalance or a
    // failed save) must not be committed past that snapshot: committed with the next save.
    if (fresh.length === 0) {
      if (!newer(batch.records[batch.records.length - 1]!.offset, p.savedOffset)) return undefined;
      if (!this.closing) return this.saveLater(p, batch.partition);
      await this.save(p);
      return undefined;
    }
    let forwarding: Promise<void> | undefined;
    try {
      const found = new Map<string, Finding>();
      const keep = (fs: readonly Finding[]) => {
        for (const f of fs) if (stageOf(f) === this.name) found.set(f.id, f);
      };
      const nowMs = this.now();
      const status: StatusOutput[] = [];
      const merged: [string, ActivityEvent][] = [];
      const valid: Forwarded[] = [];
      const dead: DeadLetter[] = [];
      // Records for the channel stage; events (unpacked) and status records for the network stage.
      let analysed = 0;
      for (const r of fresh) {
        analysed++;
        if (p.status && r.key === STATUS_RECORD_KEY) {
          // A collector's status update (cli/commands/collect.ts publishes them here), not an event.
          const u = parseStatusRecord(r.value);
          if (u === null) this.stats.invalid++;
          else {
            status.push(statusCore.observe(p.status, u));
            this.stats.collectorStatus++;
          }
          continue;
        }
        if (p.merge) {
          analysed += this.unforward(p.merge, r, merged, dead) - 1;
          continue;
        }
        const v = decodeEvent(r.value, { storeText: this.deps.options.storeText, nowMs, checkId: true });
        if (!v.ok) this.stats.invalid++;
        else {
          keep(this.step(p, v.event, status));
          // The bytes as they came when they are the event exactly (the usual case), else the
          // event as validated (text removed, defaults filled): the network stage only parses them.
          if (this.forward) valid.push({ offset: r.offset, bytes: v.json !== undefined ? r.value : Buffer.from(JSON.stringify(v.event)), event: v.event });
        }
      }
      // Sent while this batch's findings are written; awaited before the state is saved (the commit point).
      if (this.forward && valid.length) forwarding = this.forwardRecords(batch.partition, valid);
      forwarding?.catch(() => {});
      const replay = this.replay;
      if (p.merge) {
        addEvents(p.merge, merged, nowMs);
        // A source judged done at the last check may have had records published since, as this
        // batch's did (a backfill into a running replay, input resuming after a pause): taken
        // as done, it would let the others' events go ahead of its new ones (late, the network
        // silences and status changes of a partial view). Judged again now, from offsets. Live
        // mode releases by the wall clock anyway (its floor), and would pay a check per batch.
        if (replay && this.newInputSinceCheck(p.merge, p.checkedEnds)) await this.markSourcesDone(p, batch.partition, nowMs);
      }
      // Replay: event time is the only clock, so what it makes due is judged after every batch
      // (and at every checkpoint). Live mode writes the members' documents at each tick (a scan of
      // every member); a replay may end before the next tick, so it writes them with every batch.
      const settle = async () => {
        if (replay) {
          // The status core is ticked as the events pass each hour (step).
          keep(analyzer.tick(p.state, p.state.maxSeenMs));
        }
        const current = p.status && replay ? this.changedStatusDocs(p.status) : [];
        const docs = [...found.values(), ...this.statusDocs(status), ...current];
        await this.write(p, docs, batch);
        if (docs.length) this.wroteSinceCheckpoint = true;
        found.clear();
        status.length = 0;
      };
      const checkpoints = replay && this.name === 'network' ? this.deps.checkpoints : undefined;
      if (p.merge) {
        for (const e of this.released(p, nowMs)) {
          keep(this.step(p, e, status));
          if (checkpoints && p.state.maxSeenMs >= this.nextCheckpointMs) {
            await settle();
            this.nextCheckpointMs = p.state.maxSeenMs + checkpoints.everyMs;
            const wrote = this.wroteSinceCheckpoint;
            this.wroteSinceCheckpoint = false;
            await checkpoints.reached(p.state.maxSeenMs, wrote);
          }
        }
      }
      await settle();
      // Valid records only: an invalid one is the indexer's to dead-letter.
      await forwarding;
      if (dead.length) await this.deadLetter(dead);
      if (batch.isStale()) {
        // Revoked meanwhile: the new owner starts from the last saved state and committed offset.
        this.drop(batch.partition, 'partition revoked');
        return;
      }
      p.lastOffset = fresh[fresh.length - 1]!.offset;
      p.lastBatchAtMs = nowMs;
      p.flushed = false;
      // Saved at most every snapshotEverySecs. A batch that reaches the partition's end is
      // committed within that time even if nothing follows (saveLater): the replay's end and the
      // merge's "source done" are read from committed offsets.
      const atEnd = batch.end === undefined || BigInt(p.lastOffset) + 1n >= BigInt(batch.end);
      const young = !this.closing && Date.now() - p.savedAtMs < this.deps.options.snapshotEverySecs * 1000;
      if (!young) await this.save(p);
      this.stats.batches++;
      this.stats.records += analysed;
      if (young) return atEnd ? this.saveLater(p, batch.partition) : 'deferCommit';
    } catch (err) {
      // The state has seen records whose batch will be delivered again: start over from the snapshot.
      this.drop(batch.partition, 'batch failed');
      this.statusWritten.clear();
      // Not delivered again before this batch's forwarding has ended: a partition's packs arrive in offset order.
      await forwarding?.catch(() => {});
      throw err;
    }
  }

  private async forwardRecords(partition: number, records: readonly Forwarded[]): Promise<void> {
    const forward = this.forward!;
    // Packed (forward.ts), each event with its offset here: the network stage merges partitions
    // by event time, and drops a copy resent after a crash by its offset (merge.ts).
    const packs = pack(partition, records);
    let i = 0;
    for (const p of packs) {
      const count = packCount(p.value);
      this.handoff.put(p.key, p.value, records.slice(i, i + count).map((r) => r.event!));
      i += count;
    }
    await retry(() => forward.publishRaw(packs), this.retryOptions);
    this.stats.forwarded += records.length;
  }

  /**
   * Network stage: one forwarded record into the merge's input, the events of a pack or a single
   * event (the form of earlier versions, key `<partition>@<offset>`). Copies already received
   * are counted as resent; what cannot be read is dead-lettered with the reason. Returns the
   * number of events the record held (1 for a damaged one).
   */
  private unforward(m: MergeState, r: TransportRecord, merged: [string, ActivityEvent][], dead: DeadLetter[]): number {
    const storeText = this.deps.options.storeText;
    const reject = (reason: string, value: Buffer) => {
      this.stats.invalid++;
      dead.push({ originalBase64: value.toString('base64'), reason, code: ErrorCode.EVENT_INVALID, stage: 'analyze', source: { topic: r.topic, partition: r.partition, offset: r.offset }, at: new Date().toISOString() });
    };
    if (r.key?.startsWith(PACK_KEY_PREFIX)) {
      const u = unpack(r.value);
      if ('error' in u) {
        reject(`${u.error} (key ${r.key})`, r.value);
        return 1;
      }
      const source = String(u.partition);
      const from = admitPacked(m, source, u.base, u.deltas);
      this.stats.resent += from;
      const events = this.handoff.take(r.key, r.value);
      if (events?.length === u.deltas.length) {
        for (let i = from; i < events.length; i++) merged.push([source, events[i]!]);
        return u.deltas.length;
      }
      for (let i = from; i < u.deltas.length; i++) {
        const e = parseForwarded(r.value.toString('utf8', u.starts[i], u.ends[i]), storeText);
        if ('error' in e) reject(`forwarded event ${source}@${u.base + BigInt(u.deltas[i]!)}: ${e.error}`, r.value.subarray(u.starts[i], u.ends[i]));
        else merged.push([source, e]);
      }
      return u.deltas.length;
    }
    const source = admit(m, r.key ?? '');
    if (source === null) {
      this.stats.resent++;
      return 1;
    }
    const e = parseForwarded(r.value.toString('utf8'), storeText);
    if ('error' in e) reject(`forwarded event ${r.key}: ${e.error}`, r.value);
    else merged.push([source, e]);
    return 1;
  }

  private async deadLetter(letters: DeadLetter[]): Promise<void> {
    await retry(async () => {
      // Asked again after a failure to connect.
      this.dlq ??= this.transport.deadLetters().catch((err: unknown) => {
        this.dlq = undefined;
        throw err;
      });
      await (await this.dlq).write(letters);
    }, this.retryOptions);
    this.deps.log.warn({ stage: this.name, count: letters.length, first: letters[0]!.reason }, 'analyzer: forwarded records that cannot be read dead-lettered');
  }

  /**
   * Merged events due at `nowMs`. Live mode never holds an event longer than the allowed lateness,
   * nor waits for a quiet source; a replay waits for every source until it is done (deterministic).
   */
  private released(p: PartitionState, nowMs: number): ActivityEvent[] {
    const o = this.deps.options;
    const live = o.mode === 'live';
    const floorMs = live ? nowMs - this.deps.analytics.allowedLatenessSecs * 1000 : -Infinity;
    return release(p.merge!, nowMs, live ? o.idleSecs * 1000 : Number.POSITIVE_INFINITY, floorMs);
  }

  /**
   * Network stage: which source partitions the channel stage has finished. A source partition
   * committed to its end by the channel group had forwarded all its records before that commit,
   * so once this stage has read its own topic to the end (read after the sources' offsets), or
   * received the source's last record, none of that source's records is still on the way. Both
   * reads are offsets, not clocks: the same topic always ends the merge the same way.
   */
  private async markSourcesDone(p: PartitionState, partition: number, nowMs: number): Promise<void> {
    const sources = await this.deps.transport.progress(this.deps.options.groupId);
    const own = (await this.transport.progress(this.groupId)).find((x) => x.partition === partition);
    const readAll = own !== undefined && BigInt(own.end) <= BigInt(p.lastOffset) + 1n;
    const forwarded = p.merge!.forwarded;
    // The source's last record received (every earlier one came before it), or none ever held: a
    // stage reading while records still arrive has rarely read its own topic to the end.
    const received = (s: PartitionProgress): boolean => {
      const last = forwarded?.get(String(s.partition));
      return BigInt(s.end) === 0n || (last !== undefined && BigInt(last) >= BigInt(s.end) - 1n);
    };
    setSources(p.merge!, sources.map((s) => [String(s.partition), caughtUp(s) && (readAll || received(s))]), nowMs);
    p.checkedEnds = new Map(sources.map((s) => [String(s.partition), BigInt(s.end)]));
  }

  /** Network stage: a source is taken as done, and records published since the check that found it done have arrived. */
  private newInputSinceCheck(m: MergeState, checkedEnds: Map<string, bigint> | undefined): boolean {
    if (!anyDone(m)) return false;
    if (checkedEnds === undefined) return true;
    for (const [source, offset] of m.forwarded ?? []) {
      const end = checkedEnds.get(source);
      if (end === undefined || BigInt(offset) >= end) return true;
    }
    return false;
  }

  /** Replay: the state has analysed everything the partition holds now (the end of the input so far). */
  private async analysedAll(p: PartitionState, partition: number, progress: () => Promise<PartitionProgress[]>): Promise<boolean> {
    if (p.merge) return p.merge.pending.length === 0 && allDone(p.merge);
    const own = (await progress()).find((x) => x.partition === partition);
    return own !== undefined && BigInt(own.end) <= BigInt(p.lastOffset) + 1n;
  }

  /**
   * Upsert the partition's findings by id, after those a failed write left (PartitionState.unwritten),
   * each detector's stamped with the analysis that made it; retriable failures are retried. What is
   * still not stored then stays unwritten with the partition (a batch's: dropped with the state, as
   * the batch is delivered again) and the error is thrown.
   */
  private async write(p: PartitionState, docs: FindingDoc[], batch?: Batch, refresh = false): Promise<void> {
    const all = p.unwritten.length ? latestById([...p.unwritten, ...docs]) : docs;
    if (all.length === 0) return this.written(p);
    const findings = all.map((d) => (DETECTOR_TYPE_SET.has(d.type) ? { ...d, analysis: this.analysis } as FindingDoc : d));
    const { store, log } = this.deps;
    let pending = findings;
    try {
      await retry(async () => {
        const results = await store.writeFindings(pending, { refresh });
        const again: FindingDoc[] = [];
        results.forEach((res, i) => {
          if (res.status === 'written') this.stats.findingsWritten++;
          else if (res.retriable) again.push(pending[i]!);
          else {
            // A finding the store refuses for good is a mapping bug: blocking the stream on it would
            // stop every other finding too, so it is logged loudly and counted instead.
            this.stats.findingsRejected++;
            log.error({ stage: this.name, id: res.id, code: res.code, reason: res.reason }, 'finding rejected by the store');
          }
        });
        if (again.length) {
          pending = again;
          batch?.heartbeat().catch(() => {});
          throw new TidewatchError(ErrorCode.STORE_FAILED, `${again.length} finding(s) not stored yet`, { retriable: true });
        }
      }, this.retryOptions);
    } catch (err) {
      p.unwritten = pending;
      // Status documents among them may be stored or not: all are written again next time.
      this.statusWritten.clear();
      this.countUnwritten();
      throw err;
    }
    this.written(p);
  }

  /** Everything found in `p` is stored: nothing waits, and a flush is counted. */
  private written(p: PartitionState): void {
    if (p.unwritten.length) {
      p.unwritten = [];
      this.countUnwritten();
    }
    if (p.flushUnwritten) {
      p.flushUnwritten = false;
      this.stats.flushed++;
    }
  }

  /** stats.unwritten: the findings waiting in the states held here. */
  private countUnwritten(): void {
    let n = 0;
    for (const p of this.partitions.values()) n += p.unwritten.length;
    this.stats.unwritten = n;
  }

  /**
   * End of input (an import on the embedded default): release what the merge and the allowed
   * lateness still hold, flush the core, store the findings. No wall clock has to pass idle first.
   * A failed write leaves the findings with the partition and throws; finish() again writes them.
   */
  async finish(): Promise<void> {
    for (const partition of [...this.partitions.keys()]) {
      await this.exclusive(partition, async () => {
        const p = this.partitions.get(partition);
        if (!p) return;
        const docs: FindingDoc[] = [];
        if (!p.flushed) {
          // The batches waiting for a save are committed now, with the state before its flush (as every snapshot is).
          if (p.waiting) await this.save(p);
          const found: Finding[] = [];
          const status: StatusOutput[] = [];
          if (p.merge) for (const e of release(p.merge, Number.POSITIVE_INFINITY, 0, Number.POSITIVE_INFINITY)) found.push(...this.step(p, e, status));
          found.push(...analyzer.flush(p.state));
          p.flushed = p.flushUnwritten = true;
          docs.push(...found.filter((f) => stageOf(f) === this.name), ...this.statusDocs(status));
          // The status core at the end of the input's clock (its quiet/silent wait for the lateness: see its README).
          if (p.status && p.state.maxSeenMs >= 0) docs.push(...(await this.tickStatus(p, this.statusClock(p.state.maxSeenMs))));
        }
        await this.write(p, docs).catch((err: unknown) => {
          this.deps.log.warn({ stage: this.name, partition, unwritten: p.unwritten.length, err: errorMessage(err) }, 'analyzer: findings at the end of the input not stored; finish() again writes them');
          throw err;
        });
      });
    }
  }

  /**
   * Live mode: judge every held partition at the wall clock. Replay mode: release what the merge
   * held for sources that are done, and analyse the held-back tail of a partition that has
   * analysed all its topic holds. Only the instance that saved a partition's snapshot last ticks
   * it, and only while that snapshot is at its offset: once another instance has analysed newer
   * records, this one's state is stale and is dropped. Live mode judges no silence of a partition
   * that is behind: records on the way while its state has not seen events up to the time it
   * would judge at; the wall clock is ahead of what it knows, and a channel whose posts are still
   * on the way would look silent. Resolves true when every held partition was judged (none
   * behind, no tick already running).
   */
  async tick(): Promise<boolean> {
    if (this.ticking) return false;
    this.ticking = true;
    let judgedAll = true;
    try {
      await this.adopting;
      if (this.name === 'network' && this.deps.reloadWatchList) {
        try {
          const list = this.deps.reloadWatchList();
          if (list !== undefined) {
            this.watchList = list;
            this.watchListVersion++;
          }
        } catch (err) {
          // An invalid edit of the watch list file: keep the list we have.
          this.deps.log.warn({ stage: this.name, err: errorMessage(err) }, 'watch list not reloaded; keeping the current one');
        }
      }
      // One offsets request per tick for all the partitions held, asked only if one needs it.
      let asked: Promise<PartitionProgress[]> | undefined;
      const ownProgress = () => (asked ??= this.transport.progress(this.groupId));
      const live = !this.replay;
      // Live: a partition whose silence (gap, or the status core's, which uses the gap threshold)
      // is due at this tick. Only then do records on the way matter and is the write refreshed.
      const dueAt = (p: PartitionState, nowMs: number) => live && (analyzer.nextDeadline(p.state) ?? Infinity) <= nowMs;
      // Asked before the partitions are locked: a stage catching up is not slowed by ticks. The
      // network stage also waits for what the channel stage has not analysed (and forwarded) yet.
      const behindOf = async (): Promise<(partition: number, p: PartitionState) => boolean> => {
        const own = new Map((await ownProgress()).map((x) => [x.partition, x.end]));
        const upstream = this.name === 'network' && !(await this.deps.transport.progress(this.deps.options.groupId)).every(caughtUp);
        return (partition, p) => {
          const end = own.get(partition);
          const waiting = upstream || (end !== undefined && BigInt(end) > BigInt(p.lastOffset) + 1n);
          // Records on the way matter only while the state has not seen up to the time it judges
          // at (the wall clock less the allowed lateness): a steady stream always has a few.
          return waiting && p.state.maxSeenMs < this.now() - this.deps.analytics.allowedLatenessSecs * 1000;
        };
      };
      const tickMs = this.now();
      const behind = [...this.partitions.values()].some((p) => dueAt(p, tickMs))
        ? await behindOf().catch((err: unknown) => {
            // Unknown: judged at the wall clock as before, rather than not at all.
            this.deps.log.warn({ stage: this.name, err: errorMessage(err) }, 'analyzer: consumer progress unknown; silences judged without it');
            return () => false;
          })
        : () => false;
      await Promise.all(
        [...this.partitions.keys()].map((partition) =>
          this.exclusive(partition, async () => {
            const p = this.partitions.get(partition);
            if (!p) return;
            const due = dueAt(p, tickMs);
            if (due && behind(partition, p)) {
              judgedAll = false;
              return;
            }
            const head = await this.deps.snapshots.head(p.key);
            if (!this.stillOurs(p, head)) {
              this.drop(partition, 'saved by another instance since');
              return;
            }
            const nowMs = this.now();
            // Batches waiting for a save (the input reached its end) are committed now rather than
            // at the timer, before a replay's flush as every snapshot is: the end of a replay and a
            // new owner's start are read from commits. At most one save per tick.
            if (p.waiting) await this.save(p);
            const found: Finding[] = [];
            const status: StatusOutput[] = [];
            if (p.merge) {
              await this.markSourcesDone(p, partition, nowMs);
              for (const e of this.released(p, nowMs)) found.push(...this.step(p, e, status));
            }
            if (!this.replay) found.push(...analyzer.tick(p.state, nowMs));
            else if (!p.flushed && nowMs - p.lastBatchAtMs >= this.deps.options.idleSecs * 1000 && (await this.analysedAll(p, partition, ownProgress))) {
              // The replay has caught up with this partition (and, for the network stage, every
              // source): what the allowed lateness held back is due. The quiet wait only spares a
              // replay still being produced from judging its tail too early.
              found.push(...analyzer.flush(p.state));
              p.flushed = p.flushUnwritten = true;
            }
            const docs: FindingDoc[] = [...found.filter((f) => stageOf(f) === this.name), ...this.statusDocs(status)];
            if (p.status) {
              // Live: the wall clock. Replay: the events' clock, as for the detectors.
              const statusNow = this.replay ? this.statusClock(p.state.maxSeenMs) : nowMs;
              if (statusNow >= 0) docs.push(...(await this.tickStatus(p, statusNow)));
            }
            this.stats.ticks++;
            // A silence just opened: refreshed (a tick's writes are few) so an alert rule sees it at once.
            // What fails stays with the partition (PartitionState.unwritten): the state has moved on.
            await this.write(p, docs, undefined, due);
          }).catch((err) => {
            judgedAll = false;
            const unwritten = this.partitions.get(partition)?.unwritten.length ?? 0;
            this.deps.log.warn({ stage: this.name, partition, unwritten, err: errorMessage(err) }, 'analyzer tick failed; next tick tries again');
          }),
        ),
      );
    } finally {
      this.ticking = false;
    }
    return judgedAll;
  }
}

/**
 * The live analyzer: the channel stage on the activity topic and the network stage on the
 * forwarding topic, in one process. Every instance runs both; Kafka's group protocol spreads the
 * activity partitions over the instances and gives the network topic's one partition to exactly
 * one of them (the others stand by). Depends only on the Transport and Store interfaces, so the
 * embedded deployment runs it over the memory transport and DuckDB.
 */
export interface CorrectionStats {
  /** Re-analyses run because late events had made findings depend on arrival order. */
  runs: number;
  /** Events read back from the store, and what the runs changed in the findings. */
  events: number;
  added: number;
  changed: number;
  removed: number;
  failures: number;
  lastAt: string | null;
}

export class Analyzer {
  readonly stats: Record<StageName, AnalyzerStats>;
  readonly corrections: CorrectionStats = { runs: 0, events: 0, added: 0, changed: 0, removed: 0, failures: 0, lastAt: null };
  private readonly stages: [Stage, Stage];
  private timer: NodeJS.Timeout | undefined;
  /** Live mode: an extra tick at the next silence deadline (between the tickSecs ticks). */
  private deadlineTimer: NodeJS.Timeout | undefined;
  private lastTickAtMs = -Infinity;
  private stopped = false;
  private correcting = false;
  private correctedAtMs = -Infinity;

  constructor(private readonly deps: AnalyzerDeps) {
    const zero = (): AnalyzerStats => ({ batches: 0, records: 0, skipped: 0, invalid: 0, findingsWritten: 0, findingsRejected: 0, forwarded: 0, ticks: 0, restored: 0, collectorStatus: 0, resent: 0, missing: 0, flushed: 0, unwritten: 0 });
    this.stats = { channel: zero(), network: zero() };
    const o = deps.options;
    const handoff = new ForwardedEvents();
    this.stages = [
      new Stage('channel', deps.transport, o.groupId, deps.network, deps, this.stats.channel, handoff),
      new Stage('network', deps.network, o.networkGroupId, undefined, deps, this.stats.network, handoff),
    ];
  }

  /** Subscribes both stages and starts the wall-clock tick. */
  async start(): Promise<Subscription> {
    const subs: Subscription[] = [];
    try {
      for (const stage of this.stages) subs.push(await stage.start());
    } catch (err) {
      await Promise.allSettled(subs.map((s) => s.stop()));
      throw err;
    }
    this.timer = setInterval(() => void this.timedTick(), this.deps.options.tickSecs * 1000);
    return {
      stop: async () => {
        this.stopped = true;
        clearInterval(this.timer);
        clearTimeout(this.deadlineTimer);
        // Batches waiting for a save are saved now: stop() waits for their commits.
        await Promise.all([...this.stages.map((s) => s.close()), ...subs.map((s) => s.stop())]);
      },
      crashed: Promise.race(subs.map((s) => s.crashed)),
    };
  }

  /**
   * End of input: the channel stage first, since the network stage's findings build on all of it.
   * `history`: the store held events before this input (an import into an existing store, whose
   * earlier events these states never saw): the findings are then recomputed over all of it.
   */
  async finish(opts: { history?: boolean } = {}): Promise<void> {
    for (const stage of this.stages) await stage.finish();
    if (opts.history || this.lateFrom() !== null) {
      if (!(await this.correct({ always: true }))) this.deps.log.warn('analyzer: the findings could not be recomputed over the stored history at the end of the input; run `tidewatch reanalyze`');
    }
  }

  /**
   * One wall-clock tick of both stages (the live timer calls it; tests call it with their clock),
   * then a correction if one is due. True when every held partition was judged (Stage.tick).
   */
  async tick(): Promise<boolean> {
    const judged = await Promise.all(this.stages.map((s) => s.tick()));
    await this.correct();
    return judged.every(Boolean);
  }

  /**
   * A tick of the live timers. Live mode also ticks when a silence threshold is due (plus the
   * allowed lateness), so the gap opens then rather than up to tickSecs later, and then tells
   * `onSilenceDue`. Deadlines only move later with new events, except for a subject just warmed
   * up, whose first deadline lies at least analytics.gaps.floorHours ahead: the next regular tick
   * arms it in time.
   */
  private async timedTick(): Promise<void> {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.lastTickAtMs = Date.now();
    const due = this.deps.options.mode === 'live' ? this.nextDeadline() : null;
    await this.tick();
    // Announced once the silence due is no longer pending: judged (the stages judge at their own
    // clock reading, after this one's; its partition was not behind) and stored.
    const after = due === null || due > this.now() ? due : this.nextDeadline();
    if (due !== null && (after === null || after > due) && this.deps.onSilenceDue) {
      await this.deps.onSilenceDue().catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err) }, 'analyzer: announcing opened silences failed; the alert rules find them at their next run'));
    }
    if (this.deps.options.mode === 'live' && !this.stopped) this.armDeadline();
  }

  /** A timer for the next deadline if it comes before the next regular tick; never within 50 ms of the last tick. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const due = this.nextDeadline();
    if (due === null) return;
    const inMs = Math.max((due - this.now()) / (this.deps.nowRate ?? 1), this.lastTickAtMs + MIN_TICK_SPACING_MS - Date.now(), 0);
    if (inMs >= this.deps.options.tickSecs * 1000) return;
    // A millisecond late rather than early: a timer may fire within a millisecond before its time.
    this.deadlineTimer = setTimeout(() => void this.timedTick(), Math.ceil(inMs) + 1);
  }

  /** The earliest deadline of the silences the stages find (channel gaps in the channel stage, network gaps in the network stage; the injected clock), or null. */
  private nextDeadline(): number | null {
    let earliest: number | null = null;
    for (const stage of this.stages) {
      for (const st of stage.held().values()) {
        const due = analyzer.nextDeadline(st, stage.name);
        if (due !== null && (earliest === null || due < earliest)) earliest = due;
      }
    }
    return earliest;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Corrections so far, and whether late events wait for one (the re-analysis backlog). */
  correctionStatus(): CorrectionStats & { pending: boolean } {
    return { ...this.corrections, pending: this.lateFrom() !== null };
  }

  /** Late events seen and not yet corrected: the earliest one's time, or null. */
  private lateFrom(): number | null {
    let from: number | null = null;
    for (const stage of this.stages) {
      for (const st of stage.held().values()) {
        const t = st.lateFromMs ?? -1;
        if (t >= 0 && (from === null || t < from)) from = t;
      }
    }
    return from;
  }

  /**
   * Late data corrected, not just counted (../../../shared/late-data.md). Due when a state has
   * seen a late event, run by every instance for the states it holds once the indexer has
   * stored everything the topic holds and both stages have analysed it: then the store holds what
   * the states have seen, and a sorted pass over it is what one ordered arrival would have given.
   * Findings are replaced (reanalysis.ts: upserts, then deletion of what the pass no longer
   * finds): all of them by the instance holding the network stage, only its partitions' channel
   * findings by another (it is the authority for nothing else). The states held here go on from
   * the pass. Decided on offsets, so two runs over the same data correct alike; a failed run is
   * tried again at the next tick.
   */
  async correct(opts: { always?: boolean } = {}): Promise<boolean> {
    const { indexerGroupId, transport, store, analytics, options, log } = this.deps;
    if (this.correcting || indexerGroupId === undefined) return false;
    const [channel, network] = this.stages;
    // Without the network stage, the partitions of the channel stage held here are corrected alone.
    const holdsNetwork = network.held().has(0);
    if ((!holdsNetwork && channel.held().size === 0) || (!opts.always && this.lateFrom() === null)) return false;
    if (!opts.always && Date.now() - this.correctedAtMs < options.correctEverySecs * 1000) return false;
    this.correcting = true;
    try {
      const indexed = await transport.progress(indexerGroupId);
      if (indexed.length === 0 || !indexed.every(caughtUp) || !(await channel.caughtUp()) || !(await network.caughtUp())) return false;
      return await channel.withAllLocked(() => network.withAllLocked(async () => {
        const lateFromMs = this.lateFrom() ?? -1;
        if (!opts.always && lateFromMs < 0) return false;
        const started = Date.now();
        await store.refresh();
        const nowMs = (this.deps.now ?? Date.now)();
        const replay = options.mode === 'replay';
        const partitionOf = partitionerFor(indexed.length);
        const held = [...channel.held().keys()];
        // Replay: states whose tail was judged (flushed) are rebuilt judged too.
        const flushed = holdsNetwork ? network.flushed(0) : held.every((n) => channel.flushed(n));
        const result = await reanalyze({
          store,
          analytics,
          ...(this.deps.catalogue ? { catalogue: this.deps.catalogue } : {}),
          end: replay ? (flushed ? 'flush' : 'latest') : { tickAtMs: nowMs },
          // Not holding the network stage: only the findings of the held partitions' channels are
          // stored; the instance holding it stores everything its pass finds.
          partitions: { of: (e) => partitionOf(eventKey(e)), held, storeHeldOnly: !holdsNetwork },
        });
        for (const [n, st] of result.partitionStates) await channel.replaceState(n, st);
        // The pass's own state found every finding (all partitions'): the network stage keeps its share.
        if (holdsNetwork) await network.replaceState(0, analyzer.scoped(result.state, 'network'));
        this.correctedAtMs = Date.now();
        const c = this.corrections;
        c.runs++;
        c.events += result.events;
        c.added += result.added;
        c.changed += result.changed;
        c.removed += result.removed;
        c.lastAt = new Date(nowMs).toISOString();
        log.info({ lateFrom: lateFromMs < 0 ? null : new Date(lateFromMs).toISOString(), events: result.events, added: result.added, changed: result.changed, removed: result.removed, ms: Date.now() - started }, 'analyzer: late events corrected by a re-analysis from the store');
        return true;
      }));
    } catch (err) {
      this.corrections.failures++;
      log.warn({ err: errorMessage(err) }, 'analyzer: re-analysis of late events failed; tried again at the next tick');
      return false;
    } finally {
      this.correcting = false;
    }
  }
}
