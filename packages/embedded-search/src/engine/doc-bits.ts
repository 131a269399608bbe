/**
 * Sets of doc numbers as bits: one bit per doc number below the engine's docLimit, 32 to a word
 * (Uint32Array). What a query evaluates to when no score is asked for (query.ts matchBits: a search
 * sorted on fields, `_count`, aggregations): an intersection, union or complement is one pass over
 * maxDoc/32 words, and a million matches cost 125 KB instead of a Map of a million entries (which
 * was most of a search's time over 1M documents, with the sort of every match).
 * Every set handed out holds live documents only (the engine's live bitmap is applied where a set
 * is made from postings or doc values), so the operations never look at liveness.
 */
import type { Hit } from './aggregations.js';
import { Bits, type Posting } from './columns.js';
import type { IndexEngine } from './index-engine.js';

export type DocBits = Uint32Array;

export function emptyBits(words: number): DocBits {
  return new Uint32Array(words);
}

export function wordsFor(limit: number): number {
  return (limit + 31) >>> 5;
}

export function setBit(b: DocBits, d: number): void {
  b[d >>> 5] = b[d >>> 5]! | (1 << (d & 31));
}

export function hasBit(b: DocBits, d: number): boolean {
  return (b[d >>> 5]! & (1 << (d & 31))) !== 0;
}

/** a &= b */
export function andInto(a: DocBits, b: DocBits): DocBits {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! & b[i]!;
  return a;
}

/** a |= b */
export function orInto(a: DocBits, b: DocBits): DocBits {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! | b[i]!;
  return a;
}

/** a &= ~b */
export function andNotInto(a: DocBits, b: DocBits): DocBits {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! & ~b[i]!;
  return a;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function countBits(b: DocBits): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) n += popcount(b[i]!);
  return n;
}

/** Calls fn for each doc number, ascending. */
export function forEachBit(b: DocBits, fn: (d: number) => void): void {
  for (let i = 0; i < b.length; i++) {
    let x = b[i]!;
    while (x !== 0) {
      const t = x & -x;
      fn((i << 5) + 31 - Math.clz32(t));
      x ^= t;
    }
  }
}

/** The first doc number of the set, or -1. */
export function firstBit(b: DocBits): number {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return (i << 5) + 31 - Math.clz32(b[i]! & -b[i]!);
  return -1;
}

/** Doc numbers below `limit` only (a point in time's view). */
export function truncateBits(b: DocBits, limit: number): DocBits {
  const w = limit >>> 5;
  if (w >= b.length) return b;
  if ((limit & 31) !== 0) b[w] = b[w]! & ((1 << (limit & 31)) - 1);
  b.fill(0, (limit & 31) !== 0 ? w + 1 : w);
  return b;
}

export function docsToBits(docs: Iterable<number>, words: number): DocBits {
  const out = new Uint32Array(words);
  for (const d of docs) out[d >>> 5] = out[d >>> 5]! | (1 << (d & 31));
  return out;
}

/** A posting (dead documents included) as bits, ANDed with `live`. */
export function postingToBits(p: Posting | undefined, live: DocBits): DocBits {
  const out = new Uint32Array(live.length);
  if (p === undefined) return out;
  if (typeof p === 'number') out[p >>> 5] = 1 << (p & 31);
  else if (p instanceof Bits) out.set(p.w.length > out.length ? p.w.subarray(0, out.length) : p.w);
  else for (let i = 0; i < p.n; i++) out[p.a[i]! >>> 5] = out[p.a[i]! >>> 5]! | (1 << (p.a[i]! & 31));
  return andInto(out, live);
}

const liveCache = new WeakMap<IndexEngine, { limit: number; size: number; bits: DocBits }>();

/**
 * The engine's live documents as bits (shared: never modify it, copy with slice()). Cached per
 * engine by (docLimit, size): doc numbers only grow and a delete lowers the size, so no change of
 * the engine leaves both as they were.
 */
export function liveBits(engine: IndexEngine): DocBits {
  const limit = engine.docLimit;
  const size = engine.size;
  const c = liveCache.get(engine);
  if (c && c.limit === limit && c.size === size) return c.bits;
  const bits = new Uint32Array(wordsFor(limit));
  for (let n = 0; n < limit; n++) if (engine.isLive(n)) bits[n >>> 5] = bits[n >>> 5]! | (1 << (n & 31));
  liveCache.set(engine, { limit, size, bits });
  return bits;
}

/** The matches of a search over its targets: one set per target index, in target order. */
export class MatchSet {
  readonly count: number;
  private list: Hit[] | undefined;
  constructor(readonly parts: { engine: IndexEngine; index: string; bits: DocBits }[]) {
    let n = 0;
    for (const p of parts) n += countBits(p.bits);
    this.count = n;
  }

  /** The matches as hits (target order, doc numbers ascending), made once when an aggregation needs them. */
  hits(): Hit[] {
    if (this.list) return this.list;
    const out: Hit[] = [];
    for (const { engine, index, bits } of this.parts) forEachBit(bits, (doc) => out.push({ engine, index, doc, score: 0 }));
    this.list = out;
    return out;
  }
}
