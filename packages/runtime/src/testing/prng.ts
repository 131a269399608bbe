/**
 * mulberry32: a small seeded generator for generated test inputs, so the same cases come on every
 * run and a failure replays from its seed. One copy for the repository's tests and benches.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** prng() with the two draws tests make most: a whole number below n, and one of a list. */
export function rng(seed: number) {
  const next = prng(seed);
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! };
}
