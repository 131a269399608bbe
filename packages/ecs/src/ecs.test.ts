import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSchemaFile, type Alert, type AuditEvent } from '@jwt-audit/events';
import { alertToEcsDocument, toEcsDocument } from './index.js';

const ex = (k: string) => readSchemaFile(`examples/${k}.json`) as AuditEvent;

test('a rejected token maps to ECS authentication fields with the outcome, the reason and claims', () => {
  const e = ex('token.rejected');
  const d = toEcsDocument(e) as any;
  assert.equal(d['@timestamp'], new Date(e.occurredAt).toISOString());
  assert.deepEqual(d.event.category, ['authentication', 'web']);
  assert.deepEqual(d.event.type, ['info', 'access']);
  assert.equal(d.event.action, 'token-rejected');
  assert.equal(d.event.outcome, 'failure');
  assert.equal(d.event.reason, 'expired');
  assert.equal(d.user.id, 'alice@example.com');
  assert.equal(d.source.ip, '203.0.113.24');
  assert.equal(d.http.response.status_code, 401);
  assert.equal(d.url.path, '/orders/1042');
  assert.equal(d.jwt_audit.token.exp, new Date(e.token!.exp! * 1000).toISOString());
  assert.equal(d.jwt_audit.token.fingerprint, e.token!.fingerprint);
  assert.equal(d.user.name, undefined, 'the sub is user.id, not a name');
  assert.deepEqual(d.related.user, ['alice@example.com']);
  assert.ok(d.related.ip.includes('203.0.113.24'));
  assert.equal(d.event.dataset, 'jwt_audit.events');
  assert.deepEqual(d.data_stream, { type: 'logs', dataset: 'jwt_audit.events' });
  assert.equal(d.trace.id, e.trace!.traceId);
  assert.match(d.message, /token rejected \(expired\) for alice@example.com on GET \/orders\/1042/);
});

test('enrichment and masking land under ECS geo/as/user_agent and jwt_audit.*; nulls are dropped', () => {
  const d = toEcsDocument(ex('http.exchange')) as any;
  assert.equal(d.source.geo.country_iso_code, 'DE');
  assert.deepEqual(d.source.geo.location, { lat: 52.52, lon: 13.405 });
  assert.equal(d.source.as.number, 64500);
  assert.equal(d.user_agent.name, 'Safari');
  assert.deepEqual(d.jwt_audit.masking.rules, ['header:authorization:fingerprint', 'field:card:redact']);
  assert.equal(d.jwt_audit.authorization.mismatch, false);
  assert.equal(JSON.stringify(d).includes('null'), false);
  const k = toEcsDocument(ex('key.rotated')) as any;
  assert.equal(k.user, undefined);
  assert.deepEqual(k.jwt_audit.key_rotation.added, ['rsa-2026-11']);
  // issue #25: the message was `key-rotated unknown` (no actor); it says what changed, where
  assert.equal(
    k.message,
    `signing keys changed at https://id.example.com/.well-known/jwks.json: added rsa-2026-11; removed rsa-2026-08; ${ex('key.rotated').key!.current.length} current`,
  );
  const bare = toEcsDocument({ ...ex('key.rotated'), key: { jwksUrl: null, added: [], removed: ['a', 'b'], current: [] } }) as any;
  assert.equal(bare.message, 'signing keys changed: added none; removed a, b; 0 current');
});

test('an alert maps to an ECS alert with a numeric severity and its evidence', () => {
  const a = readSchemaFile('examples/alert.json') as Alert;
  const d = alertToEcsDocument(a) as any;
  assert.equal(d.event.kind, 'alert');
  assert.deepEqual(d.event.type, ['info'], 'not the threat-intel indicator type');
  assert.deepEqual(d.related.user, ['alice@example.com']);
  assert.equal(d.event.severity, 99);
  assert.equal(d.rule.name, 'refresh-token-reuse');
  assert.equal(d.user.id, 'alice@example.com');
  assert.deepEqual(d.jwt_audit.alert.evidence, a.evidence);
});

test("the interceptor's token.validated is also the exchange: authentication and web, with the response", () => {
  const d = toEcsDocument(ex('token.validated')) as any;
  assert.deepEqual(d.event.category, ['authentication', 'web']);
  assert.deepEqual(d.event.type, ['info', 'access']);
  assert.equal(d.event.outcome, 'success');
  assert.equal(d.event.action, 'token-validated');
  assert.equal(d.http.response.status_code, 200);
  assert.equal(d.event.duration, 12_400_000);
  assert.match(d.message, /^GET \/orders\/1042 -> 200 by \S+ \(token valid\)$/);
  // pushed by an identity provider through the ingest API: no exchange, authentication only
  const pushed = toEcsDocument({ ...ex('token.validated'), http: null }) as any;
  assert.deepEqual(pushed.event.category, ['authentication']);
  assert.deepEqual(pushed.event.type, ['info']);
});
