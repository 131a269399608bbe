/**
 * The per-field structures of an IndexEngine, columnar and in typed arrays:
 *   - postings: term -> ordinal (one Map per field), ordinal -> doc numbers ascending; a term held
 *     by one document keeps that doc number as a plain number, a second document turns it into an
 *     IntList (Int32Array). A Set per term cost ~100 bytes per entry and most of the indexing time.
 *   - keyword doc values: doc number -> term ordinal (Int32Array, -1 = none), the rare document
 *     with several values in a side map; terms aggregations and keyword sorts read these instead of
 *     parsing sources.
 *   - numeric doc values: doc number -> value (Float64Array, NaN = none), several values in a side
 *     map; plus a sorted (value, doc) run with an unsorted tail, merged at query time, so a range
 *     is two binary searches instead of a scan of every document.
 *   - ip doc values: doc number -> 32-hex-digit key (values.ts ipSortKey).
 *   - presence: doc numbers that have the field (`exists`).
 * Doc numbers only grow (a replaced document gets a new number, as in Lucene), so every list is
 * appended in ascending order; deleted numbers are filtered through the engine's live bitmap.
 */

/** A growable list of int32, appended in ascending order. */
export class IntList {
  a: Int32Array;
  n = 0;
  constructor(capacity = 4) {
    this.a = new Int32Array(capacity);
  }
  push(v: number): void {
    if (this.n === this.a.length) {
      const next = new Int32Array(this.a.length * 2);
      next.set(this.a);
      this.a = next;
    }
    this.a[this.n++] = v;
  }
  last(): number {
    return this.n > 0 ? this.a[this.n - 1]! : -1;
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
  while (len <= i) len *= 2;
  const next = new Int32Array(len).fill(fill);
  next.set(col);
  return next;
}

function ensureFloat64(col: Float64Array<ArrayBuffer>, i: number): Float64Array<ArrayBuffer> {
  if (i < col.length) return col;
  let len = Math.max(16, col.length);
  while (len <= i) len *= 2;
  const next = new Float64Array(len).fill(NaN);
  next.set(col);
  return next;
}

export type Posting = number | IntList;

export class FieldData {
  // ---- inverted index
  readonly dict = new Map<string, number>();
  readonly terms: string[] = [];
  readonly postings: Posting[] = [];
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
  // ---- ip doc values
  private ipKeys: (string | string[] | undefined)[] = [];
  hasIps = false;
  // ---- presence
  readonly present = new IntList(16);

  markPresent(doc: number): void {
    if (this.present.last() !== doc) this.present.push(doc);
  }

  /** Adds `doc` to the posting of `term`; `docValue` also records the ordinal as its doc value. */
  addTerm(doc: number, term: string, docValue: boolean): void {
    let ord = this.dict.get(term);
    if (ord === undefined) {
      ord = this.terms.length;
      this.dict.set(term, ord);
      this.terms.push(term);
      this.postings.push(doc);
    } else {
      const p = this.postings[ord]!;
      if (typeof p === 'number') {
        if (p !== doc) {
          const list = new IntList(4);
          list.push(p);
          list.push(doc);
          this.postings[ord] = list;
        }
      } else if (p.last() !== doc) p.push(doc);
    }
    if (!docValue) return;
    this.ords = ensureInt32(this.ords, doc, -1);
    const cur = this.ords[doc]!;
    if (cur === -1) this.ords[doc] = ord;
    else if (cur !== ord) {
      const more = this.multiOrds.get(doc);
      if (!more) this.multiOrds.set(doc, [ord]);
      else if (!more.includes(ord)) more.push(ord);
    }
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
    const cur = this.ipKeys[doc];
    if (cur === undefined) this.ipKeys[doc] = key;
    else if (typeof cur === 'string') this.ipKeys[doc] = [cur, key];
    else cur.push(key);
  }

  /** Doc numbers of a term's posting (dead ones included; the engine filters). */
  postingOf(term: string): Posting | undefined {
    const ord = this.dict.get(term);
    return ord === undefined ? undefined : this.postings[ord];
  }

  /** The doc's term values in the order they were indexed (keyword / boolean doc values). */
  termValues(doc: number): string[] {
    const ord = doc < this.ords.length ? this.ords[doc]! : -1;
    if (ord === -1) return [];
    const more = this.multiOrds.get(doc);
    if (!more) return [this.terms[ord]!];
    return [this.terms[ord]!, ...more.map((o) => this.terms[o]!)];
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
    const v = this.ipKeys[doc];
    return v === undefined ? [] : typeof v === 'string' ? [v] : v;
  }

  /** Docs having any ip value (scans; CIDR and ip ranges). */
  forEachIp(fn: (doc: number, keys: string[]) => void): void {
    this.ipKeys.forEach((v, doc) => {
      if (v !== undefined) fn(doc, typeof v === 'string' ? [v] : v);
    });
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
}
