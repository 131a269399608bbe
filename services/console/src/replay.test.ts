/**
 * Replay from the console's session timeline (issue #19 item 3), on the embedded broker and search
 * node, against a test instance of the demo API (services/demo's upstream behind a recording
 * switch): the panel for the replay role only, a dry run that sends nothing and shows what would
 * be sent (the token as a placeholder), a replay with the operator's token that reports matches
 * and differences, CSRF as the approvals form, a target that is a production upstream refused at
 * start, generated hostile forms each a 400 naming the field with nothing sent, and every replay an
 * audit.access event that never holds the token.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { startUpstream } from '@jwt-audit/demo';
import { sessionToEcsDocument, withIndexTimes } from '@jwt-audit/ecs';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import type { AuditEvent, SessionSummary } from '@jwt-audit/events';
import { installTemplates } from '@jwt-audit/indexer';
import { createKafkaClient, defaultTopics, ensureTopics, type Kafka } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { defaults, type ConsoleConfig } from './config.js';
import { event, indexAll, rawEventsWhen } from './fixtures.js';
import { createConsoleService, type ConsoleService } from './service.js';

const logger = createLogger({ name: 'console-replay-test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const SID = 'sess-replay-1';
const T0 = Date.parse('2026-11-20T10:00:00Z');
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvcGVyYXRvciJ9.c2lnbmF0dXJlLW9mLXRoZS1vcGVyYXRvcg';
let dir: string;
let broker: Broker;
let search: SearchNode;
let kafka: Kafka;
let es: Client;
const stops: (() => Promise<void>)[] = [];
let testInstance: { url: string; seen: { method: string; url: string; authorization: string | undefined; replayOf: string | undefined }[] };
let summaryId: string;
let recorded: AuditEvent[];

/** The test instance: a fresh demo API behind a switch that notes what reached it. */
async function startTestInstance(): Promise<typeof testInstance> {
  const api = await startUpstream({ port: 0, logger });
  stops.push(() => api.close());
  const seen: (typeof testInstance)['seen'] = [];
  const sw = http.createServer((req, res) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      replayOf: req.headers['x-audit-replay-of'] as string | undefined,
    });
    const up = http.request(`${api.url}${req.url}`, { method: req.method, headers: req.headers }, (u) => {
      res.writeHead(u.statusCode ?? 502, u.headers);
      u.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => sw.listen(0, '127.0.0.1', () => r()));
  stops.push(() => new Promise((r) => (sw.closeAllConnections(), sw.close(() => r()))));
  return { url: `http://127.0.0.1:${(sw.address() as AddressInfo).port}`, seen };
}

async function consoleWith(
  replay: Partial<ConsoleConfig['replay']>,
): Promise<{ svc: ConsoleService; base: string; cookie: string; csrf: () => Promise<string> }> {
  const svc = createConsoleService(
    {
      ...defaults,
      listen: { host: '127.0.0.1', port: 0 },
      elasticsearch: { url: search.url },
      kafka: { brokers: [broker.address], clientId: 'console' },
      auth: { ...defaults.auth, demoLogin: true },
      replay: { ...defaults.replay, ...replay },
      source: { service: 'console', instance: 'console-replay', environment: 'test' },
    },
    { logger, ops: false },
  );
  const { url: base } = await svc.start();
  stops.push(() => svc.stop());
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'name=investigator',
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  // the per-session CSRF token, as the browser gets it: from the Approvals form
  const csrf = async () => /data-csrf="([^"]*)"/.exec(await (await fetch(`${base}/approvals`, { headers: { cookie, accept: 'text/html' } })).text())![1]!;
  return { svc, base, cookie, csrf };
}

let main: Awaited<ReturnType<typeof consoleWith>>;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'console-replay-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  stops.push(() => broker.close());
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'setup' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  stops.push(() => search.close());
  es = new Client({ node: search.url });
  stops.push(() => es.close());
  await installTemplates(es, logger);
  // a recorded session: the demo API's order list (the test instance answers it the same), and an order that existed
  // when recorded (200) but not on the test instance (404): a difference; the token endpoint call holds no exchange
  recorded = [
    event('token.issued', T0, { sub: 'alice', typ: 'access', fp: 'a1', sid: SID }),
    event('token.validated', T0 + 1_000, { sub: 'alice', path: '/api/orders', fp: 'a1', sid: SID, status: 200 }),
    event('token.validated', T0 + 2_000, { sub: 'alice', path: '/api/orders/4242', fp: 'a1', sid: SID, status: 200 }),
    event('token.validated', T0 + 3_000, { sub: 'bob', path: '/api/orders', fp: 'b1', sid: 'sess-other', status: 200 }),
  ];
  await indexAll(es, 'test', recorded);
  const s: SessionSummary = {
    id: `sid:${SID}@${T0}`,
    schemaVersion: 1,
    revision: 3,
    basis: 'sid',
    sid: SID,
    familyId: null,
    subject: 'alice',
    clientId: 'web-portal',
    tenant: null,
    explicitStart: false,
    startedAt: T0,
    lastSeenAt: T0 + 2_000,
    endedAt: null,
    durationMs: 2_000,
    endReason: null,
    endDetail: null,
    tokenExpiresAt: null,
    ips: ['198.51.100.7'],
    ipsDropped: 0,
    countries: [],
    cities: [],
    requests: 2,
    routes: ['GET orders'],
    routesDropped: 0,
    bytesIn: 0,
    bytesOut: 0,
    rejections: 0,
    alerts: 0,
    alertRules: [],
    approvals: 0,
    afterEnd: 0,
    events: 3,
    updatedAt: T0 + 2_000,
  };
  summaryId = s.id;
  await es.index({ index: 'audit-sessions-test', id: s.id, document: withIndexTimes(sessionToEcsDocument(s), new Date().toISOString()), refresh: true });
  testInstance = await startTestInstance();
  main = await consoleWith({ target: testInstance.url });
});

after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const post = (c: { base: string; cookie: string }, form: Record<string, string> | string, accept = 'text/html') =>
  fetch(`${c.base}/replay`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: c.cookie, accept, 'content-type': 'application/x-www-form-urlencoded' },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
  });
const rowsOf = (page: string) =>
  [...page.matchAll(/<tr class="[^"]*" data-result="([^"]+)"><td>\d+<\/td><td><a[^>]*>[^<]*<\/a><\/td><td><code>([^<]+)<\/code>/g)].map((m) => ({
    result: m[1]!,
    request: m[2]!,
  }));

test('the timeline of a session offers Replay to the replay role; a dry run sends nothing and shows what would be sent', async () => {
  const timeline = await (
    await fetch(`${main.base}/timeline?summary=${encodeURIComponent(summaryId)}`, { headers: { cookie: main.cookie, accept: 'text/html' } })
  ).text();
  assert.match(timeline, /id="replay-form"/);
  assert.match(timeline, new RegExp(`id="replay-target">${testInstance.url}/<`));
  assert.match(
    await (await fetch(`${main.base}/timeline?session=${SID}`, { headers: { cookie: main.cookie, accept: 'text/html' } })).text(),
    /id="replay-form"/,
  );
  // a subject's or family's timeline is not a session: no Replay
  assert.doesNotMatch(
    await (await fetch(`${main.base}/timeline?subject=alice`, { headers: { cookie: main.cookie, accept: 'text/html' } })).text(),
    /id="replay-form"/,
  );

  const before = testInstance.seen.length;
  const csrf = await main.csrf();
  const dry = await post(main, { summary: summaryId, mode: 'dry-run', csrf });
  assert.equal(dry.status, 200);
  const page = await dry.text();
  assert.deepEqual(
    rowsOf(page),
    [
      { result: 'dry-run', request: 'GET /api/orders' },
      { result: 'dry-run', request: 'GET /api/orders/4242' },
    ],
    "the session's exchanges only, in recorded order (not bob's)",
  );
  assert.match(page, /2 would be sent, 0 skipped, 0 flagged; nothing was sent/);
  assert.match(page, /authorization: Bearer &lt;operator token&gt;/);
  assert.match(page, new RegExp(`x-audit-replay-of: ${recorded[1]!.id}`));
  assert.match(page, /id="replay-run-form"/);
  assert.equal(testInstance.seen.length, before, 'a dry run sends nothing');
  // by sid, the same two
  assert.deepEqual(rowsOf(await (await post(main, { session: SID, mode: 'dry-run', csrf })).text()).length, 2);
});

test("a replay with the operator's token: the table of matches and differences; the token reaches the test instance only", async () => {
  const before = testInstance.seen.length;
  const r = await post(main, { summary: summaryId, mode: 'run', token: TOKEN, csrf: await main.csrf() });
  assert.equal(r.status, 200);
  const page = await r.text();
  assert.deepEqual(rowsOf(page), [
    { result: 'match', request: 'GET /api/orders' },
    { result: 'differs', request: 'GET /api/orders/4242' },
  ]);
  assert.match(page, /2 requests: 1 match, 1 differ, 0 failed, 0 skipped/);
  assert.match(page, /status 200 -&gt; 404/);
  assert.doesNotMatch(page, new RegExp(TOKEN.split('.')[2]!), 'the token is not on the page');
  const sent = testInstance.seen.slice(before);
  assert.deepEqual(
    sent.map((s) => `${s.method} ${s.url}`),
    ['GET /api/orders', 'GET /api/orders/4242'],
  );
  assert.ok(
    sent.every((s) => s.authorization === `Bearer ${TOKEN}`),
    "the operator's token, never a recorded one",
  );
  assert.deepEqual(
    sent.map((s) => s.replayOf),
    [recorded[1]!.id, recorded[2]!.id],
  );

  // every replay is an audit.access event: dry run and run, with the session and the request count, never the token
  const replays = (all: AuditEvent[]) =>
    all.filter((e) => e.kind === 'audit.access' && ['replay', 'replay-dry-run'].includes(e.attributes['access.action'] ?? ''));
  const seen = await rawEventsWhen(
    kafka,
    'the replay access events',
    (all) =>
      replays(all).some((e) => e.attributes['access.action'] === 'replay' && e.outcome === 'success') &&
      replays(all).some((e) => e.attributes['access.action'] === 'replay-dry-run'),
  );
  const run = replays(seen).find((e) => e.attributes['access.action'] === 'replay' && e.outcome === 'success')!;
  assert.equal(run.attributes['access.target'], `summary:${summaryId}`);
  assert.equal(run.attributes['access.results'], '2');
  assert.equal(run.actor.sub, 'investigator');
  assert.ok(!JSON.stringify(seen).includes(TOKEN.split('.')[2]!), 'the operator token is in no event');
});

test("refusals: without the replay role (no panel, 403), without or with another session's CSRF token (403), unknown session (404)", async () => {
  const other = await consoleWith({ target: testInstance.url, role: 'audit:replay' });
  const timeline = await (
    await fetch(`${other.base}/timeline?summary=${encodeURIComponent(summaryId)}`, { headers: { cookie: other.cookie, accept: 'text/html' } })
  ).text();
  assert.doesNotMatch(timeline, /id="replay-form"/, 'no Replay for a user without audit:replay');
  const before = testInstance.seen.length;
  const denied = await post(other, { summary: summaryId, mode: 'run', token: TOKEN, csrf: await other.csrf() }, 'application/json');
  assert.equal(denied.status, 403);
  assert.match(((await denied.json()) as { detail: string }).detail, /audit:replay is required/);
  for (const csrf of [undefined, '', 'x', await other.csrf()]) {
    const form: Record<string, string> = { summary: summaryId, mode: 'run', token: TOKEN };
    if (csrf !== undefined) form.csrf = csrf;
    const r = await post(main, form, 'application/json');
    assert.equal(r.status, 403, `csrf ${csrf}`);
    assert.deepEqual(
      ((await r.json()) as { errors: { param: string }[] }).errors.map((e) => e.param),
      ['csrf'],
    );
  }
  const missing = await post(main, { summary: 'sid:nobody@0', mode: 'dry-run', csrf: await main.csrf() }, 'application/json');
  assert.equal(missing.status, 404);
  const noExchange = await post(main, { session: 'sess-none', mode: 'dry-run', csrf: await main.csrf() }, 'application/json');
  assert.equal(noExchange.status, 422);
  assert.equal((await fetch(`${main.base}/replay`, { headers: { cookie: main.cookie } })).status, 405);
  assert.equal(testInstance.seen.length, before, 'nothing sent');
  // no target configured: no panel, 404
  const none = await consoleWith({});
  assert.doesNotMatch(
    await (await fetch(`${none.base}/timeline?session=${SID}`, { headers: { cookie: none.cookie, accept: 'text/html' } })).text(),
    /id="replay-form"/,
  );
  assert.equal((await post(none, { session: SID, mode: 'dry-run', csrf: await none.csrf() }, 'application/json')).status, 404);
});

test('a replay target that is a production upstream is refused at start, by another name for the same server too', async () => {
  const port = new URL(testInstance.url).port;
  for (const [target, production, env] of [
    [testInstance.url, [testInstance.url], {}],
    [`http://localhost:${port}/base`, [`http://127.0.0.1:${port}`], {}],
    [testInstance.url, [], { AUDIT_INTERCEPTOR_UPSTREAMS: JSON.stringify({ api: `http://[::ffff:127.0.0.1]:${port}` }) }],
  ] as [string, string[], Record<string, string>][]) {
    const saved = process.env.AUDIT_INTERCEPTOR_UPSTREAMS;
    Object.assign(process.env, env);
    try {
      const svc = createConsoleService(
        {
          ...defaults,
          listen: { host: '127.0.0.1', port: 0 },
          elasticsearch: { url: search.url },
          kafka: { brokers: [broker.address], clientId: 'console' },
          auth: { ...defaults.auth, demoLogin: true },
          replay: { ...defaults.replay, target, productionUpstreams: production },
        },
        { logger, ops: false },
      );
      await assert.rejects(svc.start(), /is a production upstream .*refused/, target);
      await svc.stop();
    } finally {
      if (saved === undefined) delete process.env.AUDIT_INTERCEPTOR_UPSTREAMS;
      else process.env.AUDIT_INTERCEPTOR_UPSTREAMS = saved;
    }
  }
  // an unreadable interceptor setting is a configuration error, not a check that checks nothing
  process.env.AUDIT_INTERCEPTOR_UPSTREAMS = 'not json';
  try {
    assert.throws(
      () =>
        createConsoleService(
          { ...defaults, auth: { ...defaults.auth, demoLogin: true }, replay: { ...defaults.replay, target: testInstance.url } },
          { logger, ops: false },
        ),
      /AUDIT_INTERCEPTOR_UPSTREAMS: not JSON/,
    );
  } finally {
    delete process.env.AUDIT_INTERCEPTOR_UPSTREAMS;
  }
});

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('hostile replay forms (generated): each a 400 naming the field, nothing sent, the token never echoed', async () => {
  const csrf = await main.csrf();
  const r = rng(19);
  const chars = ['a', '0', '.', '-', '_', '~', '+', '/', '=', ' ', '"', '<', '>', '\u0000', '\n', '\r', ':', ';', ',', 'é', '😀', '%', '&'];
  const junk = (n: number) => Array.from({ length: Math.floor(r() * n) + 1 }, () => chars[Math.floor(r() * chars.length)]!).join('');
  const cases: { form: string; param: string }[] = [];
  const enc = (o: Record<string, string>) => new URLSearchParams({ ...o, csrf }).toString();
  for (let i = 0; i < 40; i++) {
    // a character no bearer token holds, inside the value (surrounding spaces are trimmed as a paste's)
    const t = `a${junk(20)}${['"', ' ', '<', '\n', ';', 'é'][i % 6]}a`;
    cases.push({ form: enc({ summary: summaryId, mode: 'run', token: t }), param: 'token' });
    cases.push({ form: enc({ summary: summaryId, mode: junk(8) }), param: 'mode' });
  }
  for (const t of ['', '   ', 'Bearer abc', 'a'.repeat(16_385), 'abc=def', '=abc', 'abc\u0000'])
    cases.push({ form: enc({ summary: summaryId, mode: 'run', token: t }), param: 'token' });
  for (const v of ['', 'a\u0000b', 'x'.repeat(1025), 'line\nbreak']) cases.push({ form: enc({ summary: v, mode: 'dry-run' }), param: 'summary' });
  for (const v of ['', 's\u0007', 'y'.repeat(257)]) cases.push({ form: enc({ session: v, mode: 'dry-run' }), param: 'session' });
  cases.push({ form: enc({ mode: 'dry-run' }), param: 'summary' });
  cases.push({ form: `${enc({ summary: summaryId, mode: 'dry-run' })}&session=${SID}`, param: 'session' });
  cases.push({ form: `${enc({ summary: summaryId, mode: 'dry-run' })}&summary=again`, param: 'summary' });
  cases.push({ form: `${enc({ summary: summaryId, mode: 'run', token: TOKEN })}&token=${TOKEN}`, param: 'token' });
  cases.push({ form: `${enc({ summary: summaryId, mode: 'dry-run' })}&target=http://evil.test`, param: 'target' });
  cases.push({ form: `${enc({ summary: summaryId, mode: 'dry-run' })}&allow-production=1`, param: 'allow-production' });
  cases.push({ form: `${enc({ summary: summaryId, mode: 'run' })}`, param: 'token' });
  const before = testInstance.seen.length;
  for (const c of cases) {
    const res = await post(main, c.form, 'application/json');
    assert.equal(res.status, 400, c.form.slice(0, 120));
    const text = await res.text();
    const body = JSON.parse(text) as { errors: { param: string }[] };
    assert.ok(
      body.errors.some((e) => e.param === c.param),
      `${c.form.slice(0, 120)}: ${text.slice(0, 200)}`,
    );
    assert.ok(!text.includes(TOKEN), 'the token is not echoed');
  }
  assert.ok(cases.length >= 100, `${cases.length} variants`);
  // broken encodings, wrong content types, too large
  assert.equal(
    (await fetch(`${main.base}/replay`, { method: 'POST', headers: { cookie: main.cookie, 'content-type': 'application/json' }, body: '{}' })).status,
    415,
  );
  assert.equal(
    (
      await fetch(`${main.base}/replay`, {
        method: 'POST',
        headers: { cookie: main.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'x'.repeat(40_000),
      })
    ).status,
    413,
  );
  assert.equal(testInstance.seen.length, before, 'nothing sent by any of them');
});
