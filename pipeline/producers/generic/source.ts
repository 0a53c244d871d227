import { createReadStream, statSync } from 'node:fs';
import { parse } from 'csv-parse';
import { ErrorCode, TidewatchError } from '../../errors.ts';
import { displayName, isBlank, makeEvent, PROGRESS_EVERY, readLines, StatsCounter } from '../common.ts';
import type { Source, SourceItem, SourceOptions } from '../types.ts';
import { LocalTimeConverter } from '../zone.ts';
import { BUILT_IN_DATE_FORMS, userDateParser } from './date-formats.ts';
import { mapActivityRecord, resolveMapping, type RecordContext } from './mapping.ts';

const MAX_RECORD_BYTES = 1024 * 1024;

interface RawRecord {
  record: unknown;
  location: string;
  offset: number;
}

/**
 * Activity records from other collectors, CSV (header row) or JSON lines, read through the
 * documented column mapping (mapping.ts). Each record becomes one event or one rejection.
 */
export function openActivitySource(file: string, kind: 'csv' | 'jsonl', opts: SourceOptions): Source {
  const name = displayName(file);
  const stats = new StatsCounter();
  return {
    name,
    stats: () => stats.snapshot(),
    async *items(): AsyncGenerator<SourceItem> {
      const mapping = resolveMapping(opts.mapping);
      if (typeof mapping === 'string') throw new TidewatchError(ErrorCode.CONFIG_INVALID, `${name}: ${mapping}`);
      const converter = new LocalTimeConverter(opts.timezone ?? 'UTC');
      const userDate = opts.dateFormats?.length ? userDateParser(opts.dateFormats, converter) : undefined;
      if (typeof userDate === 'string') throw new TidewatchError(ErrorCode.CONFIG_INVALID, `${name}: ${userDate}`);
      const ctx: RecordContext = {
        sourceType: kind,
        storeText: opts.storeText,
        localToEpochMs: (local) => converter.toEpochMs(local),
        userDate,
        dateFormsTried: [...(opts.dateFormats ?? []), ...BUILT_IN_DATE_FORMS],
        onLocalDate: () =>
          stats.warn(`${name}: timestamps without a zone read in ${opts.timezone ?? 'UTC'}${opts.timezone ? ' (--timezone)' : '; pass --timezone if they are local times'}`),
      };
      const totalBytes = statSync(file).size;
      const records = kind === 'csv' ? csvRecords(file, name) : jsonRecords(file, name);
      for await (const raw of records) {
        stats.read++;
        if (opts.onProgress && stats.read % PROGRESS_EVERY === 0) opts.onProgress({ bytesRead: raw.offset, totalBytes, records: stats.read });
        if (typeof raw.record === 'string') {
          yield stats.count({ kind: 'rejected', reason: raw.record, location: raw.location });
          continue;
        }
        const input = mapActivityRecord(raw.record as Record<string, unknown>, mapping, ctx);
        yield stats.count(typeof input === 'string' ? { kind: 'rejected', reason: input, location: raw.location } : makeEvent(input, opts, raw.location));
      }
      opts.onProgress?.({ bytesRead: totalBytes, totalBytes, records: stats.read });
    },
  };
}

/** A JSON line that is not an object is a rejection (as a string reason), never a crash. */
async function* jsonRecords(file: string, name: string): AsyncGenerator<RawRecord> {
  for await (const line of readLines(createReadStream(file), MAX_RECORD_BYTES)) {
    if (line.text !== undefined && isBlank(line.text)) continue;
    const location = `${name}:line ${line.number}`;
    if (line.text === undefined) {
      yield { record: `line is ${line.bytes} bytes, over the ${MAX_RECORD_BYTES}-byte record limit`, location, offset: line.offset };
      continue;
    }
    try {
      const value: unknown = JSON.parse(line.text);
      const ok = value !== null && typeof value === 'object' && !Array.isArray(value);
      yield { record: ok ? value : 'line is not a JSON object', location, offset: line.offset };
    } catch (err) {
      yield { record: `not valid JSON: ${(err as Error).message}`, location, offset: line.offset };
    }
  }
}

/** CSV with a header row; a row with the wrong number of fields is a rejection with its line. */
async function* csvRecords(file: string, name: string): AsyncGenerator<RawRecord> {
  const parser = createReadStream(file).pipe(
    parse({ columns: true, bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true, max_record_size: MAX_RECORD_BYTES }),
  );
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; bytes: number; invalid_field_length: number; columns: unknown[] } }>) {
      const location = `${name}:line ${info.lines}`;
      const expected = Array.isArray(info.columns) ? info.columns.length : undefined;
      const got = Object.keys(record).length;
      yield {
        record: info.invalid_field_length > 0 || (expected !== undefined && got !== expected) ? `row has a different number of fields than the header (${expected} columns)` : record,
        location,
        offset: info.bytes,
      };
    }
  } catch (err) {
    throw new TidewatchError(ErrorCode.INPUT_PARSE, `${name}: not valid CSV: ${(err as Error).message}`, { cause: err });
  }
}
