import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Kafka } from '@jwt-audit/kafka';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { TOPICS, revocationCodec, type AuditEvent } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { createInterceptor, signIngestBody, type Interceptor } from './index.js';
import { pseudonym } from '@jwt-audit/masking';
import { TEST_FINGERPRINT_KEYS, collectEvents, quietLogger, startEchoUpstream, startTestAuthServer, testConfig, waitFor } from './testdata/harness.js';

const logger = quietLogger();
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const HMAC_SECRET = 'ingest-secret-of-at-least-32-bytes-long';

describe('interceptor through the proxy, on the embedded broker', () => {
  let dir: string;
  let broker: Broker;
  let kafka: Kafka;
  let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let interceptor: Interceptor;
  let url: string;
  let reader: Awaited<ReturnType<typeof collectEvents>>;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'interceptor-'));
    broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
    kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
    await ensureTopics(kafka);
    auth = await startTestAuthServer();
    upstream = await startEchoUpstream();
    const config = testConfig({
      brokers: [broker.address],
      spoolDir: path.join(dir, 'spool'),
      jwksUrl: auth.jwksUrl,
      issuer: auth.issuer,
      audience: auth.audience,
      upstreams: { api: upstream.url, auth: auth.url },
      routes: [
        { name: 'token', path: '/oauth/token', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'token' },
        { name: 'revoke', path: '/oauth/revoke', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'revocation' },
        { name: 'admin', path: '/api/admin/*', upstream: 'api', scopes: ['admin'] },
        { name: 'observed', path: '/observed/*', upstream: 'api', mode: 'observe' },
        { name: 'order', path: '/api/orders/:id', upstream: 'api', scopes: ['orders:read'] },
        { name: 'api', path: '/api/*', upstream: 'api' },
      ],
      capture: {
        ...testConfig({ brokers: [], spoolDir: '', jwksUrl: '', issuer: '', audience: '' }).capture,
        bodies: 'none',
        rules: [{ roles: ['admin'], bodies: 'both' }],
      },
      maxRequestBodyBytes: 64 * 1024,
      requestTimeoutMs: 1_500,
      headersTimeoutMs: 1_000,
      ingest: {
        enabled: true,
        path: '/audit/v1/events',
        hmacKeys: [{ id: 'idp', secret: HMAC_SECRET }],
        jwtAudience: 'audit-ingest',
        maxBodyBytes: 65_536,
        maxSkewSec: 300,
      },
    });
    interceptor = createInterceptor(config, { logger });
    url = (await interceptor.start()).url;
    reader = await collectEvents(kafka, TOPICS.raw);
  });

  after(async () => {
    await reader?.stop();
    await interceptor?.stop();
    await auth?.close();
    await upstream?.close();
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (p: string, token?: string, headers: Record<string, string> = {}) =>
    fetch(`${url}${p}`, { headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const eventsFor = (fp: string, kind?: string) => reader.events.filter((e) => e.token?.fingerprint === fp && (!kind || e.kind === kind));

  it('fingerprints Basic credentials, API keys and cookies with the keyed HMAC, never plain SHA-256', async () => {
    const secret = TEST_FINGERPRINT_KEYS.split(':')[1]!;
    const values = { authorization: `Basic ${Buffer.from('alice:hunter2').toString('base64')}`, 'x-api-key': 'key-0123', cookie: 'sid=abc; theme=dark' };
    const res = await get('/observed/secrets', undefined, { ...values, 'x-request-id': 'secrets-1' });
    assert.equal(res.status, 200);
    const e = await waitFor('the exchange', () => reader.events.find((x) => x.http?.request.id === 'secrets-1'));
    for (const [name, value] of Object.entries(values)) {
      assert.equal(e.http!.request.headers[name], pseudonym(value, { id: 'test', secret }), name);
      assert.ok(!JSON.stringify(e).includes(sha(value)), `${name}: no plain SHA-256`);
    }
  });

  it('passes a valid token upstream with the subject and trace context, and publishes one token.validated per request, with the response and without the token', async () => {
    const token = await auth.sign({ sub: 'alice' });
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await get('/api/orders/1042?expand=items', token, { traceparent, 'x-auth-subject': 'mallory', 'x-request-id': 'req-1' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { subject: string };
    assert.equal(body.subject, 'alice', 'the subject header comes from the verified token, never the client');
    const seen = upstream.seen.at(-1)!;
    assert.match(String(seen.headers.traceparent), /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    assert.notEqual(String(seen.headers.traceparent).split('-')[2], '00f067aa0ba902b7', 'the interceptor is a hop with its own span');
    const fp = sha(token);
    const validated = await waitFor('token.validated', () => eventsFor(fp, 'token.validated')[0]);
    assert.equal(validated.actor.sub, 'alice');
    assert.deepEqual(validated.actor.scopes, ['orders:read']);
    assert.equal(validated.outcome, 'success');
    assert.equal(validated.attributes.mode, 'enforce');
    assert.equal(validated.http?.request.route, '/api/orders/:id');
    assert.equal(validated.http?.request.query, 'expand=items');
    assert.equal(validated.http?.request.id, 'req-1');
    assert.equal(validated.http?.request.headers.authorization, `sha256:${fp}`);
    assert.equal(validated.trace?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(validated.http?.response?.status, 200);
    // a cookie is guessable: keyed with the deployment's fingerprint key, the key id inside (what `audit fingerprint --header set-cookie` prints)
    assert.equal(
      validated.http?.response?.headers['set-cookie'],
      pseudonym('session=secret-cookie-value', { id: 'test', secret: TEST_FINGERPRINT_KEYS.split(':')[1]! }),
    );
    assert.ok(!JSON.stringify(validated).includes(sha('session=secret-cookie-value')), 'never its plain SHA-256');
    assert.ok((validated.http?.response?.latencyMs ?? -1) >= 0);
    assert.equal(validated.network?.clientIp, '127.0.0.1');
    // a second request with the same token: one subject, one partition, events in request order,
    // so once its event is read, anything else the first request published has been read too
    assert.equal((await get('/api/orders/1043', token, { 'x-request-id': 'req-2' })).status, 200);
    await waitFor('the second request', () => eventsFor(fp).find((e) => e.http?.request.id === 'req-2'));
    assert.deepEqual(
      eventsFor(fp).map((e) => `${e.kind} ${e.http?.request.id}`),
      ['token.validated req-1', 'token.validated req-2'],
      'one event per request',
    );
    for (const raw of reader.raw) {
      assert.ok(!raw.includes(token), 'no record holds the raw token');
      assert.ok(!raw.includes('secret-cookie-value'), 'no record holds a cookie value');
    }
  });

  it('does not forward hop-by-hop headers, including those the Connection header names', async () => {
    const token = await auth.sign({ sub: 'alice' });
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${url}/api/orders/7`, {
        headers: {
          authorization: `Bearer ${token}`,
          connection: 'keep-alive, X-Hop-Secret',
          'x-hop-secret': 'not-for-upstream',
          'keep-alive': 'timeout=5',
          te: 'trailers',
          'proxy-authorization': 'Basic cHJveHk6cHc=',
          'x-end-to-end': 'kept',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    const seen = upstream.seen.at(-1)!;
    for (const h of ['x-hop-secret', 'keep-alive', 'te', 'proxy-authorization']) assert.equal(seen.headers[h], undefined, `${h} is hop-by-hop`);
    assert.equal(seen.headers['x-end-to-end'], 'kept');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  });

  it('rejects every kind of bad token with RFC 6750 challenges and audits the precise reason', async () => {
    const good = await auth.sign();
    const [h, p] = good.split('.');
    const cases: Array<[string, string | undefined, number, string]> = [
      ['missing', undefined, 401, 'missing'],
      ['garbage', 'garbage', 401, 'malformed'],
      ['bad signature', `${h}.${p}.${Buffer.alloc(256, 1).toString('base64url')}`, 401, 'bad_signature'],
      ['expired', await auth.sign({}, { expiresInSec: -120 }), 401, 'expired'],
      ['not yet valid', await auth.sign({}, { nbfOffsetSec: 600 }), 401, 'not_yet_valid'],
      ['wrong issuer', await auth.sign({}, { iss: 'https://evil.example/' }), 401, 'wrong_issuer'],
      ['wrong audience', await auth.sign({}, { aud: 'other-api' }), 401, 'wrong_audience'],
      ['alg none', `${b64({ alg: 'none' })}.${p}.`, 401, 'alg_not_allowed'],
      ['HS256', `${b64({ alg: 'HS256', kid: 'k1' })}.${p}.${Buffer.alloc(32).toString('base64url')}`, 401, 'alg_not_allowed'],
      ['unknown kid', `${b64({ alg: 'RS256', kid: '../../../etc/passwd' })}.${p}.${good.split('.')[2]}`, 401, 'unknown_kid'],
      ['sql kid', `${b64({ alg: 'RS256', kid: "1' OR '1'='1" })}.${p}.${good.split('.')[2]}`, 401, 'unknown_kid'],
      ['scope', await auth.sign({ scope: 'orders:read' }), 403, 'insufficient_scope'],
    ];
    for (const [name, token, status, reason] of cases) {
      const res = await get(name === 'scope' ? '/api/admin/users' : '/api/orders', token);
      assert.equal(res.status, status, name);
      const challenge = res.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Bearer realm="api"/, name);
      if (reason === 'missing') assert.doesNotMatch(challenge, /error=/);
      else if (reason === 'insufficient_scope') assert.match(challenge, /error="insufficient_scope".*scope="admin"/);
      else assert.match(challenge, /error="invalid_token"/, name);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      const problem = (await res.json()) as { status: number };
      assert.equal(problem.status, status);
      if (token !== undefined) {
        const ev = await waitFor(`token.rejected for ${name}`, () => eventsFor(sha(token), 'token.rejected')[0]);
        assert.equal(ev.rejection?.reason, reason, name);
        assert.equal(ev.outcome, 'failure');
        if (!['expired', 'not_yet_valid', 'wrong_issuer', 'wrong_audience', 'insufficient_scope'].includes(reason))
          assert.equal(ev.actor.sub, null, `${name}: an unverified token names nobody`);
      }
    }
    const missing = await waitFor('a missing-token rejection', () =>
      reader.events.find((e) => e.kind === 'token.rejected' && e.rejection?.reason === 'missing'),
    );
    assert.equal(missing.token, null);
  });

  it('observe mode lets bad tokens through but still audits them', async () => {
    const res = await get('/observed/thing', 'not-a-jwt');
    assert.equal(res.status, 200);
    const ev = await waitFor('observed rejection', () => eventsFor(sha('not-a-jwt'), 'token.rejected')[0]);
    assert.equal(ev.attributes.mode, 'observe');
  });

  it('emits key.rotated when the JWKS changes and accepts tokens from the new key', async () => {
    const kid = await auth.rotate();
    const token = await auth.sign({}, { kid });
    const res = await get('/api/orders', token);
    assert.equal(res.status, 200);
    const ev = await waitFor('key.rotated', () => reader.events.find((e) => e.kind === 'key.rotated' && e.key?.added.includes(kid)));
    assert.ok(ev.key?.current.includes('k1'));
  });

  it('enforces a revocation record, audits the rejection, and lifts it on a tombstone', async () => {
    const token = await auth.sign({ sub: 'bob', jti: 'jti-revoke-me' });
    assert.equal((await get('/api/orders', token)).status, 200);
    const producer = createAuditProducer(kafka, { logger });
    await producer.connect();
    const { value, headers } = revocationCodec.encode({
      target: 'jti',
      value: 'jti-revoke-me',
      revokedAt: Date.now(),
      expiresAt: null,
      reason: 'test',
      eventId: null,
    });
    await producer.send(TOPICS.revocations, [{ key: 'jti:jti-revoke-me', value, headers }]);
    // a bound on the wait, not a speed target: the test asserts that the record alone enforces it
    await waitFor('revocation enforced', async () => (await get('/api/orders', token)).status === 401, 15_000, 20);
    const ev = await waitFor('revoked rejection', () => eventsFor(sha(token), 'token.rejected').find((e) => e.rejection?.reason === 'revoked'));
    assert.equal(ev.actor.sub, 'bob');
    // deprovision a subject, then lift it
    const sub = revocationCodec.encode({ target: 'subject', value: 'carol', revokedAt: Date.now(), expiresAt: null, reason: 'left', eventId: null });
    await producer.send(TOPICS.revocations, [{ key: 'sub:carol', value: sub.value, headers: sub.headers }]);
    const carol = await auth.sign({ sub: 'carol' });
    await waitFor('subject deprovisioned', async () => (await get('/api/orders', carol)).status === 401, 5_000, 20);
    await producer.send(TOPICS.revocations, [{ key: 'sub:carol', value: null }]);
    await waitFor('tombstone lifts', async () => (await get('/api/orders', carol)).status === 200, 5_000, 20);
    await producer.disconnect();
  });

  it('observes the token endpoint: issued, refreshed with family and previous fingerprint, failed reuse, revoked (then enforced)', async () => {
    const form = (o: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('web:pw').toString('base64')}` },
      body: new URLSearchParams(o).toString(),
    });
    const r1 = (await (await fetch(`${url}/oauth/token`, form({ grant_type: 'password', username: 'dave', password: 'x' }))).json()) as {
      access_token: string;
      refresh_token: string;
    };
    const r2 = (await (await fetch(`${url}/oauth/token`, form({ grant_type: 'refresh_token', refresh_token: r1.refresh_token }))).json()) as {
      access_token: string;
      refresh_token: string;
    };
    const reuse = await fetch(`${url}/oauth/token`, form({ grant_type: 'refresh_token', refresh_token: r1.refresh_token }));
    assert.equal(reuse.status, 400);
    const issued = await waitFor('token.issued', () => eventsFor(sha(r1.access_token), 'token.issued')[0]);
    assert.equal(issued.actor.sub, 'dave');
    assert.equal(issued.actor.clientId, 'web');
    assert.equal(issued.token?.typ, 'access');
    const issuedRefresh = await waitFor('refresh token.issued', () => eventsFor(sha(r1.refresh_token), 'token.issued')[0]);
    const family = issuedRefresh.token?.familyId;
    assert.ok(family);
    const refreshed = await waitFor('token.refreshed', () => eventsFor(sha(r2.refresh_token), 'token.refreshed')[0]);
    assert.equal(refreshed.token?.previousFingerprint, sha(r1.refresh_token));
    assert.equal(refreshed.token?.familyId, family);
    assert.equal(refreshed.outcome, 'success');
    const failed = await waitFor('failed refresh', () =>
      reader.events.find((e) => e.kind === 'token.refreshed' && e.outcome === 'failure' && e.token?.previousFingerprint === sha(r1.refresh_token)),
    );
    assert.equal(failed.token?.familyId, family);
    assert.equal(failed.attributes['oauth.error'], 'invalid_grant');
    for (const raw of reader.raw) assert.ok(!raw.includes(r1.refresh_token) && !raw.includes(r2.access_token));

    assert.equal((await get('/api/orders', r2.access_token)).status, 200);
    const rv = await fetch(`${url}/oauth/revoke`, form({ token: r2.access_token, token_type_hint: 'access_token' }));
    assert.equal(rv.status, 200);
    const revoked = await waitFor('token.revoked', () => eventsFor(sha(r2.access_token), 'token.revoked')[0]);
    assert.equal(revoked.actor.sub, 'dave');
    assert.ok(revoked.token?.jti);
    assert.equal((await get('/api/orders', r2.access_token)).status, 401);
  });

  it('ingest API: HMAC-signed and JWT-authenticated events accepted, bad ones refused with problem documents', async () => {
    const event = { type: 'subject.deprovisioned', occurredAt: new Date().toISOString(), subject: 'erin', reason: 'offboarded' };
    const body = JSON.stringify(event);
    const post = (b: string, headers: Record<string, string>) =>
      fetch(`${url}/audit/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: b });
    const ok = await post(body, { 'x-audit-signature': signIngestBody(HMAC_SECRET, body), 'x-audit-key-id': 'idp' });
    assert.equal(ok.status, 202);
    const { ids } = (await ok.json()) as { ids: string[] };
    await waitFor('ingested event', () => reader.events.find((e) => e.id === ids[0]));
    // the deprovisioning is enforced
    assert.equal((await get('/api/orders', await auth.sign({ sub: 'erin' }))).status, 401);

    assert.equal((await post(body, { 'x-audit-signature': signIngestBody('wrong-secret-wrong-secret-wrong-secret', body) })).status, 401);
    assert.equal((await post(body, { 'x-audit-signature': signIngestBody(HMAC_SECRET, body, Math.floor(Date.now() / 1000) - 3600) })).status, 401);
    assert.equal((await post(body, {})).status, 401);

    const bad = JSON.stringify({ events: [{ type: 'token.issued', occurredAt: 'yesterday', token: { fingerprint: 'not-a-hash' } }] });
    const res = await post(bad, { 'x-audit-signature': signIngestBody(HMAC_SECRET, bad) });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const problem = (await res.json()) as { errors: Array<{ field: string }> };
    const fields = problem.errors.map((e) => e.field);
    assert.ok(fields.includes('events.0.occurredAt'), fields.join());
    assert.ok(fields.includes('events.0.token.fingerprint'), fields.join());

    const jwt = await auth.sign({ sub: 'idp-service' }, { aud: 'audit-ingest' });
    const issued = JSON.stringify({
      type: 'token.issued',
      occurredAt: new Date().toISOString(),
      subject: 'frank',
      token: { fingerprint: sha('x'), typ: 'access' },
    });
    assert.equal((await post(issued, { authorization: `Bearer ${jwt}` })).status, 202);
    assert.equal((await post(issued, { authorization: `Bearer ${await auth.sign()}` })).status, 401, 'a token for the API audience cannot push events');
    assert.equal((await post('{not json', { 'x-audit-signature': signIngestBody(HMAC_SECRET, '{not json') })).status, 400);
  });

  it('survives hostile input and keeps serving', async () => {
    const token = await auth.sign();
    // 64 KiB token: larger than the header limit; the connection is refused cleanly
    const huge = await get('/api/orders', 'a'.repeat(64 * 1024)).catch(() => null);
    assert.ok(huge === null || huge.status === 431 || huge.status === 401 || huge.status === 400);
    // a 12 KiB token fits the header limit and is refused as malformed without parsing
    const big = 'a'.repeat(12 * 1024) + '.b.c';
    assert.equal((await get('/api/orders', big)).status, 401);
    // non-UTF-8 bytes in headers
    const raw = await rawRequest(
      url,
      Buffer.concat([
        Buffer.from('GET /api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer '),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('\r\nX-Odd: '),
        Buffer.from([0xe9, 0x80]),
        Buffer.from('\r\nConnection: close\r\n\r\n'),
      ]),
    );
    assert.match(raw, /^HTTP\/1\.1 (400|401)/);
    // oversized body
    const big413 = await fetch(`${url}/api/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(200 * 1024),
    });
    assert.equal(big413.status, 413);
  });

  it('serves /metrics and /healthz', async () => {
    const text = await interceptor.metrics.registry.metrics();
    assert.match(text, /audit_interceptor_requests_total\{route="order",status="2xx"\} \d+/);
    assert.match(text, /audit_interceptor_token_outcomes_total\{outcome="rejected",reason="expired"\} \d+/);
    assert.match(text, /audit_interceptor_published_records_total\{topic="audit.raw.v1"\} \d+/);
  });
});

function rawRequest(base: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(new URL(base).port), '127.0.0.1');
    let out = '';
    s.on('data', (c) => (out += c.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(bytes);
  });
}

export type { AuditEvent };
