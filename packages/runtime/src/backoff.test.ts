import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptsLeft, kafkajsRetry, retriesStatus, retryDelay, retryPolicy, RETRY_POLICIES, type RetryPolicy } from './backoff.js';

const policies = Object.entries(RETRY_POLICIES) as Array<[string, RetryPolicy]>;

test('retryDelay: the ceiling doubles from initialMs to maxMs; full jitter draws under it; minMs is a floor', () => {
  const p = retryPolicy(RETRY_POLICIES.spoolDrain, {}); // 200 ms doubling to 5 s, floor 100 ms
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 40].map((a) => retryDelay(p, a, () => 1)),
    [200, 400, 800, 1_600, 3_200, 5_000, 5_000],
  );
  assert.equal(
    retryDelay(p, 3, () => 0),
    100,
    'the floor under a zero draw',
  );
  assert.equal(
    retryDelay(p, 3, () => 0.5),
    800,
  );
  const fixed = RETRY_POLICIES.follower;
  assert.deepEqual(
    [0, 1, 9].map((a) => retryDelay(fixed, a, () => 0)),
    [5_000, 5_000, 5_000],
    'no jitter: the ceiling itself',
  );
});

test('every policy, every attempt, any draw: a finite delay within [minMs, max(minMs, maxMs)]', () => {
  let seed = 7;
  const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  for (const [name, p] of policies) {
    for (const attempt of [-1, 0, 1, 2, 7, 31, 1_000, Number.MAX_SAFE_INTEGER]) {
      for (let i = 0; i < 50; i++) {
        const d = retryDelay(p, attempt, random);
        assert.ok(Number.isFinite(d) && d >= p.minMs && d <= Math.max(p.minMs, p.maxMs), `${name} attempt ${attempt}: ${d}`);
      }
    }
    assert.ok(p.attempts >= 1 && p.initialMs <= Math.max(p.maxMs, p.initialMs) && p.minMs <= Math.max(p.minMs, p.maxMs), name);
  }
});

test('retriesStatus: single statuses and ranges; 2xx and other 4xx never retried by any policy', () => {
  const web = RETRY_POLICIES.webhookDelivery;
  for (let s = 100; s < 600; s++) {
    const expected = s === 408 || s === 425 || s === 429 || s >= 500;
    assert.equal(retriesStatus(web, s), expected, `webhook ${s}`);
    assert.equal(retriesStatus(RETRY_POLICIES.indexerBulkItem, s), s === 429 || s >= 500, `bulk item ${s}`);
    if (s < 300 || (s >= 400 && ![408, 425, 429].includes(s) && s < 500))
      for (const [name, p] of policies) assert.equal(retriesStatus(p, s), false, `${name} ${s}`);
  }
});

test('attempts: attemptsLeft counts the first attempt; kafkajs counts retries', () => {
  const p = retryPolicy(RETRY_POLICIES.webhookDelivery, { attempts: 3 });
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => attemptsLeft(p, n)),
    [true, true, true, false],
  );
  assert.equal(attemptsLeft(RETRY_POLICIES.consumerBatch, 1e9), true, 'Infinity: until stopped');
  assert.deepEqual(kafkajsRetry(RETRY_POLICIES.kafkaClient), { initialRetryTime: 100, maxRetryTime: 5_000, retries: 5 });
  assert.equal(retryPolicy(p, { maxMs: undefined }).maxMs, p.maxMs, 'an unset override keeps the default');
});
