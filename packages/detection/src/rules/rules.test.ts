import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert, AuditEvent } from '@jwt-audit/events';
import { createDetectorState, detect, type DetectorState } from '../detector.js';
import type { DetectionConfig } from '../config.js';
import { ev, fp, T0, type Spec } from '../testdata/events.js';

const MIN = 60_000;

/** Runs events through a fresh detector (one rule enabled) and returns its alerts. */
function run(rule: string, specs: Spec[], config: DetectionConfig = {}): Alert[] {
  const rules: DetectionConfig = {};
  for (const name of ruleNames) rules[name] = { enabled: name === rule, ...(name === rule ? config[name] ?? {} : {}) };
  const state: DetectorState = createDetectorState({ rules });
  const out: Alert[] = [];
  for (const s of specs) {
    const e: AuditEvent = ev(s);
    out.push(...detect(state, e, e.occurredAt).alerts);
  }
  return out;
}
const ruleNames = createDetectorState().slots.map((s) => s.rule.name);

test('revoked-token-use: a presentation after token.revoked fires; before it, or within the grace, does not', () => {
  const base = [{ kind: 'token.validated' as const, at: T0 }, { kind: 'token.revoked' as const, at: T0 + MIN }];
  assert.equal(run('revoked-token-use', [...base, { at: T0 + MIN + 1_000 }]).length, 0, 'in-flight request within the grace');
  const alerts = run('revoked-token-use', [...base, { at: T0 + 5 * MIN, ip: '198.51.100.9' }]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.rule, 'revoked-token-use');
  assert.equal(alerts[0]!.keys.jti, 'jti-1');
  assert.equal(alerts[0]!.keys.ip, '198.51.100.9');
  assert.equal(alerts[0]!.severity, 'high');
  assert.equal(run('revoked-token-use', [...base, { at: T0 + 5 * MIN, jti: 'other' }]).length, 0, 'another jti');
  assert.equal(run('revoked-token-use', [{ kind: 'token.rejected', reason: 'revoked' }]).length, 1, 'an enforced rejection fires alone');
});

test('refresh-token-reuse: the same previousFingerprint exchanged twice in a family fires critical', () => {
  const r = (at: number, prev: string, f: string) => ({ kind: 'token.refreshed' as const, at, familyId: 'fam-1', typ: 'refresh' as const, previousFingerprint: fp(prev), fingerprint: fp(f) });
  assert.equal(run('refresh-token-reuse', [r(T0, 'r0', 'r1'), r(T0 + MIN, 'r1', 'r2'), r(T0 + 2 * MIN, 'r2', 'r3')]).length, 0, 'a normal rotation chain');
  const alerts = run('refresh-token-reuse', [r(T0, 'r0', 'r1'), r(T0 + MIN, 'r1', 'r2'), r(T0 + 9 * MIN, 'r0', 'rx')]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.severity, 'critical');
  assert.equal(alerts[0]!.keys.familyId, 'fam-1');
  assert.equal(alerts[0]!.evidence.length, 2, 'the first exchange and the replay');
  // a rejected replay of an exchanged refresh token counts too
  const rejected = run('refresh-token-reuse', [r(T0, 'r0', 'r1'), { kind: 'token.rejected', reason: 'revoked', typ: 'refresh', familyId: 'fam-1', fingerprint: fp('r0'), at: T0 + MIN }]);
  assert.equal(rejected.length, 1);
  // the chain bound: with maxChain 1, a replay two rotations back is forgotten
  assert.equal(run('refresh-token-reuse', [r(T0, 'r0', 'r1'), r(T0 + MIN, 'r1', 'r2'), r(T0 + 2 * MIN, 'r0', 'rx')], { 'refresh-token-reuse': { maxChain: 1 } }).length, 0);
});

test('token-multi-origin: more distinct IPs / networks than allowed within the window fires', () => {
  const uses = (n: number, gap: number) => Array.from({ length: n }, (_, i) => ({ at: T0 + i * gap, ip: `198.51.100.${i}`, asn: 64500 + i }));
  assert.equal(run('token-multi-origin', uses(2, MIN)).length, 0, 'two networks (Wi-Fi and mobile) are allowed');
  const alerts = run('token-multi-origin', uses(4, MIN));
  assert.equal(alerts.length, 1);
  assert.match(alerts[0]!.description, /networks/);
  assert.equal(run('token-multi-origin', uses(4, 11 * MIN)).length, 0, 'spread beyond the window');
  assert.equal(run('token-multi-origin', uses(4, MIN), { 'token-multi-origin': { maxAsns: 5, maxIps: 5 } }).length, 0, 'thresholds are configurable');
  assert.equal(run('token-multi-origin', [...uses(3, MIN).map((u) => ({ ...u, asn: 64500 })), { at: T0 + 4 * MIN, ip: '198.51.100.1', asn: 64500, ua: 'Other/1' }, { at: T0 + 5 * MIN, ip: '198.51.100.1', asn: 64500, ua: 'Third/1' }]).length, 1, 'three user agents');
});

test('impossible-travel: Berlin then Sydney within an hour fires; a real flight or a short hop does not', () => {
  const berlin: [number, number] = [52.52, 13.405];
  const sydney: [number, number] = [-33.87, 151.21];
  const potsdam: [number, number] = [52.39, 13.06];
  const alerts = run('impossible-travel', [{ geo: berlin, at: T0 }, { geo: sydney, at: T0 + 60 * MIN, ip: '1.2.3.4' }]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.severity, 'medium');
  assert.ok(Number(alerts[0]!.attributes.distanceKm) > 16_000);
  assert.equal(run('impossible-travel', [{ geo: berlin, at: T0 }, { geo: sydney, at: T0 + 24 * 60 * MIN }]).length, 0, '24 h later is a flight');
  assert.equal(run('impossible-travel', [{ geo: berlin, at: T0 }, { geo: potsdam, at: T0 + MIN }]).length, 0, 'under minDistanceKm');
  assert.equal(run('impossible-travel', [{ geo: berlin, at: T0 }, { geo: sydney, at: T0 + MIN, kind: 'token.rejected', reason: 'expired' }]).length, 0, 'a rejected token speaks for nobody');
});

test('auth-failure-burst: per subject and per IP thresholds within the window', () => {
  const fails = (n: number, f: (i: number) => Spec) => Array.from({ length: n }, (_, i) => ({ kind: 'token.rejected' as const, reason: 'wrong_issuer', at: T0 + i * 1_000, ...f(i) }));
  const bySubject = run('auth-failure-burst/subject', fails(10, (i) => ({ ip: `198.51.100.${i}` })));
  assert.equal(bySubject.length, 1);
  assert.equal(bySubject[0]!.count, 10);
  assert.equal(run('auth-failure-burst/subject', fails(9, () => ({}))).length, 0);
  const byIp = run('auth-failure-burst/ip', fails(20, (i) => ({ sub: `user-${i}` })));
  assert.equal(byIp.length, 1);
  assert.equal(byIp[0]!.keys.ip, '203.0.113.1');
  assert.equal(byIp[0]!.keys.subject, null, 'many subjects: none named');
  // a 401 the interceptor already reported as token.rejected is not counted twice
  assert.equal(run('auth-failure-burst/subject', Array.from({ length: 12 }, (_, i) => ({ kind: 'http.exchange' as const, status: 401, at: T0 + i, attributes: { 'auth.rejection': 'expired' } }))).length, 0);
  assert.equal(run('auth-failure-burst/subject', Array.from({ length: 10 }, (_, i) => ({ kind: 'http.exchange' as const, status: 401, at: T0 + i * 1000, noToken: true }))).length, 1, 'wrong passwords');
  // an application answering 401 to requests whose token the interceptor found valid (one token.validated per request)
  assert.equal(run('auth-failure-burst/subject', Array.from({ length: 10 }, (_, i) => ({ kind: 'token.validated' as const, status: 401, at: T0 + i * 1000 }))).length, 1, 'refused by the application');
  assert.equal(run('auth-failure-burst/subject', Array.from({ length: 10 }, (_, i) => ({ kind: 'token.validated' as const, status: 200, at: T0 + i * 1000 }))).length, 0, 'served');
});

test('token-tampering: bad signature, alg none, unknown kid alert on first sight', () => {
  for (const s of [{ reason: 'bad_signature' }, { reason: 'unknown_kid' }, { reason: 'alg_not_allowed' }, { alg: 'none', reason: 'malformed' }] as Spec[]) {
    const alerts = run('token-tampering', [{ kind: 'token.rejected', ...s }]);
    assert.equal(alerts.length, 1, JSON.stringify(s));
  }
  assert.equal(run('token-tampering', [{ kind: 'token.rejected', reason: 'expired' }]).length, 0);
  assert.equal(run('token-tampering', [{ kind: 'token.rejected', reason: 'unknown_kid' }], { 'token-tampering': { reasons: ['bad_signature'] } }).length, 0);
});

test('expired-token-replay: three expired presentations by one client within 10 min; one long-expired token at once', () => {
  const exp = (i: number, extra: Spec = {}) => ({ kind: 'token.rejected' as const, reason: 'expired', at: T0 + i * MIN, exp: Math.floor(T0 / 1000) - 3600, ...extra });
  assert.equal(run('expired-token-replay', [exp(0), exp(1)]).length, 0, 'once or twice is a client about to refresh');
  assert.equal(run('expired-token-replay', [exp(0), exp(1), exp(2)]).length, 1);
  assert.equal(run('expired-token-replay', [exp(0), exp(1), exp(2, { clientId: 'other' })]).length, 0, 'per client');
  assert.equal(run('expired-token-replay', [exp(0, { exp: Math.floor(T0 / 1000) - 30 * 86400 })]).length, 1, 'expired a month ago');
});

test('privilege-change-in-session: an added role within a session fires; narrowing does not by default; scope probing bursts fire', () => {
  const alerts = run('privilege-change-in-session', [{ at: T0 }, { at: T0 + MIN, roles: ['customer', 'admin'] }]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.keys.sessionId, 'sess-1');
  assert.match(alerts[0]!.description, /role admin/);
  assert.equal(run('privilege-change-in-session', [{ at: T0, scopes: ['a', 'b'] }, { at: T0 + MIN, scopes: ['a'] }]).length, 0);
  assert.equal(run('privilege-change-in-session', [{ at: T0, scopes: ['a', 'b'] }, { at: T0 + MIN, scopes: ['a'] }], { 'privilege-change-in-session': { alertOnNarrowing: true } }).length, 1);
  assert.equal(run('privilege-change-in-session', [{ at: T0 }, { at: T0 + MIN, roles: ['admin'], sid: 'sess-2' }]).length, 0, 'another session');
  const probes = Array.from({ length: 5 }, (_, i) => ({ kind: 'token.rejected' as const, reason: 'insufficient_scope', at: T0 + i * 10_000 }));
  assert.equal(run('privilege-change-in-session/insufficient-scope', probes).length, 1);
  assert.equal(run('privilege-change-in-session/insufficient-scope', probes.slice(0, 4)).length, 0);
});

test('long-lived-token: exp - iat above the policy of its type, once per token', () => {
  const iat = Math.floor(T0 / 1000);
  const alerts = run('long-lived-token', [{ iat, exp: iat + 30 * 86400 }, { iat, exp: iat + 30 * 86400, at: T0 + MIN }]);
  assert.equal(alerts.length, 1, 'suppressed per jti');
  assert.equal(run('long-lived-token', [{ iat, exp: iat + 3600 }]).length, 0);
  assert.equal(run('long-lived-token', [{ iat, exp: iat + 7 * 86400, typ: 'refresh', jti: 'r' }]).length, 0, 'refresh policy is longer');
});

test('issuance-spike: far above the key\'s own baseline, or above minCount for a new key', () => {
  const issue = (at: number, extra: Spec = {}) => ({ kind: 'token.issued' as const, at, jti: `j${at}`, ...extra });
  const quiet = Array.from({ length: 24 }, (_, b) => [issue(T0 + b * 5 * MIN), issue(T0 + b * 5 * MIN + 1000)]).flat();
  assert.equal(run('issuance-spike/subject', quiet).length, 0, 'two per bucket for two hours');
  const burst = Array.from({ length: 21 }, (_, i) => issue(T0 + 120 * MIN + i * 1000));
  const alerts = run('issuance-spike/subject', [...quiet, ...burst]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.count, 21);
  // a busy client is compared with itself: 250 in a bucket is normal-ish for one doing 60 per bucket, not for a new one
  const buckets = (from: number, n: number, per: number) => Array.from({ length: n }, (_, b) => Array.from({ length: per }, (_, i) => issue(from + b * 5 * MIN + i * 1000, { sub: `u${i}` }))).flat();
  const busy = buckets(T0, 36, 60); // the EWMA baseline converges over ~baselineBuckets buckets
  const burst250 = buckets(T0 + 180 * MIN, 1, 250);
  assert.equal(run('issuance-spike/client', [...busy, ...burst250]).length, 0, 'below factor x baseline');
  assert.equal(run('issuance-spike/client', burst250).length, 1, 'above minCount for a client without history');
  assert.equal(run('issuance-spike/client', [...busy, ...buckets(T0 + 180 * MIN, 1, 400).map((e, i) => ({ ...e, at: T0 + 180 * MIN + i * 700 }))]).length, 1, 'above factor x baseline');
});

test('deprovisioned-subject-activity: activity after subject.deprovisioned fires; clean-up does not', () => {
  const dep = { kind: 'subject.deprovisioned' as const, at: T0, noToken: true };
  assert.equal(run('deprovisioned-subject-activity', [dep, { kind: 'token.revoked', at: T0 + MIN }, { kind: 'session.ended', at: T0 + MIN }]).length, 0);
  const alerts = run('deprovisioned-subject-activity', [{ at: T0 - MIN }, dep, { at: T0 + 10 * MIN }]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.severity, 'critical');
  assert.equal(run('deprovisioned-subject-activity', [dep, { at: T0 + 10 * MIN, sub: 'bob' }]).length, 0, 'another subject');
});

test('new-device-for-subject: a new user agent or network after the learning period, low severity', () => {
  const day = 24 * 60 * MIN;
  const known = [{ at: T0 }, { at: T0 + MIN, ua: 'Phone/1', asn: 64600 }];
  assert.equal(run('new-device-for-subject', [...known, { at: T0 + 2 * MIN, ua: 'Tablet/1' }]).length, 0, 'still learning');
  const alerts = run('new-device-for-subject', [...known, { at: T0 + day + MIN, ua: 'Phone/2', asn: 64600 }, { at: T0 + day + 2 * MIN, ua: 'Laptop/1', asn: 64999 }]);
  assert.equal(alerts.length, 1, 'a version change is not a new device');
  assert.equal(alerts[0]!.severity, 'low');
  assert.equal(alerts[0]!.attributes.newAsn, 'true');
});
