import { z } from 'zod';
import { urlsInText } from '../events/links.ts';
import bundled from './platforms.json' with { type: 'json' };

/**
 * Link extraction and classification against the platform catalogue (platforms.json: data that
 * analysts extend, merged by id with an optional file of their own).
 */
export const UNKNOWN = 'unknown';

const platformEntrySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,31}$/, 'must be a lowercase platform id like "tamtam"'),
  name: z.string().min(1),
  kind: z.enum(['messenger', 'social', 'video', 'archive', 'filehost', 'paste']),
  domains: z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+$/, 'must be a lowercase domain like "tt.me"')).default([]),
  schemes: z.array(z.string().regex(/^[a-z][a-z0-9+.-]*$/)).default([]),
  hostLabels: z.array(z.string().regex(/^[a-z0-9-]+$/)).default([]),
  pathPrefixes: z.array(z.string().startsWith('/')).default([]),
});

export const catalogueSchema = z.strictObject({
  $comment: z.string().optional(),
  platforms: z.array(platformEntrySchema),
});

export type PlatformEntry = z.infer<typeof platformEntrySchema>;
export type PlatformCatalogue = PlatformEntry[];

/** Validate a catalogue document; the error names the offending entry and field. */
export function parseCatalogue(value: unknown): PlatformCatalogue {
  return catalogueSchema.parse(value).platforms;
}

export const BUNDLED_CATALOGUE: PlatformCatalogue = parseCatalogue(bundled);

/** Entries of `extra` replace same-id entries of `base`; new ids are added. */
export function mergeCatalogues(base: PlatformCatalogue, extra: PlatformCatalogue): PlatformCatalogue {
  const byId = new Map(base.map((p) => [p.id, p]));
  for (const p of extra) byId.set(p.id, p);
  return [...byId.values()];
}

interface Compiled {
  byDomain: Map<string, string>;
  byScheme: Map<string, string>;
  byHostLabel: Map<string, string>;
  byPathPrefix: [string, string][];
}

const compiledCache = new WeakMap<PlatformCatalogue, Compiled>();

function compile(catalogue: PlatformCatalogue): Compiled {
  let c = compiledCache.get(catalogue);
  if (c) return c;
  c = { byDomain: new Map(), byScheme: new Map(), byHostLabel: new Map(), byPathPrefix: [] };
  for (const p of catalogue) {
    for (const d of p.domains) c.byDomain.set(d, p.id);
    for (const s of p.schemes) c.byScheme.set(s, p.id);
    for (const l of p.hostLabels) c.byHostLabel.set(l, p.id);
    for (const pre of p.pathPrefixes) c.byPathPrefix.push([pre, p.id]);
  }
  compiledCache.set(catalogue, c);
  return c;
}

export interface LinkClass {
  platform: string;
  /** Lowercase host without "www." (for URIs like xmpp:room@server, the server); "" when none. */
  domain: string;
}

const TRAILING = /[.,;:!?)\]}'"»”’>]+$/u;
const SCHEME = /^([a-z][a-z0-9+.-]*):(\/\/)?/i;
const HOST = /^[\p{L}\p{N}.-]+\.[\p{L}\p{N}-]{2,}$/u;

/**
 * Classify one link. Returns null for what is not a link to anywhere (mailto:, a bare word).
 * Unknown hosts are kept with their domain.
 */
export function classifyLink(raw: string, catalogue: PlatformCatalogue = BUNDLED_CATALOGUE): LinkClass | null {
  const c = compile(catalogue);
  let s = raw.trim().replace(TRAILING, '');
  let scheme = 'https';
  const m = SCHEME.exec(s);
  if (m) {
    scheme = m[1]!.toLowerCase();
    s = s.slice(m[0].length);
    if (scheme !== 'http' && scheme !== 'https') {
      const platform = c.byScheme.get(scheme);
      if (platform === undefined) return null;
      // xmpp:room@conference.example.org?join -> the server; tg://resolve?domain=x -> none.
      const server = /@([^/?#;]+)/.exec(s)?.[1]?.toLowerCase() ?? '';
      return { platform, domain: server };
    }
  }
  const end = s.search(/[/?#]/);
  let host = (end < 0 ? s : s.slice(0, end)).toLowerCase();
  const path = end < 0 ? '/' : s.slice(end).toLowerCase();
  host = host.slice(host.lastIndexOf('@') + 1).replace(/:\d*$/, '').replace(/\.$/, '');
  if (host.startsWith('www.')) host = host.slice(4);
  if (!HOST.test(host)) return null;
  for (let d = host; ; ) {
    const platform = c.byDomain.get(d);
    if (platform !== undefined) return { platform, domain: host };
    const dot = d.indexOf('.');
    if (dot < 0) break;
    d = d.slice(dot + 1);
  }
  const label = c.byHostLabel.get(host.slice(0, host.indexOf('.')));
  if (label !== undefined) return { platform: label, domain: host };
  for (const [prefix, platform] of c.byPathPrefix) if (path.startsWith(prefix)) return { platform, domain: host };
  return { platform: UNKNOWN, domain: host };
}

/**
 * URLs in free text (pipeline/events/links.ts), with the URI schemes of the catalogue (tg:,
 * xmpp:, ...) besides http(s).
 */
export function linksInText(text: string, catalogue: PlatformCatalogue = BUNDLED_CATALOGUE): string[] {
  return urlsInText(text, compile(catalogue).byScheme);
}

/** What the indexer stores beside an event's links: each distinct domain and platform, in order of appearance. */
export interface LinkFields {
  domain: string[];
  platform: string[];
}

/**
 * Links recur (a channel's own invite links, its backups, forwarded copies): classifications are
 * remembered per catalogue, up to MEMO_LINKS distinct links (the indexer's link fields, the
 * migration detector). classifyLink is pure, so a remembered result is the same result.
 */
const MEMO_LINKS = 20_000;
const memos = new WeakMap<PlatformCatalogue, Map<string, LinkClass | null>>();

/** classifyLink, remembered. The result is shared: callers must not change it. */
export function classifyLinkCached(link: string, catalogue: PlatformCatalogue = BUNDLED_CATALOGUE): Readonly<LinkClass> | null {
  let memo = memos.get(catalogue);
  if (memo === undefined) memos.set(catalogue, (memo = new Map()));
  let c = memo.get(link);
  if (c === undefined) {
    c = classifyLink(link, catalogue);
    if (memo.size >= MEMO_LINKS) memo.clear();
    memo.set(link, c);
  }
  return c;
}

/**
 * The normalised link fields of an event (classifyLink() per link): what dashboards count and
 * rank links by, so no query has to match URLs as written. null when no link classifies.
 */
export function linkFields(links: readonly string[] | undefined, catalogue: PlatformCatalogue = BUNDLED_CATALOGUE): LinkFields | null {
  if (links === undefined || links.length === 0) return null;
  const domain: string[] = [];
  const platform: string[] = [];
  for (const l of links) {
    const c = classifyLinkCached(l, catalogue);
    if (c === null) continue;
    if (c.domain !== '' && !domain.includes(c.domain)) domain.push(c.domain);
    if (!platform.includes(c.platform)) platform.push(c.platform);
  }
  return platform.length ? { domain, platform } : null;
}
