/**
 * Seeded randomness for the replay. Each simulated hour gets its own generator derived from
 * (seed, hour), so any window of the replay is exactly the same slice of the full replay.
 */
export type Random = () => number;

/** mulberry32: tiny, fast, good enough for synthetic activity; not for anything secret. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mix several integers into one 32-bit seed (splitmix-style), so nearby inputs diverge. */
export function mix(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Poisson-distributed count (Knuth); the replay's rates are a few events per hour at most. */
export function poisson(rng: Random, lambda: number): number {
  if (lambda <= 0) return 0;
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = rng();
  while (p > limit) {
    k++;
    p *= rng();
  }
  return k;
}

export function pick<T>(rng: Random, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

export function between(rng: Random, lo: number, hi: number): number {
  return lo + rng() * (hi - lo);
}
