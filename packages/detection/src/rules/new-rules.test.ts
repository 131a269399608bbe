import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert, AuditEvent } from '@jwt-audit/events';
import { createDetectorState, detect } from '../detector.js';
import { ev, fp, T0, type Spec } from '../testdata/events.js';

const MIN = 60_000;
const names = createDetectorState().slots.map((s) => s.rule.name);

function only(rule: string, events: AuditEvent[], config: Record<string, unknown> = {}): Alert[] {
  const state = createDetectorState({ rules: Object.fromEntries(names.map((n) => [n, n === rule ? { enabled: true, ...config } : { enabled: false }])) });
  return events.flatMap((e) => detect(state, e, e.occurredAt).alerts);
}

function login(at: number, username: string | null, ip: string, asn: number, status = 400, grant = 'password'): AuditEvent {
  const e = ev({ kind: 'http.exchange', noToken: true, status, ip, asn, at, sub: null });
  e.http!.request.method = 'POST';
  e.http!.request.path = '/oauth/token';
  const form = new URLSearchParams({ grant_type: grant, ...(username ? { username } : {}), password: '[redacted:password]' });
  e.http!.request.body = { contentType: 'application/x-www-form-urlencoded', size: 0, truncated: false, sha256: null, content: form.toString() };
  return e;
}

test('auth-failure-burst/network: stuffing spread over hundreds of addresses (one or two tries each) fires; an office of typos does not', () => {
  const stuffing = Array.from({ length: 200 }, (_, i) => login(T0 + i * 12_000, `hmac:k:${i}`, `198.51.${i % 100}.${1 + (i % 7)}`, 28573));
  const alerts = only('auth-failure-burst/network', stuffing);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.severity, 'high');
  assert.equal(alerts[0]!.keys.subject, null);
  assert.ok(Number(alerts[0]!.attributes.distinctUsernames) >= 20);
  // 40 failures from a NAT'd office in an hour, by 8 people mistyping
  const office = Array.from({ length: 40 }, (_, i) => login(T0 + i * 80_000, `hmac:k:person-${i % 8}`, '203.0.113.1', 3320));
  assert.equal(only('auth-failure-burst/network', office).length, 0, 'few distinct usernames');
  assert.equal(only('auth-failure-burst/ip', office).length, 0, 'under 20 a minute');
  // a refused refresh is not a failed login
  assert.equal(
    only(
      'auth-failure-burst/network',
      Array.from({ length: 200 }, (_, i) => login(T0 + i * 1000, `u${i}`, '198.51.100.1', 28573, 400, 'refresh_token')),
    ).length,
    0,
  );
  // a 200 is a success
  assert.equal(
    only(
      'auth-failure-burst/network',
      Array.from({ length: 200 }, (_, i) => login(T0 + i * 1000, `u${i}`, '198.51.100.1', 28573, 200)),
    ).length,
    0,
  );
});

test('auth-failure-burst/login: one username attacked slowly from many addresses fires; a person retrying does not', () => {
  const brute = Array.from({ length: 30 }, (_, i) => login(T0 + i * 18_000, 'hmac:k:victim', `198.51.100.${i}`, 28573));
  const alerts = only('auth-failure-burst/login', brute);
  assert.equal(alerts.length, 1);
  assert.match(alerts[0]!.description, /username hmac:k:victim/);
  assert.equal(only('auth-failure-burst/login', brute.slice(0, 3)).length, 0, 'three typos');
  assert.equal(
    only(
      'auth-failure-burst/login',
      Array.from({ length: 30 }, (_, i) => login(T0 + i * 18_000, null, `198.51.100.${i}`, 28573)),
    ).length,
    0,
    'no username captured: nothing to key by',
  );
});

test('auth-failure-burst/ip: with six partitions interleaved, a window never claims more than it holds within its span', () => {
  // one IP's failures, spread evenly over 40 minutes (under the threshold of 20 per minute), as
  // six source partitions delivered interleaved with a lag of up to one partition's batch
  let seed = 3;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 50; round++) {
    const events = Array.from({ length: 240 }, (_, i) => ev({ kind: 'token.rejected', reason: 'bad_signature', sub: `u${i}`, at: T0 + i * 10_000 }));
    const parts: AuditEvent[][] = [[], [], [], [], [], []];
    for (const e of events) parts[Math.floor(rnd() * 6)]!.push(e);
    const arrival: AuditEvent[] = [];
    while (parts.some((p) => p.length > 0)) {
      const p = parts[Math.floor(rnd() * 6)]!;
      arrival.push(...p.splice(0, 1 + Math.floor(rnd() * 30)));
    }
    const alerts = only('auth-failure-burst/ip', arrival);
    for (const a of alerts) {
      const times = a.evidence.map((id) => events.find((e) => e.id === id)!.occurredAt);
      assert.ok(Math.max(...times) - Math.min(...times) <= 60_000, `evidence spans ${(Math.max(...times) - Math.min(...times)) / 1000} s`);
    }
    assert.equal(alerts.length, 0, 'six per minute is under the threshold whatever the arrival order');
  }
});

test("unexpected-issuer: a good signature under another issuer fires; a bad signature does not (tampering's)", () => {
  const staging = ev({ kind: 'token.rejected', reason: 'wrong_issuer', attributes: { 'token.signatureVerified': 'true' } });
  const alerts = only('unexpected-issuer', [staging]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.severity, 'high');
  assert.equal(
    only('unexpected-issuer', [ev({ kind: 'token.rejected', reason: 'wrong_issuer', attributes: { 'token.signatureVerified': 'false' } })]).length,
    0,
  );
  assert.equal(
    only('unexpected-issuer', [ev({ kind: 'token.rejected', reason: 'wrong_audience', attributes: { 'token.signatureVerified': 'true' } })], {
      audience: false,
    }).length,
    0,
  );
});

test('token-guessing: many distinct malformed credentials from one IP fire; one broken client repeating its value does not', () => {
  const guesses = Array.from({ length: 40 }, (_, i) =>
    ev({ kind: 'token.rejected', reason: 'malformed', sub: null, jti: null, fingerprint: fp(`g${i}`), at: T0 + i * 15_000, ip: '198.51.100.66' }),
  );
  const state = createDetectorState({ partitionings: ['ip'], rules: { 'auth-failure-burst/ip': { enabled: false } } });
  const alerts = guesses.flatMap((e) => detect(state, e, e.occurredAt, 'ip').alerts);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.rule, 'token-guessing');
  const broken = Array.from({ length: 40 }, (_, i) => ev({ kind: 'token.rejected', reason: 'malformed', sub: null, at: T0 + i * 15_000 }));
  const s2 = createDetectorState({ partitionings: ['ip'] });
  assert.equal(broken.flatMap((e) => detect(s2, e, e.occurredAt, 'ip').alerts).filter((a) => a.rule === 'token-guessing').length, 0);
});

test("response-volume: an hour of 2 MB responses far above the subject's history fires; its usual volume does not", () => {
  const resp = (at: number, bytes: number, extra: Spec = {}) => {
    const e = ev({ at, status: 200, ...extra });
    e.http!.response!.headers['content-length'] = String(bytes);
    return e;
  };
  const history = Array.from({ length: 24 * 20 }, (_, i) => resp(T0 + i * 3 * MIN, 20_000 + (i % 7) * 10_000));
  const exfil = Array.from({ length: 180 }, (_, i) => resp(T0 + 25 * 3_600_000 + i * 20_000, 2_000_000));
  const alerts = only('response-volume', [...history, ...exfil]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.severity, 'high');
  assert.equal(only('response-volume', history).length, 0);
  // a subject whose normal hour is 300 MB is compared with itself
  const heavy = Array.from({ length: 300 }, (_, i) => resp(T0 + i * 12_000, 1_000_000));
  assert.equal(only('response-volume', [...heavy, ...heavy.map((e) => resp(e.occurredAt + 3_600_000, 1_000_000))]).length, 1, 'its first heavy hour is new');
  assert.equal(only('response-volume', [...heavy, ...heavy.map((e) => resp(e.occurredAt + 3_600_000, 1_000_000))], { factor: 1.5 }).length, 1);
});

test('resource-enumeration: hundreds of sequential ids refused fire; the odd 404 does not', () => {
  const req = (at: number, path: string, status: number) => {
    const e = ev({ at, status });
    e.http!.request.path = path;
    return e;
  };
  const walk = Array.from({ length: 100 }, (_, i) => req(T0 + i * 2_500, `/api/orders/${200_000 + i}`, i % 3 ? 403 : 404));
  const alerts = only('resource-enumeration', walk);
  assert.equal(alerts.length, 1);
  assert.match(alerts[0]!.description, /\/api\/orders\/\{id\}/);
  assert.equal(
    only(
      'resource-enumeration',
      Array.from({ length: 100 }, (_, i) => req(T0 + i * MIN, `/api/orders/${i}`, i % 20 ? 200 : 404)),
    ).length,
    0,
  );
  assert.equal(
    only(
      'resource-enumeration',
      Array.from({ length: 100 }, (_, i) => req(T0 + i * 2_500, '/api/orders/5', 404)),
    ).length,
    0,
    'one missing resource asked again and again',
  );
});

test('unusual-hour: activity at a never-used hour from a never-used device fires after learning; either alone does not', () => {
  const day = 86_400_000;
  const habit = Array.from({ length: 3 }, (_, d) => Array.from({ length: 9 }, (_, h) => ({ at: T0 - 4 * 3_600_000 + d * day + h * 3_600_000 }))).flat(); // 08:00-16:00 UTC
  const night = T0 + 3 * day + 15 * 3_600_000; // 03:00 UTC
  const evs = (specs: Spec[]) => specs.map((s) => ev(s));
  assert.equal(only('unusual-hour', evs([...habit, { at: night, ua: 'Firefox/126 Linux' }])).length, 1);
  assert.equal(only('unusual-hour', evs([...habit, { at: night }])).length, 0, 'the usual device at night');
  assert.equal(only('unusual-hour', evs([...habit, { at: T0 + 3 * day, ua: 'Firefox/126 Linux' }])).length, 0, 'a new device at the usual hour');
});

test('alerts an analyst can act on: a stable incident key over suppression windows, what to do, the token fingerprint, the network, the claimed subject of a forged token', () => {
  const forged = (at: number) => {
    const e = ev({
      kind: 'token.rejected',
      reason: 'bad_signature',
      sub: null,
      at,
      ip: '198.51.100.23',
      asn: 14061,
      attributes: { 'token.signatureVerified': 'false', 'token.claimedSub': 'alice' },
    });
    e.enrichment!.geo = { countryIso: 'NL', country: 'Netherlands', city: 'Amsterdam', lat: 52.37, lon: 4.9 };
    e.enrichment!.asn = { number: 14061, org: 'DigitalOcean, LLC' };
    return e;
  };
  const alerts = only('token-tampering', [forged(T0), forged(T0 + 60_000), forged(T0 + 11 * 60_000), forged(T0 + 30 * 60_000)]);
  assert.ok(alerts.length >= 3, 'first alert, roll-up, next window');
  assert.equal(new Set(alerts.map((a) => a.attributes.incidentKey)).size, 1, 'one incident');
  assert.equal(new Set(alerts.map((a) => a.id)).size, alerts.length, 'distinct alerts');
  const a = alerts[0]!;
  assert.equal(a.keys.subject, 'alice');
  assert.equal(a.attributes.subjectClaimed, 'true');
  assert.match(a.attributes.network!, /198\.51\.100\.23 \(Amsterdam, NL\) AS14061 DigitalOcean/);
  assert.match(a.attributes.response!, /block the source IP/);
  assert.equal(a.attributes.tokenFingerprint!.length, 16);
  assert.match(a.description, /claiming to be alice \(unverified\)/);
  // another source is another incident
  const other = only('token-tampering', [ev({ kind: 'token.rejected', reason: 'bad_signature', ip: '192.0.2.1' })]);
  assert.notEqual(other[0]!.attributes.incidentKey, a.attributes.incidentKey);
});
