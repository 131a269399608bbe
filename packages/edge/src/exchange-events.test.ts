import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventCodec, type Source } from '@jwt-audit/events';
import { actorOf, exchangeEvent, rejectionOf, tokenEvent, tokenOf, type AuthResult, type Exchange } from './exchange-events.js';
import { sign, testVerifier } from './testdata/tokens.js';

const source: Source = { service: 'interceptor', instance: 'unit', environment: 'test' };
const exchange = (): Exchange => ({
  startedAt: 1_700_000_000_000,
  request: { id: 'r1', method: 'GET', scheme: 'https', host: 'api', path: '/orders', route: '/orders', query: null, headers: {}, body: null },
  response: { status: 200, headers: {}, body: null, latencyMs: 3 },
  network: { clientIp: '203.0.113.1', forwardedFor: [], userAgent: null },
  trace: null,
});

describe('the events of an exchange', () => {
  it('a valid token: token.validated with the request and the response, attributed to its subject, encodable', async () => {
    const v = await testVerifier();
    const token = sign({ sub: 'alice', scope: 'orders:read' });
    const auth: AuthResult = { kind: 'verified', token, outcome: await v.verify(token) };
    const e = tokenEvent(exchange(), auth, source, 'enforce', 1_700_000_000_010)!;
    assert.equal(e.kind, 'token.validated');
    assert.equal(e.outcome, 'success');
    assert.equal(e.actor.sub, 'alice');
    assert.equal(e.http?.response?.status, 200);
    assert.equal(e.attributes.mode, 'enforce');
    assert.equal(e.token?.fingerprint, auth.kind === 'verified' ? auth.outcome.fingerprint : '');
    assert.ok(!eventCodec.encode(e).value.includes(Buffer.from(token)), 'never the raw token');
    assert.equal(actorOf(auth), actorOf(auth), 'derived once per outcome');
    assert.equal(tokenOf(auth), tokenOf(auth));
  });

  it('a rejected token: token.rejected without the response; its unverified claims name nobody', async () => {
    const v = await testVerifier();
    const forged = sign({ sub: 'root' }, 'another-secret-of-some-length-000000');
    const auth: AuthResult = { kind: 'verified', token: forged, outcome: await v.verify(forged) };
    const e = tokenEvent(exchange(), auth, source, 'enforce', 1)!;
    assert.equal(e.kind, 'token.rejected');
    assert.equal(e.http?.response, null);
    assert.equal(e.actor.sub, null);
    assert.equal(e.attributes['token.claimedSub'], 'root');
    assert.equal(e.attributes['token.signatureVerified'], 'false');
    const x = exchangeEvent(exchange(), auth, source, 2);
    assert.equal(x.kind, 'http.exchange');
    assert.equal(x.attributes['auth.rejection'], e.rejection?.reason);
    eventCodec.encode(e);
    eventCodec.encode(x);
  });

  it('no authentication: no token event; the http.exchange outcome follows the status', () => {
    assert.equal(tokenEvent(exchange(), { kind: 'none' }, source, 'enforce', 1), null);
    assert.equal(exchangeEvent(exchange(), { kind: 'none' }, source, 1).outcome, 'success');
    const failed = { ...exchange(), response: { status: 503, headers: {}, body: null, latencyMs: 1 } };
    assert.equal(exchangeEvent(failed, { kind: 'none' }, source, 1).outcome, 'failure');
    assert.equal(exchangeEvent({ ...exchange(), response: null }, { kind: 'none' }, source, 1).outcome, 'unknown');
    assert.deepEqual(rejectionOf({ kind: 'missing' }), { reason: 'missing', detail: 'no bearer token' });
    assert.equal(rejectionOf({ kind: 'malformed-header' })?.reason, 'malformed');
    assert.equal(rejectionOf({ kind: 'none' }), null);
  });
});
