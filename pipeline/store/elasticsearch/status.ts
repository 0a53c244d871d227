import type { StatusStoreDoc } from '../../analytics/status/types.ts';

type Mapping = Record<string, unknown>;
const keyword = { type: 'keyword', ignore_above: 1024 };
const date = { type: 'date' };
const text = { type: 'text', fields: { keyword } };

/**
 * Watch-list status in two indices: `status` holds one document per member, updated in place
 * (what a Kibana panel of current statuses reads), `status-history` everything that happened to
 * them: status changes, analysts' overrides and alert episodes.
 */
export const STATUS_INDEX: Record<StatusStoreDoc['type'], 'status' | 'status-history'> = {
  status: 'status',
  status_change: 'status-history',
  status_override: 'status-history',
  status_alert: 'status-history',
};

const shared = { subject: keyword, network: keyword, reason: text, watched: { type: 'boolean' } };

/** Field mappings without the fields every findings index has (findings.ts adds them). */
export const STATUS_PROPERTIES: Record<'status' | 'status-history', Mapping> = {
  status: {
    ...shared,
    language: keyword,
    status: keyword,
    since: date,
    lastActivityAt: date,
    collector: keyword,
    override: { properties: { by: keyword, at: date, reason: text, until: date } },
    updatedAt: date,
  },
  'status-history': {
    ...shared,
    from: keyword,
    to: keyword,
    since: date,
    at: date,
    correction: { type: 'boolean' },
    corrects: keyword,
    by: keyword,
    action: keyword,
    until: date,
    kind: keyword,
    severity: keyword,
    start: date,
    end: date,
    endReason: keyword,
    notifyEnd: { type: 'boolean' },
    members: keyword,
    message: text,
  },
};
