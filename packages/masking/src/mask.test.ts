import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventCodec } from '@jwt-audit/events';
import { CANARY_VALUES, CANARIES, canaryEvent, canaryFormEvent } from './canary.js';
import { createMasker, DEFAULT_POLICY, parsePolicy, DETECTORS, luhn, ibanValid } from './index.js';
import { formEncode } from './mask.js';

const masker = createMasker(DEFAULT_POLICY, { id: 'k1', secret: 'test-key-1' });

test('canary: none of the planted secrets (28 kinds) survives, in headers, query, nested JSON, form, multipart, free text', () => {
  for (const e of [canaryEvent(), canaryFormEvent()]) {
    const masked = masker.mask(e);
    const bytes = eventCodec.encode(masked).value.toString('latin1') + JSON.stringify(masked);
    for (const v of CANARY_VALUES) assert.ok(!bytes.includes(v), `planted value survived: ${v}`);
  }
  assert.equal(Object.keys(CANARIES).length, 28);
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
  e.http!.request.headers = { authorization: `sha256:${'a'.repeat(64)}`, cookie: `sha256:${'b'.repeat(64)}, sha256:${'c'.repeat(64)}` };
  const once = masker.mask(e);
  assert.equal(once.http!.request.headers.authorization, `sha256:${'a'.repeat(64)}`);
  assert.equal(once.http!.request.headers.cookie, `sha256:${'b'.repeat(64)}, sha256:${'c'.repeat(64)}`, 'a repeated header: one fingerprint per value');
  const twice = masker.mask(once);
  assert.deepEqual(twice.http, once.http);
});

test('checksums keep false positives out; a policy is validated with every problem named', () => {
  assert.ok(luhn('4111111111111111'));
  assert.ok(!luhn('4111111111111112'));
  assert.ok(ibanValid('GB82WEST12345698765432'));
  assert.ok(!ibanValid('GB82WEST12345698765433'));
  assert.equal(masker.maskText('order 1234 5678 9012 3456 shipped').text, 'order 1234 5678 9012 3456 shipped');
  assert.throws(
    () =>
      parsePolicy(
        { version: 'x', fields: { '(': 'redact' }, detectors: { nope: 'hash' } },
        DETECTORS.map((d) => d.name),
      ),
    /fields: \(: .*; detectors: unknown detector nope/,
  );
  const names = DETECTORS.map((d) => d.name);
  assert.throws(() => parsePolicy({ fields: { a: 'explode' } }, names), /version|must be equal/);
  assert.equal(parsePolicy({ version: 'custom', fields: { '^nickname$': 'hash' } }, names).fields['^nickname$'], 'hash');
});

test('mask(event, policy, keys): the active key makes pseudonyms; rotation changes them; the ring is validated', async () => {
  const { mask, parseKeyRing, pseudonym } = await import('./index.js');
  const v1 = parseKeyRing('2025a:first-secret-0123456789');
  const v2 = parseKeyRing('2025a:first-secret-0123456789,2026b:second-secret-0123456789', '2026b');
  const a = mask(canaryEvent(), DEFAULT_POLICY, v1);
  const b = mask(canaryEvent(), DEFAULT_POLICY, v1);
  const c = mask(canaryEvent(), DEFAULT_POLICY, v2);
  const email = (r: typeof a) => JSON.parse(r.event.http!.request.body!.content!).user.email as string;
  assert.equal(email(a), email(b));
  assert.equal(email(a), pseudonym(CANARIES.email, { id: '2025a', secret: 'first-secret-0123456789' }));
  assert.equal(email(c), pseudonym(CANARIES.email, { id: '2026b', secret: 'second-secret-0123456789' }));
  assert.notEqual(email(a).slice(-32), email(c).slice(-32));
  assert.equal(c.event.masking!.keyId, '2026b');
  assert.deepEqual(a.rulesApplied, a.event.masking!.rulesApplied);
  assert.throws(() => parseKeyRing('k1:short'), /at least 16 bytes/);
  assert.throws(() => parseKeyRing('k1:long-enough-secret-000', 'k9'), /active key id "k9" is not in the key ring/);
  assert.throws(() => parseKeyRing('nocolon'), /expected id:secret/);
  assert.throws(() => parseKeyRing('bad id!:long-enough-secret-000'), /letters, digits/);
});

test('a policy file: loaded and validated, or a clear error naming the file', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadPolicyFile, DETECTOR_NAMES, mask, parseKeyRing } = await import('./index.js');
  const dir = await mkdtemp(join(tmpdir(), 'masking-'));
  try {
    const good = join(dir, 'policy.json');
    await writeFile(good, JSON.stringify({ version: 'site-7', fields: { '^nickname$': 'drop' }, detectors: { email: 'redact' } }));
    const policy = loadPolicyFile(good, DETECTOR_NAMES);
    const e = canaryEvent();
    e.http!.request.body!.content = JSON.stringify({ nickname: 'bobby', note: `write to ${CANARIES.email}` });
    const out = mask(e, policy, parseKeyRing('k:site-seven-secret-000')).event;
    assert.equal(out.http!.request.body!.content, '{"note":"write to [redacted:email]"}');
    assert.equal(out.masking!.policyVersion, 'site-7');
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"version": 1, "fields": {"x": "nuke"}}');
    assert.throws(
      () => loadPolicyFile(bad, DETECTOR_NAMES),
      (err: Error) => err.message.includes(bad) && /version/.test(err.message) && /fields/.test(err.message),
    );
    await writeFile(bad, '{not json');
    assert.throws(() => loadPolicyFile(bad, DETECTOR_NAMES), /bad\.json: .*JSON/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('text and truncated bodies, bad JSON and odd input never throw and are still masked', () => {
  const e = canaryEvent();
  e.http!.request.body = {
    contentType: 'application/json',
    size: 9000,
    truncated: true,
    sha256: null,
    content: `{"password":"${CANARIES.password}","note":"${CANARIES.email}`,
  };
  e.http!.response!.body = { contentType: 'text/plain', size: 50, truncated: false, sha256: null, content: `token=${CANARIES.nestedToken} ${CANARIES.ssn}` };
  const m = masker.mask(e);
  const s = JSON.stringify(m);
  for (const v of [CANARIES.password, CANARIES.email, CANARIES.nestedToken, CANARIES.ssn]) assert.ok(!s.includes(v), v);
  const broken = canaryEvent();
  broken.http!.request.body = { contentType: 'application/json', size: 5, truncated: false, sha256: null, content: '{"a":' };
  broken.http!.response!.body = { contentType: 'multipart/form-data', size: 5, truncated: false, sha256: null, content: `secret=${CANARIES.password}` };
  const b = masker.mask(broken);
  assert.equal(b.http!.request.body!.content, '{"a":');
  assert.ok(!JSON.stringify(b).includes(CANARIES.password));
});

test('a masked form pair is written exactly as URLSearchParams writes it, for generated names and values (ASCII, BMP, astral, lone surrogates)', () => {
  let seed = 11;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let i = 0; i < 20_000; i++) {
    let s = '';
    for (let j = rand(10); j >= 0; j--) {
      const r = rand(10);
      s +=
        r < 6
          ? String.fromCharCode(32 + rand(95))
          : r < 8
            ? String.fromCharCode(rand(0x800))
            : r < 9
              ? String.fromCharCode(0xd800 + rand(0x800))
              : String.fromCodePoint(0x10000 + rand(0x10000));
    }
    assert.equal(`${formEncode(s)}=${formEncode(s)}`, new URLSearchParams([[s, s]]).toString(), JSON.stringify(s));
  }
});
