import { analyzer, type AnalyzerState } from '../../pipeline/analytics/analyzer.ts';
import { BUNDLED_CATALOGUE, type PlatformCatalogue } from '../../pipeline/analytics/links.ts';
import { analysisVersion, type AnalyticsOptions } from '../../pipeline/analytics/options.ts';
import { channelSubject, type Finding } from '../../pipeline/analytics/types.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import type { ActivityEvent } from '../../pipeline/events/index.ts';
import { retry, type RetryOptions } from '../../pipeline/retry.ts';
import { findingIndexFields } from '../../pipeline/store/queries.ts';
import type { FindingDoc, ItemResult, Store } from '../../pipeline/store/types.ts';
import { stageOf } from './stages.ts';

/**
 * Re-analysis: the detectors run again over stored history, read back in event-time order, and
 * the findings of the chosen range replace the stored ones (the shape of ../../../shared/late-data.md:
 * the store holds every event whatever order it came in, so a sorted pass over it is the truth).
 *
 * - Every event before `to` is read (the detectors need the history before `from`: rhythms,
 *   "unprecedented"); findings are replaced only where their start lies in [from, to).
 * - `network`: only that network's events are read, and only findings its events decide (its
 *   channels', and the network's own) are replaced; findings across all channels (takedown waves,
 *   links per day, resurrections, "all" migrations) need a re-analysis without it.
 * - Replacing: new and changed findings are upserted by id first, then the stored ones the pass
 *   no longer produces are **deleted**. In between, a reader may see both versions of a range for
 *   a moment, never neither. Each finding carries `analysis`, the hash of the options that made it,
 *   and one the live pass had not found carries `foundIn: 'reanalysis'`.
 */
export const DETECTOR_TYPES = ['gap', 'spike', 'migration', 'link_day', 'takedown', 'resurrection', 'lifespan'] as const satisfies readonly Finding['type'][];

export interface ReanalysisScope {
  from?: string;
  to?: string;
  network?: string;
  /** A channel as findings name it (handle, else id): only its findings are replaced. */
  channel?: string;
}

export interface ReanalysisCounts {
  /** Events read back from the store. */
  events: number;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
}

export interface ReanalysisResult extends ReanalysisCounts {
  analysis: string;
  /** The detectors' state after the pass (the live analyzer continues from it). */
  state: AnalyzerState;
  /** Findings of the scope as the pass produced them, latest version of each. */
  findings: Finding[];
  /** With `partitions`: the state of each partition's share of the events, ended the same way, of the channel stage's scope. */
  partitionStates: Map<number, AnalyzerState>;
}

export interface ReanalysisOptions {
  store: Store;
  analytics: AnalyticsOptions;
  catalogue?: PlatformCatalogue;
  scope?: ReanalysisScope;
  /**
   * The end of the pass: `flush` judges everything at the latest event (as `tidewatch analyze`
   * does); `{ tickAtMs }` leaves the allowed lateness pending and ticks at that clock, as the live
   * analyzer does, so its state can go on from here.
   */
  end?: 'flush' | 'latest' | { tickAtMs: number };
  /**
   * Also build one state per partition of the activity topic from the same pass (the live
   * analyzer's channel stage keeps one per partition, computing channel findings only): `of` names
   * an event's partition, `held` the partitions wanted. `latest` ends each at its own latest
   * event, as the stage ticks them.
   */
  partitions?: {
    of: (event: ActivityEvent) => number;
    held: readonly number[];
    /**
     * Store only the channel stage's findings of the channels whose events are in `held` (an
     * instance that does not hold the network stage corrects the partitions it holds, and nothing
     * another instance is the authority for).
     */
    storeHeldOnly?: boolean;
  };
  /** Count what would change without writing. */
  dryRun?: boolean;
  retry?: Partial<RetryOptions>;
  /** Called between pages (a long pass keeps a consumer's session alive). */
  onPage?: () => void;
}

/** A finding's content without its stamp: what "changed" compares. */
function content(f: FindingDoc): string {
  const { analysis: _a, foundIn: _f, ...rest } = f as FindingDoc & { analysis?: string; foundIn?: string };
  return JSON.stringify(rest, Object.keys(rest).sort());
}

const inRange = (f: FindingDoc, fromMs: number, toMs: number): boolean => {
  const start = Date.parse(findingIndexFields(f).start);
  return start >= fromMs && start < toMs;
};

export async function reanalyze(o: ReanalysisOptions): Promise<ReanalysisResult> {
  const scope = o.scope ?? {};
  const fromMs = scope.from === undefined ? -Infinity : Date.parse(scope.from);
  const toMs = scope.to === undefined ? Infinity : Date.parse(scope.to);
  if (Number.isNaN(fromMs) || Number.isNaN(toMs)) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `reanalyze: --from ${scope.from ?? ''} / --to ${scope.to ?? ''} must be ISO 8601 times`);
  if (fromMs >= toMs) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `reanalyze: --from ${scope.from} is not before --to ${scope.to}`);
  const catalogue = o.catalogue ?? BUNDLED_CATALOGUE;
  const analysis = analysisVersion(o.analytics, catalogue);
  const state = analyzer.init(o.analytics, catalogue);
  const produced = new Map<string, Finding>();
  const keep = (fs: readonly Finding[]) => {
    for (const f of fs) produced.set(`${f.type}\u001f${f.id}`, f);
  };
  /** Channels of the network (as findings name them): which stored channel findings are its own. */
  const channels = new Set<string>();
  /** With `storeHeldOnly`: the channels of the held partitions (as findings name them). */
  const heldChannels = new Set<string>();
  let events = 0;
  // The channel stage's states: its findings come from `state`, which sees every partition's events.
  const partitionStates = new Map((o.partitions?.held ?? []).map((n) => [n, analyzer.init(o.analytics, catalogue, { scope: 'channel' })]));
  const pages = o.store.scanEvents({ ...(scope.to !== undefined ? { to: scope.to } : {}), ...(scope.network !== undefined ? { filters: { network: scope.network } } : {}) });
  for await (const page of pages) {
    for (const e of page) {
      keep(analyzer.step(state, e));
      if (o.partitions) {
        const share = partitionStates.get(o.partitions.of(e));
        if (share) {
          analyzer.step(share, e);
          if (o.partitions.storeHeldOnly) heldChannels.add(channelSubject(e));
        }
      }
      if (scope.network !== undefined) channels.add(channelSubject(e));
    }
    events += page.length;
    o.onPage?.();
  }
  const end = o.end ?? 'flush';
  const finish = (st: AnalyzerState) =>
    end === 'flush' ? analyzer.flush(st) : analyzer.tick(st, end === 'latest' ? st.maxSeenMs : end.tickAtMs);
  keep(finish(state));
  for (const st of partitionStates.values()) finish(st);

  const mine = (f: FindingDoc): boolean => {
    if (!inRange(f, fromMs, toMs)) return false;
    const subjects = findingIndexFields(f).subjects;
    if (scope.channel !== undefined && !subjects.includes(scope.channel)) return false;
    if (o.partitions?.storeHeldOnly && !(stageOf(f as Finding) === 'channel' && heldChannels.has((f as Finding & { subject: string }).subject))) return false;
    if (scope.network === undefined) return true;
    switch (f.type) {
      case 'gap':
      case 'spike':
      case 'migration':
        return f.scope === 'channel' ? channels.has(f.subject) : f.scope === 'network' && f.subject === scope.network;
      case 'lifespan':
        return channels.has(f.subject);
      default:
        return false;
    }
  };
  const fresh = [...produced.values()].filter(mine);
  const freshById = new Map(fresh.map((f) => [`${f.type}\u001f${f.id}`, f]));
  const counts: ReanalysisCounts = { events, added: 0, changed: 0, removed: 0, unchanged: 0 };
  const writes: FindingDoc[] = [];
  const removals = new Map<Finding['type'], string[]>();
  const seen = new Set<string>();
  for (const type of DETECTOR_TYPES) {
    for await (const page of o.store.scanFindings(type, { ...(Number.isFinite(fromMs) ? { from: scope.from! } : {}), ...(Number.isFinite(toMs) ? { to: scope.to! } : {}) })) {
      for (const stored of page) {
        if (!mine(stored)) continue;
        const key = `${type}\u001f${stored.id}`;
        seen.add(key);
        const now = freshById.get(key);
        if (!now) {
          counts.removed++;
          const ids = removals.get(type);
          if (ids) ids.push(stored.id);
          else removals.set(type, [stored.id]);
        } else if (content(now) !== content(stored)) {
          counts.changed++;
          const foundIn = (stored as { foundIn?: 'reanalysis' }).foundIn;
          writes.push({ ...now, analysis, ...(foundIn ? { foundIn } : {}) });
        } else {
          counts.unchanged++;
          if ((stored as { analysis?: string }).analysis !== analysis) writes.push({ ...now, analysis });
        }
      }
    }
  }
  for (const [key, f] of freshById) {
    if (seen.has(key)) continue;
    counts.added++;
    // Found only now: an alert on it says so (a rule can leave such findings out: `backfill`).
    writes.push({ ...f, analysis, foundIn: 'reanalysis' });
  }
  if (!o.dryRun) {
    await applyAll(() => o.store.writeFindings(writes), writes.length, 'writing re-analysed findings', o.retry);
    for (const [type, ids] of removals) await applyAll(() => o.store.deleteFindings(type, ids), ids.length, `removing ${type} findings the re-analysis no longer produces`, o.retry);
  }
  return { ...counts, analysis, state, findings: fresh, partitionStates };
}

/** One store call for a batch, retried while anything failed retriably; a permanent failure is an error. */
async function applyAll(call: () => Promise<ItemResult[]>, n: number, what: string, retryOptions?: Partial<RetryOptions>): Promise<void> {
  if (n === 0) return;
  await retry(async () => {
    const failed = (await call()).filter((r) => r.status === 'failed');
    if (failed.length === 0) return;
    const first = failed[0]! as Extract<ItemResult, { status: 'failed' }>;
    const retriable = failed.every((r) => r.status === 'failed' && r.retriable);
    throw new TidewatchError(retriable ? ErrorCode.STORE_FAILED : ErrorCode.ES_REJECTED, `${what}: ${failed.length} of ${n} failed (${first.reason})`, { retriable });
  }, retryOptions);
}
