/**
 * The lookup of deduplication's recent ids: which ids the analyzer's ring holds. An open-addressing
 * table of ring positions keyed by a hash of the id (the id itself compared on a hash match), in
 * typed arrays: a Set of strings reallocated its table as ids came and went (a third of the core's
 * garbage) and hashed each fresh id string on top. Not part of the state: rebuilt from the ring,
 * which is, whenever the ring is resized or restored.
 */
export class RecentIds {
  /** Linear probing: ring position + 1 of the id placed there (0: empty); at most half full. */
  private slots: Int32Array;
  /** The hash of the id at each ring position. */
  private hashes: Int32Array;
  private mask: number;

  /** The ids of `order` (a ring) from `head`, `count` of them. */
  constructor(private readonly order: readonly string[], head: number, count: number) {
    let size = 16;
    while (size < order.length * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.hashes = new Int32Array(order.length);
    this.mask = size - 1;
    for (let i = 0; i < count; i++) {
      const at = (head + i) % order.length;
      this.add(at, hashId(order[at]!));
    }
  }

  has(id: string): boolean {
    return this.find(id, hashId(id)) >= 0;
  }

  /** The table slot of `id` (hashed to `h`), or -1. */
  find(id: string, h: number): number {
    const { slots, hashes, order, mask } = this;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const p = slots[s]! - 1;
      if (p < 0) return -1;
      if (hashes[p] === h && order[p] === id) return s;
    }
  }

  /** The id now at ring position `at`, hashed to `h` (not in the table yet). */
  add(at: number, h: number): void {
    const { slots, mask } = this;
    let s = h & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = at + 1;
    this.hashes[at] = h;
  }

  /** The id at ring position `at` leaves. */
  remove(at: number): void {
    const { slots, hashes, mask } = this;
    let s = hashes[at]! & mask;
    while (slots[s] !== at + 1) s = (s + 1) & mask;
    // Backward-shift deletion: later entries of the probe run move up, so no tombstones pile up.
    for (let j = (s + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const home = hashes[slots[j]! - 1]! & mask;
      // Entry j may fill the hole at s only if its home is not in (s, j] (cyclically).
      if (s <= j ? home <= s || home > j : home <= s && home > j) {
        slots[s] = slots[j]!;
        s = j;
      }
    }
    slots[s] = 0;
  }
}

/** 30-bit hash of an id (a small integer, never boxed): FNV-1a over pairs of UTF-16 units, then murmur3's finaliser. */
export function hashId(id: string): number {
  const n = id.length;
  let h = 0x811c9dc5 ^ n;
  let i = 0;
  for (; i + 1 < n; i += 2) h = Math.imul(h ^ (id.charCodeAt(i) | (id.charCodeAt(i + 1) << 16)), 0x01000193);
  if (i < n) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0x3fffffff;
}
