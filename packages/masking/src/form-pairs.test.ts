/**
 * mapFormPairs must write what `s.split('&')`, empty pairs left out, each pair kept, replaced or
 * dropped, then `join('&')` writes (how mask() rebuilt query strings and form bodies before it).
 * Generated texts: pairs with and without `=`, several `=`, empty pairs (leading, trailing, `&&`),
 * percent-escapes; the decision for a pair is drawn from its content and position, so both
 * implementations are asked the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapFormPairs } from './form-pairs.js';

let seed = 20261205;
const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
const ATOMS = ['a', 'b', 'token', '=', '=', '&', '&', '&&', '%20', '+', 'x=1', '', 'é', '😀', '=='];
const gen = () => Array.from({ length: rand(12) }, () => ATOMS[rand(ATOMS.length)]!).join('');

/** The decision for the i-th non-empty pair: keep (null), drop (undefined), or replace. */
const decide = (pair: string, i: number, mode: number): string | null | undefined => {
  const d = mode === 0 ? 0 : mode === 1 ? 1 : (pair.length * 7 + i * 3) % 5;
  return d <= 1 ? null : d === 2 ? undefined : d === 3 ? `R${i}=${pair.length}` : pair.toUpperCase();
};

const reference = (s: string, mode: number): string => {
  const out: string[] = [];
  let i = 0;
  for (const pair of s.split('&')) {
    if (pair === '') continue;
    const piece = decide(pair, i++, mode);
    if (piece === null) out.push(pair);
    else if (piece !== undefined) out.push(piece);
  }
  return out.join('&');
};

test('mapFormPairs writes what split / map / join writes, with each pair and its first = as split finds them', () => {
  let cases = 0;
  for (let n = 0; n < 6000; n++) {
    const s = gen();
    for (const mode of [0, 1, 2]) {
      let i = 0;
      const got = mapFormPairs(s, (src, start, eq, end) => {
        assert.equal(src, s);
        const pair = s.slice(start, end);
        assert.ok(pair !== '' && !pair.includes('&'), JSON.stringify({ s, start, end }));
        assert.equal(eq < 0 ? -1 : eq - start, pair.indexOf('='), JSON.stringify({ s, start, eq }));
        return decide(pair, i++, mode);
      });
      assert.equal(got, reference(s, mode), JSON.stringify({ s, mode }));
      cases++;
    }
  }
  assert.ok(cases >= 18_000);
});

test('mapFormPairs returns the text itself when every pair is kept and none is empty', () => {
  const s = 'page=1&access_token=abc&sort=desc';
  assert.equal(
    mapFormPairs(s, () => null),
    s,
  );
  assert.equal(
    mapFormPairs('&a=1&&b&', () => null),
    'a=1&b',
  );
  assert.equal(
    mapFormPairs('a=1&b=2', () => undefined),
    '',
  );
});
