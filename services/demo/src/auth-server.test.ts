import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createLogger } from '@jwt-audit/runtime';
import { startAuthServer } from './auth-server.js';

const logger = createLogger({ name: 'test', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const basic = 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64');

async function token(url: string, form: Record<string, string>) {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

test('password grant issues a JWT verifiable with the JWKS; refresh rotates; reuse revokes the family', async (t) => {
  const auth = await startAuthServer({ port: 0, logger });
  t.after(() => auth.close());
  const first = await token(auth.url, { grant_type: 'password', username: 'alice', password: 'alice-pw' });
  assert.equal(first.status, 200);
  const { payload, protectedHeader } = await jwtVerify(first.body.access_token!, createRemoteJWKSet(new URL(auth.jwksUrl)), {
    issuer: auth.issuer,
    audience: 'demo-api',
  });
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.scope, 'orders:read orders:write');
  assert.equal(protectedHeader.alg, 'RS256');

  const second = await token(auth.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token! });
  assert.equal(second.status, 200);
  assert.notEqual(second.body.refresh_token, first.body.refresh_token);

  const reuse = await token(auth.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token! });
  assert.equal(reuse.status, 400);
  assert.equal(reuse.body.error, 'invalid_grant');
  const afterReuse = await token(auth.url, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token! });
  assert.equal(afterReuse.status, 400, 'the whole family is revoked after reuse');

  assert.equal((await token(auth.url, { grant_type: 'password', username: 'alice', password: 'nope' })).status, 400);
  const badClient = await fetch(`${auth.url}/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'x', client_secret: 'y' }),
  });
  assert.equal(badClient.status, 401);
});

test('key rotation publishes the new key and signs with it', async (t) => {
  const auth = await startAuthServer({ port: 0, logger });
  t.after(() => auth.close());
  const kid = await auth.rotateKey();
  const jwks = (await (await fetch(auth.jwksUrl)).json()) as { keys: { kid: string }[] };
  assert.equal(jwks.keys.length, 2);
  assert.equal(jwks.keys[1]!.kid, kid);
  const tok = await auth.sign({ sub: 'bob' });
  const header = JSON.parse(Buffer.from(tok.split('.')[0]!, 'base64url').toString());
  assert.equal(header.kid, kid);
});

test('with a key file, the signing keys survive a restart: a token issued before it still verifies', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'demo-idp-'));
  try {
    const keyFile = path.join(dir, 'keys', 'idp.jwks.json');
    const first = await startAuthServer({ port: 0, logger, keyFile });
    const before = await token(first.url, { grant_type: 'password', username: 'alice', password: 'alice-pw' });
    const rotated = await first.rotateKey();
    await first.close();
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'private keys readable by their owner only');
    const second = await startAuthServer({ port: 0, logger, keyFile, issuer: first.issuer });
    try {
      const jwks = createRemoteJWKSet(new URL(second.jwksUrl));
      const { payload } = await jwtVerify(before.body.access_token!, jwks, { issuer: first.issuer, audience: 'demo-api' });
      assert.equal(payload.sub, 'alice');
      const published = (await (await fetch(second.jwksUrl)).json()) as { keys: Record<string, unknown>[] };
      assert.equal(published.keys.at(-1)!.kid, rotated, 'the newest key signs after the restart too');
      for (const k of published.keys) assert.equal(k.d, undefined, 'the JWKS never publishes a private part');
    } finally {
      await second.close();
    }
    writeFileSync(keyFile, 'not json');
    await assert.rejects(startAuthServer({ port: 0, logger, keyFile }), /demo IdP key file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
