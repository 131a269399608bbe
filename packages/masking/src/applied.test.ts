/**
 * Applied (the rules applied to an event) must keep what the Set it replaced kept: each rule
 * once, in the order first added, and after a truncate exactly the rules added before it. Generated
 * sequences of adds (repeats, near-repeats, rules built at run time so equal strings are not the
 * same object) and truncates are applied to an Applied and to a Set; the two are compared after
 * every operation, below and across the size where Applied moves membership to a Set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Applied, SET_FROM } from './applied.js';

let seed = 20261204;
const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;

/** A Set with Applied's truncate, as jsonOrLoose did it before: delete what came after. */
const truncateSet = (set: Set<string>, size: number) => {
  let i = 0;
  for (const r of [...set]) if (i++ >= size) set.delete(r);
};

test('Applied keeps what a Set of the same adds and truncates keeps, in order', () => {
  let ops = 0;
  for (let run = 0; run < 400; run++) {
    // vocabularies small (mostly repeats) to large (past SET_FROM distinct rules)
    const vocabulary = 1 + rand(run % 4 === 0 ? 4 * SET_FROM : SET_FROM);
    const applied = new Applied();
    const model = new Set<string>();
    const steps = 1 + rand(6 * SET_FROM);
    for (let s = 0; s < steps; s++, ops++) {
      if (rand(25) === 0) {
        const size = rand(model.size + 3);
        applied.truncate(size);
        truncateSet(model, size);
      } else {
        const n = rand(vocabulary);
        // built fresh each time: equal content, another string
        const rule = rand(2) === 0 ? `shape:field${n}:hash` : ['shape:', 'field', String(n), ':hash'].join('');
        applied.add(rule);
        model.add(rule);
      }
      assert.equal(applied.size, model.size);
      assert.deepEqual(applied.items, [...model], `run ${run} step ${s}`);
    }
  }
  assert.ok(ops > 10_000, `${ops} operations`);
});

test('Applied treats near-identical rules as distinct', () => {
  const applied = new Applied();
  for (const r of ['a:b:hash', 'a:b:hash ', 'A:b:hash', 'a:b:hash', 'a:b:has', '']) applied.add(r);
  assert.deepEqual(applied.items, ['a:b:hash', 'a:b:hash ', 'A:b:hash', 'a:b:has', '']);
});
