/**
 * The term dictionary (term-dict.ts) against a Map of term -> ordinal in insertion order, the plain
 * dictionary it replaced: generated terms (repeated and unique, empty, one-byte ASCII and Latin-1, hex digits packed or not,
 * wider code units, surrogate pairs, terms that share prefixes or differ in their last unit) interned
 * and looked up in any order, with the move from the Map into the arena at several points (before the
 * first term, mid-stream, never), must give the same ordinals, the same answers for absent terms and
 * the same term back for every ordinal, through the table's growth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashOf, TermDict } from './term-dict.js';
import { rng } from '@jwt-audit/runtime/testing/prng';

const UNITS = ['a', 'b', 'z', '0', '9', '-', '.', ' ', 'é', 'ÿ', '\u0080', '\u00ff', '\u0100', '東', '€', '\ud83d\ude00', '\u0000'];

function term(r: ReturnType<typeof rng>): string {
  switch (r.int(5)) {
    case 0:
      return `jti-${r.int(1e9)}`;
    case 1:
      // hex at and around the packed form's bounds: 16 digits, 15, upper case, a non-digit last
      return r.pick([
        '',
        'a',
        'user-1',
        'user-2',
        'Straße',
        '東京',
        'x'.repeat(40),
        'ab',
        'ba',
        '0123456789abcdef',
        '0123456789abcde',
        '0123456789ABCDEF',
        '0123456789abcdeg',
        `${r.int(1e9).toString(16).padStart(8, '0')}${'f'.repeat(8 + 2 * r.int(3))}`,
      ]);
    case 2:
      return (r.int(2 ** 31) * 2654435761).toString(16).padStart(64, '0');
    default: {
      let s = '';
      for (let k = r.int(30); k > 0; k--) s += r.pick(UNITS);
      return s;
    }
  }
}

for (const arenaAfter of [0, 1, 100, 5000, Infinity]) {
  test(`the term dictionary gives a Map's ordinals and terms back (the arena after ${arenaAfter} terms)`, () => {
    const r = rng(7 + (arenaAfter === Infinity ? 1 : arenaAfter));
    const dict = new TermDict(arenaAfter);
    const model = new Map<string, number>();
    const seen: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const t = seen.length > 0 && r.int(3) === 0 ? r.pick(seen) : term(r);
      if (r.int(4) === 0) {
        // a lookup that adds nothing, present or absent
        assert.equal(dict.find(t), model.get(t) ?? -1, JSON.stringify(t));
        continue;
      }
      let ord = model.get(t);
      if (ord === undefined) {
        model.set(t, (ord = model.size));
        seen.push(t);
      }
      assert.equal(dict.intern(t), ord, JSON.stringify(t));
      assert.equal(dict.size, model.size);
    }
    // both branches of the generator: terms that repeat and terms that do not
    assert.ok(model.size > 5_000 && model.size < 25_000, `terms ${model.size}`);
    for (const [t, ord] of model) {
      assert.equal(dict.term(ord), t);
      assert.equal(dict.find(t), ord);
    }
    for (let i = 0; i < 2_000; i++) {
      const t = term(r);
      assert.equal(dict.find(t), model.get(t) ?? -1, JSON.stringify(t));
    }
  });
}

/**
 * Pairs of distinct terms of one length with the same 31-bit hash, found by generating terms until
 * enough collide (~1M terms of one length give hundreds of pairs): the only inputs on which the
 * arena's lookup has to compare bytes after a hash match, which generated terms almost never reach.
 */
function collisions(gen: (i: number) => string, want: number): Array<[string, string]> {
  const seen = new Map<number, string>();
  const out: Array<[string, string]> = [];
  for (let i = 0; out.length < want && i < 1 << 22; i++) {
    const s = gen(i);
    const h = hashOf(s);
    const other = seen.get(h);
    if (other === undefined) seen.set(h, s);
    else if (other !== s) out.push([other, s]);
  }
  assert.equal(out.length, want, 'enough colliding pairs were found');
  return out;
}

test('terms that share a hash stay distinct terms in the arena (one-byte and packed hex)', () => {
  const oneByte = collisions((i) => `user-${i.toString(36).padStart(6, '0')}`, 40);
  // 16 hex digits: the packed form
  const hex = collisions((i) => ((BigInt(i) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn).toString(16).padStart(16, '0'), 40);
  for (const pairs of [oneByte, hex]) {
    const dict = new TermDict(0);
    for (const [a, b] of pairs) {
      assert.equal(hashOf(a), hashOf(b));
      assert.equal(dict.find(b), -1, `${b} absent while only ${a} could be`);
      const ordA = dict.intern(a);
      assert.equal(dict.find(b), -1, `${b} absent after ${a} (same hash)`);
      const ordB = dict.intern(b);
      assert.notEqual(ordA, ordB);
      assert.equal(dict.intern(a), ordA);
      assert.equal(dict.intern(b), ordB);
      assert.equal(dict.find(a), ordA);
      assert.equal(dict.find(b), ordB);
      assert.equal(dict.term(ordA), a);
      assert.equal(dict.term(ordB), b);
    }
    assert.equal(dict.size, pairs.length * 2);
  }
});
