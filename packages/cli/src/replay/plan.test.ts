import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { toEcsDocument } from '@jwt-audit/ecs';
import { readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import { compareResponse } from './compare.js';
import { NotAnExchange, planRequest, type ExchangeDocument } from './plan.js';
import { outgoing, replay } from './replay.js';

const example = (name: string) => toEcsDocument(readSchemaFile(`examples/${name}.json`) as AuditEvent) as ExchangeDocument;

test('the example exchange: recorded method, path, query, allow-listed headers and body; the credential replaced', () => {
  const validated = planRequest('e1', example('token.validated'));
  assert.equal(validated.method, 'GET');
  assert.equal(validated.target, '/orders/1042?expand=items');
  assert.equal(validated.authenticated, true);
  assert.deepEqual(validated.headers, { accept: 'application/json' }, 'the fingerprinted authorization is not sent');
  assert.deepEqual(validated.flags, []);
  assert.equal(validated.recorded?.status, 200);
  const out = outgoing(validated, { target: new URL('http://test:8080/base/'), token: 'op.token' });
  assert.equal(out.url.href, 'http://test:8080/base/orders/1042?expand=items');
  assert.equal(out.headers.authorization, 'Bearer op.token');
  assert.equal(out.headers['x-audit-replay-of'], 'e1');

  const exchange = planRequest('e2', example('http.exchange'));
  assert.equal(exchange.body, '{"sku":"A-1001","quantity":2,"card":"[redacted:card]"}');
  assert.deepEqual(
    exchange.flags.map((f) => f.code),
    ['request-masked'],
  );
  assert.equal(exchange.unfaithful, false);
  assert.equal(exchange.recorded?.content, '{"orderId":1043}');
});

test('what cannot be replayed faithfully is flagged with why', () => {
  const base = example('http.exchange');
  const withReq = (req: object, audit: object = {}) =>
    planRequest('e', {
      ...base,
      http: { ...base.http, request: { method: 'POST', ...req } },
      jwt_audit: { ...base.jwt_audit, http: { ...base.jwt_audit!.http, ...audit } },
    });
  const truncated = withReq({ body: { bytes: 9000, content: '{"a":"' } }, { request_truncated: true });
  assert.equal(truncated.unfaithful, true);
  assert.match(truncated.flags[0]!.message, /truncated: 6 of 9000 bytes/);
  const binary = withReq({ mime_type: 'application/octet-stream', body: { bytes: 512 } });
  assert.equal(binary.unfaithful, true);
  assert.match(binary.flags[0]!.message, /not captured \(512 bytes of application\/octet-stream/);
  const off = withReq({}, { request_headers: { 'content-length': '40' } });
  assert.equal(off.unfaithful, true);
  assert.match(off.flags[0]!.message, /capture policy kept no request body; it had 40 bytes/);
  const empty = withReq({}, { request_headers: { 'content-length': '0' } });
  assert.equal(empty.unfaithful, false);
  const get = planRequest('g', { ...base, http: { ...base.http, request: { method: 'GET' } }, jwt_audit: { ...base.jwt_audit, http: {} } });
  assert.equal(get.unfaithful, false, 'a GET without a captured body had none');
  const secret = withReq(
    { mime_type: 'application/json', body: { bytes: 2, content: '{}' } },
    {
      request_headers: {
        'x-api-key': 'hmac:k1:0123456789abcdef0123456789abcdef',
        cookie: 'hmac:k1:0123456789abcdef0123456789abcdef',
        'x-trace': 'a\r\nx-injected: 1',
        host: 'prod.example.com',
      },
    },
  );
  assert.deepEqual(secret.headers, { 'content-type': 'application/json' });
  assert.deepEqual(
    secret.flags.map((f) => f.code),
    ['secret-header-dropped', 'secret-header-dropped', 'secret-header-dropped'],
  );
  const refused = planRequest('r', { ...base, jwt_audit: { ...base.jwt_audit, attributes: { 'auth.rejection': 'revoked' } } });
  assert.ok(refused.flags.some((f) => f.code === 'refused-at-edge' && /revoked/.test(f.message)));
  assert.throws(() => planRequest('x', example('token.issued')), NotAnExchange);
});

/** Documents as an attacker could shape them (every field any JSON type): a plan or NotAnExchange, never a crash. */
test('any document: a plan whose headers are all strings, or NotAnExchange (generated)', () => {
  let s = 7;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const values = [
    null,
    undefined,
    0,
    -1,
    1e308,
    '',
    'x',
    '/',
    '/api\r\nx: y',
    'GET',
    ['a'],
    { a: 1 },
    true,
    'hmac:k:0123456789abcdef0123456789abcdef',
    '[redacted:x]',
  ];
  const any = () => values[Math.floor(r() * values.length)];
  const paths = [
    '@timestamp',
    'http.request.method',
    'http.request.mime_type',
    'http.request.body',
    'http.request.body.bytes',
    'http.request.body.content',
    'http.response',
    'http.response.status_code',
    'http.response.body.content',
    'http.response.body.bytes',
    'url.path',
    'url.query',
    'event.action',
    'jwt_audit.http.request_headers',
    'jwt_audit.http.request_headers.accept',
    'jwt_audit.http.request_headers.content-length',
    'jwt_audit.http.response_headers',
    'jwt_audit.http.request_truncated',
    'jwt_audit.attributes',
    'jwt_audit.route',
    'jwt_audit.token.fingerprint',
  ];
  let planned = 0;
  const template = example('http.exchange');
  for (let i = 0; i < 1000; i++) {
    const doc = structuredClone(template) as Record<string, unknown>;
    for (let k = 1 + Math.floor(r() * 4); k > 0; k--) {
      const p = paths[Math.floor(r() * paths.length)]!.split('.');
      let cur = doc as Record<string, unknown>;
      for (const part of p.slice(0, -1)) {
        if (cur[part] === null || typeof cur[part] !== 'object') cur[part] = {};
        cur = cur[part] as Record<string, unknown>;
      }
      cur[p.at(-1)!] = any();
    }
    try {
      const plan = planRequest(`e${i}`, doc as ExchangeDocument);
      planned++;
      const out = outgoing(plan, { target: new URL('http://t:1'), token: 'tok' });
      for (const [k, v] of Object.entries(out.headers)) {
        assert.equal(typeof v, 'string', `${k}: ${JSON.stringify(doc)}`);
        assert.doesNotMatch(v, /[\r\n\0]/);
      }
      assert.equal(typeof plan.target, 'string');
      assert.ok(plan.body === null || typeof plan.body === 'string');
      if (plan.recorded) compareResponse(plan.recorded, { status: 200, size: 2, sha256: 'x', text: '{}', contentType: 'application/json' });
    } catch (err) {
      assert.ok(err instanceof NotAnExchange, `${(err as Error).stack}\n${JSON.stringify(doc)}`);
    }
  }
  assert.ok(planned > 250, `${planned} planned`);
});

test('replay: recorded spacing kept under --pace recorded, the rate limit otherwise; unfaithful requests sent only when asked; no answer is an error row', async (t) => {
  const seen: Array<{ method: string; url: string; body: string; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, headers: req.headers });
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"orderId":1043}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const target = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const base = example('http.exchange');
  base.http!.response!.body!.bytes = 16; // the size of what the server below answers
  const at = (ms: number) => new Date(Date.parse('2026-11-20T10:00:00Z') + ms).toISOString();
  const plan = [
    planRequest('a', { ...base, '@timestamp': at(0) }),
    planRequest('b', { ...base, '@timestamp': at(4000) }),
    planRequest('c', { ...base, '@timestamp': at(4500), jwt_audit: { ...base.jwt_audit, http: { ...base.jwt_audit!.http, request_truncated: true } } }),
  ];
  // the test's own clock: it moves only when replay sleeps, so each wait is exactly what pacing asks for
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
    clock += ms;
  };
  const paced = await replay(plan, { target, token: 'tok', rate: 1000, pace: 'recorded', timeoutMs: 5000, dryRun: false, sendUnfaithful: false, sleep, now });
  assert.deepEqual(
    paced.map((r) => r.result),
    ['match', 'match', 'skipped'],
  );
  assert.deepEqual(waits, [4000], 'one wait: the 4 s between the first two recorded requests');
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.body, '{"sku":"A-1001","quantity":2,"card":"[redacted:card]"}');
  assert.equal(seen[0]!.headers.authorization, 'Bearer tok');
  assert.equal(seen[0]!.headers['x-audit-replay-of'], 'a');

  waits.length = 0;
  const limited = await replay(plan, { target, token: 'tok', rate: 2, pace: 'none', timeoutMs: 5000, dryRun: false, sendUnfaithful: true, sleep, now });
  assert.deepEqual(
    limited.map((r) => r.result),
    ['match', 'match', 'match'],
  );
  assert.deepEqual(waits, [500, 500], 'at 2 requests/s, 500 ms before each request after the first');
  assert.equal(seen.length, 5, 'the truncated request sent with --send-unfaithful');

  const dry = await replay(plan, { target, token: 'tok', rate: 2, pace: 'none', timeoutMs: 5000, dryRun: true, sendUnfaithful: false, sleep });
  assert.deepEqual(
    dry.map((r) => r.result),
    ['dry-run', 'dry-run', 'skipped'],
  );
  assert.equal(seen.length, 5, 'a dry run sends nothing');

  const closed = new URL('http://127.0.0.1:1');
  const failed = await replay(plan.slice(0, 1), {
    target: closed,
    token: 'tok',
    rate: 1000,
    pace: 'none',
    timeoutMs: 5000,
    dryRun: false,
    sendUnfaithful: false,
    sleep,
  });
  assert.equal(failed[0]!.result, 'error');
  assert.match(failed[0]!.error!, /ECONNREFUSED/);
  // a recorded header name no HTTP client can send: that request fails, the replay goes on
  const odd = { ...plan[0]!, headers: { 'bad name': 'x' } };
  const rows = await replay([odd, plan[1]!], { target, token: 'tok', rate: 1000, pace: 'none', timeoutMs: 5000, dryRun: false, sendUnfaithful: false, sleep });
  assert.deepEqual(
    rows.map((r) => r.result),
    ['error', 'match'],
  );
});
