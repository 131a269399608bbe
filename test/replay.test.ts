/**
 * `audit replay` against a test instance of the demo API (issue #19 items 3 and 4): real traffic
 * recorded through the interceptor, masked, enriched and indexed on the embedded broker and
 * search node; then replayed through a second interceptor in front of a fresh demo API (the test
 * instance), with a token the operator got from the IdP.
 *   - an identical test instance: every replayed request matches; masked and uncaptured bodies
 *     are flagged (the uncaptured and truncated ones skipped);
 *   - a test instance whose data differs: the differences are reported (status, size, JSON diff)
 *     and the exit code is 1;
 *   - --dry-run sends nothing.
 * The production-target refusal and the generated bad command lines need no pipeline: they are in
 * packages/cli/src/commands/replay.test.ts, on documents indexed directly.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runAuditCaptured as audit } from '@jwt-audit/cli';
import { startUpstream, type AuthServer } from '@jwt-audit/demo';
import type { RouteConfig } from '@jwt-audit/edge';
import { createInterceptor, defaults as interceptorDefaults, type InterceptorConfig } from '@jwt-audit/interceptor';
import { until } from '@jwt-audit/runtime/testing/wait';
import { DEMO_CLIENT_BASIC, startPipeline } from './support/pipeline.js';
import { silentLogger } from './support/embedded.js';

const logger = silentLogger('replay');
const INDEX = 'logs-jwt_audit.events-replay';

/** A server that answers 200 to anything and counts what it got: a production stand-in, or a dry run's target. */
async function countingServer(): Promise<{ url: string; port: number; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    n++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, count: () => n, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

const routes: RouteConfig[] = [
  { name: 'token', path: '/oauth/token', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'token' },
  { name: 'orders', path: '/api/orders', upstream: 'api', scopes: { GET: ['orders:read'], POST: ['orders:write'] }, capture: { bodies: 'both' } },
  { name: 'order', path: '/api/orders/:id', upstream: 'api', scopes: { GET: ['orders:read'] }, capture: { bodies: 'both' } },
  { name: 'profile', path: '/api/profile', upstream: 'api', capture: { bodies: 'both' } },
  { name: 'upload', path: '/api/upload', upstream: 'api', capture: { bodies: 'both', maxBodyBytes: 16 } },
  // the catch-all keeps no bodies (the interceptor's default)
  { name: 'api', path: '/api/*', upstream: 'api' },
];

let dir: string;
const stops: (() => Promise<void>)[] = [];
let auth: AuthServer;
let esUrl: string;
let sessionId: string;
let recordedIds: string[] = [];
let tokenFile: string;
let operatorToken: string;
let recordingStarted: number;
let recordingEnded: number;

async function interceptor(name: string, apiUrl: string, brokers: string[], revocations = true): Promise<string> {
  const config: InterceptorConfig = {
    ...interceptorDefaults,
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { auth: auth.url, api: apiUrl },
    routes,
    jwt: { ...interceptorDefaults.jwt, jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: 'demo-api' },
    spool: { ...interceptorDefaults.spool, dir: path.join(dir, `spool-${name}`) },
    kafka: { brokers, clientId: name },
    source: { ...interceptorDefaults.source, instance: name },
    // a test instance needs no revocation follower (a consumer group to join at each start)
    revocations: { ...interceptorDefaults.revocations, enabled: revocations },
    ops: {},
  };
  const i = createInterceptor(config, { logger, ops: false });
  const { url } = await i.start();
  stops.push(() => i.stop());
  return url;
}

async function login(base: string, user = 'alice'): Promise<string> {
  const r = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { authorization: DEMO_CLIENT_BASIC, 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=password&username=${user}&password=${user}-pw`,
  });
  assert.equal(r.status, 200);
  return ((await r.json()) as { access_token: string }).access_token;
}

let brokers: string[];

before(async () => {
  // the recording side: masker -> enricher -> indexer; its interceptors are started here, below
  const p = await startPipeline({ name: 'replay', partitions: 1, stages: ['masker', 'enricher', 'indexer'], interceptor: false });
  stops.push(() => p.stop());
  ({ dir, esUrl, brokers, auth } = p);
  // "production": the demo API behind the recording interceptor
  const prodApi = p.upstream;
  const edge = await interceptor('recording-edge', prodApi.url, brokers);

  recordingStarted = Date.now();
  const token = await login(edge);
  sessionId = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
  const call = async (method: string, p: string, body?: string, type = 'application/json') => {
    const r = await fetch(`${edge}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'x-request-id': p.includes('9999') ? 'rec/9999' : `rec-${method}-${p.length}`,
        ...(body !== undefined ? { 'content-type': type } : {}),
      },
      ...(body !== undefined ? { body } : {}),
    });
    await r.arrayBuffer();
    return r.status;
  };
  // the session, in order: each request waits for its answer, so the recorded order is this one
  assert.equal(await call('GET', '/api/orders'), 200);
  assert.equal(await call('POST', '/api/orders', JSON.stringify({ sku: 'C-3003', quantity: 2 })), 201);
  assert.equal(await call('GET', '/api/orders/1043'), 200);
  assert.equal(await call('GET', '/api/orders/9999?expand=items'), 404);
  assert.equal(await call('POST', '/api/profile', JSON.stringify({ email: 'alice@example.com', password: 'hunter2-Secret!', theme: 'dark' })), 200);
  assert.equal(await call('POST', '/api/upload', JSON.stringify({ name: 'report.csv', rows: ['a', 'b', 'c', 'd'] })), 404);
  assert.equal(await call('POST', '/api/notes', JSON.stringify({ text: 'not captured' })), 404);
  recordingEnded = Date.now();

  const es = p.es;
  // the test instance's edge starts (slow: a producer, its thread) while the pipeline indexes
  const edgeStarting = testEdgeStart();
  recordedIds = await until('the session indexed', async () => {
    await es.indices.refresh({ index: INDEX });
    const r = await es.search<Record<string, unknown>>({
      index: INDEX,
      size: 100,
      query: { bool: { filter: [{ term: { 'jwt_audit.session_id': sessionId } }, { terms: { 'event.action': ['http-exchange', 'token-validated'] } }] } },
    });
    return r.hits.hits.length >= 7 ? r.hits.hits.map((h) => h._id!) : undefined;
  });

  await edgeStarting;
  // the operator's own token for the test instance (the recorded one is never stored)
  operatorToken = await login(auth.url);
  tokenFile = path.join(dir, 'operator-token');
  writeFileSync(tokenFile, `${operatorToken}\n`, { mode: 0o600 });
});

after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
});

/**
 * The test instance: one interceptor (started once: it is the slow part) in front of a switch
 * that forwards to the demo API of the moment, so each test gets a fresh demo API.
 */
let testEdge: string | undefined;
let current = '';
async function testEdgeStart(): Promise<void> {
  const sw = http.createServer((req, res) => {
    const up = http.request(`${current}${req.url}`, { method: req.method, headers: req.headers }, (u) => {
      res.writeHead(u.statusCode ?? 502, u.headers);
      u.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => sw.listen(0, '127.0.0.1', () => r()));
  stops.push(() => new Promise((r) => (sw.closeAllConnections(), sw.close(() => r()))));
  testEdge = await interceptor('test-edge', `http://127.0.0.1:${(sw.address() as AddressInfo).port}`, brokers, false);
}

async function testInstance(): Promise<{ url: string; apiUrl: string }> {
  const api = await startUpstream({ port: 0, logger });
  stops.push(() => api.close());
  current = api.url;
  return { url: testEdge!, apiUrl: api.url };
}

interface JsonReport {
  summary: { requests: number; matched: number; differed: number; skipped: number; errors: number; flagged: number };
  requests: Array<{
    n: number;
    event: { id: string };
    request: { method: string; target: string; headers: Record<string, string>; body: string | null };
    result: string;
    differences: Array<{ kind: string; json?: Array<{ op: string; path: string; recorded?: unknown; replayed?: unknown }> }>;
    flags: Array<{ code: string; message: string }>;
    masked: string[];
  }>;
}

test('an identical test instance: every replayed request matches; masked, truncated and uncaptured bodies are flagged', async () => {
  const instance = await testInstance();
  const r = await audit(['replay', '--session', sessionId, '--target', instance.url, '--token-file', tokenFile, '--rate', '50', '--es-url', esUrl, '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const report = JSON.parse(r.stdout) as JsonReport;
  const byTarget = new Map(report.requests.map((q) => [`${q.request.method} ${q.request.target}`, q]));
  assert.deepEqual(
    [...byTarget.keys()],
    [
      'GET /api/orders',
      'POST /api/orders',
      'GET /api/orders/1043',
      'GET /api/orders/9999?expand=items',
      'POST /api/profile',
      'POST /api/upload',
      'POST /api/notes',
    ],
    'in recorded order',
  );
  assert.deepEqual(report.summary, { requests: 7, matched: 5, differed: 0, skipped: 2, errors: 0, flagged: 4 });
  for (const k of ['GET /api/orders', 'POST /api/orders', 'GET /api/orders/1043']) {
    assert.equal(byTarget.get(k)!.result, 'match', k);
    assert.deepEqual(byTarget.get(k)!.flags, [], k);
  }
  // the recorded body was sent again, the recorded header too, and the operator's token (never printed)
  assert.equal(byTarget.get('POST /api/orders')!.request.body, JSON.stringify({ sku: 'C-3003', quantity: 2 }));
  assert.equal(byTarget.get('POST /api/orders')!.request.headers['x-request-id'], 'rec-POST-11');
  // a header the masker replaced (this x-request-id does not fit the identifier shape): sent as its mask, flagged
  const missing = byTarget.get('GET /api/orders/9999?expand=items')!;
  assert.equal(missing.result, 'match');
  assert.match(missing.request.headers['x-request-id']!, /^hmac:replay:[0-9a-f]{32}$/);
  assert.deepEqual(
    missing.flags.map((f) => f.code),
    ['request-masked'],
  );
  assert.equal(byTarget.get('POST /api/orders')!.request.headers.authorization, 'Bearer <operator token>');
  assert.ok(!r.stdout.includes(operatorToken) && !r.stderr.includes(operatorToken), 'the operator token is never printed');
  // masked: replayed as its mask, flagged, and the answer still matches
  const profile = byTarget.get('POST /api/profile')!;
  assert.equal(profile.result, 'match');
  assert.ok(
    profile.flags.some((f) => f.code === 'request-masked'),
    JSON.stringify(profile.flags),
  );
  assert.ok(!profile.request.body!.includes('hunter2-Secret!') && /\[redacted:|hmac:/.test(profile.request.body!), profile.request.body!);
  // truncated and not captured: listed with why, not sent
  const upload = byTarget.get('POST /api/upload')!;
  assert.equal(upload.result, 'skipped');
  assert.match(upload.flags.map((f) => `${f.code}: ${f.message}`).join('\n'), /request-body-truncated: request body truncated: 16 of \d+ bytes/);
  const notes = byTarget.get('POST /api/notes')!;
  assert.equal(notes.result, 'skipped');
  assert.ok(
    notes.flags.some((f) => f.code === 'request-body-not-captured'),
    JSON.stringify(notes.flags),
  );

  // the table says the same
  const again = await testInstance();
  const table = await audit(['replay', '--session', sessionId, '--target', again.url, '--token-file', tokenFile, '--rate', '50', '--es-url', esUrl]);
  assert.equal(table.code, 0, table.stderr + table.stdout);
  assert.match(table.stdout, /^ +2 +\S+ \S+ +POST \/api\/orders +201 \d+B +201 \d+B +match$/m);
  assert.match(table.stdout, /POST \/api\/upload .*skipped: not faithful/);
  assert.match(table.stdout, /Not replayed faithfully:[\s\S]*request-masked: request body has masked values: replayed as their masks/);
  assert.match(table.stdout, /7 requests: 5 match, 0 differ, 0 failed, 2 skipped; 4 flagged/);
});

test('a test instance that answers differently: the differences are reported, exit 1', async () => {
  const instance = await testInstance();
  // the test instance's data differs from production's at recording time: one more order exists
  const seeded = await fetch(`${instance.apiUrl}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-auth-subject': 'mallory' },
    body: JSON.stringify({ sku: 'Z-9999', quantity: 7 }),
  });
  assert.equal(seeded.status, 201);
  const r = await audit(['replay', '--session', sessionId, '--target', instance.url, '--token-file', tokenFile, '--rate', '50', '--es-url', esUrl, '--json']);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const report = JSON.parse(r.stdout) as JsonReport;
  const list = report.requests.find((q) => q.request.target === '/api/orders' && q.request.method === 'GET')!;
  assert.equal(list.result, 'differs');
  const json = list.differences.find((d) => d.kind === 'json')!.json!;
  assert.deepEqual(
    json.map((d) => [d.op, d.path]),
    [['add', '/orders/2']],
    JSON.stringify(json),
  );
  assert.ok(list.differences.some((d) => d.kind === 'size'));
  const created = report.requests.find((q) => q.request.target === '/api/orders' && q.request.method === 'POST')!;
  assert.ok(
    created.differences.find((d) => d.kind === 'json')!.json!.some((d) => d.op === 'replace' && d.path === '/id' && d.recorded === 1043 && d.replayed === 1044),
    JSON.stringify(created.differences),
  );
  const one = report.requests.find((q) => q.request.target === '/api/orders/1043')!;
  assert.ok(
    one.differences.find((d) => d.kind === 'json')!.json!.some((d) => d.path === '/sku' && d.recorded === 'C-3003' && d.replayed === 'Z-9999'),
    JSON.stringify(one.differences),
  );
  // what did not change still matches
  assert.equal(report.requests.find((q) => q.request.target === '/api/orders/9999?expand=items')!.result, 'match');

  // the same instance again, as a table (its data moved on by one more order: still differs)
  const t2 = await audit(['replay', '--session', sessionId, '--target', instance.url, '--token-file', tokenFile, '--rate', '50', '--es-url', esUrl]);
  assert.equal(t2.code, 1);
  assert.match(t2.stdout, /GET \/api\/orders +200 \d+B +200 \d+B +DIFFERS: size, json/);
  assert.match(t2.stdout, /Differences:[\s\S]*added \/orders\/2: \{"id":1043,"sku":"Z-9999","quantity":7,"owner":"mallory"\}/);
  assert.match(t2.stdout, /changed \/sku: "C-3003" -> "Z-9999"/);
  assert.match(t2.stdout, /POST \/api\/orders +201 55B +201 55B +DIFFERS: json[\s\S]*changed \/id: 1043 -> 1045/);
});

test('selection by subject and time range, and by event ids, gives the same requests', async () => {
  const since = new Date(recordingStarted).toISOString();
  const until = new Date(recordingEnded).toISOString();
  const bySubject = await audit([
    'replay',
    '--subject',
    'alice',
    '--since',
    since,
    '--until',
    until,
    '--target',
    'http://127.0.0.1:1',
    '--dry-run',
    '--es-url',
    esUrl,
    '--json',
  ]);
  assert.equal(bySubject.code, 0, bySubject.stderr);
  const subjectReport = JSON.parse(bySubject.stdout) as JsonReport;
  assert.equal(subjectReport.requests.length, 7);
  const ids = subjectReport.requests.map((q) => q.event.id);
  assert.deepEqual(new Set(ids), new Set(recordedIds));
  const byEvents = await audit(['replay', '--event', [...ids].reverse().join(','), '--target', 'http://127.0.0.1:1', '--dry-run', '--es-url', esUrl, '--json']);
  assert.equal(byEvents.code, 0, byEvents.stderr);
  assert.deepEqual(
    (JSON.parse(byEvents.stdout) as JsonReport).requests.map((q) => q.event.id),
    ids,
    'recorded order, whatever order the ids were given in',
  );
});

test('--dry-run prints what would be sent and sends nothing', async () => {
  const target = await countingServer();
  stops.push(target.close);
  const r = await audit(['replay', '--session', sessionId, '--target', `${target.url}/base`, '--token-file', tokenFile, '--dry-run', '--es-url', esUrl]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(target.count(), 0, 'nothing sent');
  assert.match(r.stdout, new RegExp(`#2 POST ${target.url}/base/api/orders\\n(    .*\\n)*    authorization: Bearer <operator token>\\n`));
  assert.match(r.stdout, /body \(\d+ bytes\): \{"sku":"C-3003","quantity":2\}/);
  assert.match(r.stdout, /#6 \(skipped\) POST/);
  assert.match(r.stdout, /nothing was sent/);
  assert.ok(!r.stdout.includes(operatorToken));
  const j = await audit(['replay', '--session', sessionId, '--target', target.url, '--dry-run', '--es-url', esUrl, '--json']);
  assert.equal(j.code, 0, j.stderr);
  assert.ok((JSON.parse(j.stdout) as JsonReport).requests.every((q) => q.result === 'dry-run' || q.result === 'skipped'));
  assert.equal(target.count(), 0, 'nothing sent');
});
