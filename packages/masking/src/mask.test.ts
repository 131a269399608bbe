import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventCodec } from '@jwt-audit/events';
import { CANARY_VALUES, CANARIES, canaryEvent, canaryFormEvent } from './canary.js';
import { createMasker, DEFAULT_POLICY, parsePolicy, DETECTORS, luhn, ibanValid } from './index.js';

const masker = createMasker(DEFAULT_POLICY, { id: 'k1', secret: 'test-key-1' });

test('canary: none of 25 planted secrets survives, in headers, query, nested JSON, form, multipart, free text', () => {
  for (const e of [canaryEvent(), canaryFormEvent()]) {
    const masked = masker.mask(e);
    const bytes = eventCodec.encode(masked).value.toString('latin1') + JSON.stringify(masked);
    for (const v of CANARY_VALUES) assert.ok(!bytes.includes(v), `planted value survived: ${v}`);
  }
  assert.ok(Object.keys(CANARIES).length >= 20);
});

test('what masking keeps: non-secret fields, last four digits, structure; rules are recorded', () => {
  const m = masker.mask(canaryEvent());
  const body = JSON.parse(m.http!.request.body!.content!);
  assert.equal(body.payment.card_number, '****1111');
  assert.equal(body.payment.cvv, undefined, 'cvv is dropped');
  assert.match(body.password, /^\[redacted:password\]$/);
  assert.match(body.user.email, /^hmac:k1:[0-9a-f]{32}$/);
  assert.equal(m.http!.request.headers['content-type'], undefined);
  assert.match(m.http!.request.query!, /^refresh_token=hmac%3Ak1%3A[0-9a-f]{32}&card=\*\*\*\*5559&next=/);
  assert.ok(m.masking!.rulesApplied.includes('header:authorization:hash'));
  assert.ok(m.masking!.rulesApplied.includes('detector:jwt:hash'));
  assert.ok(m.masking!.rulesApplied.includes('body:multipart-file:dropped'));
  assert.equal(m.masking!.policyVersion, DEFAULT_POLICY.version);
  assert.equal(m.masking!.keyId, 'k1');
  assert.match(m.http!.response!.body!.content!, /\[file part: \d+ bytes, sha256 [0-9a-f]{64}\]/);
  const f = masker.mask(canaryFormEvent());
  assert.equal(f.http!.response!.body!.content, null, 'binary bodies are never kept');
  assert.match(f.http!.response!.body!.sha256!, /^[0-9a-f]{64}$/);
  assert.match(f.http!.request.body!.content!, /^username=bob&password=%5Bredacted%3Apassword%5D&grant_type=password$/);
});

test('pseudonyms are stable for a key and differ across keys', () => {
  const other = createMasker(DEFAULT_POLICY, { id: 'k2', secret: 'another-key' });
  const a1 = masker.maskText(`mail ${CANARIES.email}`).text;
  const a2 = masker.maskText(`again ${CANARIES.email}`).text.replace('again', 'mail');
  const b = other.maskText(`mail ${CANARIES.email}`).text;
  assert.equal(a1, a2);
  assert.notEqual(a1.slice(-32), b.slice(-32));
  assert.match(b, /hmac:k2:/);
});

test('interceptor fingerprints pass through; already-masked values are not masked twice', () => {
  const e = canaryEvent();
  e.http!.request.headers = { authorization: `sha256:${'a'.repeat(64)}` };
  const once = masker.mask(e);
  assert.equal(once.http!.request.headers.authorization, `sha256:${'a'.repeat(64)}`);
  const twice = masker.mask(once);
  assert.deepEqual(twice.http, once.http);
});

test('checksums keep false positives out; a policy is validated with every problem named', () => {
  assert.ok(luhn('4111111111111111'));
  assert.ok(!luhn('4111111111111112'));
  assert.ok(ibanValid('GB82WEST12345698765432'));
  assert.ok(!ibanValid('GB82WEST12345698765433'));
  assert.equal(masker.maskText('order 1234 5678 9012 3456 shipped').text, 'order 1234 5678 9012 3456 shipped');
  assert.throws(() => parsePolicy({ version: 'x', fields: { '(': 'redact' }, detectors: { nope: 'hash' } }, DETECTORS.map((d) => d.name)), /fields: \(: .*; detectors: unknown detector nope/);
  const names = DETECTORS.map((d) => d.name);
  assert.throws(() => parsePolicy({ fields: { a: 'explode' } }, names), /version|must be equal/);
  assert.equal(parsePolicy({ version: 'custom', fields: { '^nickname$': 'hash' } }, names).fields['^nickname$'], 'hash');
});
