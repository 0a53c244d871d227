import { formatTime } from '../../dates.ts';
import type { StatusOverrideDoc } from './types.ts';

/**
 * The analysts' overrides as a log: each mute/retire replaces the one in force; unmute lifts only
 * a mute and unretire only a retirement (an "unmute" never quietly ends a retirement). Shared by
 * the status core and the commands, so both read the log the same way.
 */
export function nextOverride(current: StatusOverrideDoc | null, doc: StatusOverrideDoc): StatusOverrideDoc | null | undefined {
  if (doc.action === 'mute' || doc.action === 'retire') return doc;
  const lifts = doc.action === 'unmute' ? 'mute' : 'retire';
  return current?.action === lifts ? null : undefined;
}

/** How a status says who muted or retired a member and why (the core and the commands alike); times in the display `zone`. */
export const overrideReason = (o: StatusOverrideDoc, zone: string): string =>
  `${o.action === 'mute' ? 'muted' : 'retired'} by ${o.by}: ${o.reason}${o.until === null ? '' : ` (until ${formatTime(o.until, zone)})`}`;

export const overrideInForce = (o: StatusOverrideDoc | null, nowMs: number): o is StatusOverrideDoc =>
  o !== null && (o.until === null || Date.parse(o.until) > nowMs);

/** Per subject, the mute or retirement in force at `nowMs` after the whole log (given in any order). */
export function overridesInForce(log: readonly StatusOverrideDoc[], nowMs: number): Map<string, StatusOverrideDoc> {
  const current = new Map<string, StatusOverrideDoc | null>();
  for (const doc of [...log].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))) {
    const next = nextOverride(current.get(doc.subject) ?? null, doc);
    if (next !== undefined) current.set(doc.subject, next);
  }
  const out = new Map<string, StatusOverrideDoc>();
  for (const [subject, o] of current) if (overrideInForce(o, nowMs)) out.set(subject, o);
  return out;
}
