import type { WatchList } from '../../watch/watch-list.ts';
import { overrideReason, overridesInForce } from './overrides.ts';
import type { Status, StatusDoc, StatusOverrideDoc } from './types.ts';

/**
 * What `tidewatch status` (and any view of the watch list) shows per member: the status document
 * the analyzer keeps, with the analysts' override log laid over it, because a mute takes effect
 * for the analyst the moment it is recorded, not at the analyzer's next tick.
 */
export interface StatusRow {
  subject: string;
  watched: boolean;
  network: string | null;
  status: Status;
  /** null when no status was recorded yet. */
  since: string | null;
  lastActivityAt: string | null;
  reason: string;
}

export function statusView(
  watchList: WatchList,
  docs: readonly StatusDoc[],
  overrideLog: readonly StatusOverrideDoc[],
  /** Latest post per subject from the events, for members without a status document. */
  lastPosts: ReadonlyMap<string, string>,
  nowMs: number,
  /** The display zone of the reasons' times. */
  zone: string,
): StatusRow[] {
  const bySubject = new Map(docs.map((d) => [d.subject, d]));
  const listed = new Map(watchList.map((e) => [e.handle, e]));
  const inForce = overridesInForce(overrideLog, nowMs);
  const subjects = [...new Set([...listed.keys(), ...bySubject.keys()])];
  const rows = subjects.map((subject): StatusRow => {
    const doc = bySubject.get(subject);
    const entry = listed.get(subject);
    const o = inForce.get(subject);
    const base: StatusRow = {
      subject,
      watched: entry !== undefined,
      network: entry?.network ?? doc?.network ?? null,
      status: doc?.status ?? 'unknown',
      since: doc?.since ?? null,
      lastActivityAt: doc?.lastActivityAt ?? lastPosts.get(subject) ?? null,
      reason: doc?.reason ?? 'no status recorded yet (the analyzer records it)',
    };
    if (o !== undefined) return { ...base, status: o.action === 'mute' ? 'muted' : 'retired', since: o.at, reason: overrideReason(o, zone) };
    if (base.status === 'muted' || base.status === 'retired') {
      return { ...base, reason: `${base.reason}; lifted since, the analyzer re-judges it at its next tick` };
    }
    return base;
  });
  const cmp = (a: string | null, b: string | null): number => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1);
  return rows.sort((a, b) => Number(b.watched) - Number(a.watched) || cmp(a.network, b.network) || cmp(a.subject, b.subject));
}
