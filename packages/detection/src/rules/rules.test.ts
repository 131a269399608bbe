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
  for (const name of ruleNames) rules[name] = { enabled: name === rule, ...(name === rule ? (config[name] ?? {}) : {}) };
  const state: DetectorState = createDetectorState({ rules });
  const out: Alert[] = [];
  for (const s of specs) {
    const e: AuditEvent = ev(s);
    out.push(...detect(state, e, e.occurredAt).alerts);
  }
  return out;
}
const ruleNames = createDetectorState().slots.map((s) => s.rule.name);

test("revoked-token-use: a presentation after token.revoked from elsewhere fires; before it, within the grace, or the revoking client's own tail does not", () => {
  const base = [
    { kind: 'token.validated' as const, at: T0 },
    { kind: 'token.revoked' as const, at: T0 + MIN },
  ];
  assert.equal(run('revoked-token-use', [...base, { at: T0 + MIN + 1_000, ip: '198.51.100.9' }]).length, 0, 'in-flight request within the grace');
  assert.equal(
    run('revoked-token-use', [...base, { at: T0 + MIN + 4_000, ip: '198.51.100.9' }]).length,
    0,
    'stamped by an instance whose clock runs 3.5 s ahead',
  );
  const alerts = run('revoked-token-use', [...base, { at: T0 + 5 * MIN, ip: '198.51.100.9', asn: 64999 }]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.rule, 'revoked-token-use');
  assert.equal(alerts[0]!.keys.jti, 'jti-1');
  assert.equal(alerts[0]!.keys.ip, '198.51.100.9');
  assert.equal(alerts[0]!.severity, 'high');
  assert.equal(run('revoked-token-use', [...base, { at: T0 + 5 * MIN, jti: 'other', ip: '198.51.100.9', asn: 64999 }]).length, 0, 'another jti');
  assert.equal(run('revoked-token-use', [{ kind: 'token.rejected', reason: 'revoked' }]).length, 1, 'an enforced rejection fires alone');
  // the revoking tab's siblings keep polling for a while: same device and network
  const tail = Array.from({ length: 5 }, (_, i) => ({ kind: 'token.rejected' as const, reason: 'revoked', at: T0 + MIN + (i + 1) * 20_000 }));
  assert.equal(run('revoked-token-use', [...base, ...tail]).length, 0, 'logout tail');
  assert.equal(run('revoked-token-use', [...base, { kind: 'token.rejected', reason: 'revoked', at: T0 + 30 * MIN }]).length, 1, 'the tail has an end (tailMs)');
  assert.equal(
    run('revoked-token-use', [...base, { kind: 'token.rejected', reason: 'revoked', at: T0 + 2 * MIN, ua: 'python-requests/2.31' }]).length,
    1,
    'another device on the same network',
  );
});

test('revoked-token-use: a token without a jti is followed by its fingerprint (the edge cannot refuse it), for generated tokens', () => {
  for (let i = 0; i < 40; i++) {
    const mine = fp(`no-jti-${i}`);
    const other = fp(`other-${i}`);
    const base = [
      { kind: 'token.validated' as const, at: T0, jti: null, fingerprint: mine },
      { kind: 'token.revoked' as const, at: T0 + MIN, jti: null, fingerprint: mine },
    ];
    const later = T0 + MIN + ((i % 20) + 1) * 30_000; // before the token expires (exp 14 min after T0)
    const alerts = run('revoked-token-use', [...base, { at: later, jti: null, fingerprint: mine, ip: '198.51.100.9', asn: 64999 }]);
    assert.equal(alerts.length, 1, `token ${i}: accepted after its revocation`);
    assert.match(alerts[0]!.description, /with fingerprint [0-9a-f]{16} was presented/);
    assert.equal(alerts[0]!.attributes.enforced, 'false');
    assert.equal(
      run('revoked-token-use', [...base, { at: later, jti: null, fingerprint: other, ip: '198.51.100.9', asn: 64999 }]).length,
      0,
      `token ${i}: another token`,
    );
    // a token with a jti is still followed by its jti alone: the same fingerprint under another jti is another token
    assert.equal(
      run('revoked-token-use', [
        { kind: 'token.revoked', at: T0 + MIN, jti: `j-${i}`, fingerprint: mine },
        { at: later, jti: `k-${i}`, fingerprint: mine, ip: '198.51.100.9', asn: 64999 },
      ]).length,
      0,
    );
  }
});

test('refresh-token-reuse: the same previousFingerprint exchanged twice in a family fires critical', () => {
  const r = (at: number, prev: string, f: string) => ({
    kind: 'token.refreshed' as const,
    at,
    familyId: 'fam-1',
    typ: 'refresh' as const,
    previousFingerprint: fp(prev),
    fingerprint: fp(f),
  });
  assert.equal(run('refresh-token-reuse', [r(T0, 'r0', 'r1'), r(T0 + MIN, 'r1', 'r2'), r(T0 + 2 * MIN, 'r2', 'r3')]).length, 0, 'a normal rotation chain');
  const alerts = run('refresh-token-reuse', [r(T0, 'r0', 'r1'), r(T0 + MIN, 'r1', 'r2'), r(T0 + 9 * MIN, 'r0', 'rx')]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.severity, 'critical');
  assert.equal(alerts[0]!.keys.familyId, 'fam-1');
  assert.equal(alerts[0]!.evidence.length, 2, 'the first exchange and the replay');
  // a rejected replay of an exchanged refresh token counts too
  const rejected = run('refresh-token-reuse', [
    r(T0, 'r0', 'r1'),
    { kind: 'token.rejected', reason: 'revoked', typ: 'refresh', familyId: 'fam-1', fingerprint: fp('r0'), at: T0 + MIN },
  ]);
  assert.equal(rejected.length, 1);
  // the chain bound: with maxChain 1, a replay two rotations back is forgotten
  assert.equal(
    run('refresh-token-reuse', [r(T0, 'r0', 'r1'), r(T0 + MIN, 'r1', 'r2'), r(T0 + 2 * MIN, 'r0', 'rx')], { 'refresh-token-reuse': { maxChain: 1 } }).length,
    0,
  );
});

test('token-multi-origin: alternating origins, another device or too many networks fire; CGNAT churn, one network switch and service pods do not', () => {
  const use = (at: number, ip: string, asn: number, extra: Spec = {}) => ({ at, ip, asn, ...extra });
  // the owner at home and a copy elsewhere, interleaved
  const interleaved = Array.from({ length: 6 }, (_, i) => (i % 2 ? use(T0 + i * 20_000, '198.51.100.7', 64999) : use(T0 + i * 20_000, '203.0.113.5', 64500)));
  const alerts = run('token-multi-origin', interleaved);
  assert.equal(alerts.length, 1);
  assert.match(alerts[0]!.description, /alternating/);
  assert.equal(alerts[0]!.severity, 'high');
  // a copy on the same ISP nearby, with the owner's browser string: still two origins taking turns
  assert.equal(
    run(
      'token-multi-origin',
      Array.from({ length: 6 }, (_, i) => use(T0 + i * 20_000, i % 2 ? '203.0.200.9' : '203.0.113.5', 64500)),
    ).length,
    1,
    'same network, other address block',
  );
  // carrier-grade NAT: a new address every few minutes, never back
  assert.equal(
    run(
      'token-multi-origin',
      Array.from({ length: 12 }, (_, i) => use(T0 + i * MIN, `100.64.${i}.1`, 3209)),
    ).length,
    0,
    'CGNAT churn of a mobile carrier',
  );
  assert.equal(
    run('token-multi-origin', [
      use(T0, '203.0.113.5', 64500),
      use(T0 + MIN, '203.0.113.5', 64500),
      use(T0 + 2 * MIN, '198.51.100.1', 64600),
      use(T0 + 3 * MIN, '198.51.100.1', 64600),
    ]).length,
    0,
    'Wi-Fi to mobile once',
  );
  assert.equal(
    run(
      'token-multi-origin',
      Array.from({ length: 12 }, (_, i) => use(T0 + i * 10_000, `203.0.113.${1 + (i % 4)}`, 64500)),
    ).length,
    0,
    'an office NAT pool is one origin',
  );
  // a service token shared by five pods
  const pods = Array.from({ length: 20 }, (_, i) => use(T0 + i * 10_000, `198.51.${100 + (i % 5)}.10`, 16509, { sub: 'billing@clients', clientId: 'billing' }));
  assert.equal(run('token-multi-origin', pods).length, 0, 'pods of one service');
  assert.equal(
    run('token-multi-origin', [...pods, use(T0 + 201_000, '192.0.2.50', 14061, { sub: 'billing@clients', clientId: 'billing', ua: 'python-requests/2.31' })])
      .length,
    1,
    'a service token from another device and network',
  );
  assert.equal(
    run('token-multi-origin', [use(T0, '203.0.113.5', 64500), use(T0 + MIN, '203.0.113.5', 64500, { ua: 'python-requests/2.31' })]).length,
    1,
    'another device',
  );
  assert.equal(run('token-multi-origin', [use(T0, '1.1.1.1', 1), use(T0 + MIN, '2.2.2.2', 2), use(T0 + 2 * MIN, '3.3.3.3', 3)]).length, 1, 'three networks');
  assert.equal(
    run(
      'token-multi-origin',
      [1, 2, 3, 4, 5].map((i) => use(T0 + i * 5_000, `198.18.${i}.${i}`, 64500)),
    ).length,
    1,
    'five address blocks within seconds',
  );
  assert.equal(run('token-multi-origin', interleaved, { 'token-multi-origin': { maxReturns: 10 } }).length, 0, 'configurable');
});

test('token-multi-origin: generated CGNAT and roaming walks never fire; generated copies always do', () => {
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let k = 0; k < 200; k++) {
    const walk = Array.from({ length: 5 + Math.floor(rnd() * 20) }, (_, i) => ({
      at: T0 + i * Math.floor(10_000 + rnd() * 60_000),
      ip: `100.${64 + (k % 50)}.${i}.${1 + Math.floor(rnd() * 250)}`,
      asn: 3209,
    }));
    // a carrier's CGNAT walk, at most one switch to another carrier, never back to an earlier block
    assert.equal(
      run(
        'token-multi-origin',
        walk.map((w, i) => ({ ...w, asn: i < walk.length / 2 ? 3209 : 22394 })),
      ).length,
      0,
      JSON.stringify(walk),
    );
    const owner = `203.0.${113 + (k % 20)}.${1 + (k % 200)}`;
    const copy = `198.51.${k % 200}.${1 + Math.floor(rnd() * 250)}`;
    const turns = 4 + Math.floor(rnd() * 8);
    const taken = Array.from({ length: turns }, (_, i) => ({
      at: T0 + i * Math.floor(5_000 + rnd() * 60_000),
      ip: i % 2 ? copy : owner,
      asn: i % 2 ? 64900 + (k % 7) : 64500,
    }));
    assert.equal(run('token-multi-origin', taken).length, 1, JSON.stringify(taken));
  }
});

test('impossible-travel: Berlin then Sydney within an hour fires; a real flight or a short hop does not', () => {
  const berlin: [number, number] = [52.52, 13.405];
  const sydney: [number, number] = [-33.87, 151.21];
  const potsdam: [number, number] = [52.39, 13.06];
  const alerts = run('impossible-travel', [
    { geo: berlin, at: T0 },
    { geo: sydney, at: T0 + 60 * MIN, ip: '1.2.3.4' },
  ]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.severity, 'medium');
  assert.ok(Number(alerts[0]!.attributes.distanceKm) > 16_000);
  assert.equal(
    run('impossible-travel', [
      { geo: berlin, at: T0 },
      { geo: sydney, at: T0 + 24 * 60 * MIN },
    ]).length,
    0,
    '24 h later is a flight',
  );
  assert.equal(
    run('impossible-travel', [
      { geo: berlin, at: T0 },
      { geo: potsdam, at: T0 + MIN },
    ]).length,
    0,
    'under minDistanceKm',
  );
  assert.equal(
    run('impossible-travel', [
      { geo: berlin, at: T0 },
      { geo: sydney, at: T0 + MIN, kind: 'token.rejected', reason: 'expired' },
    ]).length,
    0,
    'a rejected token speaks for nobody',
  );
});

test('auth-failure-burst: per subject and per IP thresholds within the window', () => {
  const fails = (n: number, f: (i: number) => Spec) =>
    Array.from({ length: n }, (_, i) => ({ kind: 'token.rejected' as const, reason: 'wrong_issuer', at: T0 + i * 1_000, ...f(i) }));
  const bySubject = run(
    'auth-failure-burst/subject',
    fails(10, (i) => ({ ip: `198.51.100.${i}` })),
  );
  assert.equal(bySubject.length, 1);
  assert.equal(bySubject[0]!.count, 10);
  assert.equal(
    run(
      'auth-failure-burst/subject',
      fails(9, () => ({})),
    ).length,
    0,
  );
  const byIp = run(
    'auth-failure-burst/ip',
    fails(20, (i) => ({ sub: `user-${i}` })),
  );
  assert.equal(byIp.length, 1);
  assert.equal(byIp[0]!.keys.ip, '203.0.113.1');
  assert.equal(byIp[0]!.keys.subject, null, 'many subjects: none named');
  // a 401 the interceptor already reported as token.rejected is not counted twice
  assert.equal(
    run(
      'auth-failure-burst/subject',
      Array.from({ length: 12 }, (_, i) => ({ kind: 'http.exchange' as const, status: 401, at: T0 + i, attributes: { 'auth.rejection': 'expired' } })),
    ).length,
    0,
  );
  assert.equal(
    run(
      'auth-failure-burst/subject',
      Array.from({ length: 10 }, (_, i) => ({ kind: 'http.exchange' as const, status: 401, at: T0 + i * 1000, noToken: true })),
    ).length,
    1,
    'wrong passwords',
  );
  // an application answering 401 to requests whose token the interceptor found valid (one token.validated per request)
  assert.equal(
    run(
      'auth-failure-burst/subject',
      Array.from({ length: 10 }, (_, i) => ({ kind: 'token.validated' as const, status: 401, at: T0 + i * 1000 })),
    ).length,
    1,
    'refused by the application',
  );
  assert.equal(
    run(
      'auth-failure-burst/subject',
      Array.from({ length: 10 }, (_, i) => ({ kind: 'token.validated' as const, status: 200, at: T0 + i * 1000 })),
    ).length,
    0,
    'served',
  );
});

test('token-tampering: bad signature, alg none, unknown kid alert on first sight', () => {
  for (const s of [{ reason: 'bad_signature' }, { reason: 'unknown_kid' }, { reason: 'alg_not_allowed' }, { alg: 'none', reason: 'malformed' }] as Spec[]) {
    const alerts = run('token-tampering', [{ kind: 'token.rejected', ...s }]);
    assert.equal(alerts.length, 1, JSON.stringify(s));
  }
  assert.equal(run('token-tampering', [{ kind: 'token.rejected', reason: 'expired' }]).length, 0);
  assert.equal(run('token-tampering', [{ kind: 'token.rejected', reason: 'unknown_kid' }], { 'token-tampering': { reasons: ['bad_signature'] } }).length, 0);
});

test('expired-token-replay: one expired token presented in separate tries fires; a retry burst before a refresh does not; a long-expired token at once', () => {
  const exp = (at: number, extra: Spec = {}) => ({ kind: 'token.rejected' as const, reason: 'expired', at, exp: Math.floor(T0 / 1000) - 3600, ...extra });
  assert.equal(
    run('expired-token-replay', [exp(T0), exp(T0 + 400), exp(T0 + 800), exp(T0 + 1_200), exp(T0 + 1_600)]).length,
    0,
    'a client retrying, then refreshing',
  );
  assert.equal(
    run(
      'expired-token-replay',
      [0, 1, 2, 3].map((i) => exp(T0 + i * 12 * MIN)),
    ).length,
    1,
    'four tries, twelve minutes apart',
  );
  assert.equal(
    run(
      'expired-token-replay',
      [0, 1, 2].map((i) => exp(T0 + i * 12 * MIN)),
    ).length,
    0,
    'three are below the threshold',
  );
  assert.equal(
    run(
      'expired-token-replay',
      [0, 1, 2, 3].map((i) => exp(T0 + i * 12 * MIN, { fingerprint: fp(`t${i}`) })),
    ).length,
    0,
    'per token: four tokens each tried once',
  );
  assert.equal(run('expired-token-replay', [exp(T0, { exp: Math.floor(T0 / 1000) - 30 * 86400 })]).length, 1, 'expired a month ago');
  assert.equal(
    run(
      'expired-token-replay',
      [0, 1, 2, 3].map((i) => exp(T0 + i * 1_000, { ip: `198.51.100.${i}`, asn: 64900 + i })),
    ).length,
    1,
    'one captured token tried from four networks within seconds',
  );
  // generated retry bursts of any length and spacing under the gap stay one episode
  let seed = 5;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let k = 0; k < 200; k++) {
    let t = T0;
    const burst = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => exp((t += Math.floor(rnd() * 110_000))));
    assert.equal(run('expired-token-replay', burst).length, 0, JSON.stringify(burst.map((b) => b.at - T0)));
  }
});

test('privilege-change-in-session: a presented token with roles the session was never issued fires; a grant through the token endpoint is learnt once; narrowing does not by default; probing of many routes fires, prefetching a few does not', () => {
  const alerts = run('privilege-change-in-session', [{ at: T0 }, { at: T0 + MIN, roles: ['customer', 'admin'] }]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.keys.sessionId, 'sess-1');
  assert.match(alerts[0]!.description, /role admin/);
  assert.equal(
    run('privilege-change-in-session', [
      { at: T0, scopes: ['a', 'b'] },
      { at: T0 + MIN, scopes: ['a'] },
    ]).length,
    0,
  );
  assert.equal(
    run(
      'privilege-change-in-session',
      [
        { at: T0, scopes: ['a', 'b'] },
        { at: T0 + MIN, scopes: ['a'] },
      ],
      { 'privilege-change-in-session': { alertOnNarrowing: true } },
    ).length,
    1,
  );
  assert.equal(run('privilege-change-in-session', [{ at: T0 }, { at: T0 + MIN, roles: ['admin'], sid: 'sess-2' }]).length, 0, 'another session');
  // a role granted mid-day: the refresh issues it, every later token carries it: no alert, ever
  const grant = [
    { kind: 'token.issued' as const, at: T0 },
    { at: T0 + MIN },
    { kind: 'token.issued' as const, at: T0 + 15 * MIN, roles: ['customer', 'approver'] },
    ...Array.from({ length: 40 }, (_, i) => ({ at: T0 + 16 * MIN + i * 15 * MIN, roles: ['customer', 'approver'] })),
  ];
  assert.equal(run('privilege-change-in-session', grant).length, 0, 'granted through the token endpoint');
  assert.equal(run('privilege-change-in-session', grant, { 'privilege-change-in-session': { alertOnReissue: true } }).length, 1, 'reported once when asked to');
  const probe = (n: number, route: (i: number) => string) =>
    Array.from({ length: n }, (_, i) => ({
      kind: 'token.rejected' as const,
      reason: 'insufficient_scope',
      at: T0 + i * 6 * MIN,
      status: 403,
      attributes: {},
      route: route(i),
    }));
  const withRoute = (xs: ReturnType<typeof probe>) =>
    xs.map((x) => {
      const e = ev(x);
      e.http!.request.route = x.route;
      return e;
    });
  const runEvents = (events: AuditEvent[]) => {
    const state = createDetectorState({
      rules: Object.fromEntries(ruleNames.map((n) => [n, { enabled: n === 'privilege-change-in-session/insufficient-scope' }])),
    });
    return events.flatMap((e) => detect(state, e, e.occurredAt).alerts);
  };
  assert.equal(runEvents(withRoute(probe(8, (i) => `admin-${i}`))).length, 1, 'eight distinct admin routes over 48 min');
  assert.equal(runEvents(withRoute(probe(60, (i) => `admin-${i % 6}`))).length, 0, 'a UI prefetching the same six pages all day');
});

test('long-lived-token: exp - iat above the policy of its type, once per token', () => {
  const iat = Math.floor(T0 / 1000);
  const alerts = run('long-lived-token', [
    { iat, exp: iat + 30 * 86400 },
    { iat, exp: iat + 30 * 86400, at: T0 + MIN },
  ]);
  assert.equal(alerts.length, 1, 'suppressed per jti');
  assert.equal(run('long-lived-token', [{ iat, exp: iat + 3600 }]).length, 0);
  assert.equal(run('long-lived-token', [{ iat, exp: iat + 7 * 86400, typ: 'refresh', jti: 'r' }]).length, 0, 'refresh policy is longer');
  // the edge's own lifetime policy refused it after its signature verified: the issuer minted it all the same
  const refused = (verified: string, reason = 'lifetime_too_long') => ({
    kind: 'token.rejected' as const,
    reason,
    iat,
    exp: iat + 30 * 86400,
    attributes: { 'token.signatureVerified': verified },
  });
  assert.equal(run('long-lived-token', [refused('true')]).length, 1, 'refused by the edge for its lifetime, signed by a trusted key');
  assert.equal(run('long-lived-token', [refused('false')]).length, 0, 'a forged token claims any lifetime');
  assert.equal(run('long-lived-token', [refused('true', 'expired')]).length, 0, 'refused for another reason: its claims are not the point');
});

test("issuance-spike: far above the key's own baseline, or above minCount for a new key", () => {
  const issue = (at: number, extra: Spec = {}) => ({ kind: 'token.issued' as const, at, jti: `j${at}`, ...extra });
  const quiet = Array.from({ length: 24 }, (_, b) => [issue(T0 + b * 5 * MIN), issue(T0 + b * 5 * MIN + 1000)]).flat();
  assert.equal(run('issuance-spike/subject', quiet).length, 0, 'two per bucket for two hours');
  const burst = Array.from({ length: 21 }, (_, i) => issue(T0 + 120 * MIN + i * 1000));
  const alerts = run('issuance-spike/subject', [...quiet, ...burst]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.count, 21);
  // a busy client is compared with itself: 250 in a bucket is normal-ish for one doing 60 per bucket, not for a new one
  const buckets = (from: number, n: number, per: number) =>
    Array.from({ length: n }, (_, b) => Array.from({ length: per }, (_, i) => issue(from + b * 5 * MIN + i * 1000, { sub: `u${i}` }))).flat();
  const busy = buckets(T0, 36, 60); // the EWMA baseline converges over ~baselineBuckets buckets
  const burst250 = buckets(T0 + 180 * MIN, 1, 250);
  assert.equal(run('issuance-spike/client', [...busy, ...burst250]).length, 0, 'below factor x baseline');
  assert.equal(run('issuance-spike/client', burst250).length, 1, 'above minCount for a client without history');
  assert.equal(
    run('issuance-spike/client', [...busy, ...buckets(T0 + 180 * MIN, 1, 400).map((e, i) => ({ ...e, at: T0 + 180 * MIN + i * 700 }))]).length,
    1,
    'above factor x baseline',
  );
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
  const alerts = run('new-device-for-subject', [
    ...known,
    { at: T0 + day + MIN, ua: 'Phone/2', asn: 64600 },
    { at: T0 + day + 2 * MIN, ua: 'Laptop/1', asn: 64999 },
  ]);
  assert.equal(alerts.length, 1, 'a version change is not a new device');
  assert.equal(alerts[0]!.severity, 'low');
  assert.equal(alerts[0]!.attributes.newAsn, 'true');
});
