/**
 * The Sessions page over the sessionizer's own summaries, on the embedded broker and search node:
 * enriched events in, the real sessionizer and indexer writing the summaries and the events, the
 * console reading them through the official client. Filters (subject, open/ended, since, end
 * reason), the columns, each row opening its session's timeline scoped by the summary (a subject's
 * other session is not in it), the summary header, every view an audit.access event, and
 * generated hostile query parameters each a 400 problem naming the parameter.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { alertCodec, eventCodec, newId, partitionKey, readSchemaFile, TOPICS, type Alert, type AuditEvent } from '@jwt-audit/events';
import { createIndexerService, indexerDefaults, type IndexerService } from '@jwt-audit/indexer';
import { createAuditProducer, createKafkaClient, defaultTopics, ensureTopics, type AuditProducer, type Kafka } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { sessionLifecycle, sessionRequest, type SessionRequestOptions } from '@jwt-audit/events/testing/sessions';
import { createSessionizerService, defaults as sessionizerDefaults, type SessionizerService } from '@jwt-audit/sessionizer';
import { defaults } from './config.js';
import { rawEventsWhen } from './fixtures.js';
import { createConsoleService, type ConsoleService } from './service.js';

const logger = createLogger({ name: 'console-sessions-test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const MIN = 60_000;
let dir: string;
let broker: Broker;
let node: SearchNode;
let kafka: Kafka;
let es: Client;
let producer: AuditProducer;
let indexer: IndexerService;
let sessionizer: SessionizerService;
let svc: ConsoleService;
let base: string;
let cookie: string;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const T0 = Date.now() - 20 * MIN;
// the console's sessions run long: tokens valid for ten hours unless a test says otherwise
const request = (sub: string, at: number, o: SessionRequestOptions = {}) => sessionRequest(sub, at, { expInMs: 600 * MIN, ...o });
const lifecycle = sessionLifecycle;

const send = (events: AuditEvent[]) =>
  producer.send(
    TOPICS.enriched,
    events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
  );

interface Summary {
  id: string;
  open: boolean;
  end_reason?: string;
  requests: number;
  alerts: number;
  after_end: number;
  sid?: string;
}

async function summaries(): Promise<{ sub: string; s: Summary }[]> {
  await es.indices.refresh({ index: 'audit-sessions-*' });
  const r = await es.search<{ user: { id: string }; event: { reason?: string }; jwt_audit: { session: Summary } }>({
    index: 'audit-sessions-*',
    size: 100,
    query: { match_all: {} },
  });
  // the end reason is ECS's event.reason since the ECS rename; the test keeps reading it beside the summary
  return r.hits.hits.map((h) => ({
    sub: h._source!.user.id,
    s: { ...h._source!.jwt_audit.session, ...(h._source!.event.reason !== undefined ? { end_reason: h._source!.event.reason } : {}) },
  }));
}

const get = (p: string, accept = 'text/html') => fetch(`${base}${p}`, { headers: { cookie, accept }, redirect: 'manual' });
const ids = (page: string) =>
  [...page.matchAll(/data-session="([^"]+)"/g)].map((m) =>
    m[1]!
      .replace(/&amp;/g, '&')
      .replace(/&#39;/g, "'")
      .replace(/&quot;/g, '"'),
  );

// the story: alice signs in (pushed start), works, signs out, and her token is used once more; later she opens a second
// session (another sid) that stays open; bob's token is revoked; erin is deprovisioned; dave works without a sid
const aliceSid = 's-alice-1';
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'console-sessions-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  node = await startSearchNode({ dir: path.join(dir, 'es'), port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'sessions-setup' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  es = new Client({ node: node.url });
  producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  indexer = createIndexerService(
    {
      ...indexerDefaults,
      kafka: { brokers: [broker.address], clientId: 'indexer' },
      elasticsearch: { url: node.url },
      ops: {},
      groupId: 'indexer-console',
      namespace: 'test',
    },
    { logger },
  );
  await indexer.start();
  sessionizer = createSessionizerService(
    {
      ...sessionizerDefaults,
      kafka: { brokers: [broker.address], clientId: 'sessionizer' },
      groupId: 'sessionizer-console',
      stateDir: path.join(dir, 'sessions'),
      fsync: false,
      tickMs: 200,
    },
    { logger, ops: false },
  );
  await sessionizer.start();
  svc = createConsoleService(
    {
      ...defaults,
      listen: { host: '127.0.0.1', port: 0 },
      elasticsearch: { url: node.url },
      kafka: { brokers: [broker.address], clientId: 'console' },
      auth: { ...defaults.auth, demoLogin: true },
      source: { service: 'console', instance: 'console-sessions', environment: 'test' },
    },
    { logger, ops: false },
  );
  base = (await svc.start()).url;
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'name=auditor',
  });
  cookie = login.headers.get('set-cookie')!.split(';')[0]!;

  await send([lifecycle('session.started', 'alice', T0, { sid: aliceSid })]);
  await send([
    request('alice', T0 + 1_000, { sid: aliceSid, ip: '198.51.100.7', bodySize: 300 }),
    request('alice', T0 + 2_000, { sid: aliceSid, ip: '198.51.100.7', path: '/profile', route: '/profile' }),
    request('alice', T0 + 3_000, { sid: aliceSid, ip: '203.0.113.66', kind: 'token.rejected', status: 401 }),
  ]);
  await send([lifecycle('session.ended', 'alice', T0 + 4_000, { sid: aliceSid, reason: 'logout' })]);
  await send([request('alice', T0 + 5_000, { sid: aliceSid, ip: '203.0.113.66' })]);
  await send([request('alice', T0 + 10 * MIN, { sid: 's-alice-2' }), request('alice', T0 + 10 * MIN + 1_000, { sid: 's-alice-2' })]);
  await send([request('bob', T0 + 1_000, { jti: 'jti-bob' }), lifecycle('token.revoked', 'bob', T0 + 2_000, { jti: 'jti-bob', reason: 'stolen laptop' })]);
  await send([request('erin', T0 + 1_000), lifecycle('subject.deprovisioned', 'erin', T0 + 2_000)]);
  await send([request('dave', T0 + 1_000, { sid: null }), request('dave', T0 + 2_000, { sid: null })]);
  const alert: Alert = {
    ...(readSchemaFile('examples/alert.json') as Alert),
    id: newId(),
    rule: 'token-multi-origin',
    raisedAt: T0 + 3_500,
    keys: { subject: 'alice', jti: null, ip: null, clientId: null, familyId: null, sessionId: aliceSid },
  };
  await producer.send(TOPICS.alerts, [{ key: 'sub:alice', ...alertCodec.encode(alert) }]);

  await waitFor('every summary and event indexed', async () => {
    const all = await summaries();
    const alice1 = all.find((x) => x.s.sid === aliceSid)?.s;
    const ok =
      all.length === 5 &&
      alice1?.end_reason === 'sign_out' &&
      alice1.after_end === 1 &&
      alice1.alerts === 1 &&
      all.some((x) => x.sub === 'bob' && x.s.end_reason === 'revocation') &&
      all.some((x) => x.sub === 'erin' && x.s.end_reason === 'deprovisioning') &&
      all.filter((x) => x.s.sid === 's-alice-2' && x.s.requests === 2).length === 1 &&
      all.some((x) => x.sub === 'dave' && x.s.requests === 2);
    if (!ok) return undefined;
    await es.indices.refresh({ index: 'logs-jwt_audit.*' });
    const events = await es.count({ index: 'logs-jwt_audit.events-test' });
    const alerts = await es.count({ index: 'logs-jwt_audit.alerts-test', ignore_unavailable: true });
    return events.count >= 14 && alerts.count === 1 ? true : undefined;
  });
});

after(async () => {
  await svc?.stop();
  await sessionizer?.stop();
  await indexer?.stop();
  await producer?.disconnect();
  await es?.close();
  await node?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("Sessions lists the sessionizer's summaries with every column; the filters narrow them", async () => {
  const r = await get('/sessions');
  assert.equal(r.status, 200);
  const page = await r.text();
  assert.equal(ids(page).length, 5);
  assert.match(page, /id="sessions-total">5</);
  const all = await summaries();
  const alice1 = all.find((x) => x.s.sid === aliceSid)!.s;
  // alice's signed-out session: her IPs, 3 requests (the one after her sign-out is counted apart), 2 routes, a rejection, the alert, sign_out + after end
  const row = new RegExp(`<tr[^>]*data-session="${alice1.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>(.*?)</tr>`, 's').exec(page)![1]!;
  const cells = [...row.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((m) => m[1]!.replace(/<[^>]+>/g, '').trim());
  // start, end, duration, subject, client, IPs/geos, requests, routes, bytes, rejections, alerts, approvals, end reason
  assert.equal(cells.length, 13);
  assert.match(cells[0]!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.match(cells[1]!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.equal(cells[2], '4s');
  assert.equal(cells[3], 'alice');
  assert.equal(cells[4], 'web-portal');
  assert.match(cells[5]!, /198\.51\.100\.7, 203\.0\.113\.66/);
  assert.equal(cells[6], '3');
  assert.equal(cells[7], '2');
  assert.equal(cells[8], '300 B / 0 B');
  assert.equal(cells[9], '1');
  assert.match(cells[10]!, /^1 token-multi-origin$/);
  assert.equal(cells[11], '0');
  assert.match(cells[12]!, /^sign_out \(logout\) \+1 after end$/);

  const only = async (q: string) => {
    const res = await get(`/sessions?${q}`);
    assert.equal(res.status, 200, q);
    return ids(await res.text()).map((id) => all.find((x) => x.s.id === id)!);
  };
  assert.deepEqual(
    (await only('subject=alice')).map((x) => x.sub),
    ['alice', 'alice'],
  );
  assert.deepEqual(await only('subject=nobody'), []);
  const open = await only('state=open');
  assert.ok(open.length === 2 && open.every((x) => x.s.open), "alice's second session and dave's are open");
  assert.deepEqual(new Set((await only('state=open')).map((x) => x.sub)), new Set(['alice', 'dave']));
  assert.deepEqual((await only('state=ended')).map((x) => x.s.end_reason).sort(), ['deprovisioning', 'revocation', 'sign_out']);
  assert.deepEqual(
    (await only('reason=revocation')).map((x) => x.sub),
    ['bob'],
  );
  assert.deepEqual(await only('reason=idle_timeout'), []);
  assert.deepEqual(
    (await only('subject=alice&state=ended')).map((x) => x.s.sid),
    [aliceSid],
  );
  // active since: alice's second session was seen 10 minutes after the rest
  // (in whole minutes back to about T0 + 5 min, however long the setup took)
  assert.deepEqual(
    (await only(`since=${Math.floor((Date.now() - T0 - 5 * MIN) / MIN)}m`)).map((x) => x.s.sid),
    ['s-alice-2'],
  );
  assert.deepEqual(
    (await only(`since=${new Date(T0 + 5 * MIN).toISOString()}`)).map((x) => x.s.sid),
    ['s-alice-2'],
  );
  assert.equal((await only('since=1d')).length, 5);
  // newest start first
  assert.equal(ids(await (await get('/sessions')).text())[0], all.find((x) => x.s.sid === 's-alice-2')!.s.id);
  // paging: 25 a page, one page here
  assert.match(await (await get('/sessions?size=25&page=1')).text(), /page 1 of 1/);
});

test("a session's row opens its timeline scoped by the summary, with the summary as its header", async () => {
  const all = await summaries();
  const alice1 = all.find((x) => x.s.sid === aliceSid)!.s;
  const list = await (await get('/sessions?subject=alice&state=ended')).text();
  const href = /<a href="([^"]+)" class="session-link">/.exec(list)![1]!.replace(/&amp;/g, '&');
  assert.equal(href, `/timeline?summary=${encodeURIComponent(alice1.id)}`);
  const r = await get(href);
  assert.equal(r.status, 200);
  const page = await r.text();
  assert.match(page, /id="session-summary"/);
  assert.match(page, /id="summary-end-reason">sign_out</);
  assert.match(page, /id="summary-requests">3</);
  assert.match(page, /id="summary-after-end">1 event\(s\) after the session ended/);
  // the timeline holds this session only: the pushed start and end, 3 requests (one refused), the alert and the request after the end;
  // not her second session (same subject, another sid), not bob's or dave's
  const rows = [...page.matchAll(/<tr class="[^"]*"><td><a href="[^"]*&at=(\d+)#step">/g)];
  assert.equal(rows.length, 7, 'session.started, 3 requests, session.ended, the request after the end, the alert');
  assert.match(page, /(\d+) entries · 1 rejections · 1 alerts/);
  assert.match(page, /session-started/);
  assert.match(page, /session-ended/);
  assert.doesNotMatch(page, /s-alice-2/);
  // stepping keeps the scope: next alert from the start lands on the alert
  const stepped = await (await get(`${href}&at=0`)).text();
  const nextAlert = /<a href="([^"]+)" id="step-next-alert"/.exec(stepped)![1]!.replace(/&amp;/g, '&');
  assert.match(nextAlert, /^\/timeline\?summary=.*&at=\d+#step$/);
  assert.match(await (await get(nextAlert.replace(/#step$/, ''))).text(), /id="step-action">ALERT token-multi-origin</);
  // a session without a sid (subject + client) opens too: dave's two requests
  const dave = all.find((x) => x.sub === 'dave')!.s;
  assert.match(await (await get(`/timeline?summary=${encodeURIComponent(dave.id)}`)).text(), /2 entries/);
  // an unknown id is a 404 problem naming the parameter
  const missing = await get('/timeline?summary=sid%3Anobody%400', 'application/json');
  assert.equal(missing.status, 404);
  assert.deepEqual(
    ((await missing.json()) as { errors: { param: string }[] }).errors.map((e) => e.param),
    ['summary'],
  );
});

// a small deterministic generator: the same variants every run, many of them
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const ALPHABET = [
  'a',
  'Z',
  '0',
  '9',
  '-',
  '_',
  ':',
  '@',
  '#',
  ' ',
  '%',
  '&',
  '=',
  '+',
  '/',
  '\\',
  '"',
  "'",
  '<',
  '>',
  '*',
  '?',
  '(',
  ')',
  '\u0000',
  '\u0007',
  '\u001f',
  '\u007f',
  '\t',
  '\n',
  'é',
  '€',
  '😀',
  '\u200b',
  '.',
  'm',
  'h',
  'd',
];
function junk(r: () => number, max: number): string {
  const n = Math.floor(r() * max) + 1;
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)]!;
  return s;
}
const hasControl = (v: string) => /[\u0000-\u001f\u007f]/.test(v);

test('hostile Sessions and summary parameters (generated): each a 400 problem naming the parameter, never a 5xx; valid ones answer 200', async () => {
  const r = rng(20);
  const cases: { q: string; param: string | null }[] = [];
  const add = (param: string, v: string, bad: boolean) => cases.push({ q: `${param}=${encodeURIComponent(v)}`, param: bad ? param : null });
  for (let i = 0; i < 40; i++) {
    const v = junk(r, 12);
    const blank = v.trim() === '';
    // subject: anything printable up to 256 characters is a subject to look for
    add('subject', v, !blank && hasControl(v));
    add('state', v, !blank);
    add('reason', v, !blank);
    // since: never a duration or a time when it starts with a letter
    add('since', `x${v}`, true);
    add('size', v, !blank);
    add('page', v, !blank);
  }
  for (const v of ['a'.repeat(257), 'é'.repeat(300), `alice${'\u0000'}`]) add('subject', v, true);
  for (const v of ['OPEN', 'closed', 'true', '1', 'open ', 'open,ended']) add('state', v, v.trim() !== 'open');
  for (const v of ['SIGN_OUT', 'sign-out', 'logout', 'sign_out;', "' OR 1=1"]) add('reason', v, true);
  for (const v of ['0m', '15m', '24h', '7d', '9999d']) add('since', v, false);
  for (const v of ['-5m', '5', '5 m', '1.5h', '10000d', '5w', 'yesterday', '2026-13-01', '2026-02-30', '2026-01-01T25:00:00Z', '1e9', '99999999999999999', '∞'])
    add('since', v, !/^\d{1,16}$/.test(v) || Number(v) > 253_402_300_799_999);
  for (const v of ['0', '-1', '51', '1e2', '0x19', '25.0', '999999999', 'NaN']) add('size', v, true);
  for (const v of ['0', '-1', '1.5', '201', '9999999', 'last']) add('page', v, true);
  for (const v of ['1', '200']) add('page', v, v === '201');
  // given twice, unknown parameters, contradictions
  cases.push({ q: 'subject=a&subject=b', param: 'subject' }, { q: 'state=open&state=ended', param: 'state' }, { q: 'size=25&size=50', param: 'size' });
  cases.push(
    { q: 'user=alice', param: 'user' },
    { q: 'q=*', param: 'q' },
    { q: '__proto__=x', param: '__proto__' },
    { q: 'constructor=1', param: 'constructor' },
  );
  cases.push({ q: 'state=open&reason=sign_out', param: 'reason' }, { q: 'size=200&page=51', param: 'page' });
  let bad = 0;
  for (const c of cases) {
    const res = await get(`/sessions?${c.q}`, 'application/json');
    assert.ok(res.status < 500, `${c.q}: ${res.status}`);
    if (c.param === null) {
      assert.equal(res.status, 200, c.q);
      await res.arrayBuffer();
      continue;
    }
    bad++;
    assert.equal(res.status, 400, c.q);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const body = (await res.json()) as { status: number; errors: { param: string; message: string }[] };
    assert.equal(body.status, 400);
    assert.ok(
      body.errors.some((e) => e.param === c.param),
      `${c.q}: ${JSON.stringify(body.errors)}`,
    );
  }
  assert.ok(bad >= 250, `${bad} hostile variants`);

  // the summary id: bounded and printable, else 400 naming summary; any other value is looked up (404), never a 5xx
  const sumCases: { q: string; status: number }[] = [];
  for (let i = 0; i < 60; i++) {
    const v = junk(r, 30);
    sumCases.push({ q: `summary=${encodeURIComponent(v)}`, status: hasControl(v) ? 400 : 404 });
  }
  sumCases.push(
    { q: 'summary=', status: 400 },
    { q: `summary=${'x'.repeat(1025)}`, status: 400 },
    { q: 'summary=a&summary=b', status: 400 },
    { q: 'summary=a&subject=b', status: 400 },
    { q: 'summary=a&at=-1', status: 400 },
    { q: 'summary=a&at=1e3', status: 400 },
  );
  sumCases.push(
    { q: `summary=${encodeURIComponent('{"ids":{"values":["*"]}}')}`, status: 404 },
    { q: 'summary=*', status: 404 },
    { q: `summary=${encodeURIComponent('sid:alice:*@0')}`, status: 404 },
  );
  for (const c of sumCases) {
    const res = await get(`/timeline?${c.q}`, 'application/json');
    assert.equal(res.status, c.status, c.q);
    const body = (await res.json()) as { errors?: { param: string }[] };
    assert.ok(
      body.errors?.some((e) => ['summary', 'subject', 'at'].includes(e.param)),
      `${c.q}: ${JSON.stringify(body)}`,
    );
  }
  // values are escaped on the page: a subject filter that is markup comes back as text
  const page = await (await get(`/sessions?subject=${encodeURIComponent('<script>alert(1)</script>')}`)).text();
  assert.doesNotMatch(page, /<script>alert/);
  assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
});

test('every Sessions view and session timeline is an audit.access event on audit.raw.v1, refused ones included', async () => {
  const alice1 = (await summaries()).find((x) => x.s.sid === aliceSid)!.s;
  await (await get('/sessions?subject=alice&reason=sign_out')).arrayBuffer();
  await (await get(`/timeline?summary=${encodeURIComponent(alice1.id)}`)).arrayBuffer();
  await (await get('/sessions?state=nope', 'application/json')).arrayBuffer();
  const auditor = (all: AuditEvent[]) => all.filter((e) => e.kind === 'audit.access' && e.actor.sub === 'auditor');
  const seen = await rawEventsWhen(kafka, 'the access events', (all) => {
    const a = auditor(all);
    return (
      a.some((e) => e.attributes['access.target'] === 'sessions subject:alice reason:sign_out') &&
      a.some((e) => e.attributes['access.target'] === `summary:${alice1.id}` && e.attributes['access.results'] === '7') &&
      a.some((e) => e.attributes['access.action'] === 'sessions' && e.outcome === 'failure' && e.http?.response?.status === 400)
    );
  });
  const list = auditor(seen).find((e) => e.attributes['access.target'] === 'sessions subject:alice reason:sign_out')!;
  assert.equal(list.attributes['access.action'], 'sessions');
  assert.equal(list.attributes['access.results'], '1');
  assert.equal(list.http?.request.route, 'console.sessions');
  assert.ok(!JSON.stringify(auditor(seen)).includes(cookie.split('=')[1]!), 'the session cookie is never in an access event');
});
