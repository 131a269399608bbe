/**
 * The pairs of an application/x-www-form-urlencoded text (a query string, a form body) mapped
 * one by one, as `s.split('&')`, empty pairs left out, each kept, replaced or dropped, then
 * `join('&')`, without the array of pairs, the array of pieces and the joined copy: a run of
 * pairs kept as they are is one slice of `s` (all of them: `s` itself). The split and the join
 * were ~0.7 KB of the ~7 KB `mask()` allocates per event (sampling heap profile).
 * form-pairs.test.ts compares it with split / map / join on generated texts.
 *
 * `each(s, start, eq, end)` is given the pair `s[start, end)` (never empty) and its first `=`
 * (`eq`, or -1); it returns null to keep the pair's bytes, a string to write instead, or
 * undefined to drop the pair.
 */
export type FormPair = (s: string, start: number, eq: number, end: number) => string | null | undefined;

export function mapFormPairs(s: string, each: FormPair): string {
  /** The pieces before the pending run, joined by `&`. */
  let out: string | null = null;
  /** The pending run of kept pairs, s[from, to); from -1: none. */
  let from = -1;
  let to = -1;
  /** The next `=` at or after the current pair (found once per `=`, so a text without any is scanned once). */
  let nextEq = -1;
  for (let start = 0; start <= s.length; ) {
    let end = s.indexOf('&', start);
    if (end < 0) end = s.length;
    if (end > start) {
      if (nextEq !== s.length && nextEq < start) {
        nextEq = s.indexOf('=', start);
        if (nextEq < 0) nextEq = s.length;
      }
      const piece = each(s, start, nextEq < end ? nextEq : -1, end);
      if (piece === null) {
        if (from >= 0 && to + 1 === start) to = end;
        else {
          if (from >= 0) out = out === null ? s.slice(from, to) : `${out}&${s.slice(from, to)}`;
          from = start;
          to = end;
        }
      } else if (piece !== undefined) {
        if (from >= 0) {
          out = out === null ? s.slice(from, to) : `${out}&${s.slice(from, to)}`;
          from = -1;
        }
        out = out === null ? piece : `${out}&${piece}`;
      }
    }
    start = end + 1;
  }
  if (from >= 0) return out === null ? s.slice(from, to) : `${out}&${s.slice(from, to)}`;
  return out ?? '';
}
