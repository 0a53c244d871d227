import { basename } from 'node:path';
import { decodeEvent, LIMITS, type EventDefaults } from '../../events/index.ts';
import { openLineSource, withDefaults } from '../common.ts';
import type { Source, SourceOptions } from '../types.ts';

/**
 * Canonical events, one JSON object per line (what `tidewatch` itself writes and what other
 * tools and users write: `event.id`, `platform` and `source` may be left out, ids may be numbers;
 * see events/complete.ts). Each line is decoded and validated on its own; a bad line is a
 * rejection with its line number, and the next line is read normally.
 */
export function openJsonlSource(file: string, opts: SourceOptions): Source {
  const defaults: EventDefaults = { source: { type: 'jsonl', name: basename(file) } };
  return openLineSource(file, opts, { maxLineBytes: LIMITS.eventBytes, what: 'event' }, (text, location) => {
    const v = decodeEvent(text, { nowMs: opts.nowMs, storeText: opts.storeText, defaults });
    return [v.ok ? { kind: 'event', event: withDefaults(v.event, opts) } : { kind: 'rejected', reason: v.reason, location }];
  });
}
