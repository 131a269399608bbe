import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { collectEvents, startEchoUpstream, startStack, startTestAuthServer, waitFor } from './testdata/harness.js';

/**
 * CORS preflights on routes that need a token: forwarded unauthenticated (default), answered at
 * the edge, or refused, and audited as http.exchange without a token. Generated variants (header
 * spellings, methods, missing or malformed headers, credentials) prove that nothing but a genuine
 * preflight escapes authentication.
 */
let stack: Awaited<ReturnType<typeof startStack>>;
let auth: Awaited<ReturnType<typeof startTestAuthServer>>;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let url: string;
let reader: Awaited<ReturnType<typeof collectEvents>>;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

before(async () => {
  stack = await startStack({
    name: 'preflight',
    routes: [
      {
        name: 'answer',
        path: '/answer/*',
        upstream: 'api',
        methods: ['GET', 'POST'],
        preflight: 'answer',
        cors: { origins: ['https://app.example.com'], headers: ['content-type', 'authorization'], credentials: true },
      },
      { name: 'refuse', path: '/refuse/*', upstream: 'api', preflight: 'refuse' },
      { name: 'api', path: '/api/*', upstream: 'api', scopes: ['orders:read'] },
    ],
  });
  ({ auth, upstream, url, reader } = stack);
});

after(async () => {
  agent.destroy();
  await stack?.stop();
});

/** rawHeaders as a flat [name, value, ...] list, so spellings and repeats are sent as given. */
function send(method: string, p: string, headers: string[]): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    // an array of headers is sent as given, and without the defaults: Host included
    const req = http.request(`${url}${p}`, { method, agent, headers: ['Host', new URL(url).host, ...headers] }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Variant {
  name: string;
  method: string;
  headers: string[];
  genuine: boolean;
}

function variants(): Variant[] {
  const out: Variant[] = [];
  const originNames = ['Origin', 'origin', 'ORIGIN', 'oRiGiN'];
  const acrmNames = ['Access-Control-Request-Method', 'access-control-request-method', 'ACCESS-CONTROL-REQUEST-METHOD'];
  // spellings node folds into the header, and ones it does not (then the header is absent)
  for (const o of originNames)
    for (const m of acrmNames) out.push({ name: `${o} + ${m}`, method: 'OPTIONS', headers: [o, 'https://app.example.com', m, 'GET'], genuine: true });
  for (const [o, m] of [
    ['Origin_', 'Access-Control-Request-Method'],
    ['Origin', 'Access_Control_Request_Method'],
    ['X-Origin', 'Access-Control-Request-Method'],
    ['Origin', 'Access-Control-Request-Methods'],
    ['Origin', 'Access-Control-Request-Headers'],
  ] as const) {
    out.push({ name: `${o} + ${m}`, method: 'OPTIONS', headers: [o, 'https://app.example.com', m, 'GET'], genuine: false });
  }
  // one header missing, both missing, empty or malformed values, repeated headers
  out.push({ name: 'plain OPTIONS', method: 'OPTIONS', headers: [], genuine: false });
  out.push({ name: 'Origin only', method: 'OPTIONS', headers: ['Origin', 'https://app.example.com'], genuine: false });
  out.push({ name: 'request method only', method: 'OPTIONS', headers: ['Access-Control-Request-Method', 'GET'], genuine: false });
  for (const origin of ['', 'app.example.com', 'https://app.example.com/path', '*', 'https://a.example, https://b.example'])
    out.push({
      name: `Origin ${JSON.stringify(origin)}`,
      method: 'OPTIONS',
      headers: ['Origin', origin, 'Access-Control-Request-Method', 'GET'],
      genuine: false,
    });
  for (const m of ['', 'G ET', '"GET"', 'GET, POST'])
    out.push({
      name: `request method ${JSON.stringify(m)}`,
      method: 'OPTIONS',
      headers: ['Origin', 'https://app.example.com', 'Access-Control-Request-Method', m],
      genuine: false,
    });
  out.push({
    name: 'two Origins',
    method: 'OPTIONS',
    headers: ['Origin', 'https://a.example', 'Origin', 'https://b.example', 'Access-Control-Request-Method', 'GET'],
    genuine: false,
  });
  out.push({
    name: 'bad request headers list',
    method: 'OPTIONS',
    headers: ['Origin', 'https://app.example.com', 'Access-Control-Request-Method', 'GET', 'Access-Control-Request-Headers', 'x a'],
    genuine: false,
  });
  out.push({
    name: 'request headers list',
    method: 'OPTIONS',
    headers: ['Origin', 'null', 'Access-Control-Request-Method', 'DELETE', 'Access-Control-Request-Headers', 'content-type, x-trace'],
    genuine: true,
  });
  // with credentials a request is judged on them: a bad token is refused, a valid one passes as itself
  out.push({
    name: 'preflight with a bad token',
    method: 'OPTIONS',
    headers: ['Origin', 'https://app.example.com', 'Access-Control-Request-Method', 'GET', 'Authorization', 'Bearer not-a-jwt'],
    genuine: false,
  });
  out.push({
    name: 'preflight with a Basic credential',
    method: 'OPTIONS',
    headers: ['Origin', 'https://app.example.com', 'Access-Control-Request-Method', 'GET', 'Authorization', 'Basic dTpw'],
    genuine: false,
  });
  // other methods carrying both headers never escape
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'])
    out.push({
      name: `${method} with both headers`,
      method,
      headers: ['Origin', 'https://app.example.com', 'Access-Control-Request-Method', 'GET'],
      genuine: false,
    });
  return out;
}

it('forward (default): only a genuine preflight reaches the upstream without a token; every other variant is judged as before (401)', async () => {
  const token = await auth.sign({ sub: 'alice' });
  const cases = variants();
  const ids: string[] = [];
  for (const [i, v] of cases.entries()) {
    const id = `pf-${i}`;
    ids.push(id);
    const before = upstream.seen.length;
    const r = await send(v.method, `/api/orders/${i}`, [...v.headers, 'X-Request-Id', id]);
    const reached = upstream.seen.slice(before).filter((s) => s.headers['x-request-id'] === id);
    if (v.genuine) {
      assert.equal(r.status, 200, `${v.name}: forwarded`);
      assert.equal(reached.length, 1, v.name);
      assert.equal(reached[0]!.method, 'OPTIONS');
      assert.equal(reached[0]!.headers.authorization, undefined);
      assert.equal(reached[0]!.headers['x-auth-subject'], undefined, 'no subject: nobody was authenticated');
    } else {
      assert.ok(r.status === 401 || r.status === 400, `${v.name}: ${r.status}`);
      assert.equal(reached.length, 0, `${v.name} reached the upstream`);
    }
  }
  // with a valid token an OPTIONS with both headers passes as an authenticated request
  const authed = await send('OPTIONS', '/api/orders/x', [
    'Origin',
    'https://app.example.com',
    'Access-Control-Request-Method',
    'GET',
    'Authorization',
    `Bearer ${token}`,
  ]);
  assert.equal(authed.status, 200);
  assert.equal(upstream.seen.at(-1)?.headers['x-auth-subject'], 'alice');

  const events = await waitFor('every variant audited', () => {
    const mine = reader.events.filter((e) => e.kind === 'http.exchange' && ids.includes(e.http?.request.id ?? ''));
    return mine.length >= ids.length ? mine : undefined;
  });
  for (const e of events) {
    const v = cases[Number(e.http!.request.id!.slice(3))]!;
    if (v.genuine) {
      assert.equal(e.attributes['http.preflight'], 'forward', v.name);
      assert.equal(e.token, null);
      assert.equal(e.actor.sub, null);
      assert.equal(e.http?.response?.status, 200);
    } else {
      assert.equal(e.attributes['http.preflight'], undefined, v.name);
      assert.ok(e.attributes['auth.rejection'], `${v.name}: recorded as a rejection`);
    }
  }
});

it('answer: 204 with the CORS headers at the edge (the upstream sees nothing), 403 naming a refused origin; actual responses carry Allow-Origin', async () => {
  const before = upstream.seen.length;
  const ok = await send('OPTIONS', '/answer/x', [
    'Origin',
    'https://app.example.com',
    'Access-Control-Request-Method',
    'POST',
    'Access-Control-Request-Headers',
    'authorization, content-type',
    'X-Request-Id',
    'ans-1',
  ]);
  assert.equal(ok.status, 204);
  assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(ok.headers['access-control-allow-methods'], 'GET, HEAD, POST');
  assert.equal(ok.headers['access-control-allow-headers'], 'authorization, content-type');
  assert.equal(ok.headers['access-control-allow-credentials'], 'true');
  const evil = await send('OPTIONS', '/answer/x', ['Origin', 'https://evil.example', 'Access-Control-Request-Method', 'POST', 'X-Request-Id', 'ans-2']);
  assert.equal(evil.status, 403);
  assert.equal((JSON.parse(evil.body) as { reason: string }).reason, 'preflight_origin_not_allowed');
  assert.equal(evil.headers['access-control-allow-origin'], undefined);
  assert.equal(upstream.seen.length, before, 'answered at the edge');
  const token = await auth.sign({ sub: 'alice' });
  const actual = await send('GET', '/answer/x', ['Origin', 'https://app.example.com', 'Authorization', `Bearer ${token}`]);
  assert.equal(actual.status, 200);
  assert.equal(actual.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(
    (await send('GET', '/answer/x', ['Origin', 'https://evil.example', 'Authorization', `Bearer ${token}`])).headers['access-control-allow-origin'],
    undefined,
  );
  const refused = await send('OPTIONS', '/refuse/x', ['Origin', 'https://app.example.com', 'Access-Control-Request-Method', 'GET', 'X-Request-Id', 'ref-1']);
  assert.equal(refused.status, 403);
  assert.equal((JSON.parse(refused.body) as { reason: string }).reason, 'preflight_refused');
  const events = await waitFor('answered preflights audited', () => {
    const mine = reader.events.filter((e) => ['ans-1', 'ans-2', 'ref-1'].includes(e.http?.request.id ?? ''));
    return mine.length >= 3 ? mine : undefined;
  });
  const by = Object.fromEntries(events.map((e) => [e.http!.request.id!, e]));
  assert.equal(by['ans-1']!.attributes['http.preflight'], 'answer');
  assert.equal(by['ans-1']!.http?.response?.status, 204);
  assert.equal(by['ans-2']!.attributes['cors.refusal'], 'preflight_origin_not_allowed');
  assert.equal(by['ans-2']!.attributes['cors.origin'], 'https://evil.example');
  assert.equal(by['ref-1']!.attributes['http.preflight'], 'refuse');
  for (const e of events) assert.equal(e.token, null);
});
