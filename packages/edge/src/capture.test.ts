import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { Actor } from '@jwt-audit/events';
import { BodyRecorder, captureHeaders, isTextual, resolvePolicy, sampled, secretHeaderSet, type CapturePolicy } from './capture.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const actor = (roles: string[], scopes: string[]): Actor => ({ sub: 'alice', clientId: null, tenant: null, roles, scopes });
const keyed = (v: string) => `hmac:t:${createHmac('sha256', 'test-key-0123456789').update(v).digest('hex').slice(0, 32)}`;
const base: CapturePolicy = { headers: ['accept', 'user-agent'], bodies: 'none', maxBodyBytes: 16 };

describe('capture policy', () => {
  it('takes the route policy over the base, then the first role/scope rule the actor matches', () => {
    const rules = [
      { roles: ['admin'], bodies: 'both' as const, maxBodyBytes: 1024 },
      { scopes: ['orders:write'], bodies: 'request' as const },
    ];
    assert.equal(resolvePolicy(base, undefined, rules, null), base, 'nothing to apply: the same object (allow-list sets are cached per object)');
    assert.deepEqual(resolvePolicy(base, { bodies: 'response' }, [], null), { ...base, bodies: 'response' });
    assert.deepEqual(resolvePolicy(base, { bodies: 'response' }, rules, actor(['admin'], ['orders:write'])), {
      headers: base.headers,
      bodies: 'both',
      maxBodyBytes: 1024,
    });
    assert.deepEqual(resolvePolicy(base, undefined, rules, actor([], ['orders:write'])), { ...base, bodies: 'request' });
    assert.equal(resolvePolicy(base, undefined, rules, actor(['customer'], ['orders:read'])), base);
  });

  it('keeps allow-listed headers (bounded), fingerprints secret ones, drops the rest', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
    const out = captureHeaders(
      {
        accept: 'application/json',
        'User-Agent': 'x'.repeat(5000),
        authorization: `Bearer ${token}`,
        cookie: 'a=1',
        'x-api-key': ['k1', 'k2'],
        'x-other': 'dropped',
        'content-length': 12,
      },
      new Set(['accept', 'user-agent', 'content-length']),
      secretHeaderSet(['X-Api-Key']),
      keyed,
    );
    assert.equal(out.accept, 'application/json');
    assert.equal(out['user-agent']!.length, 1024);
    assert.equal(out['content-length'], '12');
    assert.equal(out.authorization, `sha256:${sha(token)}`, 'a bearer value is fingerprinted as the bare token, so it joins token.fingerprint');
    assert.equal(out.cookie, keyed('a=1'), 'every other secret value through the keyed fingerprint, never a plain SHA-256');
    assert.equal(out['x-api-key'], `${keyed('k1')}, ${keyed('k2')}`, 'each value of a repeated header separately');
    assert.equal(
      captureHeaders({ authorization: 'Basic YTpi' }, new Set(), secretHeaderSet([]), keyed).authorization,
      keyed('Basic YTpi'),
      'Basic credentials keyed',
    );
    assert.equal(out['x-other'], undefined);
    const known = captureHeaders({ authorization: `Bearer ${token}` }, new Set(), secretHeaderSet([]), keyed, { token, fingerprint: 'f'.repeat(64) });
    assert.equal(known.authorization, `sha256:${'f'.repeat(64)}`, "the verifier's fingerprint is reused");
  });

  it('records a body up to its cap, with the size and a hash of all of it; binary bodies as size and hash only', () => {
    const r = new BodyRecorder(8);
    for (const c of ['{"a":', Buffer.from('1234'), '56}']) r.push(c);
    assert.equal(r.head().toString(), '{"a":123');
    assert.deepEqual(r.toBody('application/json'), {
      contentType: 'application/json',
      size: 12,
      truncated: true,
      content: '{"a":123',
      sha256: sha('{"a":123456}'),
    });
    const small = new BodyRecorder(64);
    small.push('ok');
    assert.deepEqual(small.toBody('text/plain'), { contentType: 'text/plain', size: 2, truncated: false, content: 'ok', sha256: null });
    const bin = new BodyRecorder(64);
    bin.push(Buffer.from([0, 1, 2]));
    assert.deepEqual(bin.toBody('image/png'), { contentType: 'image/png', size: 3, truncated: false, content: null, sha256: sha(Buffer.from([0, 1, 2])) });
    for (const t of [
      'application/json',
      'text/html; charset=utf-8',
      'application/problem+json',
      'application/vnd.api+json',
      'application/x-www-form-urlencoded',
    ])
      assert.ok(isTextual(t), t);
    for (const t of ['image/png', 'application/octet-stream', null]) assert.ok(!isTextual(t), String(t));
  });

  it('samples only what a rule covers, by route, path prefix and status class', () => {
    const rules = [
      { route: 'health', rate: 0 },
      { pathPrefix: '/static/', status: '3xx', rate: 0 },
      { pathPrefix: '/api/', status: '204', rate: 0.5 },
    ];
    assert.equal(sampled(rules, 'health', '/healthz', 200), false);
    assert.equal(sampled(rules, 'health', '/healthz', 503), true, 'a rule covers 2xx unless it says otherwise');
    assert.equal(sampled(rules, null, '/static/a.css', 304), false);
    assert.equal(sampled(rules, null, '/static/a.css', 200), true);
    assert.equal(
      sampled(rules, null, '/api/x', 204, () => 0.49),
      true,
    );
    assert.equal(
      sampled(rules, null, '/api/x', 204, () => 0.5),
      false,
    );
    assert.equal(sampled([], null, '/x', 200), true);
  });
});
