import { createReadStream, statSync } from 'node:fs';
import { decodeEvent, LIMITS } from '../../events/index.ts';
import { displayName, isBlank, PROGRESS_EVERY, readLines, StatsCounter, withDefaults } from '../common.ts';
import type { Source, SourceItem, SourceOptions } from '../types.ts';

/**
 * Canonical events, one JSON object per line (what `tidewatch` itself writes and what other
 * tools can emit). Each line is decoded and validated on its own; a bad line is a rejection
 * with its line number, and the next line is read normally.
 */
export function openJsonlSource(file: string, opts: SourceOptions): Source {
  const name = displayName(file);
  const stats = new StatsCounter();
  return {
    name,
    stats: () => stats.snapshot(),
    async *items(): AsyncGenerator<SourceItem> {
      const totalBytes = statSync(file).size;
      for await (const line of readLines(createReadStream(file), LIMITS.eventBytes)) {
        if (line.text !== undefined && isBlank(line.text)) continue;
        stats.read++;
        if (opts.onProgress && stats.read % PROGRESS_EVERY === 0) {
          opts.onProgress({ bytesRead: line.offset, totalBytes, records: stats.read });
        }
        const location = `${name}:line ${line.number}`;
        if (line.text === undefined) {
          yield stats.count({ kind: 'rejected', reason: `line is ${line.bytes} bytes, over the ${LIMITS.eventBytes}-byte event limit`, location });
          continue;
        }
        const v = decodeEvent(line.text, { nowMs: opts.nowMs, storeText: opts.storeText });
        yield stats.count(v.ok ? { kind: 'event', event: withDefaults(v.event, opts) } : { kind: 'rejected', reason: v.reason, location });
      }
      opts.onProgress?.({ bytesRead: totalBytes, totalBytes, records: stats.read });
    },
  };
}
