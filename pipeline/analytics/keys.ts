import { hashId } from './recent.ts';

/** Int32 numbers per entry: the key's hash (tagged), then CELLS - 1 numbers that are the caller's. */
export const CELLS = 4;
/** Set in every stored hash (hashId gives 30 bits): a zero first number marks an empty entry. */
const TAG = 0x40000000;

/**
 * Channel keys to a few numbers each, for the analyzer's index. An open-addressing table (linear
 * probing, at most half full) whose entries hold the key's hash beside the caller's numbers in one
 * Int32Array: an event's lookup reads one cache line for the hash and the numbers together, and the
 * key itself only on a hash match. Replaces a Map to dense ids plus an array of numbers by id,
 * whose lookup was the largest single cost of an event (the Map's bucket, its entry, then the
 * numbers elsewhere). Not part of any state: the index is rebuilt as subjects are met.
 */
export class KeyCells {
  /** Entries of CELLS numbers: hash | TAG (0: empty), then the caller's numbers (0 when new). */
  cells = new Int32Array(1024 * CELLS);
  /** By entry: its key. */
  private keys: string[] = new Array<string>(1024).fill('');
  private mask = 1023;
  size = 0;

  /**
   * The offset in `cells` of `key`'s entry (its numbers at offset + 1 ... CELLS - 1), a new one
   * with zero numbers if the key was never met. Offsets move when an entry is added (the table may
   * grow): take them again after each call.
   */
  entryOf(key: string): number {
    const h = hashId(key) | TAG;
    const { cells, mask, keys } = this;
    let s = h & mask;
    for (let tag = cells[s * CELLS]!; tag !== 0; tag = cells[s * CELLS]!) {
      if (tag === h && keys[s] === key) return s * CELLS;
      s = (s + 1) & mask;
    }
    cells[s * CELLS] = h;
    keys[s] = key;
    if (++this.size * 2 <= mask + 1) return s * CELLS;
    this.grow();
    return this.entryOf(key);
  }

  /** Every entry's number `cell` (1 ... CELLS - 1) set to `value`. */
  fill(cell: number, value: number): void {
    for (let at = 0; at < this.cells.length; at += CELLS) if (this.cells[at] !== 0) this.cells[at + cell] = value;
  }

  /** The table doubled, every entry placed again with its numbers. */
  private grow(): void {
    const { cells: old, keys: oldKeys } = this;
    const size = (this.mask + 1) * 2;
    this.cells = new Int32Array(size * CELLS);
    this.keys = new Array<string>(size).fill('');
    this.mask = size - 1;
    const { cells, keys, mask } = this;
    for (let from = 0; from < oldKeys.length; from++) {
      const h = old[from * CELLS]!;
      if (h === 0) continue;
      let s = h & mask;
      while (cells[s * CELLS] !== 0) s = (s + 1) & mask;
      cells.set(old.subarray(from * CELLS, (from + 1) * CELLS), s * CELLS);
      keys[s] = oldKeys[from]!;
    }
  }
}
