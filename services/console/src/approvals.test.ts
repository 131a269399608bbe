/**
 * The Approvals page as an approver, a reader and an attacker meet it, on the embedded broker and
 * search node over real TCP/HTTP: a request the interceptor put on audit.approvals.v1 is listed;
 * an approver's decision is written by the CLI's own decideApproval and releases it (the fold of
 * the topic says granted); a reader without audit:approve, the requester deciding their own
 * request, a missing or foreign CSRF token, a denial without reason, and generated hostile form
 * fields are all refused with problem details; every decision is an audit.access event.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { readApprovals } from '@jwt-audit/cli';
import { approvalKey } from '@jwt-audit/edge';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { approvalCodec, eventCodec, TOPICS, type ApprovalRecord, type AuditEvent } from '@jwt-audit/events';
import { createKafkaClient, defaultTopics, ensureTopics, type Kafka } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { defaults, type ConsoleConfig } from './config.js';
import { createConsoleService, type ConsoleService } from './service.js';

const logger = createLogger({ name: 'console-approvals-test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const ISSUER = 'https://idp.approvals.test/';
let dir: string;
let broker: Broker;
let search: SearchNode;
let kafka: Kafka;
let jwksServer: Server;
let key: CryptoKey;
let svc: ConsoleService;
let base: string;

const ID = {
  released: '0193a005-7c2e-7a31-8f00-3aa000000001',
  denied: '0193a005-7c2e-7a31-8f00-3aa000000002',
  own: '0193a005-7c2e-7a31-8f00-3aa000000003',
  hostile: '0193a005-7c2e-7a31-8f00-3aa000000004',
};
const HOSTILE_REQUESTER = '<img src=x onerror=alert(1)>';

function requested(id: string, requester: string, o: { path: string; mode: 'hold' | 'ticket' }): ApprovalRecord {
  const at = Date.now();
  return {
    approvalId: id,
    schemaVersion: 1,
    step: 'requested',
    at,
    by: requester,
    reason: null,
    request: {
      fingerprint: id.replace(/-/g, '').padEnd(64, 'f'),
      requester,
      clientId: 'web-portal',
      rule: 'delete-needs-approval',
      route: 'orders',
      method: 'DELETE',
      path: o.path,
      mode: o.mode,
      approversRequired: 1,
      decideBy: at + 3_600_000,
      validSec: 300,
      instance: 'interceptor-1',
    },
  };
}

async function token(sub: string, roles: string[]): Promise<string> {
  return new SignJWT({ sub, roles })
    .setProtectedHeader({ alg: 'RS256', kid: 'k' })
    .setIssuer(ISSUER)
    .setAudience('jwt-audit-console')
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(key);
}

async function signIn(form: Record<string, string>): Promise<string> {
  const r = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  assert.equal(r.status, 303);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

async function approvalsPage(cookie: string): Promise<{ status: number; body: string; csrf: string }> {
  const r = await fetch(`${base}/approvals`, { headers: { cookie, accept: 'text/html' }, redirect: 'manual' });
  const body = await r.text();
  return { status: r.status, body, csrf: /data-csrf="([^"]*)"/.exec(body)?.[1] ?? '' };
}

const decide = (cookie: string, form: Record<string, string> | string, accept = 'application/json') =>
  fetch(`${base}/approvals/decide`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, accept, 'content-type': 'application/x-www-form-urlencoded' },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
  });

async function problem(r: Response): Promise<{ status: number; detail: string; errors?: { param: string; message: string }[] }> {
  assert.equal(r.headers.get('content-type'), 'application/problem+json');
  return (await r.json()) as never;
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'console-approvals-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  search = await startSearchNode({ dir: path.join(dir, 'search'), port: 0 });
  const producer = kafka.producer();
  await producer.connect();
  for (const r of [
    requested(ID.released, 'alice', { path: '/api/orders/17', mode: 'hold' }),
    requested(ID.denied, 'alice', { path: '/api/orders/18', mode: 'ticket' }),
    requested(ID.own, 'dave', { path: '/api/orders/19', mode: 'hold' }),
    requested(ID.hostile, HOSTILE_REQUESTER, { path: '/api/"><script>alert(2)</script>', mode: 'hold' }),
  ]) {
    const e = approvalCodec.encode(r);
    await producer.send({ topic: TOPICS.approvals, acks: -1, messages: [{ key: approvalKey(r), value: e.value, headers: e.headers }] });
  }
  await producer.disconnect();
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_q, s) => s.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((ok) => jwksServer.listen(0, '127.0.0.1', ok));
  const config: ConsoleConfig = {
    ...defaults,
    listen: { host: '127.0.0.1', port: 0 },
    elasticsearch: { url: search.url },
    kafka: { brokers: [broker.address], clientId: 'console' },
    auth: { ...defaults.auth, jwksUrl: `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`, issuer: ISSUER, demoLogin: true },
    source: { service: 'console', instance: 'console-approvals-test', environment: 'test' },
  };
  svc = createConsoleService(config, { logger, ops: false });
  base = (await svc.start()).url;
});

after(async () => {
  await svc?.stop();
  await new Promise((ok) => jwksServer?.close(ok));
  await search?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('pending approvals are listed with requester, request, fingerprint, rule, mode and expiry; a reader sees no buttons and is refused a decision with 403', async () => {
  const reader = await signIn({ token: await token('carol', ['audit:read']) });
  const page = await approvalsPage(reader);
  assert.equal(page.status, 200);
  for (const id of Object.values(ID)) assert.match(page.body, new RegExp(`data-approval="${id}"`));
  assert.match(page.body, /DELETE \/api\/orders\/17/);
  assert.match(page.body, new RegExp(ID.released.replace(/-/g, '')));
  assert.match(page.body, /delete-needs-approval/);
  assert.match(page.body, /<td>ticket \(valid 300 s\)<\/td>/);
  assert.match(page.body, /class="requester">alice</);
  assert.doesNotMatch(page.body, /Approve<\/button>/);
  // what the edge recorded (requester, path) is shown as text, never as markup
  assert.ok(!page.body.includes(HOSTILE_REQUESTER) && !page.body.includes('<script>alert(2)'));
  assert.ok(page.body.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.match(page.body, /needs <code>audit:approve<\/code>/);
  const r = await decide(reader, { csrf: 'x', id: ID.released, decision: 'approve' });
  assert.equal(r.status, 403);
  assert.match((await problem(r)).detail, /audit:approve is required/);
  // with a bearer token too (no cookie, so no CSRF token needed: still refused for the role)
  const bearer = await fetch(`${base}/approvals/decide`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token('carol', ['audit:read'])}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: `id=${ID.released}&decision=approve`,
  });
  assert.equal(bearer.status, 403);
});

test("the decision form is refused without this session's CSRF token, and a denial needs a reason", async () => {
  const bob = await signIn({ name: 'bob' });
  const other = await approvalsPage(await signIn({ name: 'eve' }));
  const { csrf, body } = await approvalsPage(bob);
  assert.match(body, /Approve<\/button>/);
  assert.ok(csrf.length >= 40 && csrf !== other.csrf);
  for (const bad of [undefined, '', 'x', other.csrf, csrf.slice(1), `${csrf}A`, csrf.toUpperCase()]) {
    const r = await decide(bob, { ...(bad === undefined ? {} : { csrf: bad }), id: ID.released, decision: 'approve' });
    assert.equal(r.status, 403, String(bad));
    assert.deepEqual(
      (await problem(r)).errors?.map((e) => e.param),
      ['csrf'],
    );
  }
  for (const reason of [undefined, '', '   ', '\t\n']) {
    const r = await decide(bob, { csrf, id: ID.denied, decision: 'deny', ...(reason === undefined ? {} : { reason }) });
    assert.equal(r.status, 400);
    assert.deepEqual(
      (await problem(r)).errors?.map((e) => e.param),
      ['reason'],
    );
  }
  // none of it decided anything
  const book = await readApprovals(kafka);
  assert.equal(book.get(ID.released, Date.now())!.status, 'pending');
  assert.equal(book.get(ID.denied, Date.now())!.status, 'pending');
});

test('a requester cannot decide their own request: refused with a clear message, nothing written', async () => {
  const dave = await signIn({ name: 'dave' });
  const { csrf, body } = await approvalsPage(dave);
  assert.match(body, /your own request/);
  const r = await decide(dave, { csrf, id: ID.own, decision: 'approve' });
  assert.equal(r.status, 403);
  assert.match((await problem(r)).detail, /a requester cannot decide their own request \(self_approval\)/);
  const v = (await readApprovals(kafka)).get(ID.own, Date.now())!;
  assert.equal(v.status, 'pending');
  assert.deepEqual(v.ignored, []);
});

test("an approver's approval releases the request (granted on audit.approvals.v1), a denial with reason denies it; each is an audit.access event", async () => {
  const bob = await signIn({ name: 'bob' });
  const { csrf } = await approvalsPage(bob);
  const ok = await decide(bob, { csrf, id: ID.released, decision: 'approve' }, 'text/html');
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get('location'), `/approvals?decided=${encodeURIComponent(`approved ${ID.released}`)}`);
  const denied = await decide(bob, { csrf, id: ID.denied, decision: 'deny', reason: 'not during the freeze' });
  assert.equal(denied.status, 200);
  assert.equal(((await denied.json()) as { status: string }).status, 'denied');
  const book = await readApprovals(kafka);
  const v = book.get(ID.released, Date.now())!;
  assert.equal(v.status, 'granted');
  assert.deepEqual(v.approvers, ['bob']);
  const d = book.get(ID.denied, Date.now())!;
  assert.equal(d.status, 'denied');
  assert.equal(d.reason, 'not during the freeze');
  // no longer pending: gone from the list, and a second decision is a 409
  const after = await approvalsPage(bob);
  assert.doesNotMatch(after.body, new RegExp(`data-approval="${ID.released}"`));
  assert.match(after.body, new RegExp(`data-approval="${ID.own}"`));
  const again = await decide(bob, { csrf, id: ID.released, decision: 'approve' });
  assert.equal(again.status, 409);
  assert.match((await problem(again)).detail, /is granted \(not_pending\)/);

  await svc.accessLog.flush();
  const access: AuditEvent[] = [];
  const approvalEvents: AuditEvent[] = [];
  const consumer = kafka.consumer({ groupId: `approvals-read-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.raw, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        const e = eventCodec.decode(message.value!, message.headers as never);
        if (e.kind === 'audit.access' && e.actor.sub === 'bob' && ['approve', 'deny'].includes(e.attributes['access.action']!) && e.outcome === 'success')
          access.push(e);
        if (e.kind === 'approval.granted' || e.kind === 'approval.denied') approvalEvents.push(e);
        if (access.length >= 2 && approvalEvents.length >= 2) resolve();
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual(access.map((e) => [e.attributes['access.action'], e.attributes['access.target']]).sort(), [
    ['approve', `approval:${ID.released}`],
    ['deny', `approval:${ID.denied}`],
  ]);
  assert.deepEqual(approvalEvents.map((e) => [e.kind, e.actor.sub, e.approval?.id]).sort(), [
    ['approval.denied', 'bob', ID.denied],
    ['approval.granted', 'bob', ID.released],
  ]);
});

test('generated hostile decision forms never crash the console: each is a problem naming the field', async () => {
  const bob = await signIn({ name: 'bob' });
  const { csrf } = await approvalsPage(bob);
  const junk = [
    '',
    ' ',
    'x',
    '../../etc/passwd',
    '<script>alert(1)</script>',
    "' OR 1=1 --",
    '%00',
    '\u0000',
    'é'.repeat(40),
    'a'.repeat(5000),
    `${ID.own}\n`,
    ` ${ID.own}`,
    ID.own.toUpperCase(),
    `${ID.own}x`,
    ID.own.toUpperCase().replace(/-/g, ''),
    '{"$gt":""}',
    '${jndi:ldap://x}',
    '\ud800',
    '0193a005-7c2e-7a31-8f00-3aa00000000g',
  ];
  // generated: the pending id with one character replaced, dropped or doubled, and random strings
  let seed = 0x5eed;
  const rnd = (k: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % k;
  const alphabet = ['G', 'z', 'A', 'F', '-', '/', ' ', '\u0000', '\n', '%', '<', '"', '\u00e9', '\u202e', '\ud83d\ude00', '\\'];
  for (let i = 0; i < 40; i++) {
    const at = rnd(ID.own.length);
    const c = alphabet[rnd(alphabet.length)]!;
    const v = [ID.own.slice(0, at) + c + ID.own.slice(at + 1), ID.own.slice(0, at) + ID.own.slice(at + 1), ID.own.slice(0, at) + c + ID.own.slice(at)][i % 3]!;
    if (v !== ID.own && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v)) junk.push(v);
  }
  for (let i = 0; i < 20; i++) junk.push(Array.from({ length: 1 + rnd(60) }, () => String.fromCharCode(rnd(0x3000))).join(''));
  let n = 0;
  for (const id of junk) {
    const r = await decide(bob, { csrf, id, decision: 'approve' });
    assert.equal(r.status, 400, JSON.stringify(id));
    assert.deepEqual(
      (await problem(r)).errors?.map((e) => e.param),
      ['id'],
    );
    n++;
  }
  for (const decision of ['', 'APPROVE', 'grant', 'approve ', 'deny\u0000', '<b>']) {
    const r = await decide(bob, { csrf, id: ID.own, decision, reason: 'r' });
    assert.equal(r.status, 400, JSON.stringify(decision));
    assert.deepEqual(
      (await problem(r)).errors?.map((e) => e.param),
      ['decision'],
    );
    n++;
  }
  const reasons = ['a'.repeat(1025), 'ok\u0000', 'bell\u0007', 'esc\u001b[31m', 'del\u007f'];
  for (let i = 0; i < 15; i++)
    reasons.push(`why ${'x'.repeat(rnd(50))}${String.fromCharCode([0, 1, 7, 8, 11, 12, 14, 27, 31, 127][i % 10]!)}${'y'.repeat(rnd(50))}`);
  for (const reason of reasons) {
    const r = await decide(bob, { csrf, id: ID.own, decision: 'deny', reason });
    assert.equal(r.status, 400, JSON.stringify(reason.slice(0, 20)));
    assert.deepEqual(
      (await problem(r)).errors?.map((e) => e.param),
      ['reason'],
    );
    n++;
  }
  // an unknown (well-formed) id: 404 from the fold, nothing written
  const unknown = await decide(bob, { csrf, id: '0193a005-7c2e-7a31-8f00-3aa0000000ff', decision: 'approve' });
  assert.equal(unknown.status, 404);
  assert.match((await problem(unknown)).detail, /unknown_approval/);
  // fields twice, raw bodies that are not valid forms, other media types, a body too large
  const raw = [
    `csrf=${csrf}&id=${ID.own}&id=${ID.released}&decision=approve`,
    `csrf=${csrf}&id=%E0%A4%A&decision=approve`,
    `csrf=${csrf}&&&==&id`,
    `csrf=${encodeURIComponent(csrf)}&decision=approve&decision=deny&id=${ID.own}&reason=x`,
  ];
  for (const body of raw) {
    const r = await decide(bob, body);
    assert.equal(r.status, 400, body);
    assert.ok((await problem(r)).errors!.length >= 1);
    n++;
  }
  const json = await fetch(`${base}/approvals/decide`, {
    method: 'POST',
    headers: { cookie: bob, 'content-type': 'application/json' },
    body: JSON.stringify({ csrf, id: ID.own, decision: 'approve' }),
  });
  assert.equal(json.status, 415);
  const big = await decide(bob, `csrf=${csrf}&id=${ID.own}&decision=deny&reason=${'a'.repeat(40_000)}`);
  assert.equal(big.status, 413);
  const get = await fetch(`${base}/approvals/decide`, { headers: { cookie: bob } });
  assert.equal(get.status, 405);
  assert.ok(n > 80, `${n} hostile forms`);
  // still serving, and dave's request still pending
  assert.equal((await readApprovals(kafka)).get(ID.own, Date.now())!.status, 'pending');
  assert.equal((await approvalsPage(bob)).status, 200);
});
