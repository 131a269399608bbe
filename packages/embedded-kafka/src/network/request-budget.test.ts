import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestBudget } from './request-budget.js';

// queued.max.requests / queued.max.request.bytes: what is held never exceeds the bounds (but
// for a lone oversized request), waiters are served in arrival order, and nothing leaks.

test('generated reserve/release sequences keep within the bounds and wake waiters in order', () => {
  for (let round = 0; round < 300; round++) {
    let s = round + 7;
    const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const maxBytes = 100 + Math.floor(rnd() * 1000);
    const maxRequests = 1 + Math.floor(rnd() * 5);
    const budget = new RequestBudget(maxBytes, maxRequests);
    const held: number[] = [];
    const woken: number[] = [];
    const queued: number[] = [];
    let id = 0;
    for (let step = 0; step < 200; step++) {
      if (rnd() < 0.55) {
        const size = 1 + Math.floor(rnd() * maxBytes * 1.5);
        const me = id++;
        const wake = () => {
          woken.push(me);
          held.push(size);
        };
        if (budget.reserve(size, wake)) held.push(size);
        else queued.push(me);
      } else if (held.length > 0) {
        budget.release(held.splice(Math.floor(rnd() * held.length), 1)[0]!);
      }
      const st = budget.stats;
      assert.equal(st.inFlightRequests, held.length);
      assert.equal(
        st.reservedBytes,
        held.reduce((a, b) => a + b, 0),
      );
      if (held.length > 1) {
        assert.ok(st.reservedBytes <= maxBytes, `round ${round}: ${st.reservedBytes} > ${maxBytes}`);
        assert.ok(st.inFlightRequests <= maxRequests);
      }
    }
    assert.deepEqual(woken, queued.slice(0, woken.length), 'woken in arrival order');
    while (held.length > 0) budget.release(held.pop()!);
    assert.equal(budget.stats.reservedBytes, 0);
  }
});
