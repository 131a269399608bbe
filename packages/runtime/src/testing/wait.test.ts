import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from './wait.js';

test('until resolves with the first value that is not undefined, null or false, and stops checking', async () => {
  for (const misses of [0, 1, 5]) {
    for (const hit of [0, '', true, 'ready', { n: 1 }, [0]] as const) {
      let calls = 0;
      const sequence: unknown[] = [...Array.from({ length: misses }, (_, i) => [undefined, null, false][i % 3]), hit, 'after'];
      const v = await until('a value', async () => sequence[calls++] as typeof hit | undefined, { intervalMs: 1 });
      assert.deepEqual(v, hit, `after ${misses} misses`);
      assert.equal(calls, misses + 1, 'no check after the value came');
    }
  }
});

test('a check that throws is "not yet"; on timeout the error names what was awaited and carries the last error', async () => {
  let calls = 0;
  const v = await until(
    'recovers',
    () => {
      if (++calls < 3) throw new Error('not there yet');
      return calls;
    },
    { intervalMs: 1 },
  );
  assert.equal(v, 3);

  const cause = new Error('index_not_found_exception');
  await assert.rejects(
    until(
      'the document indexed',
      () => {
        throw cause;
      },
      { timeoutMs: 20, intervalMs: 1 },
    ),
    (err: Error) => {
      assert.match(err.message, /waiting for the document indexed \(last check threw: index_not_found_exception\)/);
      assert.equal(err.cause, cause);
      return true;
    },
  );
  await assert.rejects(
    until('never', () => false, 20),
    (err: Error) => /timed out after 20 ms waiting for never$/.test(err.message) && err.cause === undefined,
  );
});
