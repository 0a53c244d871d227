import { displayName } from './common.ts';
import { detectFormat, type ConcreteFormat } from './detect.ts';
import { openBotUpdatesSource } from './bot-api/source.ts';
import { openActivitySource } from './generic/source.ts';
import { openJsonlSource } from './jsonl/source.ts';
import { openTelegramExportSource } from './telegram-export/source.ts';
import type { Source, SourceItem, SourceOptions, SourceStats } from './types.ts';

export type * from './types.ts';
export { detectFormat } from './detect.ts';
export { ACTIVITY_FIELDS, type ActivityField } from './generic/mapping.ts';
export { dateFormatProblem } from './generic/date-formats.ts';
export { mapBotUpdate, type BotUpdateResult } from './bot-api/update.ts';
export { replayEvents, REPLAY_DEFAULTS, type ReplayOptions } from './replay/generate.ts';
export { pacedReplay, openReplaySource, systemClock, type PacedReplayOptions, type ReplayClock } from './replay/source.ts';
export { FACTS as TIMELINE_FACTS } from './replay/facts.ts';
export { createIngestHandler, type IngestHandlerOptions, type ItemResult } from './http/handler.ts';
export { OrderedSources, InputDisorder, type OrderedOptions } from './ordered.ts';
export { pumpSource, type PumpOptions, type PumpResult } from './pump.ts';

function openConcrete(format: ConcreteFormat, file: string, opts: SourceOptions): Source {
  switch (format) {
    case 'jsonl':
      return openJsonlSource(file, opts);
    case 'telegram-export':
      return openTelegramExportSource(file, opts);
    case 'bot-updates':
      return openBotUpdatesSource(file, opts);
    case 'activity-jsonl':
      return openActivitySource(file, 'jsonl', opts);
    case 'csv':
      return openActivitySource(file, 'csv', opts);
  }
}

/**
 * Open one input file as a Source. `format: 'auto'` looks at the extension and first bytes when
 * reading starts, so opening stays synchronous and cheap; a file nobody recognises fails then.
 */
export function openSource(file: string, opts: SourceOptions): Source {
  if (opts.format !== 'auto') return openConcrete(opts.format, file, opts);
  let inner: Source | undefined;
  return {
    name: displayName(file),
    stats: (): SourceStats =>
      inner?.stats?.() ?? { read: 0, produced: 0, rejected: 0, ignored: 0, ignoredByKind: {}, warnings: [] },
    // The detected source's own iterator, not re-yielded through a generator of ours: that
    // second hop per item cost 2-6% of a large import.
    items: (): AsyncIterable<SourceItem> => ({
      [Symbol.asyncIterator]: () => {
        let it: AsyncIterator<SourceItem> | undefined;
        const open = async () => {
          inner = openConcrete(await detectFormat(file), file, opts);
          return (it = inner.items()[Symbol.asyncIterator]());
        };
        return {
          next: async () => (it ?? (await open())).next(),
          return: async (value?: unknown) => (it?.return ? it.return(value) : { done: true as const, value: undefined }),
        };
      },
    }),
  };
}
