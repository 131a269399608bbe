import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventCodec, newId, readSchemaFile, sessionCodec, type Alert, type AuditEvent, type EventKind } from '@jwt-audit/events';
import {
  apply,
  applyAlert,
  createSessionState,
  DEFAULT_RULES,
  derivedId,
  drainChanges,
  SESSIONIZER_SOURCE,
  tick,
  type Context,
  type SessionState,
} from './sessionize.js';
import { SessionStateStore } from './state-store.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
const MIN = 60_000;
const ctx: Context = { rules: { ...DEFAULT_RULES, idleMs: 30 * MIN, expiryGraceMs: MIN }, instance: 'test' };
const validated = readSchemaFile('examples/token.validated.json') as AuditEvent;

interface Ev {
  kind?: EventKind;
  at: number;
  sub?: string | null;
  sid?: string | null;
  family?: string | null;
  client?: string | null;
  jti?: string | null;
  exp?: number | null;
  ip?: string;
  country?: string;
  route?: string;
  reason?: string;
  rejected?: boolean;
}

function ev(o: Ev): AuditEvent {
  const kind = o.kind ?? (o.rejected ? 'token.rejected' : 'token.validated');
  const e: AuditEvent = structuredClone(validated);
  e.id = newId();
  e.kind = kind;
  e.occurredAt = o.at;
  e.observedAt = o.at;
  e.actor.sub = o.sub === undefined ? 'alice' : o.sub;
  e.actor.clientId = o.client === undefined ? 'web' : o.client;
  e.token!.sid = o.sid === undefined ? 'sess-1' : o.sid;
  e.token!.familyId = o.family ?? null;
  e.token!.jti = o.jti === undefined ? `jti-${o.at}` : o.jti;
  e.token!.exp = o.exp === undefined ? Math.floor((o.at + 15 * MIN) / 1000) : o.exp;
  e.network!.clientIp = o.ip ?? '203.0.113.24';
  e.enrichment = o.country
    ? {
        geo: { countryIso: o.country, country: null, city: `${o.country}-city`, lat: null, lon: null },
        asn: null,
        userAgent: null,
        ipClass: 'public',
        tokenAgeSec: null,
        tokenRemainingSec: null,
        lifetimeExceedsPolicy: false,
        authorization: null,
        sessionId: null,
        enrichedAt: o.at,
      }
    : null;
  if (o.route) e.http!.request.route = o.route;
  if (o.rejected) e.rejection = { reason: 'expired', detail: null };
  if (kind === 'session.started' || kind === 'session.ended' || kind === 'subject.deprovisioned' || kind === 'token.revoked') {
    e.http = null;
    if (kind === 'session.started' || kind === 'session.ended') {
      e.token = null;
      e.session = { id: o.sid ?? 'sess-1', reason: o.reason ?? null };
    }
    if (kind === 'subject.deprovisioned') e.token = null;
    if (kind === 'token.revoked' && o.reason) e.attributes = { reason: o.reason };
  }
  return e;
}

/** Runs events (and a final tick at `tickAt`) and returns the state and every derived event. */
function run(events: AuditEvent[], tickAt?: number, state: SessionState = createSessionState()) {
  const derived: AuditEvent[] = [];
  for (const e of events) derived.push(...apply(state, e, e.occurredAt + 100, ctx).events);
  if (tickAt !== undefined) derived.push(...tick(state, tickAt, ctx).events);
  const { summaries } = drainChanges(state);
  return { state, derived, summaries, sessions: [...state.sessions.values()].map((x) => x.summary) };
}

test('a sid groups events into one session with its counts; the summary fits its Avro schema', () => {
  const r = run([
    ev({ at: T0, ip: '203.0.113.1', country: 'DE', route: '/orders/:id' }),
    ev({ at: T0 + MIN, ip: '203.0.113.2', country: 'FR', route: '/orders/:id' }),
    ev({ at: T0 + 2 * MIN, route: '/cart', rejected: true }),
  ]);
  assert.equal(r.sessions.length, 1);
  const s = r.sessions[0]!;
  assert.equal(s.basis, 'sid');
  assert.equal(s.sid, 'sess-1');
  assert.equal(s.subject, 'alice');
  assert.equal(s.startedAt, T0);
  assert.equal(s.lastSeenAt, T0 + 2 * MIN);
  assert.equal(s.requests, 3);
  assert.equal(s.rejections, 1);
  assert.deepEqual(s.ips, ['203.0.113.1', '203.0.113.2', '203.0.113.24']);
  assert.deepEqual(s.countries, ['DE', 'FR']);
  assert.deepEqual(s.routes, ['GET /orders/:id', 'GET /cart']);
  assert.equal(s.endedAt, null);
  assert.deepEqual(
    r.derived.map((e) => e.kind),
    ['session.started'],
  );
  assert.deepEqual(sessionCodec.validate(s), []);
  for (const e of r.derived) assert.deepEqual(eventCodec.validate(e), [], 'derived events are valid audit events');
});

test('grouping: refresh-token family without sid, else subject + client split by an idle gap', () => {
  const fam = run([ev({ at: T0, sid: null, family: 'fam-1' }), ev({ at: T0 + MIN, sid: null, family: 'fam-1', client: 'other' })]);
  assert.equal(fam.sessions.length, 1);
  assert.equal(fam.sessions[0]!.basis, 'family');
  assert.equal(fam.sessions[0]!.familyId, 'fam-1');
  const sc = run([
    ev({ at: T0, sid: null }),
    ev({ at: T0 + 10 * MIN, sid: null }),
    ev({ at: T0 + 10 * MIN, sid: null, client: 'mobile' }),
    ev({ at: T0 + 50 * MIN, sid: null }), // 40 min gap > idle 30 min: a new session
  ]);
  const web = sc.sessions.filter((s) => s.clientId === 'web');
  assert.equal(web.length, 2);
  assert.equal(web[0]!.endReason, 'idle_timeout');
  assert.equal(web[0]!.endedAt, T0 + 40 * MIN, 'ended at the last event + idle');
  assert.equal(web[1]!.endedAt, null);
  assert.equal(sc.sessions.filter((s) => s.clientId === 'mobile').length, 1);
  assert.ok(sc.sessions.every((s) => s.basis === 'subject_client'));
});

test('each end reason: sign-out, revocation, token expiry, idle timeout, deprovisioning', () => {
  const signOut = run([ev({ kind: 'session.started', at: T0 }), ev({ at: T0 + MIN }), ev({ kind: 'session.ended', at: T0 + 5 * MIN, reason: 'logout' })]);
  assert.equal(signOut.sessions.length, 1);
  assert.equal(signOut.sessions[0]!.explicitStart, true);
  assert.equal(signOut.sessions[0]!.endReason, 'sign_out');
  assert.equal(signOut.sessions[0]!.endDetail, 'logout');
  assert.equal(signOut.sessions[0]!.durationMs, 5 * MIN);
  assert.deepEqual(signOut.derived, [], 'pushed start and end are the trail: nothing derived');

  const revoked = run([ev({ at: T0, jti: 'j1' }), ev({ kind: 'token.revoked', at: T0 + MIN, sid: null, jti: 'j1', reason: 'admin' })]);
  assert.equal(revoked.sessions[0]!.endReason, 'revocation');
  assert.equal(revoked.sessions[0]!.endDetail, 'admin');
  assert.deepEqual(
    revoked.derived.map((e) => [e.kind, e.session?.reason]),
    [
      ['session.started', null],
      ['session.ended', 'revocation'],
    ],
  );
  const otherJti = run([ev({ at: T0, jti: 'j1' }), ev({ kind: 'token.revoked', at: T0 + MIN, sid: null, jti: 'j2' })]);
  assert.equal(otherJti.sessions[0]!.endedAt, null, 'revoking a token the session never used ends nothing');

  const expired = run([ev({ at: T0, exp: (T0 + 15 * MIN) / 1000 })], T0 + 17 * MIN);
  assert.equal(expired.sessions[0]!.endReason, 'token_expiry');
  assert.equal(expired.sessions[0]!.endedAt, T0 + 15 * MIN);
  const notYet = run([ev({ at: T0, exp: (T0 + 15 * MIN) / 1000 })], T0 + 15 * MIN + 30_000);
  assert.equal(notYet.sessions[0]!.endedAt, null, 'inside the grace period');

  const idle = run([ev({ at: T0, exp: (T0 + 600 * MIN) / 1000 })], T0 + 31 * MIN);
  assert.equal(idle.sessions[0]!.endReason, 'idle_timeout');
  assert.equal(idle.sessions[0]!.endedAt, T0 + 30 * MIN);

  const gone = run([ev({ at: T0 }), ev({ at: T0, sid: 'sess-2' }), ev({ at: T0, sub: 'bob' }), ev({ kind: 'subject.deprovisioned', at: T0 + MIN })]);
  assert.deepEqual(
    gone.sessions.filter((s) => s.subject === 'alice').map((s) => s.endReason),
    ['deprovisioning', 'deprovisioning'],
  );
  assert.equal(gone.sessions.find((s) => s.subject === 'bob')!.endedAt, null, 'another subject keeps its session');
});

test('activity after sign-out is counted on the ended session, not a new one; after revocation or idle it opens a new session', () => {
  const r = run([ev({ at: T0 }), ev({ kind: 'session.ended', at: T0 + MIN }), ev({ at: T0 + 2 * MIN }), ev({ at: T0 + 3 * MIN })]);
  assert.equal(r.sessions.length, 1);
  assert.equal(r.sessions[0]!.afterEnd, 2);
  // after a revocation, a valid token of the same sid (a refresh the IdP granted) is a new session, not activity after the end
  const revoked = run([
    ev({ at: T0, jti: 'j1' }),
    ev({ kind: 'token.revoked', at: T0 + MIN, sid: null, jti: 'j1' }),
    ev({ at: T0 + 2 * MIN, jti: 'j2', rejected: true }),
    ev({ at: T0 + 3 * MIN, jti: 'j3' }),
  ]);
  assert.deepEqual(
    revoked.sessions.map((x) => [x.endReason, x.afterEnd]),
    [
      ['revocation', 0],
      [null, 0],
    ],
  );
  const idle = run([ev({ at: T0 }), ev({ at: T0 + 45 * MIN })]);
  assert.equal(idle.sessions.length, 2);
  assert.equal(idle.sessions[0]!.endReason, 'idle_timeout');
  assert.notEqual(idle.sessions[0]!.id, idle.sessions[1]!.id);
});

test('out-of-order events: an earlier event moves the start back; a late one inside an ended session is counted there', () => {
  const r = run([ev({ at: T0 + 5 * MIN }), ev({ at: T0 }), ev({ kind: 'session.ended', at: T0 + 10 * MIN }), ev({ at: T0 + 8 * MIN, ip: '198.51.100.9' })]);
  assert.equal(r.sessions.length, 1);
  const s = r.sessions[0]!;
  assert.equal(s.startedAt, T0);
  assert.ok(s.ips.includes('198.51.100.9'));
  assert.equal(s.afterEnd, 0);
});

test('a rejected token (claims forgeable) never opens a session; our own derived events are not counted again', () => {
  const r = run([ev({ at: T0, rejected: true, sub: 'victim', sid: 'forged' })]);
  assert.equal(r.sessions.length, 0);
  const own = ev({ kind: 'session.started', at: T0 });
  own.source.service = SESSIONIZER_SOURCE;
  assert.equal(run([own]).sessions.length, 0);
  const pushed = ev({ kind: 'session.started', at: T0 });
  pushed.source.service = SESSIONIZER_SOURCE;
  pushed.attributes = { 'ingest.principal': 'idp' };
  assert.equal(run([pushed]).sessions.length, 1, 'a pushed event cannot hide behind our name');
});

test("alerts are counted on the session they name, else on the subject's session at that time", () => {
  const state = createSessionState();
  run([ev({ at: T0 }), ev({ at: T0, sid: 'sess-2' })], undefined, state);
  const alert = (sessionId: string | null, sub = 'alice'): Alert => ({
    id: newId(),
    schemaVersion: 1,
    rule: 'token-multi-origin',
    severity: 'high',
    keys: { subject: sub, jti: null, ip: null, clientId: null, familyId: null, sessionId },
    window: { sizeMs: 0, start: T0, end: T0 },
    count: 1,
    suppressed: 0,
    firstSeen: T0,
    lastSeen: T0 + 1,
    raisedAt: T0 + 2,
    evidence: [],
    description: 'x',
    attributes: {},
  });
  assert.equal(applyAlert(state, alert('sess-2'), T0), true);
  assert.equal(applyAlert(state, alert(null), T0), true);
  assert.equal(applyAlert(state, alert(null, 'nobody'), T0), false);
  const bySid = new Map([...state.sessions.values()].map((x) => [x.summary.sid, x.summary]));
  assert.equal(bySid.get('sess-2')!.alerts + bySid.get('sess-1')!.alerts, 2);
  assert.ok(bySid.get('sess-2')!.alerts >= 1);
  assert.deepEqual(bySid.get('sess-2')!.alertRules, ['token-multi-origin']);
});

test('an event re-produced upstream (same id, new offset) counts once, also after a restore', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sessions-dupes-'));
  try {
    const store = new SessionStateStore(dir, { fsync: false, snapshotAfterBytes: 1_000_000 });
    const state = store.load().state;
    const events = [ev({ at: T0 }), ev({ at: T0 + MIN })];
    for (const e of events) apply(state, e, T0 + MIN, ctx);
    apply(state, events[0]!, T0 + MIN, ctx);
    store.append(drainChanges(state).changes);
    assert.equal([...state.sessions.values()][0]!.summary.requests, 2);
    assert.equal(state.duplicates, 1);
    for (const back of [store.load().state, (store.snapshot(state), store.load().state)]) {
      for (const e of events) apply(back, e, T0 + 2 * MIN, ctx);
      assert.equal([...back.sessions.values()][0]!.summary.requests, 2, 'the restored state knows the ids');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('derived events keep their ids on replay (idempotent sinks), and differ per session and kind', () => {
  const a = run([ev({ at: T0 })], T0 + 31 * MIN).derived.map((e) => e.id);
  const b = run([ev({ at: T0 })], T0 + 31 * MIN).derived.map((e) => e.id);
  assert.deepEqual(a, b);
  assert.equal(new Set(a).size, 2);
  assert.match(derivedId('x', T0), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('bounded memory: 3,000 IPs and 3,000 routes in one session, 1,000 sessions over a cap of 100', () => {
  const events: AuditEvent[] = [];
  for (let i = 0; i < 3_000; i++)
    events.push(ev({ at: T0 + i, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, route: `/r/${i}${'x'.repeat(i % 1000)}`, country: `C${i % 300}` }));
  const r = run(events);
  const s = r.sessions[0]!;
  assert.equal(s.ips.length, DEFAULT_RULES.maxIps);
  assert.equal(s.ipsDropped, 3_000 - DEFAULT_RULES.maxIps);
  assert.equal(s.routes.length, DEFAULT_RULES.maxRoutes);
  assert.ok(s.routes.every((x) => x.length <= 512));
  assert.equal(s.countries.length, DEFAULT_RULES.maxGeos);
  assert.ok(Buffer.byteLength(JSON.stringify(s)) < 64 * 1024, 'one summary stays small');

  const small: Context = { ...ctx, rules: { ...ctx.rules, maxSessions: 100 } };
  const state = createSessionState();
  let ended = 0;
  for (let i = 0; i < 1_000; i++)
    ended += apply(state, ev({ at: T0 + i, sid: `s-${i}` }), T0 + i, small).events.filter((e) => e.kind === 'session.ended').length;
  assert.equal(state.sessions.size, 100);
  assert.equal(ended, 900, 'every evicted open session is ended (reason evicted), not dropped silently');
  const { summaries } = drainChanges(state);
  assert.equal(summaries.filter((x) => x.endReason === 'evicted').length, 900);
});

test('hostile, generated inputs: missing fields, huge and odd values, any order: no throw, every summary valid, state bounded', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const kinds: EventKind[] = [
    'token.validated',
    'token.rejected',
    'token.issued',
    'token.refreshed',
    'token.revoked',
    'session.started',
    'session.ended',
    'subject.deprovisioned',
    'http.exchange',
    'key.rotated',
  ];
  const odd = ['', 'a'.repeat(100_000), '\u0000', '💥'.repeat(300), 'rtf:', 'rtf:x', '../../etc', '{"$ne":1}'];
  const rules: Context = { ...ctx, rules: { ...ctx.rules, maxSessions: 500 } };
  const state = createSessionState();
  for (let i = 0; i < 5_000; i++) {
    const e = ev({
      kind: pick(kinds),
      at: pick([T0 + Math.floor(rnd() * 86_400_000), NaN, -1, Number.MAX_SAFE_INTEGER, T0]),
      sub: pick(['alice', 'bob', null, ...odd]),
      sid: pick([null, 'sess-1', ...odd]),
      family: pick([null, 'f1', ...odd]),
      client: pick([null, 'web', ...odd]),
      jti: pick([null, 'j', ...odd]),
      exp: pick([null, NaN, 1e300, -5, Math.floor(T0 / 1000) + 60]),
      ip: pick(['203.0.113.1', 'not-an-ip', ...odd]),
      reason: pick(['', 'logout', ...odd]),
    });
    if (rnd() < 0.1) e.enrichment = null;
    if (rnd() < 0.1) e.network = null;
    if (rnd() < 0.1 && e.http) e.http.response = null;
    if (rnd() < 0.05 && e.http?.request.body !== undefined)
      e.http.request.body = { contentType: null, size: pick([NaN, -1, 1e18, 10]), truncated: false, content: null, sha256: null };
    apply(state, e, T0 + 86_400_000, rules);
    if (i % 500 === 0) tick(state, T0 + i * 10_000, rules);
    assert.ok(state.sessions.size <= 500);
  }
  const { summaries } = drainChanges(state);
  assert.ok(summaries.length > 0);
  for (const s of summaries) {
    assert.deepEqual(sessionCodec.validate(s), [], s.id);
    assert.ok(s.id.length <= 600, 'ids stay short whatever the claims');
    assert.ok(s.endedAt === null || s.endedAt >= s.startedAt);
    assert.ok(Number.isFinite(s.bytesIn) && Number.isFinite(s.durationMs));
  }
});

test('state store: journal + snapshot restore the same sessions; a torn last line is ignored', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sessions-store-'));
  try {
    const store = new SessionStateStore(dir, { fsync: false, snapshotAfterBytes: 2_000 });
    const state = store.load().state;
    for (let i = 0; i < 30; i++) {
      apply(state, ev({ at: T0 + i * MIN, sid: `s-${i % 7}` }), T0 + i * MIN, ctx);
      state.offsets['t-0'] = String(i);
      store.append(drainChanges(state).changes);
      if (store.needsSnapshot) store.snapshot(state);
    }
    tick(state, T0 + 200 * MIN, ctx);
    store.append(drainChanges(state).changes);
    appendFileSync(path.join(dir, 'journal.ndjson'), '{"offsets":{"t-0":"99"},"upserts":[{"summ'); // a crash mid-write
    const back = new SessionStateStore(dir, { fsync: false, snapshotAfterBytes: 2_000 }).load().state;
    assert.deepEqual(back.offsets, { 't-0': '29' });
    assert.deepEqual(
      [...back.sessions.values()].map((x) => x.summary).sort((a, b) => a.id.localeCompare(b.id)),
      [...state.sessions.values()].map((x) => x.summary).sort((a, b) => a.id.localeCompare(b.id)),
    );
    assert.deepEqual([...back.current.entries()].sort(), [...state.current.entries()].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
