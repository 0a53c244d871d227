import { classifyLink } from '../../pipeline/analytics/links.ts';
import { STATUSES, type Status } from '../../pipeline/analytics/status/types.ts';
import { isTakedownWave } from '../../pipeline/analytics/types.ts';
import { statusView, type StatusRow } from '../../pipeline/analytics/status/view.ts';
import { MAX_FINDINGS } from '../../pipeline/store/queries.ts';
import { parseInstant } from '../../pipeline/dates.ts';
import { ErrorCode, TidewatchError } from '../../pipeline/errors.ts';
import type { AlertRecord, ChannelInfo, EventFilters, FindingDoc, FindingQuery, FindingType, HistogramQuery, Store } from '../../pipeline/store/types.ts';

/**
 * The built-in dashboard's JSON API: one function per view, each answering from the store query
 * interface only, so the embedded DuckDB store and Elasticsearch serve the same page. The web
 * server and `tidewatch report` call the same functions.
 */

/** What the page asks: a time range and network/channel filters (channel ids). */
export interface ViewQuery {
  from?: string;
  to?: string;
  networks: string[];
  channels: string[];
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Bucket sizes a timeline may use, smallest first; the first that keeps the chart readable wins. */
const BUCKETS_SECS = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400, 30 * 86_400];
const MAX_POINTS = 2_000;
const DAY_SECS = 86_400;
const TABLE_ROWS = 200;
const CHANNEL_ROWS = 300;
const STACKED_SERIES = 8;

function isoParam(name: string, raw: string | null): string | undefined {
  if (raw === null || raw === '') return undefined;
  const ms = parseInstant(raw);
  if (ms === undefined) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `${name}=${raw}: not a date (e.g. 2017-11-20 or 2017-11-22T09:00:00Z)`);
  return new Date(ms).toISOString();
}

/** Query string -> ViewQuery; `network` and `channel` may repeat. */
export function parseViewQuery(params: URLSearchParams): ViewQuery {
  const q: ViewQuery = { networks: params.getAll('network').filter(Boolean), channels: params.getAll('channel').filter(Boolean) };
  const from = isoParam('from', params.get('from'));
  const to = isoParam('to', params.get('to'));
  if (from) q.from = from;
  if (to) q.to = to;
  if (from && to && Date.parse(to) <= Date.parse(from)) throw new TidewatchError(ErrorCode.CONFIG_INVALID, `to=${to} must be after from=${from}`);
  return q;
}

function eventFilters(q: ViewQuery): EventFilters {
  const f: EventFilters = {};
  if (q.networks.length) f.network = q.networks;
  if (q.channels.length) f.channel = q.channels;
  return f;
}

const range = (q: ViewQuery) => ({ ...(q.from ? { from: q.from } : {}), ...(q.to ? { to: q.to } : {}) });

/** The resolved window of a view: open ends take the data's own first/last event. */
interface Window {
  fromMs: number;
  toMs: number;
  /** "Now" for the view: the latest event in the window (a replay's simulated clock), or its end. */
  nowMs: number;
}

async function resolveWindow(store: Store, q: ViewQuery): Promise<Window | null> {
  const s = await store.summary({ ...range(q), filters: eventFilters(q) });
  const all = q.from && q.to ? s : await store.summary();
  if (all.firstAt === null || all.lastAt === null) return null;
  const fromMs = q.from ? Date.parse(q.from) : Date.parse(all.firstAt);
  const lastMs = Date.parse(all.lastAt);
  const toMs = q.to ? Date.parse(q.to) : lastMs + 1;
  return { fromMs, toMs, nowMs: Math.min(toMs, s.lastAt ? Date.parse(s.lastAt) : lastMs) };
}

export function bucketSecs(spanMs: number): number {
  return BUCKETS_SECS.find((b) => spanMs / (b * 1000) <= MAX_POINTS) ?? BUCKETS_SECS[BUCKETS_SECS.length - 1]!;
}

export interface Timeline {
  bucketSecs: number;
  /** Bucket starts, epoch ms, every bucket of the window (zeros filled). */
  starts: number[];
  series: { key: string; events: number[] }[];
}

/** Events per bucket (and group), zeros filled; groups past the largest few are summed as "other". */
async function timeline(store: Store, q: ViewQuery, w: Window, extra: Omit<HistogramQuery, 'bucket' | 'from' | 'to'> = {}, stacked = STACKED_SERIES, minBucketSecs = 0): Promise<Timeline> {
  const secs = Math.max(minBucketSecs, bucketSecs(w.toMs - w.fromMs));
  const ms = secs * 1000;
  const first = Math.floor(w.fromMs / ms) * ms;
  const filters = { ...eventFilters(q), ...extra.filters };
  const cells = await store.histogram({ bucket: { secs }, from: new Date(first).toISOString(), to: new Date(w.toMs).toISOString(), ...(extra.groupBy ? { groupBy: extra.groupBy } : {}), filters });
  const starts: number[] = [];
  for (let t = first; t < w.toMs; t += ms) starts.push(t);
  const totals = new Map<string, number>();
  for (const c of cells) totals.set(c.key ?? '(none)', (totals.get(c.key ?? '(none)') ?? 0) + c.events);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
  const kept = new Set(ranked.slice(0, ranked.length > stacked ? stacked - 1 : stacked));
  const series = new Map<string, number[]>();
  for (const k of [...kept, ...(ranked.length > kept.size ? ['other'] : [])]) series.set(k, new Array<number>(starts.length).fill(0));
  for (const c of cells) {
    const key = c.key ?? '(none)';
    const row = series.get(kept.has(key) ? key : 'other')!;
    const i = Math.floor((Date.parse(c.start) - first) / ms);
    if (i >= 0 && i < row.length) row[i]! += c.events;
  }
  return { bucketSecs: secs, starts, series: [...series.entries()].map(([key, events]) => ({ key: extra.groupBy ? key : 'events', events })) };
}

/**
 * The names findings use for the filtered channels and networks (a finding's subject is a
 * handle, a channel id or a network); null when nothing is filtered.
 */
async function subjectsOf(store: Store, q: ViewQuery): Promise<Set<string> | null> {
  if (!q.networks.length && !q.channels.length) return null;
  const out = new Set<string>(q.channels.length ? [] : q.networks);
  for (const c of await store.channels({ filters: eventFilters(q) })) {
    out.add(c.id);
    if (c.handle) out.add(c.handle);
  }
  return out;
}

function subjectsOfDoc(d: FindingDoc): string[] {
  switch (d.type) {
    case 'resurrection':
      return [d.banned, d.successor];
    case 'link_day':
    case 'takedown':
      return [];
    default:
      return [d.subject];
  }
}

/** Findings overlapping the window; when filtered, those about the filtered subjects (network-wide tallies stay). */
async function findingsOf<T extends FindingType>(store: Store, type: T, q: ViewQuery, subjects: Set<string> | null, extra: FindingQuery = {}): Promise<Extract<FindingDoc, { type: T }>[]> {
  const docs = await store.findings(type, { ...range(q), limit: 10_000, ...extra });
  if (!subjects) return docs;
  return docs.filter((d) => {
    const names = subjectsOfDoc(d);
    return names.length === 0 || names.some((n) => subjects.has(n));
  });
}

/** A channel with its status in the one status model (`tidewatch status`, the watch-list panel, Kibana). */
export interface ChannelRow extends ChannelInfo {
  status: Status;
  statusReason: string;
}

export interface OverviewView {
  now: string | null;
  byNetwork: Timeline | null;
  byLanguage: Timeline | null;
  /** "Channels now": the channels of the table by status. */
  statuses: Record<Status, number>;
  channels: ChannelRow[];
  alerts: AlertRecord[];
  /** The watch list with each member's status (`tidewatch status`), filtered like the rest. */
  watchList: StatusRow[];
}

/**
 * The watch-list status as `tidewatch status` shows it: the analyzer's status documents with the
 * analysts' overrides laid over them (a mute shows at once). The watch list is the one the
 * analyzer keeps (its documents say which members are watched), so the page needs no config.
 */
async function statusRows(store: Store, channels: readonly ChannelInfo[]): Promise<StatusRow[]> {
  const [docs, overrides] = await Promise.all([
    store.findings('status', { limit: MAX_FINDINGS }),
    store.findings('status_override', { limit: MAX_FINDINGS, sort: { by: 'time', order: 'asc' } }),
  ]);
  const watched = docs.filter((d) => d.watched).map((d) => ({ handle: d.subject, ...(d.network === null ? {} : { network: d.network }) }));
  const lastPosts = new Map<string, string>();
  for (const c of channels) if (c.handle !== null && c.lastPostAt !== null) lastPosts.set(c.handle.toLowerCase(), c.lastPostAt);
  // The API's text is UTC (it serves whoever asks); the page shows the instants in the display zone.
  return statusView(watched, docs, overrides, lastPosts, Date.now(), 'UTC');
}

/** The watch-list panel: watched members only, filtered like the rest of the page. */
function watchListStatus(rows: readonly StatusRow[], q: ViewQuery, subjects: Set<string> | null): StatusRow[] {
  // A network filter keeps its members (with or without events); a channel filter those channels.
  const names = q.channels.length && subjects ? new Set([...subjects].map((n) => n.toLowerCase())) : null;
  return rows
    .filter((r) => r.watched && (q.networks.length === 0 || (r.network !== null && q.networks.includes(r.network))) && (names === null || names.has(r.subject)))
    .slice(0, CHANNEL_ROWS);
}

const noStatuses = (): Record<Status, number> => Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;

export async function overviewView(store: Store, q: ViewQuery): Promise<OverviewView> {
  const w = await resolveWindow(store, q);
  const subjects = await subjectsOf(store, q);
  const alerts = (await findingsOf(store, 'alert', q, subjects, { limit: 1_000 })).slice(0, 20);
  if (!w) return { now: null, byNetwork: null, byLanguage: null, statuses: noStatuses(), channels: [], alerts, watchList: watchListStatus(await statusRows(store, []), q, subjects) };
  const [byNetwork, byLanguage, channels] = await Promise.all([
    timeline(store, q, w, { groupBy: 'network' }),
    timeline(store, q, w, { groupBy: 'language' }),
    store.channels({ filters: eventFilters(q) }),
  ]);
  const status = await statusRows(store, channels);
  // The analyzer keeps a status for every channel it has seen (watched or discovered), under its
  // handle, or its id when it has none: the same status as the watch-list panel and `tidewatch status`.
  const bySubject = new Map(status.map((r) => [r.subject, r]));
  const rows = channels
    .filter((c) => Date.parse(c.firstSeenAt) < w.toMs)
    .map((c): ChannelRow => {
      const r = bySubject.get(c.handle?.toLowerCase() ?? c.id);
      return { ...c, status: r?.status ?? 'unknown', statusReason: r?.reason ?? 'no status recorded yet (the analyzer records it)' };
    });
  const statuses = noStatuses();
  for (const r of rows) statuses[r.status]++;
  rows.sort((a, b) => b.events - a.events || (a.id < b.id ? -1 : 1));
  return { now: new Date(w.nowMs).toISOString(), byNetwork, byLanguage, statuses, channels: rows.slice(0, CHANNEL_ROWS), alerts, watchList: watchListStatus(status, q, subjects) };
}

export interface GapsView {
  now: string | null;
  activity: Timeline | null;
  /** Unprecedented network gaps first, then unprecedented channel gaps, then the rest; longest first in each. */
  gaps: Extract<FindingDoc, { type: 'gap' }>[];
  open: Extract<FindingDoc, { type: 'gap' }>[];
}

export async function gapsView(store: Store, q: ViewQuery): Promise<GapsView> {
  const w = await resolveWindow(store, q);
  const subjects = await subjectsOf(store, q);
  const gaps = await findingsOf(store, 'gap', q, subjects, { sort: { by: 'magnitude' } });
  // A whole network falling silent is the story; single channels go quiet every day.
  const rank = (g: (typeof gaps)[number]) => (g.unprecedented ? 2 : 0) + (g.scope === 'network' ? 1 : 0);
  gaps.sort((a, b) => rank(b) - rank(a) || b.hours - a.hours || (a.id < b.id ? -1 : 1));
  const open = gaps.filter((g) => g.end === null);
  return { now: w ? new Date(w.nowMs).toISOString() : null, activity: w ? await timeline(store, q, w) : null, gaps: gaps.slice(0, TABLE_ROWS), open };
}

export interface MigrationView {
  /** Per UTC day: off-platform share and links by platform (largest platforms, the rest as "other"). */
  days: string[];
  offPlatformShare: number[];
  platforms: { key: string; links: number[] }[];
  firstSeen: Extract<FindingDoc, { type: 'migration' }>[];
  surges: Extract<FindingDoc, { type: 'migration' }>[];
  domains: { domain: string; platform: string; events: number }[];
}

export async function migrationView(store: Store, q: ViewQuery): Promise<MigrationView> {
  const subjects = await subjectsOf(store, q);
  const [linkDays, migrations, links] = await Promise.all([
    findingsOf(store, 'link_day', q, subjects, { sort: { by: 'time', order: 'asc' } }),
    findingsOf(store, 'migration', q, subjects, { sort: { by: 'time', order: 'asc' } }),
    store.topN({ ...range(q), field: 'link', n: 2_000, filters: eventFilters(q) }),
  ]);
  const totals = new Map<string, number>();
  for (const d of linkDays) for (const [p, n] of Object.entries(d.platforms)) totals.set(p, (totals.get(p) ?? 0) + n);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([p]) => p);
  const kept = ranked.slice(0, ranked.length > STACKED_SERIES ? STACKED_SERIES - 1 : STACKED_SERIES);
  const platforms = kept.map((key) => ({ key, links: linkDays.map((d) => d.platforms[key] ?? 0) }));
  if (ranked.length > kept.length) {
    platforms.push({ key: 'other', links: linkDays.map((d) => Object.entries(d.platforms).reduce((s, [p, n]) => (kept.includes(p) ? s : s + n), 0)) });
  }
  const byDomain = new Map<string, { domain: string; platform: string; events: number }>();
  for (const l of links) {
    const c = classifyLink(l.key);
    if (!c || !c.domain) continue;
    const row = byDomain.get(c.domain) ?? { domain: c.domain, platform: c.platform, events: 0 };
    row.events += l.events;
    byDomain.set(c.domain, row);
  }
  return {
    days: linkDays.map((d) => d.day),
    offPlatformShare: linkDays.map((d) => d.offPlatformShare),
    platforms,
    firstSeen: migrations.filter((m) => m.kind === 'first_seen'),
    surges: migrations.filter((m) => m.kind === 'surge').slice(-TABLE_ROWS),
    domains: [...byDomain.values()].sort((a, b) => b.events - a.events || (a.domain < b.domain ? -1 : 1)).slice(0, 25),
  };
}

export interface TakedownsView {
  bansByLanguage: Timeline | null;
  waves: Extract<FindingDoc, { type: 'takedown' }>[];
  resurrections: Extract<FindingDoc, { type: 'resurrection' }>[];
  lifespans: Extract<FindingDoc, { type: 'lifespan' }>[];
}

export async function takedownsView(store: Store, q: ViewQuery): Promise<TakedownsView> {
  const w = await resolveWindow(store, q);
  const subjects = await subjectsOf(store, q);
  const [waves, resurrections, lifespans] = await Promise.all([
    findingsOf(store, 'takedown', q, subjects, { sort: { by: 'time', order: 'asc' } }),
    findingsOf(store, 'resurrection', q, subjects, { sort: { by: 'time', order: 'asc' } }),
    findingsOf(store, 'lifespan', q, subjects, { sort: { by: 'time', order: 'asc' } }),
  ]);
  // Thirteen series: the twelve languages of the 2015 wave and "other". Bans are counted by day
  // (as takedown research charts them): hourly buckets would make a day's bans a hairline.
  const bansByLanguage = w ? await timeline(store, q, w, { groupBy: 'language', filters: { action: 'channel_banned' } }, 13, DAY_SECS) : null;
  // Every ban day is a takedown finding; the view shows the waves among them.
  return { bansByLanguage, waves: waves.filter(isTakedownWave), resurrections: resurrections.slice(-TABLE_ROWS), lifespans };
}

export interface SpikesView {
  spikes: Extract<FindingDoc, { type: 'spike' }>[];
  alerts: AlertRecord[];
}

export async function spikesView(store: Store, q: ViewQuery): Promise<SpikesView> {
  const subjects = await subjectsOf(store, q);
  const [spikes, alerts] = await Promise.all([
    findingsOf(store, 'spike', q, subjects, { sort: { by: 'time', order: 'asc' } }),
    findingsOf(store, 'alert', q, subjects, { sort: { by: 'time', order: 'desc' }, limit: 1_000 }),
  ]);
  return { spikes: spikes.slice(-1_000), alerts };
}

export interface MetaView {
  summary: Awaited<ReturnType<Store['summary']>>;
  networks: string[];
  /** For the channel filter: id, handle and title of every channel (largest first). */
  channels: { id: string; handle: string | null; title: string | null; network: string | null }[];
}

export async function metaView(store: Store): Promise<MetaView> {
  const [summary, networks, channels] = await Promise.all([store.summary(), store.topN({ field: 'network', n: 100 }), store.channels({ limit: 5_000 })]);
  channels.sort((a, b) => b.events - a.events || (a.id < b.id ? -1 : 1));
  return {
    summary,
    networks: networks.map((n) => n.key).sort(),
    channels: channels.map((c) => ({ id: c.id, handle: c.handle, title: c.title, network: c.network })),
  };
}

export const VIEWS = {
  overview: overviewView,
  gaps: gapsView,
  migration: migrationView,
  takedowns: takedownsView,
  spikes: spikesView,
} as const;

export type ViewName = keyof typeof VIEWS;

export function isViewName(name: string): name is ViewName {
  return Object.hasOwn(VIEWS, name);
}

/**
 * The "pipeline" strip of the embedded deployment (`tidewatch serve` / the demo without Kafka):
 * values of the consumers running in the dashboard's own process, each with the time it refers
 * to, so the page shows its age. On Kafka + Elasticsearch each process has its own /metrics.
 */
export interface PipelineStrip {
  now: string;
  /** Records the indexer has still to read, as read at `at`; null before the first read. */
  lag: { records: number; at: string } | null;
  /** Records dead-lettered since start, and when the last one was. */
  deadLetters: { count: number; lastAt: string | null };
  lastAlertEvaluation: { at: string; rule: string; ok: boolean } | null;
  /** Null when no collector runs in this process. */
  lastCollectorPoll: { at: string } | null;
}
