import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newId, partitionKey, uuidv7Time } from './index.js';

test('partition key: subject, else client ip, else event id', () => {
  const id = newId();
  assert.equal(
    partitionKey({
      id,
      actor: { sub: 'alice', clientId: null, tenant: null, roles: [], scopes: [] },
      network: { clientIp: '10.0.0.1', forwardedFor: [], userAgent: null },
    }),
    'sub:alice',
  );
  assert.equal(
    partitionKey({
      id,
      actor: { sub: null, clientId: null, tenant: null, roles: [], scopes: [] },
      network: { clientIp: '10.0.0.1', forwardedFor: [], userAgent: null },
    }),
    'ip:10.0.0.1',
  );
  assert.equal(partitionKey({ id, actor: { sub: null, clientId: null, tenant: null, roles: [], scopes: [] }, network: null }), `id:${id}`);
});

test('ids are UUIDv7 carrying their creation time, and sort by it', () => {
  const before = Date.now();
  const a = newId();
  const b = newId();
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(uuidv7Time(a) >= before && uuidv7Time(a) <= Date.now());
  assert.ok(a < b);
  // many in the same millisecond, across several refills of the random pool: all distinct, in order
  const ids = Array.from({ length: 2_000 }, () => newId());
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
  assert.ok(new Set(ids.map((id) => id.slice(-12))).size > 1_990, 'the random tail varies');
});
