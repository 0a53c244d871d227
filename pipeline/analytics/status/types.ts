/**
 * What the watch-list status core produces and the store keeps (besides events and findings):
 * the current status of every member (one document each, updated in place), the history of
 * status changes, the analysts' overrides (mute/retire, append-only) and alert episodes.
 * Times are UTC ISO 8601 strings.
 */
export const STATUSES = ['active', 'quiet', 'silent', 'gone', 'unknown', 'muted', 'retired'] as const;
export type Status = (typeof STATUSES)[number];

/**
 * The current status of one member. `subject` (and `id`) is its handle, or its channel id when it
 * has none: the name gap findings give a channel too.
 */
export interface StatusDoc {
  type: 'status';
  id: string;
  subject: string;
  /** false: seen in the data but not on the watch list ("discovered"). */
  watched: boolean;
  network: string | null;
  language: string | null;
  status: Status;
  since: string;
  reason: string;
  lastActivityAt: string | null;
  collector: string | null;
  /** Set while muted or retired. */
  override: OverrideInfo | null;
  updatedAt: string;
}

export interface OverrideInfo {
  by: string;
  at: string;
  reason: string;
  until: string | null;
}

/** One status change; `id` = `<subject>:<at>:<to>`. */
export interface StatusChangeDoc {
  type: 'status_change';
  id: string;
  subject: string;
  watched: boolean;
  network: string | null;
  from: Status | null;
  to: Status;
  /** When the status began (data time: e.g. the moment a silence crossed its threshold). */
  since: string;
  /** When the change was decided. */
  at: string;
  reason: string;
  /** Decided again because late data showed the earlier decision (`corrects`) was wrong. */
  correction: boolean;
  corrects: string | null;
  /** Who, for analyst changes (mute, retire and their reversal). */
  by: string | null;
}

export type OverrideAction = 'mute' | 'unmute' | 'retire' | 'unretire';

/** An analyst's mute/retire or its reversal. Append-only: `id` = `<subject>:<at>`; the latest per subject counts. */
export interface StatusOverrideDoc {
  type: 'status_override';
  id: string;
  subject: string;
  action: OverrideAction;
  by: string;
  at: string;
  reason: string;
  /** mute/retire only: when it lapses by itself; null = until reversed. */
  until: string | null;
}

export type StatusAlertKind = 'silence' | 'network_silence' | 'takedown' | 'source';

/**
 * An alert-worthy condition, as an episode: open (`end` null) while it holds, closed once. The
 * `id` is deterministic (`<kind>:<subject>:<start at opening>`), so an alerter de-duplicates on
 * it. `notifyEnd` says whether the end is news (activity resumed, a correction, a source
 * recovered) or not (the member was muted, retired or taken down: no false "silence ended").
 */
export interface StatusAlertDoc {
  type: 'status_alert';
  id: string;
  kind: StatusAlertKind;
  /** Handle, network or collector name. */
  subject: string;
  severity: 'info' | 'warning' | 'critical';
  start: string;
  end: string | null;
  /** `fewer_members`: a network no longer has enough members expected active to be judged. */
  endReason: 'activity' | 'corrected' | 'recovered' | 'muted' | 'retired' | 'gone' | 'unwatched' | 'fewer_members' | null;
  notifyEnd: boolean;
  /** Members concerned (source alerts: the unknown channels at opening; network: the silent members). */
  members: string[];
  message: string;
}

export type StatusStoreDoc = StatusDoc | StatusChangeDoc | StatusOverrideDoc | StatusAlertDoc;

/** What each call of the core returns: changes for the history and alert episodes opened or closed. */
export interface StatusOutput {
  changes: StatusChangeDoc[];
  alerts: StatusAlertDoc[];
}
