import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSchemaFile, validateIngestRequest, type AuditEvent } from '@jwt-audit/events';
import { EVENT_FIELDS } from './event-fields.js';
import { createMasker, DEFAULT_POLICY, pseudonym } from './index.js';

const key = { id: 'k1', secret: 'shapes-test-key-0123' };
const masker = createMasker(DEFAULT_POLICY, key);

/** An event with every optional part present (token, key, session, trace ...), so every field has a place. */
function fullEvent(): AuditEvent {
  const e = readSchemaFile('examples/token.rejected.json') as AuditEvent;
  const v = readSchemaFile('examples/token.validated.json') as AuditEvent;
  return {
    ...e,
    rejection: { reason: 'expired', detail: 'token expired' },
    attributes: {},
    token: {
      ...v.token!,
      jti: 'j-1',
      sid: 's-1',
      familyId: 'f-1',
      kid: 'k-1',
      alg: 'RS256',
      iss: 'https://idp.example.org',
      aud: ['api'],
      previousFingerprint: 'b'.repeat(64),
    },
    key: { jwksUrl: 'https://idp.example.org/jwks', added: ['a'], removed: ['b'], current: ['c'] },
    session: { id: 'sess-1', reason: 'logout' },
    approval: {
      id: '0193a005-7c2e-7a31-8f00-3aa000000001',
      fingerprint: 'c'.repeat(64),
      requester: 'alice',
      approvers: ['bob'],
      approversRequired: 1,
      reason: 'approved for the migration',
      mode: 'ticket',
      rule: 'admin-delete',
      expiresAt: 1795166406000,
    },
    http: v.http ?? e.http,
    network: { clientIp: '203.0.113.9', forwardedFor: ['198.51.100.7'], userAgent: 'curl/8' },
    trace: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, tracestate: 'vendor=abc', traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) },
    actor: { sub: 'alice', clientId: 'web', tenant: 't1', roles: ['admin'], scopes: ['orders:read'] },
    masking: null,
    enrichment: null,
  };
}

/** Sets a table path (`token.aud[]`, `key.added[]`) to one value. */
function setPath(e: AuditEvent, path: string, value: string): void {
  const parts = path.replace('[]', '').split('.');
  let o = e as unknown as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) o = o[p] as Record<string, unknown>;
  const last = parts.at(-1)!;
  o[last] = path.endsWith('[]') ? [value] : value;
}
function getPath(e: AuditEvent, path: string): string {
  const parts = path.replace('[]', '').split('.');
  let o = e as unknown as Record<string, unknown>;
  for (const p of parts) o = o[p] as Record<string, unknown>;
  return (Array.isArray(o) ? o[0] : o) as unknown as string;
}

const SHAPED = Object.entries(EVENT_FIELDS)
  .filter(([, t]) => t.kind === 'shape' || t.kind === 'claim')
  .map(([p]) => p)
  .filter((p) => !p.startsWith('http.*'));

// values no identifier-like field may carry: secrets that fit no shape, and secrets that fit the
// identifier alphabet but that a detector knows
const BAD = [
  'has space',
  'quote"d',
  "it's",
  'a=b',
  'pct%41',
  'back\\slash',
  'semi;colon',
  'x'.repeat(300),
  'line\nbreak',
  '\u0000nul',
  'ünïcode',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
  `ghp_${'A1b2'.repeat(9)}`,
  `npm_${'Zz9'.repeat(12)}`,
  'AKIAZZZZZZZZZZZZZZZ7',
  `glpat-${'q'.repeat(20)}`,
  'sk_live_0123456789abcdefABCD',
  'xoxb-1234567890-abcdefghij',
  'password:hunter2',
  'https://user:pw@idp.example.org',
  'https://idp.example.org/?api_key=x',
  '4111111111111111',
];

test('every shaped field: a value outside its shape, or one a detector knows, is replaced by its keyed fingerprint and flagged', () => {
  let n = 0;
  for (const field of SHAPED) {
    for (const bad of BAD) {
      if (field === 'trace.tracestate' && bad === 'a=b') continue; // a valid tracestate list member
      const e = fullEvent();
      setPath(e, field, bad);
      const out = masker.mask(e);
      const got = getPath(out, field);
      n++;
      if (field === 'token.fingerprint' || field === 'token.previousFingerprint' || field === 'id')
        assert.notEqual(got, bad, `${field} kept ${JSON.stringify(bad)}`);
      assert.equal(got, pseudonym(bad, key), `${field}: ${JSON.stringify(bad)} -> ${JSON.stringify(got)}`);
      assert.ok(out.masking!.rulesApplied.includes(`shape:${field}:hash`), `${field}: flagged`);
      assert.ok(!JSON.stringify(out).includes(JSON.stringify(bad).slice(1, -1)), `${field}: ${bad} left somewhere`);
      // and masking the masked event again changes nothing
      assert.deepEqual(masker.mask(out), out);
    }
  }
  assert.ok(n >= 700, `${n} cases`);
});

test('every shaped field keeps a well-shaped value as it is', () => {
  const e = fullEvent();
  const out = masker.mask(e);
  for (const field of SHAPED) assert.equal(getPath(out, field), getPath(e, field), field);
  assert.deepEqual(
    out.masking!.rulesApplied.filter((r) => r.startsWith('shape:')),
    [],
  );
});

test('claims of a token whose signature did not verify: jti, sid, familyId, iss, aud, kid and the claimed subject always fingerprinted; alg only kept when registered', () => {
  for (const reason of ['bad_signature', 'malformed', 'alg_not_allowed', 'unknown_kid'] as const) {
    const e = fullEvent();
    e.rejection = { reason, detail: 'x' };
    e.attributes = { 'token.signatureVerified': 'false', 'token.claimedSub': 'attacker-chosen' };
    const out = masker.mask(e);
    for (const f of ['jti', 'sid', 'familyId', 'iss', 'kid'] as const) assert.equal(out.token![f], pseudonym(e.token![f]!, key), `${reason} ${f}`);
    assert.deepEqual(
      out.token!.aud,
      e.token!.aud.map((a) => pseudonym(a, key)),
    );
    assert.equal(out.attributes['token.claimedSub'], pseudonym('attacker-chosen', key));
    assert.equal(out.token!.alg, 'RS256', 'a registered alg is kept, to say which one was refused');
    assert.equal(
      masker.mask({ ...e, token: { ...e.token!, alg: 'x9Qh2mL7pV3kR8sT1wY6zN4bC5dF0gJ' } }).token!.alg,
      pseudonym('x9Qh2mL7pV3kR8sT1wY6zN4bC5dF0gJ', key),
    );
    assert.ok(out.masking!.rulesApplied.includes('unverified:token.jti:hash'));
  }
  // a verified token's claims are kept
  const ok = masker.mask(fullEvent());
  assert.equal(ok.token!.jti, 'j-1');
});

test('attribute keys and header names that hold a secret or are not names are fingerprinted, values with them', () => {
  const e = fullEvent();
  const gh = `ghp_${'A1b2'.repeat(9)}`;
  e.attributes = { [gh]: 'v', 'with space': 'w', ok: 'fine' };
  e.http!.request.headers = { [gh]: 'v', 'x-ok': 'fine' };
  const out = masker.mask(e);
  assert.ok(!JSON.stringify(out).includes(gh));
  assert.equal(out.attributes[pseudonym(gh, key)], 'v');
  assert.equal(out.attributes[pseudonym('with space', key)], 'w');
  assert.equal(out.attributes.ok, 'fine');
  assert.equal(out.http!.request.headers[pseudonym(gh, key)], pseudonym('v', key));
  assert.equal(out.http!.request.headers['x-ok'], 'fine');
});

test('HTTP metadata: X-Request-Id, Host, X-Forwarded-For entries, Content-Type parameters', () => {
  const e = fullEvent();
  const gh = `ghp_${'A1b2'.repeat(9)}`;
  e.http!.request.headers = {
    'x-request-id': gh,
    host: `${gh}.example.org`,
    'x-forwarded-for': `203.0.113.1, ${gh}, unknown`,
    'content-type': `text/plain; charset=utf-8; note="${gh}"`,
    forwarded: `for=198.51.100.1;host=${gh}.example.org;proto=https`,
  };
  e.http!.request.id = gh;
  e.http!.request.host = 'ok.example.org';
  e.network!.forwardedFor = ['203.0.113.1', gh];
  const out = masker.mask(e);
  assert.ok(!JSON.stringify(out).includes(gh), JSON.stringify(out.http!.request.headers));
  assert.match(out.http!.request.headers['x-forwarded-for']!, /^203\.0\.113\.1, hmac:k1:[0-9a-f]{32}, unknown$/);
  assert.match(out.http!.request.headers['content-type']!, /^text\/plain; charset=utf-8; note="\[redacted:github-token\]"$/);
  assert.equal(out.http!.request.host, 'ok.example.org');
  assert.equal(out.network!.forwardedFor[0], '203.0.113.1');
});

test('the ingest API refuses what the masker would fingerprint, naming the field (same shapes.json)', () => {
  const base = { type: 'token.issued', occurredAt: '2026-11-20T09:15:00Z', subject: 'alice', token: { jti: 'j1', fingerprint: 'a'.repeat(64) } };
  const fields: Array<[string, (v: string) => unknown]> = [
    ['subject', (v) => ({ ...base, subject: v })],
    ['clientId', (v) => ({ ...base, clientId: v })],
    ['tenant', (v) => ({ ...base, tenant: v })],
    ['roles.0', (v) => ({ ...base, roles: [v] })],
    ['scopes.0', (v) => ({ ...base, scopes: [v] })],
    ['token.jti', (v) => ({ ...base, token: { ...base.token, jti: v } })],
    ['token.sid', (v) => ({ ...base, token: { ...base.token, sid: v } })],
    ['token.kid', (v) => ({ ...base, token: { ...base.token, kid: v } })],
    ['token.familyId', (v) => ({ ...base, token: { ...base.token, familyId: v } })],
    ['token.iss', (v) => ({ ...base, token: { ...base.token, iss: v } })],
    ['token.alg', (v) => ({ ...base, token: { ...base.token, alg: v } })],
    ['session.id', (v) => ({ ...base, type: 'session.started', session: { id: v } })],
    ['key.jwksUrl', (v) => ({ ...base, type: 'key.rotated', key: { jwksUrl: v } })],
    ['key.added.0', (v) => ({ ...base, type: 'key.rotated', key: { added: [v] } })],
    ['source.service', (v) => ({ ...base, source: { service: v } })],
    ['id', (v) => ({ ...base, id: v })],
  ];
  const unshaped = BAD.filter((b) => !/^(?:[A-Za-z0-9._~:@|+-]+)$/.test(b) || b.length > 200);
  let n = 0;
  for (const [field, make] of fields) {
    for (const bad of unshaped) {
      const r = validateIngestRequest(make(bad));
      n++;
      assert.ok(!r.ok, `${field} accepted ${JSON.stringify(bad)}`);
      assert.ok(
        r.errors.some((err) => err.field === field),
        `${field}: ${JSON.stringify(r.errors)}`,
      );
    }
    assert.ok(
      validateIngestRequest(make(field === 'key.jwksUrl' || field === 'token.iss' ? 'https://idp.example.org/keys' : 'good-1')).ok,
      `${field}: a good value`,
    );
  }
  const attr = validateIngestRequest({ ...base, attributes: { 'bad key': 'v' } });
  assert.ok(!attr.ok && attr.errors.some((err) => err.field.startsWith('attributes')), JSON.stringify(attr));
  assert.ok(n > 150);
});

test("an approval (schema v4): the approver's free-text reason is masked like any text, the people and ids kept when well-shaped", () => {
  const ghp = `ghp_${'A1b2'.repeat(9)}`;
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
  for (const [text, secret] of [
    ['password=hunter2', 'hunter2'],
    ['card 4111 1111 1111 1111', '4111 1111 1111 1111'],
    [`token ${ghp}`, ghp],
    [jwt, jwt],
  ] as const) {
    const e = fullEvent();
    e.approval = { ...e.approval!, reason: `approved, ${text}, for the migration` };
    const out = masker.mask(e);
    assert.ok(!out.approval!.reason!.includes(secret), `${text} -> ${out.approval!.reason}`);
    assert.ok(out.approval!.reason!.startsWith('approved, '), out.approval!.reason!);
    assert.deepEqual([out.approval!.requester, out.approval!.approvers, out.approval!.rule], ['alice', ['bob'], 'admin-delete']);
  }
});
