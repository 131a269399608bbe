/**
 * A field's term dictionary: term -> ordinal, ordinals given in insertion order (0, 1, 2, ...), no
 * term ever removed. It replaces a `Map<string, …>` per field because most of the node's memory
 * was the values that never repeat (event id, jti, fingerprint, source ip, as keyword and as text
 * tokens): a Map entry (~36 bytes with the table's slack) plus a JS string (16 bytes of header,
 * rounded up to 8) for each. Here a term costs its bytes and ~16 bytes of typed arrays:
 *   - bytes:  the terms one after another, one byte per UTF-16 code unit; start[ord] .. start[ord + 1]
 *   - hashes: the term's hash per ordinal (probe comparisons and rehashing read it, not the bytes);
 *             its lowest bit says the term is packed hex (below)
 *   - table:  open addressing with linear probing, ordinal + 1 per slot (0 = empty), at most half full
 * A term of lower-case hex digits, of even length and at least HEX_MIN (token fingerprints: SHA-256 as
 * 64 hex digits, held by the keyword and by its text token) is packed two digits to a byte.
 * A term with a code unit above 0xff (rare in audit events: non-Latin names, paths) cannot be one
 * byte per unit; it keeps a JS string in `wide` (ordinal -> term) and `wideOrd`, and an empty span in
 * the arena. Lookups hash the JS string's code units directly, so no bytes are made to look a term up.
 *
 * A dictionary starts as a Map (V8 caches a string's hash in the string, so a repeated value costs one
 * lookup: 4x faster than hashing its code units here) and moves into the arena once it holds
 * ARENA_AFTER terms, when its values are mostly ones that never repeat and memory is what matters.
 * Ordinals do not change on the move (the Map's order is insertion order).
 */

/** Terms a dictionary holds as a Map before it moves into the arena (fields of repeated values stay below it). */
const ARENA_AFTER = 8192;

/** Shortest hex term that is packed (shorter ones would save little). */
const HEX_MIN = 16;

/**
 * FNV-1a over UTF-16 code units with a final avalanche (murmur3 fmix32), bit 0 cleared (the stored
 * hash's bit 0 is the packed flag); the table is indexed by the bits above it.
 */
export function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return ((h ^ (h >>> 16)) & ~1) >>> 0;
}

const WIDE = 0;
const BYTES = 1;
const HEX = 2;
/** How a new term is stored: WIDE (a code unit above 0xff), HEX (packed) or BYTES (one byte per unit). */
function storageOf(s: string): number {
  let hex = s.length >= HEX_MIN && (s.length & 1) === 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return WIDE;
    if (hex && !((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) hex = false;
  }
  return hex ? HEX : BYTES;
}

/** The value of a hex digit's code (0-9, a-f), -1 otherwise. */
function nibble(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
}

export class TermDict {
  private bytes = new Uint8Array(256);
  private used = 0;
  /** start[ord] is where ord's bytes begin; start[size] is `used`. */
  private start = new Uint32Array(17);
  private hashes = new Uint32Array(16);
  private table = new Int32Array(32);
  private mask = 31;
  private n = 0;
  private wide: Map<number, string> | undefined;
  private wideOrd: Map<string, number> | undefined;
  /** The dictionary before it moves into the arena (undefined after): term -> ordinal, and ordinal -> term. */
  private map: Map<string, number> | undefined = new Map();
  private list: string[] | undefined = [];

  /** `arenaAfter` (tests): how many terms the Map holds before the move (Infinity: never). */
  constructor(private readonly arenaAfter = ARENA_AFTER) {}

  get size(): number {
    return this.n;
  }

  /** The ordinal of `term`, or -1. */
  find(term: string): number {
    if (this.map !== undefined) return this.map.get(term) ?? -1;
    const ord = this.probe(term, hashOf(term));
    if (ord >= 0) return ord;
    return this.wideOrd?.get(term) ?? -1;
  }

  /** The ordinal of `term`, added with the next ordinal when new (`size` then grows by one). */
  intern(term: string): number {
    const map = this.map;
    if (map !== undefined) {
      const ord = map.get(term);
      if (ord !== undefined) return ord;
      if (this.n < this.arenaAfter) {
        map.set(term, this.n);
        this.list!.push(term);
        return this.n++;
      }
      this.toArena();
    }
    const h = hashOf(term);
    const found = this.probe(term, h);
    if (found >= 0) return found;
    if (this.wideOrd !== undefined) {
      const w = this.wideOrd.get(term);
      if (w !== undefined) return w;
    }
    // not found: probe() answered ~(the empty slot where the term goes)
    return this.add(term, h, ~found);
  }

  /** The term of an ordinal (a new string each call: callers that need many keep them, see terms() in columns.ts). */
  term(ord: number): string {
    if (this.list !== undefined) return this.list[ord]!;
    const a = this.start[ord]!;
    const b = this.start[ord + 1]!;
    if (a === b && this.wide !== undefined) {
      const w = this.wide.get(ord);
      if (w !== undefined) return w;
    }
    const bytes = this.bytes;
    if ((this.hashes[ord]! & 1) === 1) {
      const out = Buffer.allocUnsafe((b - a) * 2);
      for (let i = a, j = 0; i < b; i++) {
        const x = bytes[i]!;
        const hi = x >> 4;
        const lo = x & 15;
        out[j++] = hi < 10 ? 48 + hi : 87 + hi;
        out[j++] = lo < 10 ? 48 + lo : 87 + lo;
      }
      return out.toString('latin1');
    }
    if (b - a <= 24) {
      let s = '';
      for (let i = a; i < b; i++) s += String.fromCharCode(bytes[i]!);
      return s;
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset + a, b - a).toString('latin1');
  }

  /** The ordinal of a one-byte `term` when present (>= 0), else ~(the empty slot it would take) (< 0). */
  private probe(term: string, h: number): number {
    const table = this.table;
    const mask = this.mask;
    const len = term.length;
    let i = (h >>> 1) & mask;
    for (;;) {
      const v = table[i]!;
      if (v === 0) return ~i;
      const ord = v - 1;
      const stored = this.hashes[ord]!;
      // equal but for bit 0, the packed flag (wide terms are not in the table)
      if ((stored ^ h) >>> 1 === 0) {
        const a = this.start[ord]!;
        const span = this.start[ord + 1]! - a;
        if ((stored & 1) === 0 ? span === len && this.same(term, a) : span * 2 === len && this.sameHex(term, a)) return ord;
      }
      i = (i + 1) & mask;
    }
  }

  private same(term: string, at: number): boolean {
    const bytes = this.bytes;
    for (let i = 0; i < term.length; i++) if (bytes[at + i] !== term.charCodeAt(i)) return false;
    return true;
  }

  private sameHex(term: string, at: number): boolean {
    const bytes = this.bytes;
    for (let i = 0; i < term.length; i += 2) {
      const x = bytes[at + (i >> 1)]!;
      if (nibble(term.charCodeAt(i)) !== x >> 4 || nibble(term.charCodeAt(i + 1)) !== (x & 15)) return false;
    }
    return true;
  }

  private add(term: string, h: number, slot: number): number {
    const ord = this.n++;
    if (ord + 1 >= this.start.length) this.start = grow32(this.start, ord + 2) as Uint32Array<ArrayBuffer>;
    if (ord >= this.hashes.length) this.hashes = grow32(this.hashes, ord + 1) as Uint32Array<ArrayBuffer>;
    const storage = storageOf(term);
    this.hashes[ord] = storage === HEX ? h | 1 : h;
    if (storage !== WIDE) {
      const need = storage === HEX ? term.length >> 1 : term.length;
      if (this.used + need > this.bytes.length) {
        let len = this.bytes.length;
        while (len < this.used + need) len = len < 1 << 24 ? len * 2 : len + (len >> 2);
        const next = new Uint8Array(len);
        next.set(this.bytes.subarray(0, this.used));
        this.bytes = next;
      }
      const bytes = this.bytes;
      let u = this.used;
      if (storage === HEX) for (let i = 0; i < term.length; i += 2) bytes[u++] = (nibble(term.charCodeAt(i)) << 4) | nibble(term.charCodeAt(i + 1));
      else for (let i = 0; i < term.length; i++) bytes[u++] = term.charCodeAt(i);
      this.used = u;
      this.table[slot] = ord + 1;
    } else {
      // kept as a string, found through wideOrd (not the table)
      (this.wide ??= new Map()).set(ord, term);
      (this.wideOrd ??= new Map()).set(term, ord);
    }
    this.start[ord + 1] = this.used;
    if (this.n * 2 > this.mask + 1) this.rehash();
    return ord;
  }

  /** Moves the Map's terms into the arena, in ordinal order. */
  private toArena(): void {
    const list = this.list!;
    this.map = undefined;
    this.list = undefined;
    this.n = 0;
    for (const term of list) {
      const h = hashOf(term);
      this.add(term, h, ~this.probe(term, h));
    }
  }

  private rehash(): void {
    const size = (this.mask + 1) * 2;
    const table = new Int32Array(size);
    const mask = size - 1;
    const wide = this.wide;
    for (let ord = 0; ord < this.n; ord++) {
      if (wide?.has(ord)) continue;
      let i = (this.hashes[ord]! >>> 1) & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = ord + 1;
    }
    this.table = table;
    this.mask = mask;
  }
}

/** A copy of `a` with room for `need` entries: doubling while small, then by a quarter (slack stays bounded). */
function grow32(a: Uint32Array, need: number): Uint32Array {
  let len = a.length;
  while (len < need) len = len < 65_536 ? len * 2 : len + (len >> 2);
  const next = new Uint32Array(len);
  next.set(a);
  return next;
}
