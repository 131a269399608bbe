/**
 * The per-field structures of an IndexEngine, columnar and in typed arrays:
 *   - postings: doc numbers ascending per term (one Map per field); a term held by one document
 *     keeps that doc number as a plain number, a second document turns it into an IntList
 *     (Int32Array), and a term in more than one document in 32 becomes bits (Bits). A Set per
 *     term cost ~100 bytes per entry and most of the indexing time.
 *   - keyword doc values: doc number -> term ordinal (Int32Array, -1 = none), the rare document
 *     with several values in a side map; terms aggregations and keyword sorts read these instead of
 *     parsing sources.
 *   - numeric doc values: doc number -> value (Float64Array, NaN = none), several values in a side
 *     map; plus a sorted (value, doc) run with an unsorted tail, merged at query time, so a range
 *     is two binary searches instead of a scan of every document.
 *   - ip doc values: doc number -> 32-hex-digit key (values.ts ipSortKey).
 *   - presence: bits of the doc numbers that have the field (`exists`).
 * Doc numbers only grow (a replaced document gets a new number, as in Lucene), so every list is
 * appended in ascending order; deleted numbers are filtered through the engine's live bitmap.
 */

import { TermDict } from './term-dict.js';

const V4_MAPPED = '00000000000000000000ffff';

/** A growable list of int32, appended in ascending order. */
export class IntList {
  a: Int32Array;
  n = 0;
  constructor(capacity = 4) {
    this.a = new Int32Array(capacity);
  }
  push(v: number): void {
    if (this.n === this.a.length) {
      // doubling while small, then by a quarter: long postings would otherwise carry up to 2x slack
      const len = this.a.length;
      const next = new Int32Array(len < 65_536 ? len * 2 : len + (len >> 2));
      next.set(this.a);
      this.a = next;
    }
    this.a[this.n++] = v;
  }
  last(): number {
    return this.n > 0 ? this.a[this.n - 1]! : -1;
  }
}

/**
 * A set of doc numbers as bits: one bit per doc number for presence, and for a posting once its
 * term is in more than one document in 32 (where 32-bit doc numbers would cost more).
 */
export class Bits {
  w = new Uint32Array(32);
  count = 0;
  add(d: number): void {
    const i = d >>> 5;
    if (i >= this.w.length) {
      let len = this.w.length;
      while (len <= i) len = len < 65_536 ? len * 2 : len + (len >> 2);
      const next = new Uint32Array(len);
      next.set(this.w);
      this.w = next;
    }
    const bit = 1 << (d & 31);
    if ((this.w[i]! & bit) === 0) {
      this.w[i] = this.w[i]! | bit;
      this.count++;
    }
  }
  has(d: number): boolean {
    const i = d >>> 5;
    return i < this.w.length && (this.w[i]! & (1 << (d & 31))) !== 0;
  }
  /** Calls fn for each doc number, ascending. */
  forEach(fn: (d: number) => void): void {
    const w = this.w;
    for (let i = 0; i < w.length; i++) {
      let x = w[i]!;
      while (x !== 0) {
        const t = x & -x;
        fn((i << 5) + 31 - Math.clz32(t));
        x ^= t;
      }
    }
  }
}

export class Float64List {
  a: Float64Array;
  n = 0;
  constructor(capacity = 16) {
    this.a = new Float64Array(capacity);
  }
  push(v: number): void {
    if (this.n === this.a.length) {
      const next = new Float64Array(this.a.length * 2);
      next.set(this.a);
      this.a = next;
    }
    this.a[this.n++] = v;
  }
}

/** Grows a typed array column to hold index `i`, filling new slots with `fill`. */
function ensureInt32(col: Int32Array<ArrayBuffer>, i: number, fill: number): Int32Array<ArrayBuffer> {
  if (i < col.length) return col;
  let len = Math.max(16, col.length);
  while (len <= i) len = len < 65_536 ? len * 2 : len + (len >> 2);
  const next = new Int32Array(len).fill(fill);
  next.set(col);
  return next;
}

function ensureFloat64(col: Float64Array<ArrayBuffer>, i: number): Float64Array<ArrayBuffer> {
  if (i < col.length) return col;
  let len = Math.max(16, col.length);
  while (len <= i) len = len < 65_536 ? len * 2 : len + (len >> 2);
  const next = new Float64Array(len).fill(NaN);
  next.set(col);
  return next;
}

export type Posting = number | IntList | Bits;

/** A posting list turns into bits once it holds this many docs and more than one doc number in 32. */
const BITS_MIN = 4096;

export class FieldData {
  // ---- inverted index
  /** term -> ordinal (insertion order); postings[ordinal] holds its doc numbers. */
  private readonly dict: TermDict;
  private readonly postings: Posting[] = [];
  /** Whether the ordinal is also the doc value (keyword, boolean); decided by the field's first term (a field has one type). */
  private ordered: boolean | undefined;
  /** terms() decoded so far, ordinal i at i (appended as new terms arrive). */
  private readonly termCache: string[] = [];
  /** The last term added and its ordinal. */
  private lastTerm: string | undefined;
  private lastOrd = -1;
  // ---- keyword / boolean doc values (term ordinals)
  private ords = new Int32Array(0);
  private readonly multiOrds = new Map<number, number[]>();
  // ---- numeric doc values
  private nums = new Float64Array(0);
  private readonly multiNums = new Map<number, number[]>();
  hasNumbers = false;
  private sortedVals = new Float64Array(0);
  private sortedDocs = new Int32Array(0);
  private readonly tailVals = new Float64List();
  private readonly tailDocs = new IntList(16);
  // ---- ip doc values: one IPv4 per doc as a number (NaN = none), anything else in a side map
  private ip4 = new Float64Array(0);
  private readonly ipOther = new Map<number, string[]>();
  hasIps = false;
  // ---- presence
  readonly present = new Bits();

  /**
   * `memo: false` (tests) looks every term up, the reference the previous-term shortcut is held to;
   * `arenaAfter` (tests) is when the term dictionary leaves its Map for the byte arena (term-dict.ts).
   */
  constructor(
    private readonly memo = true,
    arenaAfter?: number,
  ) {
    this.dict = new TermDict(arenaAfter);
  }

  /** The doc last marked: a text field marks its doc once per token, and the bit is set only once. */
  private lastPresent = -1;

  markPresent(doc: number): void {
    if (doc === this.lastPresent) return;
    this.lastPresent = doc;
    this.present.add(doc);
  }

  /** Adds `doc` to the posting of `term`; `docValue` also records the ordinal as its doc value. */
  addTerm(doc: number, term: string, docValue: boolean): void {
    this.ordered ??= docValue;
    let ord: number;
    // the field's previous term again (a constant service name, a token of a repeated value): no dictionary lookup
    if (term === this.lastTerm && this.memo) {
      ord = this.lastOrd;
      const p = this.postings[ord]!;
      const next = this.grown(p, doc);
      if (next !== p) this.postings[ord] = next;
    } else {
      const size = this.dict.size;
      ord = this.dict.intern(term);
      if (ord === size) this.postings.push(doc);
      else {
        const p = this.postings[ord]!;
        const next = this.grown(p, doc);
        if (next !== p) this.postings[ord] = next;
      }
      this.lastTerm = term;
      this.lastOrd = ord;
    }
    if (!docValue || !this.ordered) return;
    this.ords = ensureInt32(this.ords, doc, -1);
    const cur = this.ords[doc]!;
    if (cur === -1) this.ords[doc] = ord;
    else if (cur !== ord) {
      const more = this.multiOrds.get(doc);
      if (!more) this.multiOrds.set(doc, [ord]);
      else if (!more.includes(ord)) more.push(ord);
    }
  }

  /** The posting with `doc` added: the same object, or its larger form (number -> list -> bits). */
  private grown(p: Posting, doc: number): Posting {
    if (typeof p === 'number') {
      if (p === doc) return p;
      const list = new IntList(4);
      list.push(p);
      list.push(doc);
      return list;
    }
    if (p instanceof Bits) {
      p.add(doc);
      return p;
    }
    if (p.last() === doc) return p;
    p.push(doc);
    if (p.n >= BITS_MIN && p.n * 32 > doc) {
      const bits = new Bits();
      for (let i = 0; i < p.n; i++) bits.add(p.a[i]!);
      return bits;
    }
    return p;
  }

  get termCount(): number {
    return this.dict.size;
  }

  /** Every term, in ordinal order (decoded once; terms added since are appended). */
  terms(): readonly string[] {
    const cache = this.termCache;
    for (let o = cache.length; o < this.dict.size; o++) cache.push(this.dict.term(o));
    return cache;
  }

  /** The term of one ordinal, without decoding the others (a field of values unique to a document has a million). */
  term(ord: number): string {
    return ord < this.termCache.length ? this.termCache[ord]! : this.dict.term(ord);
  }

  addNumber(doc: number, v: number): void {
    this.hasNumbers = true;
    this.nums = ensureFloat64(this.nums, doc);
    const cur = this.nums[doc]!;
    if (Number.isNaN(cur)) this.nums[doc] = v;
    else {
      const more = this.multiNums.get(doc);
      if (more) more.push(v);
      else this.multiNums.set(doc, [v]);
    }
    this.tailVals.push(v);
    this.tailDocs.push(doc);
  }

  addIp(doc: number, key: string): void {
    this.hasIps = true;
    this.ip4 = ensureFloat64(this.ip4, doc);
    if (Number.isNaN(this.ip4[doc]!) && !this.ipOther.has(doc) && key.startsWith(V4_MAPPED)) {
      this.ip4[doc] = parseInt(key.slice(24), 16);
      return;
    }
    const more = this.ipOther.get(doc);
    if (more) more.push(key);
    else this.ipOther.set(doc, [key]);
  }

  /** Doc numbers of a term's posting (dead ones included; the engine filters). */
  postingOf(term: string): Posting | undefined {
    const ord = this.dict.find(term);
    return ord < 0 ? undefined : this.postings[ord];
  }

  /** The doc's term values in the order they were indexed (keyword / boolean doc values). */
  termValues(doc: number): string[] {
    const ord = doc < this.ords.length ? this.ords[doc]! : -1;
    if (ord === -1) return [];
    const more = this.multiOrds.get(doc);
    if (!more) return [this.term(ord)];
    return [this.term(ord), ...more.map((o) => this.term(o))];
  }

  /** The first term ordinal of a doc, or -1; `multi` says whether it has more (terms aggregation fast path). */
  ordOf(doc: number): number {
    return doc < this.ords.length ? this.ords[doc]! : -1;
  }

  moreOrds(doc: number): number[] | undefined {
    return this.multiOrds.get(doc);
  }

  numbers(doc: number): number[] {
    const v = doc < this.nums.length ? this.nums[doc]! : NaN;
    if (Number.isNaN(v)) return [];
    const more = this.multiNums.get(doc);
    return more ? [v, ...more] : [v];
  }

  /** First numeric value of a doc, NaN when none (aggregation fast path); moreNumbers for the rest. */
  firstNumber(doc: number): number {
    return doc < this.nums.length ? this.nums[doc]! : NaN;
  }

  moreNumbers(doc: number): number[] | undefined {
    return this.multiNums.get(doc);
  }

  ips(doc: number): string[] {
    const v = doc < this.ip4.length ? this.ip4[doc]! : NaN;
    const more = this.ipOther.get(doc);
    if (Number.isNaN(v)) return more ?? [];
    const key = V4_MAPPED + v.toString(16).padStart(8, '0');
    return more ? [key, ...more] : [key];
  }

  /** Docs having any ip value, ascending (scans; CIDR and ip ranges). */
  forEachIp(fn: (doc: number, keys: string[]) => void): void {
    const col = this.ip4;
    let end = col.length - 1;
    for (const d of this.ipOther.keys()) if (d > end) end = d;
    for (let doc = 0; doc <= end; doc++) {
      if ((doc < col.length && !Number.isNaN(col[doc]!)) || this.ipOther.has(doc)) fn(doc, this.ips(doc));
    }
  }

  /**
   * Calls fn for every (doc, value) with lo <= value <= hi (bounds inclusive; the caller narrows
   * strict bounds). A doc with several values in range is reported once per value.
   */
  numberRange(lo: number, hi: number, fn: (doc: number) => void): void {
    this.mergeTail();
    const vals = this.sortedVals;
    const docs = this.sortedDocs;
    let a = 0;
    let b = vals.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (vals[m]! < lo) a = m + 1;
      else b = m;
    }
    for (let i = a; i < vals.length && vals[i]! <= hi; i++) fn(docs[i]!);
  }

  /**
   * Folds the tail into the sorted run. Appends in order (the usual case: timestamps arrive
   * ascending) cost one copy; otherwise the tail is sorted and merged, O(n + t log t).
   */
  private mergeTail(): void {
    const t = this.tailDocs.n;
    if (t === 0) return;
    const tv = this.tailVals.a;
    const td = this.tailDocs.a;
    const perm = new Uint32Array(t);
    let ordered = true;
    for (let i = 0; i < t; i++) {
      perm[i] = i;
      if (i > 0 && tv[i - 1]! > tv[i]!) ordered = false;
    }
    if (!ordered) perm.sort((x, y) => tv[x]! - tv[y]! || td[x]! - td[y]!);
    const n = this.sortedVals.length;
    const vals = new Float64Array(n + t);
    const docs = new Int32Array(n + t);
    const sv = this.sortedVals;
    const sd = this.sortedDocs;
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < n && j < t) {
      const p = perm[j]!;
      if (sv[i]! <= tv[p]!) {
        vals[k] = sv[i]!;
        docs[k++] = sd[i++]!;
      } else {
        vals[k] = tv[p]!;
        docs[k++] = td[p]!;
        j++;
      }
    }
    while (i < n) {
      vals[k] = sv[i]!;
      docs[k++] = sd[i++]!;
    }
    while (j < t) {
      const p = perm[j++]!;
      vals[k] = tv[p]!;
      docs[k++] = td[p]!;
    }
    this.sortedVals = vals;
    this.sortedDocs = docs;
    this.tailVals.n = 0;
    this.tailDocs.n = 0;
  }

  // ---- read methods added for the query side (search.ts, query.ts)

  /** How many (doc, value) pairs have lo <= value <= hi: two binary searches (a range's cost, before running it). */
  countInRange(lo: number, hi: number): number {
    this.mergeTail();
    const vals = this.sortedVals;
    const lower = (x: number, strict: boolean) => {
      let a = 0;
      let b = vals.length;
      while (a < b) {
        const m = (a + b) >>> 1;
        if (strict ? vals[m]! <= x : vals[m]! < x) a = m + 1;
        else b = m;
      }
      return a;
    };
    return Math.max(0, lower(hi, true) - lower(lo, false));
  }

  /** Every (value, doc) pair sorted by value, dead docs included: what a sort on the field walks from either end. */
  sortedRun(): { vals: Float64Array; docs: Int32Array } {
    this.mergeTail();
    return { vals: this.sortedVals, docs: this.sortedDocs };
  }

  /** Whether any document has more than one numeric value (else firstNumber is each doc's only value). */
  hasMultiNumbers(): boolean {
    return this.multiNums.size > 0;
  }
}
