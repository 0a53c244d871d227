import { createReadStream, statSync } from 'node:fs';
import { displayName, isBlank, PROGRESS_EVERY, readLines, StatsCounter } from '../common.ts';
import type { Source, SourceItem, SourceOptions } from '../types.ts';
import { mapBotUpdate } from './update.ts';

/** Updates are small; a line this long is not one, and skipping it keeps memory bounded. */
const MAX_UPDATE_BYTES = 1024 * 1024;

/** Bot API `Update` objects, one JSON object per line (e.g. saved getUpdates / webhook bodies). */
export function openBotUpdatesSource(file: string, opts: SourceOptions): Source {
  const name = displayName(file);
  const stats = new StatsCounter();
  return {
    name,
    stats: () => stats.snapshot(),
    async *items(): AsyncGenerator<SourceItem> {
      const totalBytes = statSync(file).size;
      for await (const line of readLines(createReadStream(file), MAX_UPDATE_BYTES)) {
        if (line.text !== undefined && isBlank(line.text)) continue;
        stats.read++;
        if (opts.onProgress && stats.read % PROGRESS_EVERY === 0) opts.onProgress({ bytesRead: line.offset, totalBytes, records: stats.read });
        const location = `${name}:line ${line.number}`;
        if (line.text === undefined) {
          yield stats.count({ kind: 'rejected', reason: `line is ${line.bytes} bytes, over the ${MAX_UPDATE_BYTES}-byte update limit`, location });
          continue;
        }
        let update: unknown;
        try {
          update = JSON.parse(line.text);
        } catch (err) {
          yield stats.count({ kind: 'rejected', reason: `not valid JSON: ${(err as Error).message}`, location });
          continue;
        }
        const result = mapBotUpdate(update, opts, location);
        if (result.ignored !== undefined) stats.ignore(result.ignored);
        for (const item of result.items) yield stats.count(item);
      }
      opts.onProgress?.({ bytesRead: totalBytes, totalBytes, records: stats.read });
    },
  };
}
