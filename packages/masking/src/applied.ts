/**
 * The rules applied to one event, in the order first applied, each once: what a `Set<string>`
 * gave, without its hash table. An event applies a dozen or so rules, and the Set's table,
 * grown and rehashed as they came, then copied into an array for sorting, was ~0.55 KB of the
 * ~8.4 KB `mask()` allocates per event (sampling heap profile); a short array searched in place
 * costs one backing store. Past `SET_FROM` distinct rules (attribute keys come from outside, so
 * an event can carry thousands) membership moves to a Set, so a large event stays linear.
 * applied.test.ts drives it and a Set with the same generated operations.
 */
export const SET_FROM = 32;

export class Applied {
  /** The rules in the order first added; read it, do not change it (sort it once done). */
  readonly items: string[] = [];
  private set: Set<string> | null = null;

  add(rule: string): void {
    const items = this.items;
    if (this.set !== null) {
      if (this.set.has(rule)) return;
      this.set.add(rule);
      items.push(rule);
      return;
    }
    for (let i = 0; i < items.length; i++) if (items[i] === rule) return;
    items.push(rule);
    if (items.length > SET_FROM) this.set = new Set(items);
  }

  get size(): number {
    return this.items.length;
  }

  /** Forgets every rule added after the first `size` (a scan that is given up). */
  truncate(size: number): void {
    if (size >= this.items.length) return;
    this.items.length = size;
    this.set = size > SET_FROM ? new Set(this.items) : null;
  }
}
