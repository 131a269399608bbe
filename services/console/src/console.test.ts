/**
 * The console as a user and an attacker meet it, on the embedded broker and search node over real
 * TCP/HTTP: sign-in by JWT (verified as the interceptor verifies) and the demo login, refusal
 * without the read permission, search with filters and histogram, bad parameters as problem
 * details naming the parameter (generated variants), the event page with masks and masking rules,
 * the refresh-family timeline with reuse marked and stepping to the alert, export, and every read
 * published as an audit.access event onto audit.raw.v1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { eventCodec, TOPICS, type AuditEvent } from '@jwt-audit/events';
import { installTemplates } from '@jwt-audit/indexer';
import { createKafkaClient, defaultTopics, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { defaults, type ConsoleConfig } from './config.js';
import { event, indexAll, reuseStory } from './fixtures.js';
import { createConsoleService, type ConsoleService } from './service.js';

const logger = createLogger({ name: 'console-test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const ISSUER = 'https://idp.console.test/';
let dir: string;
let broker: Broker;
let search: SearchNode;
let es: Client;
let jwksServer: Server;
let key: CryptoKey;
let svc: ConsoleService;
let base: string;
const T0 = Date.parse('2026-11-20T10:00:00Z');
const story = reuseStory(T0);

async function token(claims: Record<string, unknown>, o: { aud?: string; iss?: string; exp?: number } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'console-test' })
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? 'jwt-audit-console')
    .setSubject(String(claims.sub ?? 'auditor'))
    .setIssuedAt()
    .setExpirationTime(o.exp ?? Math.floor(Date.now() / 1000) + 600)
    .sign(key);
}

async function signIn(form: Record<string, string>): Promise<{ status: number; cookie: string | undefined; body: string }> {
  const r = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: r.status, cookie: r.headers.get('set-cookie')?.split(';')[0], body: await r.text() };
}

const get = (p: string, cookie: string, accept = 'text/html') => fetch(`${base}${p}`, { headers: { cookie, accept }, redirect: 'manual' });

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'console-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  await ensureTopics(createKafkaClient({ brokers: [broker.address], clientId: 'setup' }, logger), defaultTopics(3));
  search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  es = new Client({ node: search.url });
  await installTemplates(es, logger);
  const others = Array.from({ length: 40 }, (_, i) =>
    event(i % 5 === 0 ? 'token.rejected' : 'token.validated', T0 + i * 30_000, {
      sub: `user${i % 4}`,
      path: i % 2 ? '/api/orders' : '/api/profile',
      route: i % 2 ? 'orders' : 'profile',
      fp: `x${i}`,
      outcome: i % 5 === 0 ? 'failure' : 'success',
      status: i % 5 === 0 ? 401 : 200,
      ...(i % 5 === 0 ? { reason: 'expired' as const } : {}),
      clientId: i % 3 ? 'web-portal' : 'mobile',
    }),
  );
  await indexAll(es, 'test', [...story.events, ...others], story.alerts);
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'console-test', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_q, s) => s.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((ok) => jwksServer.listen(0, '127.0.0.1', ok));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;
  const config: ConsoleConfig = {
    ...defaults,
    listen: { host: '127.0.0.1', port: 0 },
    elasticsearch: { url: search.url },
    kafka: { brokers: [broker.address], clientId: 'console' },
    auth: { ...defaults.auth, jwksUrl, issuer: ISSUER, demoLogin: true },
    source: { service: 'console', instance: 'console-test', environment: 'test' },
  };
  svc = createConsoleService(config, { logger, ops: false });
  base = (await svc.start()).url;
});

after(async () => {
  await svc?.stop();
  await es?.close();
  await new Promise((ok) => jwksServer?.close(ok));
  await search?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('without a session: a browser is sent to sign in, an API client gets a 401 problem; no page leaks data', async () => {
  for (const p of ['/search', '/timeline?subject=alice', `/event/${story.events[0]!.id}`, '/alerts', '/integrity', '/export']) {
    const html = await fetch(`${base}${p}`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    assert.equal(html.status, 303, p);
    assert.match(html.headers.get('location') ?? '', /^\/login\?next=/);
    const api = await fetch(`${base}${p}`, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 401, p);
    assert.equal(api.headers.get('content-type'), 'application/problem+json');
    const body = (await api.json()) as { status: number; title: string };
    assert.equal(body.status, 401);
  }
  // a forged or stale cookie is no session
  const forged = await get('/search', 'audit_console_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'application/json');
  assert.equal(forged.status, 401);
});

test('JWT sign-in: verified like the interceptor (issuer, audience, signature, expiry) and the role must grant audit:read', async () => {
  const ok = await signIn({ token: await token({ sub: 'ann', roles: ['audit:read'] }) });
  assert.equal(ok.status, 303);
  assert.ok(ok.cookie?.startsWith('audit_console_session='));
  const page = await get('/search', ok.cookie!);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /id="signed-in-as">ann</);
  // a scope grants it too (scope claim), Keycloak's realm_access.roles as well
  assert.equal((await signIn({ token: await token({ sub: 'sc', scope: 'openid audit:read' }) })).status, 303);
  assert.equal((await signIn({ token: await token({ sub: 'kc', realm_access: { roles: ['audit:read'] } }) })).status, 303);
  const refused: [string, Promise<string>, number, RegExp][] = [
    ['no read role', token({ sub: 'bob', roles: ['orders:read'] }), 403, /does not grant audit:read/],
    ['approve alone', token({ sub: 'bob', roles: ['audit:approve'] }), 403, /does not grant audit:read/],
    ['wrong audience', token({ sub: 'bob', roles: ['audit:read'] }, { aud: 'demo-api' }), 401, /wrong_audience/],
    ['wrong issuer', token({ sub: 'bob', roles: ['audit:read'] }, { iss: 'https://evil.test/' }), 401, /wrong_issuer/],
    ['expired', token({ sub: 'bob', roles: ['audit:read'] }, { exp: Math.floor(Date.now() / 1000) - 3600 }), 401, /expired/],
    ['not a token', Promise.resolve('not.a.token'), 401, /malformed/],
  ];
  for (const [what, t, status, reason] of refused) {
    const r = await signIn({ token: await t });
    assert.equal(r.status, status, what);
    assert.equal(r.cookie, undefined, what);
    assert.match(r.body, reason, what);
  }
  // an API client sends the token as a bearer token, no cookie
  const bearer = await fetch(`${base}/alerts`, { headers: { authorization: `Bearer ${await token({ sub: 'api', roles: ['audit:read'] })}` } });
  assert.equal(bearer.status, 200);
  // tampered signature
  const t = await token({ sub: 'bob', roles: ['audit:read'] });
  const tampered = `${t.slice(0, -4)}${t.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
  assert.equal((await signIn({ token: tampered })).status, 401);
});

test('demo login: a name gives audit:read and audit:approve and every page says it is a demo login; bad names are refused', async () => {
  const r = await signIn({ name: 'auditor' });
  assert.equal(r.status, 303);
  const body = await (await get('/search', r.cookie!)).text();
  assert.match(body, /id="demo-banner"/);
  assert.match(body, /\(demo login; audit:read, audit:approve\)/);
  for (const name of ['', ' ', 'a'.repeat(65), 'x<script>', 'a b', 'é', '../etc', 'a\u0000b']) {
    const bad = await signIn({ name });
    assert.equal(bad.status, 400, JSON.stringify(name));
    assert.equal(bad.cookie, undefined);
  }
  // the redirect after sign-in stays on this site
  for (const next of ['//evil.test/x', 'https://evil.test/', '/\\evil.test', 'javascript:alert(1)']) {
    const s = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'auditor', next }).toString(),
    });
    assert.equal(s.headers.get('location'), '/search', next);
  }
});

test('search pages: each page holds the same rows, newest first, as one sorted search of every match (the page reads only the newest buckets), for a range and for all time', async () => {
  const { cookie } = await signIn({ name: 'pager' });
  const rowTimes = (page: string) => [...page.matchAll(/class="event-link">([^<]+)</g)].map((m) => m[1]!);
  for (const [range, filter] of [
    [`from=${new Date(T0 - 60_000).toISOString()}&to=${new Date(T0 + 3_600_000).toISOString()}`, {}],
    ['range=all', {}],
    ['range=all&subject=user1', { term: { 'user.id': 'user1' } }],
  ] as const) {
    const every = await es.search<{ '@timestamp': string }>({
      index: 'logs-jwt_audit.events-*',
      size: 500,
      sort: [{ '@timestamp': 'desc' }],
      query: { bool: { filter: [filter, { range: { '@timestamp': { gte: T0 - 60_000, lte: T0 + 3_600_000 } } }].filter((f) => Object.keys(f).length) } },
    });
    const expected = every.hits.hits.map((h) => h._source!['@timestamp'].replace('T', ' ').replace('Z', ''));
    const shown: string[] = [];
    for (let pageNo = 1; pageNo <= Math.ceil(expected.length / 25) + 1; pageNo++) {
      const page = await (await get(`/search?${range}&size=25&page=${pageNo}`, cookie!)).text();
      assert.equal(Number(/id="total">(\d+)</.exec(page)![1]), expected.length, range);
      shown.push(...rowTimes(page));
    }
    assert.deepEqual(shown, expected, `${range}: the pages in order are every match, newest first`);
  }
});

test('search: query string and filters narrow the table; the histogram counts what matched; results link to events and timelines', async () => {
  const { cookie } = await signIn({ name: 'auditor' });
  const range = `from=${new Date(T0 - 60_000).toISOString()}&to=${new Date(T0 + 3_600_000).toISOString()}`;
  const all = await (await get(`/search?${range}&size=200`, cookie!)).text();
  const total = Number(/id="total">(\d+)</.exec(all)![1]);
  assert.equal(total, story.events.length + 40);
  const chart = JSON.parse(/data-chart="([^"]+)"/.exec(all)![1]!.replace(/&quot;/g, '"')) as { buckets: [number, number][] };
  assert.equal(
    chart.buckets.reduce((n, b) => n + b[1], 0),
    total,
    'the histogram counts every match',
  );
  const q = await (await get(`/search?${range}&q=${encodeURIComponent('user.id:alice AND event.action:token-refreshed')}`, cookie!)).text();
  assert.equal(Number(/id="total">(\d+)</.exec(q)![1]), 2);
  const filters: [string, number][] = [
    ['outcome=failure', 8 + 1],
    ['kind=token-rejected', 8 + 1],
    ['subject=user1', 10],
    ['client=mobile', 14],
    ['route=profile', 20],
    ['subject=user1&outcome=failure', 2], // i = 5, 25
    ['subject=nobody', 0],
  ];
  for (const [f, n] of filters) {
    const page = await (await get(`/search?${range}&${f}`, cookie!)).text();
    assert.equal(Number(/id="total">(\d+)</.exec(page)![1]), n, f);
  }
  assert.match(q, new RegExp(`href="/event/${story.events[3]!.id}"`));
  assert.match(q, /href="\/timeline\?subject=alice"/);
});

test('bad search parameters, generated: each a 400 problem naming the parameter, never a 5xx; nothing echoed unescaped', async () => {
  const { cookie } = await signIn({ name: 'auditor' });
  const bad: [string, string][] = [];
  const junk = [
    '',
    'x',
    '-1',
    '1e3',
    '0x10',
    'NaN',
    'Infinity',
    '99999999999999999999',
    '<script>',
    "'; DROP",
    '\u0000',
    'a'.repeat(300),
    '%00',
    'now-1d',
    '2026-13-01',
    '2026-02-30T25:00:00Z',
    '[]',
    '{}',
  ];
  for (const j of junk) {
    if (j !== '') bad.push(['range', j], ['outcome', j], ['kind', j], ['size', j], ['page', j]);
    if (j !== '' && !/^\d{1,16}$/.test(j)) bad.push(['from', j], ['to', j]);
  }
  bad.push(['page', '1000'], ['from', '9999999999999999'], ['q', 'x'.repeat(2001)], ['subject', 'a'.repeat(257)], ['subject', 'a\u0001b']);
  for (const [param, value] of bad) {
    const qs = new URLSearchParams({ [param]: value }).toString();
    const r = await get(`/search?${qs}`, cookie!, 'application/json');
    if (value.trim() === '') continue;
    assert.equal(r.status, 400, `${param}=${JSON.stringify(value)}`);
    const body = (await r.json()) as { errors?: { param: string }[] };
    assert.ok(
      body.errors?.some((e) => e.param === param),
      `${param}=${JSON.stringify(value)} names ${param}: ${JSON.stringify(body)}`,
    );
  }
  // repeated parameters are ambiguous: refused
  assert.equal((await get('/search?outcome=success&outcome=failure', cookie!, 'application/json')).status, 400);
  // from after to
  assert.equal((await get(`/search?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, cookie!, 'application/json')).status, 400);
  // query strings, generated: valid or not, the answer is a page or a 400 naming q, never a 5xx
  const pieces = [
    'user.id:',
    'alice',
    ' AND ',
    ' OR ',
    'NOT ',
    '(',
    ')',
    '"',
    '*',
    '?',
    '~',
    '^2',
    '[',
    ' TO ',
    ']',
    '{',
    '}',
    ':',
    '\\',
    '/',
    'event.outcome:failure',
    '@timestamp:>now-1d',
    '_exists_:jwt',
    '<b>',
    '&',
    '=',
    '!',
  ];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 120; i++) {
    const q = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => pieces[Math.floor(rnd() * pieces.length)]).join('');
    const r = await get(`/search?range=all&q=${encodeURIComponent(q)}`, cookie!);
    assert.ok(r.status === 200 || r.status === 400, `q=${JSON.stringify(q)}: ${r.status}`);
    const body = await r.text();
    assert.ok(!body.includes('<b>'), `q=${JSON.stringify(q)} is escaped`);
  }
});

test('event page: every field, masked values shown as masked, the masking rules that fired; unknown or bad ids are problems', async () => {
  const { cookie } = await signIn({ name: 'auditor' });
  const e = story.events[2]!;
  const r = await get(`/event/${e.id}`, cookie!);
  assert.equal(r.status, 200);
  const body = await r.text();
  assert.match(body, /<mark class="masked"[^>]*>\[redacted:card\]<\/mark>/);
  assert.match(body, /<mark class="masked"[^>]*>hmac:test:0123456789abcdef0123456789abcdef<\/mark>/);
  assert.match(body, /<code class="rule">detector:card:redact<\/code>/);
  for (const field of ['event.id', 'user.id', 'url.path', 'jwt_audit.token.fingerprint', 'http.request.body.content', 'jwt_audit.masking.rules', 'source.ip'])
    assert.match(body, new RegExp(`<th>${field.replace(/\./g, '\\.')}</th>`), field);
  assert.equal((await get(`/event/${'0'.repeat(8)}-0000-7000-8000-000000000000`, cookie!, 'application/json')).status, 404);
  for (const id of ['..%2F..%2Fetc', '%3Cscript%3E', 'a'.repeat(200), '%00'])
    assert.equal((await get(`/event/${id}`, cookie!, 'application/json')).status, 400, id);
});

test('refresh-family timeline: the chain in order with the reuse marked, stepping lands on the rejection and on the alert', async () => {
  const { cookie } = await signIn({ name: 'auditor' });
  const r = await get('/timeline?family=fam-1', cookie!);
  assert.equal(r.status, 200);
  const body = await r.text();
  const chain = /<ol class="chain" id="chain">([\s\S]*?)<\/ol>/.exec(body)![1]!;
  assert.equal((chain.match(/<li/g) ?? []).length, 3, 'issued, refreshed, replayed');
  assert.equal((chain.match(/REUSE/g) ?? []).length, 1, 'only the second exchange of r1 is reuse');
  assert.match(body, /id="step-position">1 \/ \d+</);
  const nextAlert = /id="step-next-alert" class="step" href="|href="([^"]+)" id="step-next-alert"/.exec(body);
  assert.ok(nextAlert?.[1], 'a next-alert link');
  const alertStep = await (await get(nextAlert[1]!.replace(/&amp;/g, '&'), cookie!)).text();
  assert.match(alertStep, /id="step-action">ALERT refresh-token-reuse</);
  // the subject timeline holds the same story and the rejection
  const sub = await (await get('/timeline?subject=alice', cookie!)).text();
  const nextRej = /href="([^"]+)" id="step-next-rejection"/.exec(sub)![1]!.replace(/&amp;/g, '&');
  const rejStep = await (await get(nextRej, cookie!)).text();
  assert.match(rejStep, /id="step-action">token-refreshed</, 'the first stop is the reuse');
  const again = /href="([^"]+)" id="step-next-rejection"/.exec(rejStep)![1]!.replace(/&amp;/g, '&');
  assert.match(await (await get(again, cookie!)).text(), /id="step-action">token-rejected</);
  for (const bad of [
    '/timeline?subject=a&family=b',
    '/timeline?subject=',
    '/timeline?subject=x&at=-1',
    '/timeline?subject=x&at=abc',
    `/timeline?subject=${'a'.repeat(300)}`,
  ])
    assert.equal((await get(bad, cookie!, 'application/json')).status, 400, bad);
});

test('alerts page: by severity and rule, evidence linked to events and to the family timeline', async () => {
  const { cookie } = await signIn({ name: 'auditor' });
  const body = await (await get('/alerts?severity=critical', cookie!)).text();
  assert.match(body, /refresh-token-reuse \(1\)/);
  assert.match(body, /href="\/timeline\?family=fam-1" class="alert-timeline"/);
  for (const id of story.alerts[0]!.evidence) assert.match(body, new RegExp(`href="/event/${id}" class="evidence"`));
  assert.equal((await get('/alerts?severity=urgent', cookie!, 'application/json')).status, 400);
});

test('export: every match as NDJSON, in time order', async () => {
  const { cookie } = await signIn({ name: 'auditor' });
  const r = await get(`/export?range=all&subject=alice`, cookie!);
  assert.equal(r.status, 200);
  const lines = (await r.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { _id: string; '@timestamp': string });
  assert.equal(lines.length, story.events.length);
  assert.deepEqual(
    lines.map((l) => l['@timestamp']),
    [...lines.map((l) => l['@timestamp'])].sort(),
  );
});

test('every read is an audit.access event on audit.raw.v1: who, what, how many; never the session cookie or the token', async () => {
  const t = await token({ sub: 'carol', roles: ['audit:read'] });
  const { cookie } = await signIn({ token: t });
  await get(`/search?range=all&q=${encodeURIComponent('user.id:alice')}`, cookie!);
  await get('/timeline?family=fam-1', cookie!);
  await get(`/event/${story.events[0]!.id}`, cookie!);
  await get('/export?range=all&subject=alice', cookie!).then((r) => r.text());
  await svc.accessLog.flush();
  const seen: AuditEvent[] = [];
  const raw: string[] = [];
  const consumer = createKafkaClient({ brokers: [broker.address], clientId: 'reader' }, logger).consumer({
    groupId: `access-${Date.now()}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.raw, fromBeginning: true });
  const wanted = ['sign-in', 'search', 'timeline', 'event', 'export'];
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        raw.push(message.value!.toString('latin1'));
        const e = eventCodec.decode(message.value!, message.headers as never);
        if (e.kind === 'audit.access' && e.actor.sub === 'carol') seen.push(e);
        if (wanted.every((a) => seen.some((s) => s.attributes['access.action'] === a))) resolve();
      },
    });
  });
  await done;
  await consumer.disconnect();
  const by = (a: string) => seen.find((s) => s.attributes['access.action'] === a)!;
  assert.equal(by('search').attributes['access.query'], 'user.id:alice');
  assert.equal(by('search').attributes['access.results'], String(story.events.length));
  assert.equal(by('timeline').attributes['access.target'], 'family:fam-1');
  assert.equal(by('event').attributes['access.target'], `event:${story.events[0]!.id}`);
  assert.equal(by('export').attributes['access.results'], String(story.events.length));
  for (const s of seen) {
    assert.equal(s.source.service, 'console');
    assert.deepEqual(s.actor.roles, ['audit:read']);
    assert.equal(s.attributes['access.method'], 'jwt');
    assert.match(s.session!.id, /^console-[0-9a-f]{32}$/);
  }
  const cookieValue = cookie!.split('=')[1]!;
  for (const r of raw) {
    assert.ok(!r.includes(cookieValue), 'the session cookie is never published');
    assert.ok(!r.includes(t.split('.')[2]!), 'the token is never published');
  }
});
