import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createVerifier, remoteJwksStore, type KeySetChange } from './index.js';

/**
 * What the layer over jose's createRemoteJWKSet adds (keys.ts): the size cap, lenient reading of
 * a key set jose would refuse whole, the rotation diff, stale keys over no keys, and no fetch per
 * request while the JWKS is unreachable. The server answers whatever the test puts in `body`.
 */
async function jwksServer() {
  let body: string | Buffer = '{"keys":[]}';
  let status = 200;
  let fetches = 0;
  const server = http.createServer((_req, res) => {
    fetches++;
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    set(b: string | Buffer, s = 200) {
      body = b;
      status = s;
    },
    get fetches() {
      return fetches;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

describe('remote JWKS over jose createRemoteJWKSet', () => {
  let server: Awaited<ReturnType<typeof jwksServer>>;
  const pool: JWK[] = [];
  before(async () => {
    server = await jwksServer();
    for (let i = 0; i < 6; i++) {
      const { publicKey } = await generateKeyPair('ES256', { extractable: true });
      pool.push({ ...(await exportJWK(publicKey)), kid: `k${i}`, alg: 'ES256', use: 'sig' });
    }
  });
  after(() => server.close());

  it('reports exactly the ids a refresh added and removed, for generated rotations', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rnd = rng(seed);
      const changes: KeySetChange[] = [];
      const store = remoteJwksStore({ url: server.url, cooldownMs: 0, onChange: (c) => changes.push(c) });
      let previous: string[] | null = null;
      for (let round = 0; round < 6; round++) {
        const set = pool.filter(() => rnd() < 0.5);
        server.set(JSON.stringify({ keys: set }));
        await store.refresh();
        const ids = set.map((k) => k.kid!);
        assert.deepEqual(store.kids(), ids, `seed ${seed} round ${round}`);
        if (previous !== null) {
          const prev: string[] = previous;
          const added = ids.filter((k) => !prev.includes(k));
          const removed = prev.filter((k) => !ids.includes(k));
          if (added.length + removed.length === 0) assert.equal(changes.length, 0, `seed ${seed} round ${round}: no change, no event`);
          else assert.deepEqual(changes.shift(), { jwksUrl: server.url, added, removed, current: ids }, `seed ${seed} round ${round}`);
        }
        assert.equal(changes.length, 0);
        previous = ids;
        // every key in the set verifies its alg; a key not in it is an unknown kid
        for (const k of pool) {
          const out = await store.lookup(k.kid, 'ES256');
          assert.equal(out.ok, ids.includes(k.kid!), `seed ${seed} round ${round} ${k.kid}`);
        }
      }
    }
  });

  it('refuses documents over the size cap, and documents that are not a key set, without throwing; keeps entries it can use', async () => {
    const good = pool[0]!;
    const cases: Array<[string, string | Buffer, number, boolean]> = [
      ['over the cap', JSON.stringify({ keys: [good], pad: 'x'.repeat(4096) }), 200, false],
      ['not JSON', '{"keys": [', 200, false],
      ['empty', '', 200, false],
      ['null', 'null', 200, false],
      ['keys not an array', '{"keys": {"kid": "k0"}}', 200, false],
      ['a 500', JSON.stringify({ keys: [good] }), 500, false],
      ['a 304', JSON.stringify({ keys: [good] }), 304, false],
      ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x7b]), 200, false],
      // jose refuses a whole set with one bad member; the layer drops the member instead
      [
        'garbage entries beside a good key',
        JSON.stringify({ keys: [1, null, 'x', [], {}, { kty: 7 }, { kty: 'oct', k: 'AAAA', kid: 'k0' }, good] }),
        200,
        true,
      ],
      ['an encryption key beside a good key', JSON.stringify({ keys: [{ ...pool[1]!, use: 'enc', kid: 'k0' }, good] }), 200, true],
    ];
    for (const [name, body, status, verifies] of cases) {
      server.set(body, status);
      const errors: string[] = [];
      const store = remoteJwksStore({ url: server.url, cooldownMs: 0, maxBytes: 2048, onError: (e) => errors.push(e.code) });
      const out = await store.lookup('k0', 'ES256');
      assert.equal(out.ok, verifies, name);
      if (!verifies) {
        assert.deepEqual(errors, ['AUDIT_ERR_JWKS_FETCH'], `${name}: reported as a fetch error`);
        await assert.rejects(
          store.refresh(),
          (e: unknown) => (e as { code?: string }).code === 'AUDIT_ERR_JWKS_FETCH' && (e as { retriable?: boolean }).retriable === true,
          name,
        );
      }
    }
  });

  it('keeps verifying with the last good set when a refresh fails, and does not fetch per request meanwhile', async () => {
    server.set(JSON.stringify({ keys: [pool[0]] }));
    const errors: string[] = [];
    const store = remoteJwksStore({ url: server.url, cacheMaxAgeMs: 0, cooldownMs: 60_000, onError: (e) => errors.push(e.message) });
    assert.equal((await store.lookup('k0', 'ES256')).ok, true);
    server.set('down', 503);
    const before = server.fetches;
    for (let i = 0; i < 20; i++) assert.equal((await store.lookup('k0', 'ES256')).ok, true, `stale keys beat no keys (${i})`);
    assert.equal(server.fetches - before, 1, 'one failed refresh, then the cooldown');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /HTTP 503/);
  });

  it('before the first load, an unreachable JWKS is not fetched once per request', async () => {
    server.set('down', 503);
    const store = remoteJwksStore({ url: server.url, cooldownMs: 60_000 });
    const before = server.fetches;
    for (let i = 0; i < 20; i++) assert.deepEqual(await store.lookup('k0', 'ES256'), { ok: false, reason: 'unknown_kid', detail: 'key set unavailable' });
    assert.equal(server.fetches - before, 1);
  });

  it('tells an unknown kid from a known key that cannot verify the algorithm', async () => {
    server.set(JSON.stringify({ keys: [pool[0]] }));
    const store = remoteJwksStore({ url: server.url, cooldownMs: 60_000 });
    assert.deepEqual(await store.lookup('nope', 'ES256'), { ok: false, reason: 'unknown_kid', detail: 'no key with this kid in the key set' });
    assert.deepEqual(await store.lookup('k0', 'RS256'), { ok: false, reason: 'unknown_kid', detail: 'key k0 cannot verify RS256' });
    assert.deepEqual(await store.lookup(undefined, 'RS256'), { ok: false, reason: 'unknown_kid', detail: 'no key in the set can verify RS256' });
    const both = await store.lookup(undefined, 'ES256');
    assert.ok(both.ok && both.keys.length === 1);
  });
});

describe('a verifier over a remote JWKS, when keys leave the set', () => {
  let server: Awaited<ReturnType<typeof jwksServer>>;
  const pool: { jwk: JWK; privateKey: CryptoKey }[] = [];
  before(async () => {
    server = await jwksServer();
    for (let i = 0; i < 5; i++) {
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      pool.push({ jwk: { ...(await exportJWK(publicKey)), kid: `r${i}`, alg: 'ES256', use: 'sig' }, privateKey });
    }
  });
  after(() => server.close());

  const sign = (k: { jwk: JWK; privateKey: CryptoKey }, jti: string) =>
    new SignJWT({ sub: 'alice', jti }).setProtectedHeader({ alg: 'ES256', kid: k.jwk.kid! }).setIssuedAt().setExpirationTime('10m').sign(k.privateKey);

  it('refuses a token already verified (and remembered) once its key is removed, though no other token asks for a key, for generated removals', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rnd = rng(seed);
      server.set(JSON.stringify({ keys: pool.map((k) => k.jwk) }));
      // what the interceptor runs with, scaled down: the set is refetched when older than its max
      // age, and only by a key lookup; nothing here clears the verifier's cache on a change
      const store = remoteJwksStore({ url: server.url, cacheMaxAgeMs: 40, cooldownMs: 0 });
      const verifier = createVerifier({ keys: store, algorithms: ['ES256'], cacheTtlMs: 20 });
      const tokens = await Promise.all(pool.map((k, i) => sign(k, `s${seed}-${i}`)));
      for (const t of tokens) assert.equal((await verifier.verify(t)).ok, true, `seed ${seed}: verifies while its key is in the set`);
      const kept = pool.filter(() => rnd() < 0.5);
      server.set(JSON.stringify({ keys: kept.map((k) => k.jwk) }));
      await new Promise((r) => setTimeout(r, 80));
      // each token presented again and again, alone: a remembered verification must not outlive its key
      for (let round = 0; round < 3; round++) {
        for (const [i, t] of tokens.entries()) {
          const out = await verifier.verify(t);
          const stays = kept.includes(pool[i]!);
          assert.equal(out.ok, stays, `seed ${seed} round ${round} key ${pool[i]!.jwk.kid}: ${stays ? 'kept' : 'removed'}`);
          if (!out.ok) assert.equal(out.reason, 'unknown_kid');
        }
        await new Promise((r) => setTimeout(r, 30));
      }
    }
  });

  it('refuses every remembered token of a removed key as soon as any lookup loaded the new set, long before the remembered verifications expire', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rnd = rng(seed * 7);
      server.set(JSON.stringify({ keys: pool.map((k) => k.jwk) }));
      const store = remoteJwksStore({ url: server.url, cacheMaxAgeMs: 40, cooldownMs: 0 });
      const verifier = createVerifier({ keys: store, algorithms: ['ES256'], cacheTtlMs: 600_000 });
      const tokens = await Promise.all(pool.map((k, i) => sign(k, `g${seed}-${i}`)));
      for (const t of tokens) assert.equal((await verifier.verify(t)).ok, true);
      const gone = Math.floor(rnd() * pool.length); // at least one key leaves
      const kept = pool.filter((_, i) => i !== gone && rnd() < 0.5);
      server.set(JSON.stringify({ keys: kept.map((k) => k.jwk) }));
      await new Promise((r) => setTimeout(r, 80));
      // one new token (of any key, known or not) makes the store load the new set
      const fresh = await sign(pool[Math.floor(rnd() * pool.length)]!, `fresh-${seed}`);
      await verifier.verify(fresh);
      assert.equal(store.generation, 2, `seed ${seed}: the new set was loaded`);
      for (const [i, t] of tokens.entries()) {
        const out = await verifier.verify(t);
        assert.equal(out.ok, kept.includes(pool[i]!), `seed ${seed} key ${pool[i]!.jwk.kid}`);
      }
    }
  });
});
