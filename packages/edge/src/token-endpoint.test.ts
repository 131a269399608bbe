import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventCodec, type Source } from '@jwt-audit/events';
import { tokenFingerprint, type RevocationCheck } from '@jwt-audit/jwt';
import { rng } from '@jwt-audit/runtime/testing/prng';
import type { Exchange } from './exchange-events.js';
import { FamilyTracker, observeTokenEndpoint, type TokenEndpointInput } from './token-endpoint.js';
import { sign, testVerifier } from './testdata/tokens.js';

const source: Source = { service: 'interceptor', instance: 'unit', environment: 'test' };
const exchange = (path: string): Exchange => ({
  startedAt: 1,
  request: {
    id: null,
    method: 'POST',
    scheme: 'https',
    host: 'idp',
    path,
    route: path,
    query: null,
    headers: {},
    body: { contentType: 'x', size: 1, truncated: false, content: 'password=hunter2', sha256: null },
  },
  response: null,
  network: { clientIp: '198.51.100.2', forwardedFor: [], userAgent: null },
  trace: null,
});
const input = (o: Partial<TokenEndpointInput> & { form: Record<string, string>; response?: unknown }): TokenEndpointInput => ({
  kind: o.kind ?? 'token',
  exchange: exchange(o.kind === 'revocation' ? '/revoke' : '/token'),
  requestBody: Buffer.from(new URLSearchParams(o.form).toString()),
  requestContentType: 'application/x-www-form-urlencoded',
  authorization: o.authorization,
  status: o.status ?? 200,
  responseBody: o.response === undefined ? null : Buffer.from(JSON.stringify(o.response)),
});

describe('token endpoint observation', () => {
  it('issued, then refreshed in the same family with the previous fingerprint, then a refused reuse attributed to the family subject', async () => {
    const v = await testVerifier();
    const families = new FamilyTracker();
    const access1 = sign({ sub: 'alice', sid: 's1' });
    const issued = await observeTokenEndpoint(
      input({
        form: { grant_type: 'password', username: 'alice', password: 'pw' },
        authorization: `Basic ${Buffer.from('web:secret').toString('base64')}`,
        response: { access_token: access1, refresh_token: 'rt-1' },
      }),
      source,
      families,
      v,
      10,
    );
    assert.deepEqual(
      issued.events.map((e) => `${e.kind} ${e.token?.typ}`),
      ['token.issued access', 'token.issued refresh'],
    );
    const family = issued.events[0]!.token?.familyId;
    assert.ok(family);
    assert.equal(issued.events[0]!.actor.clientId, 'web', 'from Basic credentials');
    assert.equal(issued.events[0]!.http?.request.body, null, 'never the credentials in the body');
    for (const e of issued.events) assert.ok(!eventCodec.encode(e).value.includes(Buffer.from('rt-1')), 'never the raw refresh token');

    const refreshed = await observeTokenEndpoint(
      input({ form: { grant_type: 'refresh_token', refresh_token: 'rt-1' }, response: { access_token: sign({ sub: 'alice' }), refresh_token: 'rt-2' } }),
      source,
      families,
      v,
      20,
    );
    const step = refreshed.events.find((e) => e.kind === 'token.refreshed')!;
    assert.equal(step.outcome, 'success');
    assert.equal(step.token?.familyId, family);
    assert.equal(step.token?.previousFingerprint, tokenFingerprint('rt-1'));

    const reuse = await observeTokenEndpoint(
      input({ form: { grant_type: 'refresh_token', refresh_token: 'rt-1' }, status: 400, response: { error: 'invalid_grant' } }),
      source,
      families,
      v,
      30,
    );
    assert.equal(reuse.events.length, 1);
    assert.equal(reuse.events[0]!.outcome, 'failure');
    assert.equal(reuse.events[0]!.attributes['oauth.error'], 'invalid_grant');
    assert.equal(reuse.events[0]!.actor.sub, 'alice', 'keyed by the family subject');
    assert.equal(reuse.events[0]!.token?.familyId, family);
  });

  it('revocation: token.revoked, and a revocation record only for a JWT that verifies', async () => {
    const v = await testVerifier();
    const families = new FamilyTracker();
    const good = sign({ sub: 'bob', jti: 'j-1' });
    const r = await observeTokenEndpoint(input({ kind: 'revocation', form: { token: good, token_type_hint: 'access_token' } }), source, families, v, 40);
    assert.equal(r.events[0]!.kind, 'token.revoked');
    assert.equal(r.events[0]!.actor.sub, 'bob');
    assert.deepEqual(
      r.revocations.map((x) => `${x.target}:${x.value}`),
      ['jti:j-1'],
    );
    const forged = sign({ sub: 'bob', jti: 'j-2' }, 'not-the-secret-but-long-enough-00000');
    const f = await observeTokenEndpoint(input({ kind: 'revocation', form: { token: forged } }), source, families, v, 50);
    assert.equal(f.revocations.length, 0, 'an unverified token revokes nothing');
    assert.equal(f.events[0]!.actor.sub, null);
    // the event says whether the edge refuses the token from now on
    assert.equal(r.events[0]!.attributes['revocation.enforced'], 'true');
    assert.equal(f.events[0]!.attributes['revocation.enforced'], 'false', 'unverified');
    for (const claims of [{ sub: 'bob' }, { sub: 'bob', jti: 42 }, { sub: 'bob', jti: '' }, { sub: 'bob', jti: ['j'] }]) {
      const n = await observeTokenEndpoint(input({ kind: 'revocation', form: { token: sign(claims) } }), source, families, v, 55);
      assert.equal(n.revocations.length, 0, JSON.stringify(claims));
      assert.equal(n.events[0]!.attributes['revocation.enforced'], 'false', `${JSON.stringify(claims)}: no string jti, nothing the edge can refuse`);
    }
    const opaque = await observeTokenEndpoint(
      input({ kind: 'revocation', form: { token: 'opaque-refresh-token', token_type_hint: 'refresh_token' } }),
      source,
      families,
      v,
      56,
    );
    assert.equal(opaque.events[0]!.attributes['revocation.enforced'], 'false', 'an opaque refresh token');
    assert.equal((await observeTokenEndpoint(input({ kind: 'revocation', form: { token: good }, status: 400 }), source, families, v)).events.length, 0);
  });

  it('revocation: the record names the jti the verifier checks, whatever its length or alphabet (400 generated jtis)', async () => {
    const v = await testVerifier();
    const families = new FamilyTracker();
    const r = rng(7009);
    const alphabets = ['abcdefghijklmnopqrstuvwxyz0123456789-', 'ABCDEFabcdef0123456789._~:@|+', ' \t=/%"\\', 'éüß日本語😀\u0301'];
    const revoked = new Set<string>();
    const check: RevocationCheck = { isJtiRevoked: (jti) => revoked.has(jti), isSubjectRevoked: () => false };
    for (let c = 0; c < 400; c++) {
      // lengths around and far past what an event keeps of a claim (256 characters)
      const length = r.pick([1, 36, 255, 256, 257, 300, 1000, 2000]) + r.int(3);
      const chars = [...r.pick(alphabets)];
      // the case number first: a short jti of a small alphabet would repeat an earlier one
      const jti = `${c}${Array.from({ length }, () => chars[r.int(chars.length)]).join('')}`;
      const token = sign({ sub: `user-${c}`, jti });
      // another token whose jti differs only past the first 256 characters
      const sibling = sign({ sub: `user-${c}`, jti: `${jti.slice(0, 256)}${jti.length > 256 ? '!' : ''}~sibling` });
      assert.equal((await v.verify(token, { revocations: check })).ok, true, `case ${c}: the token verifies before it is revoked`);
      const out = await observeTokenEndpoint(input({ kind: 'revocation', form: { token } }), source, families, v, 60);
      for (const x of out.revocations) revoked.add(x.value);
      const after = await v.verify(token, { revocations: check });
      assert.equal(after.ok ? 'accepted' : after.reason, 'revoked', `case ${c}: a jti of ${jti.length} characters`);
      const other = await v.verify(sibling, { revocations: check });
      assert.equal(other.ok, true, `case ${c}: the sibling token is not revoked with it`);
    }
  });

  it('bad input never throws: garbage bodies, JSON forms, non-JSON responses, a bounded family table', async () => {
    const v = await testVerifier();
    const families = new FamilyTracker(2);
    for (const body of ['', '{', 'a=%zz', '\u0000\u0001', 'x'.repeat(10_000)]) {
      const i = { ...input({ form: {} }), requestBody: Buffer.from(body), responseBody: Buffer.from(body) };
      assert.deepEqual(await observeTokenEndpoint(i, source, families, v), { events: [], revocations: [] });
    }
    const json = {
      ...input({ form: {}, response: { access_token: 'opaque' } }),
      requestBody: Buffer.from('{"grant_type":"client_credentials","client_id":"svc"}'),
      requestContentType: 'application/json',
    };
    const out = await observeTokenEndpoint(json, source, families, v);
    assert.equal(out.events[0]!.actor.clientId, 'svc');
    for (let i = 0; i < 5; i++) families.set(`fp${i}`, `fam${i}`);
    assert.equal(families.get('fp0'), undefined, 'oldest out');
    assert.equal(families.get('fp4'), 'fam4');
  });
});
