import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateIngestRequest } from './index.js';

const fp = 'a'.repeat(64);

test('a single valid lifecycle event and a batch are accepted', () => {
  const one = {
    type: 'token.issued',
    occurredAt: '2026-11-20T09:15:00Z',
    subject: 'alice',
    token: { jti: 'j1', fingerprint: fp, exp: 1795080600, aud: 'api' },
  };
  const r1 = validateIngestRequest(one);
  assert.ok(r1.ok);
  assert.equal(r1.events.length, 1);
  const r2 = validateIngestRequest({ events: [one, { type: 'subject.deprovisioned', occurredAt: '2026-11-20T09:16:00Z', subject: 'bob' }] });
  assert.ok(r2.ok);
  assert.equal(r2.events.length, 2);
});

test('errors name every bad field at once', () => {
  const r = validateIngestRequest({ type: 'token.refreshed', occurredAt: 'yesterday', token: { fingerprint: 'eyJraw.token.here' }, extra: 1 });
  assert.ok(!r.ok);
  const fields = r.errors.map((e) => e.field).sort();
  assert.deepEqual(fields, ['extra', 'occurredAt', 'token.fingerprint', 'token.previousFingerprint']);
});

test('errors inside a batch carry the item index', () => {
  const r = validateIngestRequest({ events: [{ type: 'token.revoked', occurredAt: '2026-11-20T09:15:00Z' }] });
  assert.ok(!r.ok);
  assert.deepEqual(
    r.errors.map((e) => e.field),
    ['events.0.token'],
  );
});

test('non-objects and empty batches are refused, not crashed on', () => {
  for (const body of [null, 42, 'x', [], { events: [] }]) {
    const r = validateIngestRequest(body);
    assert.ok(!r.ok, JSON.stringify(body));
    assert.ok(r.errors.length > 0);
  }
});
