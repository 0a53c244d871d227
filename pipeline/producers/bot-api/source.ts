import { openLineSource } from '../common.ts';
import type { Source, SourceItem, SourceOptions } from '../types.ts';
import { mapBotUpdate } from './update.ts';

/** Updates are small; a line this long is not one, and skipping it keeps memory bounded. */
const MAX_UPDATE_BYTES = 1024 * 1024;

/** Bot API `Update` objects, one JSON object per line (e.g. saved getUpdates / webhook bodies). */
export function openBotUpdatesSource(file: string, opts: SourceOptions): Source {
  return openLineSource(file, opts, { maxLineBytes: MAX_UPDATE_BYTES, what: 'update' }, (text, location, stats): SourceItem[] => {
    let update: unknown;
    try {
      update = JSON.parse(text);
    } catch (err) {
      return [{ kind: 'rejected', reason: `not valid JSON: ${(err as Error).message}`, location }];
    }
    const result = mapBotUpdate(update, opts, location);
    if (result.ignored !== undefined) stats.ignore(result.ignored);
    return result.items;
  });
}
