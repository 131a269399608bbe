/**
 * The last `cap` event ids a detector state ran, for deduplication: a Set for lookups and a ring
 * for age order (the oldest id is dropped when a new one comes and the ring is full). Bounded by
 * count, not time: the copies it exists for (a crashed upstream stage re-producing what it had not
 * committed) arrive within a batch or two of the originals.
 *
 * Persistence is cheap on purpose: ids added since the last drain are journaled as one list per
 * batch (not one change record per id: a change record per event halved the service's throughput),
 * and a snapshot holds the ring oldest first.
 */
export class RecentIds {
  private readonly set = new Set<string>();
  private readonly ring: (string | undefined)[];
  private head = 0;
  private pending: string[] = [];

  constructor(readonly cap: number) {
    this.ring = new Array<string | undefined>(Math.max(1, cap));
  }

  get size(): number {
    return this.set.size;
  }

  has(id: string): boolean {
    return this.set.has(id);
  }

  add(id: string, record = true): void {
    if (this.cap <= 0 || this.set.has(id)) return;
    const old = this.ring[this.head];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.head] = id;
    this.head = (this.head + 1) % this.ring.length;
    this.set.add(id);
    if (record) this.pending.push(id);
  }

  /** Ids added since the last drain (or dump), oldest first. */
  drain(): string[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Every id held, oldest first; what was pending is now covered. */
  dump(): string[] {
    this.pending = [];
    const out: string[] = [];
    for (let i = 0; i < this.ring.length; i++) {
      const id = this.ring[(this.head + i) % this.ring.length];
      if (id !== undefined) out.push(id);
    }
    return out;
  }

  /** Re-adds ids from a snapshot or journal (not recorded as new). */
  load(ids: unknown): void {
    if (!Array.isArray(ids)) return;
    for (const id of ids) if (typeof id === 'string') this.add(id, false);
  }
}
