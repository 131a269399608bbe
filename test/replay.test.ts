/**
 * `audit replay` against a test instance of the demo API (issue #19 items 3 and 4): real traffic
 * recorded through the interceptor, masked, enriched and indexed on the embedded broker and
 * search node; then replayed through a second interceptor in front of a fresh demo API (the test
 * instance), with a token the operator got from the IdP.
 *   - an identical test instance: every replayed request matches; masked and uncaptured bodies
 *     are flagged (the uncaptured and truncated ones skipped);
 *   - a test instance whose data differs: the differences are reported (status, size, JSON diff)
 *     and the exit code is 1;
 *   - --dry-run sends nothing; a production upstream as target is refused (however it is spelled);
 *   - bad selectors and flags, generated: exit 2 and a message naming the flag, nothing sent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { runAudit } from '@jwt-audit/cli';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { startAuthServer, startUpstream, type AuthServer } from '@jwt-audit/demo';
import type { RouteConfig } from '@jwt-audit/edge';
import { createInterceptor, defaults as interceptorDefaults, type InterceptorConfig } from '@jwt-audit/interceptor';
import { createMaskerService, maskerDefaults } from '@jwt-audit/masker';
import { createEnricherService, enricherDefaults } from '@jwt-audit/enricher';
import { createIndexerService, indexerDefaults } from '@jwt-audit/indexer';

const logger = createLogger({ name: 'replay', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const INDEX = 'logs-audit.events-replay';

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `audit <args>` in this process (runAudit is what bin.ts runs), its output captured. */
async function audit(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  // The command writes strings; the test runner's own reports (written to stdout while the command
  // runs) are buffers and must get through, or the runner loses whole tests.
  const capture = (into: string[], stream: NodeJS.WriteStream, original: typeof process.stdout.write) =>
    ((c: string | Uint8Array, ...rest: unknown[]) => (typeof c === 'string' ? (into.push(c), true) : original.call(stream, c, ...(rest as [])))) as typeof process.stdout.write;
  process.stdout.write = capture(out, process.stdout, write.out);
  process.stderr.write = capture(err, process.stderr, write.err);
  try {
    const r = await runAudit(args);
    return { code: r.code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

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

const dir = mkdtempSync(path.join(tmpdir(), 'replay-'));
const stops: (() => Promise<void>)[] = [];
let auth: AuthServer;
let esUrl: string;
let sessionId: string;
let recordedIds: string[] = [];
let tokenFile: string;
let operatorToken: string;
let prodApiUrl: string;
let recordingStarted: number;
let recordingEnded: number;

async function interceptor(name: string, apiUrl: string, brokers: string[]): Promise<string> {
  const config: InterceptorConfig = {
    ...interceptorDefaults,
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { auth: auth.url, api: apiUrl },
    routes,
    jwt: { ...interceptorDefaults.jwt, jwksUrl: auth.jwksUrl, issuer: auth.issuer, audience: 'demo-api' },
    spool: { ...interceptorDefaults.spool, dir: path.join(dir, `spool-${name}`) },
    kafka: { brokers, clientId: name },
    source: { ...interceptorDefaults.source, instance: name },
    ops: {},
  };
  const i = createInterceptor(config, { logger, ops: false });
  const { url } = await i.start();
  stops.push(() => i.stop());
  return url;
}

async function login(base: string, user = 'alice'): Promise<string> {
  const basic = 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64');
  const r = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=password&username=${user}&password=${user}-pw` });
  assert.equal(r.status, 200);
  return ((await r.json()) as { access_token: string }).access_token;
}

let brokers: string[];

before(async () => {
  const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  stops.push(() => broker.close());
  const search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  stops.push(() => search.close());
  esUrl = search.url;
  brokers = [broker.address];
  const kafkaCfg = (clientId: string) => ({ brokers, clientId });
  await ensureTopics(createKafkaClient(kafkaCfg('setup'), logger), defaultTopics(1));
  for (const s of [
    createMaskerService({ ...maskerDefaults, kafka: kafkaCfg('masker'), ops: {}, hmac: { keyId: 'replay', key: 'a-replay-test-masking-key' } }, { logger }),
    createEnricherService({ ...enricherDefaults, kafka: kafkaCfg('enricher'), ops: {} }, { logger }),
    createIndexerService({ ...indexerDefaults, kafka: kafkaCfg('indexer'), elasticsearch: { url: search.url }, ops: {}, namespace: 'replay' }, { logger }),
  ]) {
    await s.start();
    stops.push(() => s.stop());
  }
  auth = await startAuthServer({ port: 0, logger });
  stops.push(() => auth.close());

  // "production": the demo API behind the recording interceptor
  const prodApi = await startUpstream({ port: 0, logger });
  stops.push(() => prodApi.close());
  prodApiUrl = prodApi.url;
  const edge = await interceptor('recording-edge', prodApi.url, brokers);

  recordingStarted = Date.now();
  const token = await login(edge);
  sessionId = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
  const call = async (method: string, p: string, body?: string, type = 'application/json') => {
    const r = await fetch(`${edge}${p}`, { method, headers: { authorization: `Bearer ${token}`, 'x-request-id': p.includes('9999') ? 'rec/9999' : `rec-${method}-${p.length}`, ...(body !== undefined ? { 'content-type': type } : {}) }, ...(body !== undefined ? { body } : {}) });
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

  const es = new Client({ node: search.url });
  stops.push(() => es.close());
  recordedIds = await until('the session indexed', async () => {
    await es.indices.refresh({ index: INDEX });
    const r = await es.search<Record<string, unknown>>({ index: INDEX, size: 100, query: { bool: { filter: [{ term: { 'audit.session_id': sessionId } }, { terms: { 'audit.kind': ['http.exchange', 'token.validated'] } }] } } });
    return r.hits.hits.length >= 7 ? r.hits.hits.map((h) => h._id!) : undefined;
  });

  // the operator's own token for the test instance (the recorded one is never stored)
  operatorToken = await login(auth.url);
  tokenFile = path.join(dir, 'operator-token');
  writeFileSync(tokenFile, `${operatorToken}\n`, { mode: 0o600 });
});

after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh test instance: the demo API and an interceptor in front of it (publishing to the same broker). */
async function testInstance(): Promise<{ url: string; apiUrl: string }> {
  const api = await startUpstream({ port: 0, logger });
  stops.push(() => api.close());
  return { url: await interceptor(`test-edge-${stops.length}`, api.url, brokers), apiUrl: api.url };
}

interface JsonReport {
  summary: { requests: number; matched: number; differed: number; skipped: number; errors: number; flagged: number };
  requests: Array<{ n: number; event: { id: string }; request: { method: string; target: string; headers: Record<string, string>; body: string | null }; result: string; differences: Array<{ kind: string; json?: Array<{ op: string; path: string; recorded?: unknown; replayed?: unknown }> }>; flags: Array<{ code: string; message: string }>; masked: string[] }>;
}

test('an identical test instance: every replayed request matches; masked, truncated and uncaptured bodies are flagged', async () => {
  const instance = await testInstance();
  const r = await audit(['replay', '--session', sessionId, '--target', instance.url, '--token-file', tokenFile, '--rate', '50', '--es-url', esUrl, '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const report = JSON.parse(r.stdout) as JsonReport;
  const byTarget = new Map(report.requests.map((q) => [`${q.request.method} ${q.request.target}`, q]));
  assert.deepEqual([...byTarget.keys()], ['GET /api/orders', 'POST /api/orders', 'GET /api/orders/1043', 'GET /api/orders/9999?expand=items', 'POST /api/profile', 'POST /api/upload', 'POST /api/notes'], 'in recorded order');
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
  assert.deepEqual(missing.flags.map((f) => f.code), ['request-masked']);
  assert.equal(byTarget.get('POST /api/orders')!.request.headers.authorization, 'Bearer <operator token>');
  assert.ok(!r.stdout.includes(operatorToken) && !r.stderr.includes(operatorToken), 'the operator token is never printed');
  // masked: replayed as its mask, flagged, and the answer still matches
  const profile = byTarget.get('POST /api/profile')!;
  assert.equal(profile.result, 'match');
  assert.ok(profile.flags.some((f) => f.code === 'request-masked'), JSON.stringify(profile.flags));
  assert.ok(!profile.request.body!.includes('hunter2-Secret!') && /\[redacted:|hmac:/.test(profile.request.body!), profile.request.body!);
  // truncated and not captured: listed with why, not sent
  const upload = byTarget.get('POST /api/upload')!;
  assert.equal(upload.result, 'skipped');
  assert.match(upload.flags.map((f) => `${f.code}: ${f.message}`).join('\n'), /request-body-truncated: request body truncated: 16 of \d+ bytes/);
  const notes = byTarget.get('POST /api/notes')!;
  assert.equal(notes.result, 'skipped');
  assert.ok(notes.flags.some((f) => f.code === 'request-body-not-captured'), JSON.stringify(notes.flags));

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
  const seeded = await fetch(`${instance.apiUrl}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-auth-subject': 'mallory' }, body: JSON.stringify({ sku: 'Z-9999', quantity: 7 }) });
  assert.equal(seeded.status, 201);
  const r = await audit(['replay', '--session', sessionId, '--target', instance.url, '--token-file', tokenFile, '--rate', '50', '--es-url', esUrl, '--json']);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const report = JSON.parse(r.stdout) as JsonReport;
  const list = report.requests.find((q) => q.request.target === '/api/orders' && q.request.method === 'GET')!;
  assert.equal(list.result, 'differs');
  const json = list.differences.find((d) => d.kind === 'json')!.json!;
  assert.deepEqual(json.map((d) => [d.op, d.path]), [['add', '/orders/2']], JSON.stringify(json));
  assert.ok(list.differences.some((d) => d.kind === 'size'));
  const created = report.requests.find((q) => q.request.target === '/api/orders' && q.request.method === 'POST')!;
  assert.ok(created.differences.find((d) => d.kind === 'json')!.json!.some((d) => d.op === 'replace' && d.path === '/id' && d.recorded === 1043 && d.replayed === 1044), JSON.stringify(created.differences));
  const one = report.requests.find((q) => q.request.target === '/api/orders/1043')!;
  assert.ok(one.differences.find((d) => d.kind === 'json')!.json!.some((d) => d.path === '/sku' && d.recorded === 'C-3003' && d.replayed === 'Z-9999'), JSON.stringify(one.differences));
  // what did not change still matches
  assert.equal(report.requests.find((q) => q.request.target === '/api/orders/9999?expand=items')!.result, 'match');

  const table = await audit(['replay', '--session', sessionId, '--target', (await testInstance()).url, '--token-file', tokenFile, '--rate', '50', '--es-url', esUrl]);
  assert.equal(table.code, 0, 'a fresh instance matches again');
  const changed = await testInstance();
  await fetch(`${changed.apiUrl}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku":"Z-1"}' }).then((x) => x.arrayBuffer());
  const t2 = await audit(['replay', '--session', sessionId, '--target', changed.url, '--token-file', tokenFile, '--rate', '50', '--es-url', esUrl]);
  assert.equal(t2.code, 1);
  assert.match(t2.stdout, /GET \/api\/orders +200 \d+B +200 \d+B +DIFFERS: size, json/);
  assert.match(t2.stdout, /Differences:[\s\S]*added \/orders\/2: \{"id":1043,"sku":"Z-1"/);
  assert.match(t2.stdout, /changed \/sku: "C-3003" -> "Z-1"/);
});

test('selection by subject and time range, and by event ids, gives the same requests', async () => {
  const since = new Date(recordingStarted).toISOString();
  const until = new Date(recordingEnded).toISOString();
  const bySubject = await audit(['replay', '--subject', 'alice', '--since', since, '--until', until, '--target', 'http://127.0.0.1:1', '--dry-run', '--es-url', esUrl, '--json']);
  assert.equal(bySubject.code, 0, bySubject.stderr);
  const subjectReport = JSON.parse(bySubject.stdout) as JsonReport;
  assert.equal(subjectReport.requests.length, 7);
  const ids = subjectReport.requests.map((q) => q.event.id);
  assert.deepEqual(new Set(ids), new Set(recordedIds));
  const byEvents = await audit(['replay', '--event', [...ids].reverse().join(','), '--target', 'http://127.0.0.1:1', '--dry-run', '--es-url', esUrl, '--json']);
  assert.equal(byEvents.code, 0, byEvents.stderr);
  assert.deepEqual((JSON.parse(byEvents.stdout) as JsonReport).requests.map((q) => q.event.id), ids, 'recorded order, whatever order the ids were given in');
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

test('a production upstream as target is refused, however it is spelled, unless --allow-production', async () => {
  const prod = await countingServer();
  stops.push(prod.close);
  const env = { AUDIT_INTERCEPTOR_UPSTREAMS: JSON.stringify({ auth: auth.url, api: prod.url }) };
  const spellings = [prod.url, `${prod.url}/`, `${prod.url}/api/orders`, `http://localhost:${prod.port}`, `http://LOCALHOST:${prod.port}/x`, `http://[::ffff:127.0.0.1]:${prod.port}`, `http://127.0.0.1.:${prod.port}`];
  for (const target of spellings) {
    const r = await audit(['replay', '--session', sessionId, '--target', target, '--token-file', tokenFile, '--es-url', esUrl], env);
    assert.equal(r.code, 2, `${target}: ${r.stderr}`);
    assert.match(r.stderr, /--target .* is a production upstream .*AUDIT_INTERCEPTOR_UPSTREAMS \(api\).*--allow-production/, target);
  }
  // listed with --production-upstream instead (the recorded production API too)
  for (const target of [prodApiUrl, `${prodApiUrl}/`]) {
    const r = await audit(['replay', '--session', sessionId, '--target', target, '--token-file', tokenFile, '--es-url', esUrl, '--production-upstream', `http://127.0.0.1:1,${prodApiUrl}`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /production upstream .* from --production-upstream/);
  }
  assert.equal(prod.count(), 0, 'nothing sent to production');
  // a different port on the same host is not production
  const other = await countingServer();
  stops.push(other.close);
  const ok = await audit(['replay', '--session', sessionId, '--target', other.url, '--token-file', tokenFile, '--rate', '100', '--es-url', esUrl, '--json'], env);
  assert.equal(ok.code, 1, 'sent (and differs: the stand-in answers {"ok":true})');
  assert.equal(other.count(), 5);
  const allowed = await audit(['replay', '--session', sessionId, '--target', prod.url, '--token-file', tokenFile, '--rate', '100', '--allow-production', '--es-url', esUrl, '--json'], env);
  assert.equal(allowed.code, 1, allowed.stderr);
  assert.equal(prod.count(), 5, 'sent with --allow-production');
});

/** Generated bad values: each must be refused with exit 2 and a message naming its flag. */
function badValues(kind: 'id' | 'uuid' | 'time' | 'rate' | 'int' | 'url'): string[] {
  const control = ['\u0000', '\n', '\r', '\t', '\u001b', '\u007f'];
  const out: string[] = ['', ' ', '\u00a0'];
  let seed = 19;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(1 + Math.floor(rnd() * 0x2ff))).join('');
  switch (kind) {
    case 'id':
      for (const c of control) out.push(`sid${c}x`, `${c}sid`);
      out.push(' sid', 'sid ', 'x'.repeat(1025));
      break;
    case 'uuid':
      out.push('not-a-uuid', '0193a009-7c2e-7a31-8f00', '0193a009-7c2e-7a31-8f00-3a000000000a,', 'g193a009-7c2e-7a31-8f00-3a000000000a', '0193a0097c2e7a318f003a000000000a', `0193a009-7c2e-7a31-8f00-3a000000000a${'\n'}`);
      for (let i = 0; i < 8; i++) out.push(junk(1 + Math.floor(rnd() * 40)));
      break;
    case 'time':
      out.push('yesterday', '15x', '-5m', 'now-', 'now-1q', 'now+1h/x', '2026-13-45', '99999-01-01', '1e3', 'NaN', 'Infinity', '5m ago', '2026-11-20T10:00:00Z||', '2026-11-20T10:00:00Z||+1');
      for (let i = 0; i < 6; i++) out.push(`now${junk(3)}`);
      break;
    case 'rate':
      out.push('0', '-1', '-0.5', 'abc', '1e3', '0x10', 'NaN', 'Infinity', '1001', '5/s', '1,5', '..5', String(Number.MAX_SAFE_INTEGER));
      break;
    case 'int':
      out.push('0', '-1', '1.5', 'abc', '1e3', '0x10', 'NaN', '99999999999', '10 ', '+5');
      break;
    case 'url':
      out.push('127.0.0.1:9100', 'ftp://127.0.0.1/', 'file:///etc/passwd', 'javascript:alert(1)', 'http://user:pw@127.0.0.1:9100', 'http://127.0.0.1:9100/?q=1', 'http://127.0.0.1:9100/#x', 'http://', '//127.0.0.1:9100', 'http://[::1', 'http://127.0.0.1:99999');
      for (let i = 0; i < 6; i++) out.push(junk(1 + Math.floor(rnd() * 20)));
      break;
  }
  return out;
}

test('bad selectors and flags (generated variants): exit 2 and a message naming the flag, nothing sent', async () => {
  const target = await countingServer();
  stops.push(target.close);
  const base = ['replay', '--target', target.url, '--token-file', tokenFile, '--es-url', esUrl];
  const cases: Array<{ args: string[]; names: RegExp }> = [];
  for (const v of badValues('id')) cases.push({ args: [...base, '--session', v], names: /--session/ }, { args: [...base, '--subject', v, '--since', '1h'], names: /--subject/ });
  for (const v of badValues('uuid')) cases.push({ args: [...base, '--event', v], names: /--event/ });
  for (const v of badValues('time')) cases.push({ args: [...base, '--subject', 'alice', '--since', v], names: /--since/ }, { args: [...base, '--session', sessionId, '--until', v], names: /--until/ });
  for (const v of badValues('rate')) cases.push({ args: [...base, '--session', sessionId, '--rate', v], names: /--rate/ });
  for (const v of badValues('int')) cases.push({ args: [...base, '--session', sessionId, '--limit', v], names: /--limit/ }, { args: [...base, '--session', sessionId, '--timeout', v], names: /--timeout/ });
  for (const v of badValues('url')) {
    cases.push({ args: ['replay', '--session', sessionId, '--token-file', tokenFile, '--es-url', esUrl, '--target', v], names: /--target/ });
    // a production upstream may hold credentials, a query or a fragment: its server is what counts
    if (!/@|\?|#/.test(v)) cases.push({ args: [...base, '--session', sessionId, '--production-upstream', v], names: /--production-upstream/ });
  }
  for (const v of ['fast', 'RECORDED', '', 'recorded,none']) cases.push({ args: [...base, '--session', sessionId, '--pace', v], names: /--pace/ });
  // tokens that could break out of the header or are no token at all
  for (const v of ['', 'Bearer abc', 'abc def', 'abc\r\nx-injected: 1', 'abc\n', 'a\u0000b', 'tök', '=abc', 'x'.repeat(16_385)]) {
    cases.push({ args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl, '--token', v], names: /--token/ });
    if (v === 'abc\n') continue; // a file's last newline is not part of the token
    const f = path.join(dir, `bad-token-${cases.length}`);
    writeFileSync(f, v);
    cases.push({ args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl, '--token-file', f], names: /--token-file/ });
  }
  // combinations
  cases.push(
    { args: [...base], names: /--session <id>, --subject <sub> with --since, or --event <id>/ },
    { args: [...base, '--session', sessionId, '--subject', 'alice', '--since', '1h'], names: /--session and --subject/ },
    { args: [...base, '--subject', 'alice'], names: /--subject needs --since/ },
    { args: [...base, '--session', sessionId, '--since', '2026-11-21', '--until', '2026-11-20'], names: /--since is after --until/ },
    { args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl], names: /--token-file/ },
    { args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl, '--token', 'abc', '--token-file', tokenFile], names: /--token or --token-file, not both/ },
    { args: ['replay', '--session', sessionId, '--target', target.url, '--es-url', esUrl, '--token-file', path.join(dir, 'no-such-file')], names: /--token-file: cannot read .*ENOENT/ },
    { args: ['replay', '--session', sessionId, '--token-file', tokenFile, '--es-url', esUrl], names: /--target/ },
    { args: [...base, '--session', 'sid-nobody'], names: /no recorded HTTP exchange of session sid-nobody/ },
    { args: [...base, '--event', '0193a009-7c2e-7a31-8f00-3a000000000a'], names: /--event: no recorded HTTP exchange with id 0193a009-7c2e-7a31-8f00-3a000000000a/ },
    { args: [...base, '--session', sessionId, '--limit', '3'], names: /--limit: 7 recorded requests match, more than --limit 3/ },
    { args: [...base, '--session', sessionId, '--interceptor-config', path.join(dir, 'nope.json')], names: /--interceptor-config: cannot read/ },
  );
  for (const c of cases) {
    const r = await audit(c.args);
    assert.equal(r.code, 2, `${JSON.stringify(c.args.slice(-2))}: exit ${r.code}\n${r.stderr}${r.stdout}`);
    assert.match(r.stderr, c.names, JSON.stringify(c.args.slice(-2)));
    assert.ok(!r.stderr.includes(operatorToken));
  }
  const bad = await audit([...base, '--session', sessionId], { AUDIT_INTERCEPTOR_UPSTREAMS: '{not json' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /AUDIT_INTERCEPTOR_UPSTREAMS: not JSON/);
  assert.equal(target.count(), 0, 'nothing sent for any bad command line');
  assert.ok(cases.length > 150, `${cases.length} variants`);
});
