/**
 * The page of a search sorted on fields, without sorting every match: per target, the matches
 * that can be among the first k in sort order, judged by the first sort key alone. search.ts then
 * reads every sort value of these few and sorts them exactly as it sorts all matches (every key,
 * missing values, then index and doc number), so ties and later keys are decided as before.
 *
 * A match's rank is its first sort value as a number, lower first: the value (asc) or its negation
 * (desc), -Infinity / +Infinity for a missing value (missing _first / _last), the doc number for
 * _doc and _shard_doc. The candidates are every match ranked at or before the k-th one's rank
 * (so ties at the boundary all come along), and with search_after every match tying its first
 * value (their later keys decide). Two ways to find them, both exact:
 *   - walking the field's sorted doc values (columns.ts sortedRun) from the end the order starts
 *     at, skipping documents that did not match, until k are found: a few dozen steps when most
 *     documents match (the day's events, newest first);
 *   - a bounded max-heap of the k best ranks over the matches: when few documents match, so the
 *     walk would pass over many that did not.
 */
import { countBits, type DocBits, hasBit } from './doc-bits.js';
import type { FieldData } from './columns.js';
import { kindOf, type IndexEngine } from './index-engine.js';

export interface RankKey {
  field: string;
  order: 'asc' | 'desc';
  missing: '_first' | '_last';
  shardOf?: (index: string) => number;
}

export interface CandidatePart {
  engine: IndexEngine;
  index: string;
  bits: DocBits;
}

/**
 * Per part (same order), the doc numbers that can be among the first `k` matches after `after`
 * (search_after's first value, already parsed; undefined without search_after). Undefined when the
 * first key is not a number or date field in every target (nor _doc / _shard_doc), or `after` is
 * not a number or null: the caller then sorts every match.
 */
export function sortCandidates(parts: CandidatePart[], key: RankKey, k: number, after: unknown): number[][] | undefined {
  const nullRank = key.missing === '_first' ? -Infinity : Infinity;
  const sign = key.order === 'asc' ? 1 : -1;
  let afterRank: number | undefined;
  if (after !== undefined) {
    if (after === null) afterRank = nullRank;
    else if (typeof after === 'number' && !Number.isNaN(after)) afterRank = sign * after;
    else return undefined;
  }
  const cols: (FieldData | undefined)[] = [];
  const byDoc = key.field === '_doc' || key.field === '_shard_doc';
  if (!byDoc) {
    for (const p of parts) {
      const m = p.engine.field(key.field);
      if (m) {
        const kind = kindOf(m.type ?? 'keyword');
        if (kind !== 'number' && kind !== 'date') return undefined;
      }
      const col = m ? p.engine.column(key.field) : undefined;
      cols.push(col?.hasNumbers ? col : undefined);
    }
  }
  if (k <= 0) return parts.map(() => []);
  return parts.map((p, i) => {
    const take = new Taker(k, afterRank);
    if (byDoc) {
      const base = key.field === '_shard_doc' ? (key.shardOf?.(p.index) ?? 0) * 2 ** 32 : 0;
      return heapTake(p.bits, (d) => sign * (base + d), take);
    }
    const col = cols[i];
    if (!col) return heapTake(p.bits, () => nullRank, take);
    const multi = col.hasMultiNumbers();
    const rankOf = (d: number) => {
      let v = col.firstNumber(d);
      if (Number.isNaN(v)) return nullRank;
      const more = multi ? col.moreNumbers(d) : undefined;
      if (more) for (const x of more) if (sign > 0 ? x < v : x > v) v = x;
      return sign * v;
    };
    const count = countBits(p.bits);
    const run = col.sortedRun();
    // the walk visits about k * run / count entries, the heap every match
    if (count * count <= k * run.vals.length) return heapTake(p.bits, rankOf, take);
    return walkTake(p.bits, col, run, sign, nullRank, take);
  });
}

/** Collects candidates from matches fed in any order (heap) or in rank order (walk). */
class Taker {
  readonly out: number[] = [];
  /** Matches surely after `after` seen so far, in a walk. */
  private certain = 0;
  private bound = Infinity;
  constructor(
    readonly k: number,
    readonly afterRank: number | undefined,
  ) {}

  /** A walk's next match, ranks ascending; false once no later match can be a candidate. */
  next(doc: number, r: number): boolean {
    const a = this.afterRank;
    if (a !== undefined && r < a) return true;
    if (a !== undefined && r === a) {
      this.out.push(doc);
      return true;
    }
    if (this.certain >= this.k && r > this.bound) return false;
    this.out.push(doc);
    if (++this.certain === this.k) this.bound = r;
    return true;
  }
}

function heapTake(bits: DocBits, rankOf: (d: number) => number, take: Taker): number[] {
  const k = take.k;
  const a = take.afterRank;
  const n = countBits(bits);
  const docs = new Int32Array(n);
  const ranks = new Float64Array(n);
  // a max-heap of the k lowest ranks of matches surely after `after`
  const heap = new Float64Array(k);
  let size = 0;
  let j = 0;
  for (let w = 0; w < bits.length; w++) {
    let x = bits[w]!;
    while (x !== 0) {
      const t = x & -x;
      x ^= t;
      const d = (w << 5) + 31 - Math.clz32(t);
      const r = rankOf(d);
      docs[j] = d;
      ranks[j++] = r;
      if (a !== undefined && r <= a) continue;
      if (size < k) {
        let i = size++;
        while (i > 0) {
          const up = (i - 1) >> 1;
          if (heap[up]! >= r) break;
          heap[i] = heap[up]!;
          i = up;
        }
        heap[i] = r;
      } else if (r < heap[0]!) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= k) break;
          const c = l + 1 < k && heap[l + 1]! > heap[l]! ? l + 1 : l;
          if (heap[c]! <= r) break;
          heap[i] = heap[c]!;
          i = c;
        }
        heap[i] = r;
      }
    }
  }
  const bound = size < k ? Infinity : heap[0]!;
  for (let i = 0; i < n; i++) {
    const r = ranks[i]!;
    if (a !== undefined && r < a) continue;
    if ((a !== undefined && r === a) || r <= bound) take.out.push(docs[i]!);
  }
  return take.out;
}

function walkTake(bits: DocBits, col: FieldData, run: { vals: Float64Array; docs: Int32Array }, sign: number, nullRank: number, take: Taker): number[] {
  const { vals, docs } = run;
  const seen = col.hasMultiNumbers() ? new Uint32Array(bits.length) : undefined;
  const missing = () => {
    for (let w = 0; w < bits.length; w++) {
      let x = bits[w]!;
      while (x !== 0) {
        const t = x & -x;
        x ^= t;
        const d = (w << 5) + 31 - Math.clz32(t);
        if (Number.isNaN(col.firstNumber(d)) && !take.next(d, nullRank)) return false;
      }
    }
    return true;
  };
  if (nullRank < 0 && !missing()) return take.out;
  const a = take.afterRank;
  // a document with several values is met once per value: its first meeting is its sort value (min asc, max desc)
  const visit = (i: number) => {
    const d = docs[i]!;
    if (!hasBit(bits, d)) return true;
    if (seen) {
      if (hasBit(seen, d)) return true;
      seen[d >>> 5] = seen[d >>> 5]! | (1 << (d & 31));
    }
    return take.next(d, sign * vals[i]!);
  };
  let done = false;
  if (sign > 0) {
    // start at the first value not before search_after's
    let i = a === undefined || seen ? 0 : lowerBound(vals, a);
    for (; i < vals.length && !done; i++) done = !visit(i);
  } else {
    let i = a === undefined || seen ? vals.length - 1 : lowerBound(vals, -a, true) - 1;
    for (; i >= 0 && !done; i--) done = !visit(i);
  }
  if (!done && nullRank > 0) missing();
  return take.out;
}

/** The first index whose value is >= x (> x when `after`). */
export function lowerBound(vals: Float64Array, x: number, after = false): number {
  let lo = 0;
  let hi = vals.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (after ? vals[m]! <= x : vals[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}
