import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { VerifyOutcome } from '@jwt-audit/jwt';
import { bearerChallenge, challengeQuoted, decide } from './decision.js';
import type { AuthResult } from './exchange-events.js';
import { createRouter, DEFAULT_METHODS, type RouterOptions } from './routes.js';

const options: RouterOptions = {
  upstreams: { api: 'http://127.0.0.1:1' },
  mode: 'enforce',
  onSpoolFull: 'fail-open',
  methods: DEFAULT_METHODS,
  ambiguousPaths: 'reject',
  requireUpstream: true,
};
const table = createRouter(
  [
    { name: 'orders', path: '/orders', upstream: 'api', scopes: ['orders:read', 'orders:write'] },
    { name: 'audit', path: '/audit', upstream: 'api', onSpoolFull: 'fail-closed' },
    { name: 'open', path: '/open', upstream: 'api', auth: 'none' },
  ],
  options,
);
const ok = (): AuthResult => ({ kind: 'verified', token: 't', outcome: { ok: true } as unknown as VerifyOutcome });
const failed = (reason: string, detail: string): AuthResult => ({
  kind: 'verified',
  token: 't',
  outcome: { ok: false, reason, detail, signatureVerified: false } as unknown as VerifyOutcome,
});
const accepting = { canAccept: () => true };

describe('the decision and its RFC 6750 challenge', () => {
  const orders = table.resolve('GET', '/orders');

  it('lets a valid token through, and anything in observe mode', () => {
    assert.deepEqual(decide(ok(), 'enforce', orders, accepting), { allow: true });
    assert.deepEqual(decide({ kind: 'missing' }, 'observe', orders, accepting), { allow: true });
    assert.deepEqual(decide({ kind: 'none' }, 'enforce', table.resolve('GET', '/open'), accepting), { allow: true });
  });

  it('no credentials: 401 with a bare challenge (3.1: no error code)', () => {
    const d = decide({ kind: 'missing' }, 'enforce', orders, { ...accepting, realm: 'orders' });
    assert.ok(!d.allow);
    assert.equal(d.status, 401);
    assert.deepEqual(d.headers, { 'www-authenticate': 'Bearer realm="orders"' });
    assert.equal(d.problem?.type, 'https://jwt-audit.dev/problems/unauthorized');
  });

  it('a malformed Authorization header: 400 invalid_request; a bad token: 401 invalid_token with its reason', () => {
    const bad = bearerChallenge({ kind: 'malformed-header' }, []);
    assert.equal(bad.status, 400);
    assert.equal(
      bad.headers['www-authenticate'],
      'Bearer realm="api", error="invalid_request", error_description="Authorization header is not a valid Bearer credential"',
    );
    const expired = bearerChallenge(failed('expired', 'token expired 5 s ago') as Exclude<AuthResult, { kind: 'none' }>, []);
    assert.equal(expired.status, 401);
    assert.equal(expired.problem?.reason, 'expired');
    assert.equal(expired.headers['www-authenticate'], 'Bearer realm="api", error="invalid_token", error_description="token expired 5 s ago"');
  });

  it('missing scopes: 403 insufficient_scope naming the scopes the route needs', () => {
    const d = decide(failed('insufficient_scope', 'missing scope orders:write'), 'enforce', orders, accepting);
    assert.ok(!d.allow);
    assert.equal(d.status, 403);
    assert.equal(
      d.headers['www-authenticate'],
      'Bearer realm="api", error="insufficient_scope", error_description="missing scope orders:write", scope="orders:read orders:write"',
    );
  });

  it('quotes every value it puts in a challenge: no quote, backslash or non-printable character gets through', () => {
    for (let c = 0; c < 0x3000; c += c < 0x100 ? 1 : 97) {
      const detail = `a${String.fromCharCode(c)}b`;
      const h = bearerChallenge(failed('malformed', detail) as Exclude<AuthResult, { kind: 'none' }>, [], `r${String.fromCharCode(c)}`).headers[
        'www-authenticate'
      ]!;
      assert.match(h, /^Bearer realm="[\x20-\x7e]*", error="invalid_token", error_description="[\x20-\x7e]*"$/, `U+${c.toString(16)}`);
      assert.ok(!/[^\\]"[^,]*"[^,]*"/.test(h.split('error_description=')[1]!.slice(1, -1)), `U+${c.toString(16)}`);
    }
    assert.equal(challengeQuoted('say "hi" \\ ü'), "say 'hi' ' ?");
  });

  it('router refusals come first, then a fail-closed route while events cannot be recorded', () => {
    const trace = decide(ok(), 'observe', table.resolve('TRACE', '/orders'), accepting);
    assert.ok(!trace.allow);
    assert.equal(trace.status, 405);
    assert.equal(trace.headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    const closed = decide(ok(), 'enforce', table.resolve('GET', '/audit'), { canAccept: () => false });
    assert.ok(!closed.allow);
    assert.equal(closed.status, 503);
    assert.equal(closed.headers['retry-after'], '5');
    assert.deepEqual(decide(ok(), 'enforce', table.resolve('GET', '/audit'), accepting), { allow: true });
  });
});
