import type { ActivityEvent } from '../../pipeline/events/index.ts';
import { parseTimeMs } from '../../pipeline/analytics/time.ts';

/**
 * The channel stage's forwarding to the network stage: many analysed records of one source
 * partition in ONE Kafka record (a "pack"), since one Kafka record per event made the producer's
 * per-record work (partitioner, record encoding, checksums) and the consumer's fetch decoding a
 * fifth of the analyzer's time. Each event keeps its source offset, so the network stage still
 * drops, per event, a copy resent after a crash (merge.ts, admitPacked).
 *
 * Key: `pack:<source partition>@<first offset>-<last offset>`. Value (big-endian):
 *   'TWF1' | u32 source partition | u32 count | u16 length + ASCII first offset |
 *   count × (u32 offset - first offset | u32 length | the event's bytes)
 * Length-prefixed rather than NDJSON: the bytes are copied as they are, whatever they hold.
 */
export const PACK_KEY_PREFIX = 'pack:';
const MAGIC = 0x54574631; // 'TWF1'
/** Well under Kafka's default 1 MB message limit, also with one event of the largest size allowed after it. */
export const PACK_MAX_BYTES = 512 * 1024;

export interface Forwarded {
  offset: string;
  bytes: Buffer;
  /** The event the bytes are (ForwardedEvents). */
  event?: ActivityEvent;
}

/** Records of one source partition (in offset order) cut into packs of at most `maxBytes` (one record at least). */
export function pack(partition: number, records: readonly Forwarded[], maxBytes = PACK_MAX_BYTES): { key: string; value: Buffer }[] {
  const out: { key: string; value: Buffer }[] = [];
  for (let i = 0; i < records.length; ) {
    const first = records[i]!.offset;
    const head = 4 + 4 + 4 + 2 + first.length;
    let size = head;
    let end = i;
    for (; end < records.length; end++) {
      const more = 8 + records[end]!.bytes.length;
      if (end > i && size + more > maxBytes) break;
      size += more;
    }
    const value = Buffer.allocUnsafe(size);
    value.writeUInt32BE(MAGIC, 0);
    value.writeUInt32BE(partition, 4);
    value.writeUInt32BE(end - i, 8);
    value.writeUInt16BE(first.length, 12);
    value.write(first, 14, 'latin1');
    const base = BigInt(first);
    let at = head;
    for (let j = i; j < end; j++) {
      const r = records[j]!;
      value.writeUInt32BE(Number(BigInt(r.offset) - base), at);
      value.writeUInt32BE(r.bytes.length, at + 4);
      r.bytes.copy(value, at + 8);
      at += 8 + r.bytes.length;
    }
    out.push({ key: `${PACK_KEY_PREFIX}${partition}@${first}-${records[end - 1]!.offset}`, value });
    i = end;
  }
  return out;
}

/** How many events a pack made by `pack` holds (its header; the layout stays in this file). */
export const packCount = (value: Buffer): number => value.readUInt32BE(8);

/** A pack read back: where each event's bytes lie in `value`, and its offset relative to `base`. */
export interface Unpacked {
  partition: number;
  base: bigint;
  deltas: number[];
  starts: number[];
  ends: number[];
}

/** The pack's layout, or why it is not one (a damaged record: dead-lettered whole). */
export function unpack(value: Buffer): Unpacked | { error: string } {
  if (value.length < 14 || value.readUInt32BE(0) !== MAGIC) return { error: 'not a forwarded pack (no TWF1 header)' };
  const partition = value.readUInt32BE(4);
  const count = packCount(value);
  const baseLength = value.readUInt16BE(12);
  const baseText = value.toString('latin1', 14, 14 + baseLength);
  if (!/^\d+$/.test(baseText)) return { error: `forwarded pack: first offset "${baseText}" is not a number` };
  const u: Unpacked = { partition, base: BigInt(baseText), deltas: [], starts: [], ends: [] };
  let at = 14 + baseLength;
  for (let i = 0; i < count; i++) {
    if (at + 8 > value.length) return { error: `forwarded pack: truncated at event ${i} of ${count}` };
    const length = value.readUInt32BE(at + 4);
    if (at + 8 + length > value.length) return { error: `forwarded pack: event ${i} of ${count} runs past the record's end` };
    u.deltas.push(value.readUInt32BE(at));
    u.starts.push(at + 8);
    u.ends.push(at + 8 + length);
    at += 8 + length;
  }
  if (at !== value.length) return { error: `forwarded pack: ${value.length - at} byte(s) after its ${count} events` };
  return u;
}

/**
 * A forwarded event, decoded for the network stage: the channel stage has validated it, so JSON
 * and the fields the merge reads are checked, not the whole schema or the id again. The reason
 * when it is not one (dead-lettered: nothing is dropped silently).
 */
export function parseForwarded(text: string, storeText: boolean): ActivityEvent | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `not valid JSON: ${(err as Error).message}` };
  }
  const e = value as Partial<ActivityEvent> | null;
  if (typeof e !== 'object' || e === null || typeof e.event?.id !== 'string' || typeof e['@timestamp'] !== 'string' || Number.isNaN(parseTimeMs(e['@timestamp']))) {
    return { error: 'not an activity event (no valid @timestamp or event.id)' };
  }
  // Records forwarded by earlier versions are the original bytes, text included.
  if (!storeText && e.message?.text !== undefined) delete (e.message as { text?: string }).text;
  return e as ActivityEvent;
}

/**
 * The events of the packs the channel stage forwarded lately, as it validated them, for the
 * network stage when it runs in the same process (one instance, the embedded default): it takes
 * a pack's events from here instead of parsing them again (a JSON.parse per event, and its
 * garbage, was a tenth of the analyzer's time). Only for a record whose bytes are exactly the pack
 * put here: the same bytes parse to the same events (the validated event or its exact bytes were
 * forwarded, and nothing changes an event after validation). Anything else (another instance's
 * pack, one put here and since dropped, a copy resent after a crash) is parsed as usual.
 * Bounded by the packs' bytes: with the network stage on another instance, none is ever taken.
 */
export class ForwardedEvents {
  private readonly packs = new Map<string, { value: Buffer; events: readonly ActivityEvent[] }>();
  private bytes = 0;

  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  put(key: string, value: Buffer, events: readonly ActivityEvent[]): void {
    this.remove(key);
    this.packs.set(key, { value, events });
    this.bytes += value.length;
    // Oldest first (a Map keeps insertion order).
    for (const [k] of this.packs) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(k);
    }
  }

  /** The events of pack `key` if `value` is the pack put under it, once (it is forgotten). */
  take(key: string, value: Buffer): readonly ActivityEvent[] | undefined {
    const p = this.packs.get(key);
    if (p === undefined) return undefined;
    this.remove(key);
    return p.value === value || p.value.equals(value) ? p.events : undefined;
  }

  private remove(key: string): void {
    const p = this.packs.get(key);
    if (p === undefined) return;
    this.packs.delete(key);
    this.bytes -= p.value.length;
  }
}
