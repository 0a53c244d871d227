import type { FindingType } from '../types.ts';
import { STATUS_INDEX, STATUS_PROPERTIES } from './status.ts';
import type { IndexTemplate } from './templates.ts';

type Mapping = Record<string, unknown>;
const keyword = { type: 'keyword', ignore_above: 1024 };
const date = { type: 'date' };
const double = { type: 'double' };
const long = { type: 'long' };

/**
 * Findings live in one index per dashboard concern; types that share an index share its strict
 * mapping. `@timestamp`, `@end`, `@subjects` and `@magnitude` are derived on write
 * (findingIndexFields) so every type is queried the same way, and dropped again on read.
 */
export const FINDING_INDEX: Record<FindingType, 'gaps' | 'spikes' | 'migrations' | 'lifecycle' | 'alerts' | 'status' | 'status-history'> = {
  gap: 'gaps',
  spike: 'spikes',
  migration: 'migrations',
  link_day: 'migrations',
  takedown: 'lifecycle',
  resurrection: 'lifecycle',
  lifespan: 'lifecycle',
  alert: 'alerts',
  ...STATUS_INDEX,
};

export function findingsIndex(prefix: string, type: FindingType): string {
  return `${prefix}-${FINDING_INDEX[type]}`;
}

const common = {
  type: keyword,
  id: keyword,
  '@timestamp': date,
  '@end': date,
  '@subjects': keyword,
  '@magnitude': double,
  // Which analysis (options + catalogue hash) produced a detector's finding.
  analysis: keyword,
  foundIn: keyword,
};

const strict = (properties: Mapping): Mapping => ({ dynamic: 'strict', properties: { ...common, ...properties } });

const MAPPINGS: Record<(typeof FINDING_INDEX)[FindingType], Mapping> = {
  gaps: strict({
    scope: keyword,
    subject: keyword,
    start: date,
    end: date,
    hours: double,
    baselineHours: double,
    unprecedented: { type: 'boolean' },
    previousLongestHours: double,
  }),
  spikes: strict({
    scope: keyword,
    subject: keyword,
    start: date,
    end: date,
    count: long,
    expected: double,
    pValue: double,
  }),
  migrations: strict({
    kind: keyword,
    platform: keyword,
    scope: keyword,
    subject: keyword,
    at: date,
    share: double,
    usualShare: double,
    day: date,
    links: long,
    offPlatform: long,
    offPlatformShare: double,
    // Platform names are open-ended (a catalogue plus unknown domains): one field per platform
    // would grow the mapping without bound.
    platforms: { type: 'flattened' },
  }),
  lifecycle: strict({
    day: date,
    channels: long,
    languages: long,
    networks: keyword,
    // A takedown's channels (capped, see TakedownFinding); its `@subjects` stay empty (queries.ts).
    subjects: keyword,
    reported: long,
    wave: { type: 'boolean' },
    banned: keyword,
    successor: keyword,
    bannedAt: date,
    createdAt: date,
    delayMinutes: double,
    minutesTo1000: double,
    regainedShare: double,
    subject: keyword,
    endedAt: date,
    days: double,
    reason: keyword,
  }),
  alerts: strict({
    rule: keyword,
    state: keyword,
    severity: keyword,
    subject: keyword,
    findingId: keyword,
    findingType: keyword,
    message: { type: 'text', fields: { keyword } },
    firedAt: date,
    resolvedAt: date,
    updatedAt: date,
    deliveries: {
      properties: { sink: keyword, status: keyword, attempts: { type: 'integer' }, lastError: { type: 'text' }, at: date },
    },
  }),
  status: strict(STATUS_PROPERTIES.status),
  'status-history': strict(STATUS_PROPERTIES['status-history']),
};

/** One template per findings index, exact names: findings are few and need no rollover. */
export function findingsTemplates(prefix: string): IndexTemplate[] {
  return Object.entries(MAPPINGS).map(([name, mappings]) => ({ name: `${prefix}-${name}`, indexPatterns: [`${prefix}-${name}`], mappings }));
}
