// The benchmark's percentiles: nearest rank over what was observed, and an event that never
// happened (a probe never found, an alert never raised) is infinitely late, never left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, summarize } from './stats.js';

test('percentiles are nearest-rank: p of n values is the ceil(p/100*n)-th smallest, whatever the order given', () => {
  for (let i = 0; i < 200; i++) {
    const n = 1 + Math.floor(Math.random() * 300);
    const values = Array.from({ length: n }, () => Math.round(Math.random() * 10_000) / 10);
    const sorted = [...values].sort((a, b) => a - b);
    const d = summarize(values);
    assert.equal(d.n, n);
    assert.equal(d.p50, sorted[Math.ceil(0.5 * n) - 1]);
    assert.equal(d.p99, sorted[Math.ceil(0.99 * n) - 1]);
    assert.equal(d.max, sorted[n - 1]);
    assert.equal(percentile(sorted, 100), sorted[n - 1]);
    assert.equal(percentile(sorted, 0), sorted[0]);
  }
  assert.deepEqual(summarize([]), { n: 0, unresolved: 0, p50: null, p99: null, max: null });
});

test('what never happened counts: above 1 % of never, the p99 is unbounded', () => {
  const found = Array.from({ length: 98 }, (_, i) => i + 1);
  const d = summarize([...found, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
  assert.equal(d.unresolved, 2);
  assert.equal(d.p99, Number.POSITIVE_INFINITY);
  assert.equal(d.p50, 50);
  const one = summarize([...Array.from({ length: 99 }, (_, i) => i + 1), Number.POSITIVE_INFINITY]);
  assert.equal(one.p99, 99);
  assert.equal(one.max, Number.POSITIVE_INFINITY);
});
