/**
 * Bounded keyed state for one rule: a Map kept in least-recently-written order (a write moves
 * the key to the end), so both bounds are cheap:
 *   - size: more than `maxKeys` keys evicts from the front (least recently written);
 *   - age: each entry has an expiry in *event time*; `sweep(watermark)` drops expired entries
 *     from the front, and `get` ignores an expired entry it meets anywhere.
 * Event time rather than the wall clock, so replaying the same events gives the same state and
 * the same alerts (tests, restarts). Every write and eviction is recorded as a change, so the
 * owner can persist exactly what changed since the last drain (the service's journal).
 *
 * Not lru-cache: its TTLs run on a performance.now() clock, and we need event-time expiry plus
 * the change feed; the structure is a Map and a few lines.
 */
export interface Slot<E> {
  v: E;
  /** expires at (event time, ms) */
  x: number;
}

export type StoreDump<E> = Array<[key: string, value: E, expiresAt: number]>;

export class KeyedStore<E> {
  private readonly map = new Map<string, Slot<E>>();
  private readonly changed = new Set<string>();
  evictions = 0;

  constructor(readonly maxKeys: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string, now: number): E | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    if (slot.x <= now) {
      this.map.delete(key);
      this.changed.add(key);
      return undefined;
    }
    return slot.v;
  }

  /** Writes a key; `move` (default) makes it the most recently written. */
  set(key: string, value: E, expiresAt: number, move = true): void {
    const slot = this.map.get(key);
    if (slot !== undefined) {
      slot.v = value;
      slot.x = expiresAt;
      if (move) {
        this.map.delete(key);
        this.map.set(key, slot);
      }
    } else {
      this.map.set(key, { v: value, x: expiresAt });
      if (this.map.size > this.maxKeys) this.evictFront(1);
    }
    this.changed.add(key);
  }

  delete(key: string): void {
    if (this.map.delete(key)) this.changed.add(key);
  }

  /** Drops expired entries from the least recently written end; at most `limit` per call (amortised). */
  sweep(watermark: number, limit = 64): number {
    let n = 0;
    for (const [key, slot] of this.map) {
      if (n >= limit || slot.x > watermark) break;
      this.map.delete(key);
      this.changed.add(key);
      n++;
    }
    return n;
  }

  private evictFront(count: number): void {
    for (const key of this.map.keys()) {
      if (count-- <= 0) break;
      this.map.delete(key);
      this.changed.add(key);
      this.evictions++;
    }
  }

  /** Keys written or removed since the last drain, with their current value (undefined = removed). */
  drainChanges(): Array<[key: string, slot: Slot<E> | undefined]> {
    const out: Array<[string, Slot<E> | undefined]> = [];
    for (const key of this.changed) out.push([key, this.map.get(key)]);
    this.changed.clear();
    return out;
  }

  /** Re-applies a change (journal replay); does not record it as a new change. */
  apply(key: string, slot: Slot<E> | undefined): void {
    this.map.delete(key);
    if (slot !== undefined) this.map.set(key, { v: slot.v, x: slot.x });
  }

  entries(): IterableIterator<[string, Slot<E>]> {
    return this.map.entries();
  }

  dump(): StoreDump<E> {
    const out: StoreDump<E> = [];
    for (const [key, slot] of this.map) out.push([key, slot.v, slot.x]);
    return out;
  }

  load(dump: StoreDump<E>): void {
    this.map.clear();
    for (const [key, value, x] of dump) this.map.set(key, { v: value, x });
    this.changed.clear();
  }
}
