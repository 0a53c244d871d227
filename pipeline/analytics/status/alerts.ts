import { formatTime } from '../../dates.ts';
import { isoOf, round2, HOUR_MS } from '../time.ts';
import type { StatusAlertDoc, StatusAlertKind } from './types.ts';

/**
 * Alert episodes of the watch-list status. The severity says what an analyst should do first: a
 * takedown or a whole network gone silent before a single channel's silence, and a source that
 * cannot see is an operator's problem, not an analyst's.
 */
const SEVERITY: Record<StatusAlertKind, StatusAlertDoc['severity']> = {
  silence: 'warning',
  network_silence: 'critical',
  takedown: 'critical',
  source: 'warning',
};

export const hours = (ms: number): string => `${round2(ms / HOUR_MS)} h`;

export function openEpisode(kind: StatusAlertKind, subject: string, startMs: number, members: string[], message: string): StatusAlertDoc {
  const start = isoOf(startMs);
  return { type: 'status_alert', id: `${kind}:${subject}:${start}`, kind, subject, severity: SEVERITY[kind], start, end: null, endReason: null, notifyEnd: false, members, message };
}

const END_MESSAGE: Record<NonNullable<StatusAlertDoc['endReason']>, string> = {
  activity: 'active again',
  corrected: 'corrected by late data: it was not silent',
  recovered: 'recovered',
  muted: 'muted',
  retired: 'retired',
  gone: 'gone',
  unwatched: 'no longer watched',
  fewer_members: 'too few members expected active to judge the network',
};

/**
 * The episode closed at `endMs`; `notifyEnd` false when the end is no news (a mute, a takedown).
 * The message says when it ended in the display `zone`; the document's `end` stays ISO 8601.
 */
export function closeEpisode(open: StatusAlertDoc, endMs: number, endReason: NonNullable<StatusAlertDoc['endReason']>, notifyEnd: boolean, zone: string, message?: string): StatusAlertDoc {
  return { ...open, end: isoOf(endMs), endReason, notifyEnd, message: message ?? `${open.message} — ended ${formatTime(endMs, zone)}: ${END_MESSAGE[endReason]}` };
}
