import type { ActivityEvent } from '../events/index.ts';
import { BUNDLED_CATALOGUE, classifyLinkCached, linksInText, UNKNOWN, type PlatformCatalogue } from './links.ts';
import type { AnalyticsOptions, MigrationOptions } from './options.ts';
import { channelKey, channelSubject, NONE, type Detector, type Finding, type LinkDayFinding, type MigrationFinding, type MigrationScope, type Scope } from './types.ts';
import { DAY_MS, dayIso, dayOf, isoOf, round2 } from './time.ts';

/**
 * Platform migration: links in `links[]` and in message text (when it is stored), classified by
 * the catalogue, plus activity on other platforms (events whose platform is not the home one).
 *
 * - first_seen: the first time a catalogued platform other than the event's own appears for a
 *   channel, for its network and across all channels ("all").
 * - surge: at the end of a UTC day, for all channels and per network, a platform whose share of
 *   that day's links is at least surgeFactor times its usual share and surgeMinSharePoints above
 *   it, with at least surgeMinLinks links. The usual share is an average over earlier days with
 *   links, halving in weight every shareHalfLifeDays such days; judged after surgeWarmupDays.
 * - link_day: per UTC day across all channels, links per platform and the off-platform share.
 */
export interface PlatformTotal {
  platform: string;
  /** Set for unknown platforms: the domain they were seen at. */
  domain?: string;
  links: number;
  /** Events published on this platform (cross-platform activity). */
  events: number;
  firstMs: number;
}

interface DayShares {
  scope: 'network' | 'all';
  subject: string;
  day: number;
  links: number;
  offPlatform: number;
  counts: Map<string, number>;
  usual: Map<string, number>;
  daysWithLinks: number;
}

export interface MigrationState {
  options: MigrationOptions;
  homePlatform: string;
  catalogue: PlatformCatalogue;
  shareDecay: number;
  totals: Map<string, PlatformTotal>;
  unknownDomains: number;
  /** Platforms already seen per subject ("channel:<key>", "network:<name>", "all"). */
  seen: Map<string, Set<string>>;
  days: Map<string, DayShares>;
  /**
   * Only the findings of one scope (the live analyzer's stages): 'channel' finds platforms first
   * seen per channel and keeps nothing else (no totals, days or other subjects); 'network' all but
   * those. Absent: everything.
   */
  scope?: Scope;
}

const ALL = 'all';
const OTHER_DOMAINS = '(other)';

function closeDay(st: MigrationState, ds: DayShares, out: Finding[]): void {
  const o = st.options;
  const at = isoOf(ds.day * DAY_MS);
  if (ds.scope === 'all') {
    const platforms: Record<string, number> = {};
    for (const p of [...ds.counts.keys()].sort()) platforms[p] = ds.counts.get(p)!;
    const f: LinkDayFinding = {
      type: 'link_day', id: `link_day:${dayIso(ds.day)}`, day: dayIso(ds.day), links: ds.links,
      offPlatform: ds.offPlatform, offPlatformShare: round2(ds.offPlatform / ds.links), platforms,
    };
    out.push(f);
  }
  const judged = ds.daysWithLinks >= o.surgeWarmupDays;
  for (const [platform, n] of ds.counts) {
    if (!judged || platform === st.homePlatform || platform === UNKNOWN || n < o.surgeMinLinks) continue;
    const share = n / ds.links;
    const usual = ds.usual.get(platform) ?? 0;
    if (share >= usual * o.surgeFactor && (share - usual) * 100 >= o.surgeMinSharePoints) {
      out.push({
        type: 'migration', id: `migration:surge:${ds.scope}:${ds.subject}:${platform}:${dayIso(ds.day)}`, kind: 'surge',
        platform, scope: ds.scope, subject: ds.subject, at, share: round2(share), usualShare: round2(usual),
      } satisfies MigrationFinding);
    }
  }
  const keep = st.shareDecay;
  for (const [platform, usual] of ds.usual) ds.usual.set(platform, usual * keep);
  for (const [platform, n] of ds.counts) ds.usual.set(platform, (ds.usual.get(platform) ?? 0) + (n / ds.links) * (1 - keep));
  ds.daysWithLinks++;
  ds.counts.clear();
  ds.links = 0;
  ds.offPlatform = 0;
}

function countLink(st: MigrationState, key: string, scope: DayShares['scope'], subject: string, day: number, platform: string, off: boolean, out: Finding[]): void {
  let ds = st.days.get(key);
  if (ds === undefined) {
    ds = { scope, subject, day, links: 0, offPlatform: 0, counts: new Map(), usual: new Map(), daysWithLinks: 0 };
    st.days.set(key, ds);
  }
  if (day < ds.day) return; // late: that day has been reported
  if (day > ds.day) {
    if (ds.links > 0) closeDay(st, ds, out);
    ds.day = day;
  }
  ds.links++;
  if (off) ds.offPlatform++;
  ds.counts.set(platform, (ds.counts.get(platform) ?? 0) + 1);
}

function firstSeen(st: MigrationState, key: string, scope: MigrationScope, subject: string, platform: string, t: number, out: Finding[]): void {
  let seen = st.seen.get(key);
  if (seen === undefined) st.seen.set(key, (seen = new Set()));
  if (seen.has(platform)) return;
  seen.add(platform);
  out.push({ type: 'migration', id: `migration:first_seen:${scope}:${subject}:${platform}`, kind: 'first_seen', platform, scope, subject, at: isoOf(t) });
}

function total(st: MigrationState, platform: string, domain: string, t: number): PlatformTotal {
  let key = platform;
  if (platform === UNKNOWN) {
    key = `${UNKNOWN}:${domain}`;
    if (!st.totals.has(key) && st.unknownDomains >= st.options.maxUnknownDomains) key = `${UNKNOWN}:${(domain = OTHER_DOMAINS)}`;
  }
  let tot = st.totals.get(key);
  if (tot === undefined) {
    tot = platform === UNKNOWN ? { platform, domain, links: 0, events: 0, firstMs: t } : { platform, links: 0, events: 0, firstMs: t };
    st.totals.set(key, tot);
    if (platform === UNKNOWN && domain !== OTHER_DOMAINS) st.unknownDomains++;
  }
  if (t < tot.firstMs) tot.firstMs = t;
  return tot;
}

function eventLinks(event: ActivityEvent, catalogue: PlatformCatalogue): string[] {
  const listed = event.links;
  const text = event.message?.text;
  if (text === undefined) return listed ?? [];
  const found = linksInText(text, catalogue);
  if (!listed) return found;
  // A link both listed and in the text is one link.
  return [...new Set([...listed, ...found])];
}

export const migrationDetector: Detector<MigrationState> & { init(options: AnalyticsOptions, catalogue?: PlatformCatalogue): MigrationState } = {
  name: 'migration',

  init(options: AnalyticsOptions, catalogue: PlatformCatalogue = BUNDLED_CATALOGUE): MigrationState {
    return {
      options: options.migration, homePlatform: options.homePlatform, catalogue,
      shareDecay: Math.pow(0.5, 1 / options.migration.shareHalfLifeDays),
      totals: new Map(), unknownDomains: 0, seen: new Map(), days: new Map(),
    };
  },

  step(st, event: ActivityEvent, t) {
    const crossPlatform = event.platform !== st.homePlatform;
    if (event.links === undefined && event.message?.text === undefined && !crossPlatform) return NONE;
    if (st.scope === 'channel') return channelFirstSeen(st, event, t);
    const out: Finding[] = [];
    const network = event.channel.network;
    // Keys built once per event, the channel's only when a link needs it: building and hashing
    // them per link was most of this detector's time.
    const nkey = network === undefined ? '' : `network:${network}`;
    const perChannel = st.scope === undefined;
    let ckey: string | undefined;
    if (crossPlatform) {
      const tot = total(st, event.platform, '', t);
      tot.events++;
      firstSeen(st, ALL, 'all', ALL, event.platform, t, out);
      if (network !== undefined) firstSeen(st, nkey, 'network', network, event.platform, t, out);
    }
    const day = dayOf(t);
    for (const raw of eventLinks(event, st.catalogue)) {
      const link = classifyLinkCached(raw, st.catalogue);
      if (link === null) continue;
      const { platform } = link;
      total(st, platform, link.domain, t).links++;
      const off = platform !== event.platform;
      countLink(st, ALL, 'all', ALL, day, platform, off, out);
      if (network !== undefined) countLink(st, nkey, 'network', network, day, platform, off, out);
      if (!off || platform === UNKNOWN) continue;
      firstSeen(st, ALL, 'all', ALL, platform, t, out);
      if (network !== undefined) firstSeen(st, nkey, 'network', network, platform, t, out);
      if (perChannel) firstSeen(st, (ckey ??= `channel:${channelKey(event, st.homePlatform)}`), 'channel', channelSubject(event), platform, t, out);
    }
    return out.length ? out : NONE;
  },

  tick(st, nowMs) {
    const day = dayOf(nowMs);
    const out: Finding[] = [];
    for (const ds of st.days.values()) {
      if (ds.day >= day) continue;
      if (ds.links > 0) closeDay(st, ds, out);
      ds.day = day;
    }
    return out;
  },
};

/** `step` of a state of channel scope: the platforms the event's links show first for its channel, nothing counted. */
function channelFirstSeen(st: MigrationState, event: ActivityEvent, t: number): readonly Finding[] {
  let out: Finding[] | undefined;
  let ckey: string | undefined;
  for (const raw of eventLinks(event, st.catalogue)) {
    const link = classifyLinkCached(raw, st.catalogue);
    if (link === null || link.platform === event.platform || link.platform === UNKNOWN) continue;
    firstSeen(st, (ckey ??= `channel:${channelKey(event, st.homePlatform)}`), 'channel', channelSubject(event), link.platform, t, (out ??= []));
  }
  return out ?? NONE;
}

/**
 * Keeps what the findings of `scope` need only (a state of all, saved before scopes existed,
 * restored for one stage): as if it had only ever kept that.
 */
export function narrowMigration(st: MigrationState, scope: Scope): void {
  const channelKeyed = (key: string): boolean => key.startsWith('channel:');
  for (const key of [...st.seen.keys()]) if (channelKeyed(key) !== (scope === 'channel')) st.seen.delete(key);
  if (scope === 'channel') {
    st.totals = new Map();
    st.unknownDomains = 0;
    st.days = new Map();
  }
  st.scope = scope;
}

/** Per-platform totals for reports, first seen first. */
export function platformTotals(st: MigrationState): PlatformTotal[] {
  const key = (p: PlatformTotal): string => `${p.platform}\u0000${p.domain ?? ''}`;
  return [...st.totals.values()].sort((a, b) => a.firstMs - b.firstMs || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
