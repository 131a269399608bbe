import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createPublicKey } from 'node:crypto';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { REJECTION_REASONS } from '@jwt-audit/events';
import {
  bearerToken,
  createVerifier,
  remoteJwksStore,
  staticKeyStore,
  tokenFingerprint,
  tokenInfo,
  decodeUnverified,
  actorFromClaims,
  JwtConfigError,
  type KeySetChange,
  type VerifyOutcome,
} from './index.js';

const ISS = 'https://issuer.test/';
const AUD = 'orders-api';

interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}
async function newKey(kid: string, alg = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function b64(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

/** A JWKS server whose key set the test changes; counts fetches. */
async function jwksServer(initial: JWK[]) {
  let keys = initial;
  let fetches = 0;
  const server = http.createServer((req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    setKeys: (k: JWK[]) => (keys = k),
    get fetches() {
      return fetches;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const seenReasons = new Set<string>();
function expectRejected(out: VerifyOutcome, reason: string): asserts out is Extract<VerifyOutcome, { ok: false }> {
  seenReasons.add(reason);
  assert.equal(out.ok, false, `expected rejection ${reason}`);
  if (!out.ok) assert.equal(out.reason, reason, out.detail);
}

describe('createVerifier with a remote JWKS', () => {
  let k1: TestKey;
  let k2: TestKey;
  let other: TestKey;
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  const sign = (
    key: TestKey,
    claims: Record<string, unknown> = {},
    o: { exp?: number; nbf?: number; iss?: string; aud?: string; kid?: string | null } = {},
  ) => {
    const now = Math.floor(Date.now() / 1000);
    const header: Record<string, unknown> = { alg: 'RS256', typ: 'at+jwt' };
    if (o.kid !== null) header.kid = o.kid ?? key.kid;
    return new SignJWT({ sub: 'alice', scope: 'orders:read', jti: 'j-1', ...claims })
      .setProtectedHeader(header as { alg: string })
      .setIssuer(o.iss ?? ISS)
      .setAudience(o.aud ?? AUD)
      .setIssuedAt(now)
      .setNotBefore(o.nbf ?? now)
      .setExpirationTime(o.exp ?? now + 300)
      .sign(key.privateKey);
  };

  before(async () => {
    k1 = await newKey('k1');
    k2 = await newKey('k2');
    other = await newKey('k1'); // same kid, different key: a forged token
    jwks = await jwksServer([k1.jwk]);
  });
  after(() => jwks.close());

  const verifier = (extra: { onChange?: (c: KeySetChange) => void; cooldownMs?: number } = {}) => {
    const store = remoteJwksStore({ url: jwks.url, cooldownMs: extra.cooldownMs ?? 0, ...(extra.onChange ? { onChange: extra.onChange } : {}) });
    return createVerifier({ keys: store, algorithms: ['RS256', 'ES256'], issuer: ISS, audience: AUD, clockToleranceSec: 5, requiredClaims: ['sub'] });
  };

  it('accepts a good token and returns its verified claims', async () => {
    const token = await sign(k1);
    const out = await verifier().verify(token);
    assert.equal(out.ok, true);
    if (out.ok) {
      assert.equal(out.claims.sub, 'alice');
      assert.equal(out.fingerprint, createHash('sha256').update(token).digest('hex'));
    }
  });

  it('classifies every token failure into the schema reason', async () => {
    const v = verifier();
    const now = Math.floor(Date.now() / 1000);
    const [h, p] = (await sign(k1)).split('.');
    expectRejected(await v.verify('garbage'), 'malformed');
    expectRejected(await v.verify('a.b.c'), 'malformed');
    expectRejected(await v.verify(`${h}.${p}.${Buffer.from('x'.repeat(256)).toString('base64url')}`), 'bad_signature');
    expectRejected(await v.verify(await sign(other)), 'bad_signature');
    expectRejected(await v.verify(await sign(k1, {}, { exp: now - 60 })), 'expired');
    expectRejected(await v.verify(await sign(k1, {}, { nbf: now + 600 })), 'not_yet_valid');
    expectRejected(await v.verify(await sign(k1, {}, { iss: 'https://evil.test/' })), 'wrong_issuer');
    expectRejected(await v.verify(await sign(k1, {}, { aud: 'billing-api' })), 'wrong_audience');
    expectRejected(await v.verify(await sign(k1, {}, { kid: 'nope' })), 'unknown_kid');
    expectRejected(await v.verify(`${b64({ alg: 'none', typ: 'JWT' })}.${p}.`), 'alg_not_allowed');
    expectRejected(await v.verify(`${b64({ alg: 'NoNe' })}.${p}.`), 'alg_not_allowed');
    expectRejected(await v.verify(await sign(k1, { sub: undefined })), 'malformed');
    const revocations = { isJtiRevoked: (j: string) => j === 'j-1', isSubjectRevoked: () => false };
    expectRejected(await v.verify(await sign(k1), { revocations }), 'revoked');
    const deprov = { isJtiRevoked: () => false, isSubjectRevoked: (s: string) => s === 'alice' };
    expectRejected(await v.verify(await sign(k1), { revocations: deprov }), 'subject_deprovisioned');
    const scoped = await v.verify(await sign(k1), { requiredScopes: ['orders:read', 'orders:write'] });
    expectRejected(scoped, 'insufficient_scope');
    assert.deepEqual(scoped.missingScopes, ['orders:write']);
    // 'missing' is decided from the header, before a token exists
    assert.deepEqual(bearerToken(undefined), { error: 'missing' });
    seenReasons.add('missing');
    // the claims policy's and the canonical form's reasons are produced in claims-policy.test.ts
    const elsewhere = new Set(['non_canonical', 'unknown_crit', 'iat_in_future', 'lifetime_too_long']);
    assert.deepEqual(
      REJECTION_REASONS.filter((r) => !seenReasons.has(r) && !elsewhere.has(r)),
      [],
      'every schema reason is produced',
    );
  });

  it('refuses HS256 signed with the RSA public key (alg confusion)', async () => {
    // the attacker knows the public key (it is published) and uses its PEM bytes as an HMAC secret
    const pem = createPublicKey({ key: k1.jwk as import('node:crypto').JsonWebKey, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const forged = await new SignJWT({ sub: 'mallory' })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setExpirationTime('5m')
      .sign(Buffer.from(pem));
    const out = await verifier().verify(forged);
    expectRejected(out, 'alg_not_allowed');
    assert.equal(out.signatureVerified, false);
  });

  it('rejects oversized tokens and odd kids without touching the JWKS', async () => {
    const v = verifier({ cooldownMs: 60_000 });
    await v.verify(await sign(k1)); // first load
    const before = jwks.fetches;
    const huge = 'a'.repeat(64 * 1024);
    expectRejected(await v.verify(huge), 'malformed');
    const [, p, s] = (await sign(k1)).split('.');
    for (const kid of ['../../etc/passwd', "k1' OR '1'='1", 'x'.repeat(300)]) {
      const out = await v.verify(`${b64({ alg: 'RS256', kid })}.${p}.${s}`);
      assert.equal(out.ok, false);
      if (!out.ok) assert.ok(out.reason === 'unknown_kid' || out.reason === 'malformed', out.reason);
    }
    expectRejected(await v.verify(`${b64({ alg: 'RS256', kid: 42 })}.${p}.${s}`), 'malformed');
    assert.equal(jwks.fetches, before, 'unknown kids within the cooldown must not refetch');
  });

  it('refetches on an unknown kid, reports the key-set change, and rate-limits refetches', async () => {
    jwks.setKeys([k1.jwk]);
    const changes: KeySetChange[] = [];
    const v = verifier({ onChange: (c) => changes.push(c), cooldownMs: 60_000 });
    assert.equal((await v.verify(await sign(k1))).ok, true);
    jwks.setKeys([k1.jwk, k2.jwk]);
    // the first load was a moment ago: the cooldown blocks the refetch
    expectRejected(await v.verify(await sign(k2)), 'unknown_kid');
    assert.equal(changes.length, 0);

    const v2 = verifier({ onChange: (c) => changes.push(c), cooldownMs: 0 });
    jwks.setKeys([k1.jwk]);
    assert.equal((await v2.verify(await sign(k1))).ok, true);
    jwks.setKeys([k2.jwk]);
    const out = await v2.verify(await sign(k2));
    assert.equal(out.ok, true);
    assert.deepEqual(changes, [{ jwksUrl: jwks.url, added: ['k2'], removed: ['k1'], current: ['k2'] }]);
  });

  it('shares one fetch between concurrent unknown-kid lookups', async () => {
    jwks.setKeys([k1.jwk]);
    const v = verifier({ cooldownMs: 0 });
    await v.verify(await sign(k1));
    const before = jwks.fetches;
    const [, p, s] = (await sign(k1)).split('.');
    await Promise.all(Array.from({ length: 20 }, (_, i) => v.verify(`${b64({ alg: 'RS256', kid: `made-up-${i}` })}.${p}.${s}`)));
    const fetched = jwks.fetches - before;
    assert.ok(fetched >= 1 && fetched <= 3, `20 concurrent unknown kids caused ${fetched} fetches`);
  });

  it('keeps rejecting a remembered token once it expires', async () => {
    let now = Date.now();
    const store = remoteJwksStore({ url: jwks.url });
    jwks.setKeys([k1.jwk]);
    const v = createVerifier({ keys: store, algorithms: ['RS256'], issuer: ISS, audience: AUD, clockToleranceSec: 0, now: () => now });
    const token = await sign(k1, {}, { exp: Math.floor(now / 1000) + 10 });
    assert.equal((await v.verify(token)).ok, true);
    assert.equal((await v.verify(token)).ok, true); // from the cache
    now += 11_000;
    expectRejected(await v.verify(token), 'expired');
  });

  it('refuses a remembered token on the first request after its jti is revoked or its subject deprovisioned, and accepts it again once lifted', async () => {
    const v = verifier();
    const revokedJtis = new Set<string>();
    const gone = new Set<string>();
    const revocations = { isJtiRevoked: (j: string) => revokedJtis.has(j), isSubjectRevoked: (s: string) => gone.has(s) };
    // generated tokens: several subjects and jtis, each verified (and remembered) first
    const tokens = await Promise.all(Array.from({ length: 12 }, (_, i) => sign(k1, { sub: `user-${i % 4}`, jti: `jti-${i}` })));
    for (const t of tokens) assert.equal((await v.verify(t, { revocations })).ok, true);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (i % 2 === 0) {
        revokedJtis.add(`jti-${i}`);
        expectRejected(await v.verify(t, { revocations }), 'revoked');
        revokedJtis.delete(`jti-${i}`);
      } else {
        gone.add(`user-${i % 4}`);
        expectRejected(await v.verify(t, { revocations }), 'subject_deprovisioned');
        gone.delete(`user-${i % 4}`);
      }
      assert.equal((await v.verify(t, { revocations })).ok, true, 'a lifted revocation lets the remembered token through again');
    }
  });

  it('checks expiry and the max-lifetime policy on remembered tokens as on fresh ones', async () => {
    let now = Date.now();
    const store = remoteJwksStore({ url: jwks.url });
    const v = createVerifier({ keys: store, algorithms: ['RS256'], issuer: ISS, audience: AUD, clockToleranceSec: 0, maxLifetimeSec: 600, now: () => now });
    const nowSec = Math.floor(now / 1000);
    const short = await sign(k1, {}, { exp: nowSec + 300 });
    assert.equal((await v.verify(short)).ok, true);
    assert.equal((await v.verify(short)).ok, true); // from the cache
    // remembered, then its expiry passes: refused though the signature was verified before
    now += 301_000;
    expectRejected(await v.verify(short), 'expired');
    const long = await sign(k1, {}, { exp: Math.floor(now / 1000) + 3_600 });
    // its signature verifies (remembered), its lifetime does not pass: refused the first time and from the cache
    expectRejected(await v.verify(long), 'lifetime_too_long');
    expectRejected(await v.verify(long), 'lifetime_too_long');
  });
});

describe('verifier configuration', () => {
  it('refuses none, and HMAC with public keys, and public algorithms with secrets', async () => {
    const k = await newKey('s1');
    const pub = await staticKeyStore([k.jwk]);
    assert.throws(() => createVerifier({ keys: pub, algorithms: ['none'] }), JwtConfigError);
    assert.throws(() => createVerifier({ keys: pub, algorithms: ['RS256', 'HS256'] }), /HMAC/);
    const sec = await staticKeyStore([{ secret: 'a-shared-secret-of-at-least-32-bytes!!' }]);
    assert.throws(() => createVerifier({ keys: sec, algorithms: ['RS256'] }), /HMAC secrets/);
    await assert.rejects(staticKeyStore([{ secret: 'short' }]), /32 bytes/);
    await assert.rejects(staticKeyStore([k.jwk, { secret: 'a-shared-secret-of-at-least-32-bytes!!' }]), /mixed/);
    assert.throws(() => remoteJwksStore({ url: 'not a url' }), JwtConfigError);
  });

  it('verifies with static PEM keys and HMAC secrets', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = await exportSPKI(publicKey);
    const v = createVerifier({ keys: await staticKeyStore([{ alg: 'ES256', pem }]), algorithms: ['ES256'] });
    const t = await new SignJWT({ sub: 'svc' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('5m').sign(privateKey);
    assert.equal((await v.verify(t)).ok, true);
    const secret = 'a-shared-secret-of-at-least-32-bytes!!';
    const hv = createVerifier({ keys: await staticKeyStore([{ secret }]), algorithms: ['HS256'] });
    const ht = await new SignJWT({ sub: 'svc' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(Buffer.from(secret));
    assert.equal((await hv.verify(ht)).ok, true);
    expectRejected(
      await hv.verify(
        await new SignJWT({ sub: 'svc' })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('5m')
          .sign(Buffer.from(secret + 'x')),
      ),
      'bad_signature',
    );
  });

  it('reports an unreachable JWKS as unknown_kid without throwing', async () => {
    const v = createVerifier({ keys: remoteJwksStore({ url: 'http://127.0.0.1:1/jwks.json', timeoutMs: 500 }), algorithms: ['RS256'] });
    const k = await newKey('k');
    const t = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setExpirationTime('5m').sign(k.privateKey);
    expectRejected(await v.verify(t), 'unknown_kid');
  });
});

describe('helpers', () => {
  it('fingerprints are lower-case hex SHA-256 of the token', () => {
    assert.equal(tokenFingerprint('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('bearerToken follows RFC 6750', () => {
    assert.deepEqual(bearerToken('Bearer abc.def.ghi'), { token: 'abc.def.ghi' });
    assert.deepEqual(bearerToken('bearer   abc'), { token: 'abc' });
    assert.deepEqual(bearerToken('Basic dXNlcjpwdw=='), { error: 'missing' });
    assert.deepEqual(bearerToken('Bearer'), { error: 'malformed' });
    assert.deepEqual(bearerToken('Bearer a b'), { error: 'malformed' });
    assert.deepEqual(bearerToken('Bearer ä'), { error: 'malformed' });
  });

  it('decodes untrusted claims defensively, never copying the token', () => {
    const token = `${b64({ alg: 'RS256', kid: 'k', typ: 'at+jwt' })}.${b64({ sub: 'x'.repeat(1000), aud: ['a', 7, 'b'], exp: 'soon', iat: 1700000000, scope: 'a b', roles: ['admin'], client_id: 'web' })}.sig`;
    const decoded = decodeUnverified(token);
    const info = tokenInfo(token, decoded);
    assert.deepEqual(info.aud, ['a', 'b']);
    assert.equal(info.exp, null);
    assert.equal(info.iat, 1700000000);
    assert.equal(info.typ, 'access');
    assert.equal(info.fingerprint, tokenFingerprint(token));
    assert.ok(!JSON.stringify(info).includes(token));
    const actor = actorFromClaims(decoded!.claims);
    assert.equal(actor.sub?.length, 256);
    assert.deepEqual(actor.scopes, ['a', 'b']);
    assert.deepEqual(actor.roles, ['admin']);
    assert.equal(actor.clientId, 'web');
    assert.equal(decodeUnverified('%%%.e30.x'), null);
    assert.equal(decodeUnverified('W10.e30.x'), null); // header is an array
    assert.equal(decodeUnverified(`${b64({ alg: 'RS256' })}.bm90IGpzb24.x`)?.claims, null);
  });
});
