import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert, AuditEvent } from '@jwt-audit/events';
import { createDetectorState, detect } from '../detector.js';
import type { DetectionConfig } from '../config.js';
import { ev, T0, type Spec } from '../testdata/events.js';

const MIN = 60_000;
const ruleNames = createDetectorState().slots.map((s) => s.rule.name);

/** One rule enabled; `patch` adjusts an event after it is built (the session record, geo). */
function run(rule: string, specs: Array<Spec & { session?: AuditEvent['session']; country?: string }>): Alert[] {
  const rules: DetectionConfig = {};
  for (const name of ruleNames) rules[name] = { enabled: name === rule };
  const state = createDetectorState({ rules });
  const out: Alert[] = [];
  for (const s of specs) {
    const e = ev(s);
    if (s.session !== undefined) e.session = s.session;
    if (s.country) e.enrichment = { ...e.enrichment!, geo: { countryIso: s.country, country: null, city: null, lat: null, lon: null } };
    out.push(...detect(state, e, e.occurredAt).alerts);
  }
  return out;
}

const ended = (at: number, reason: string | null, sid = 'sess-1') => ({ kind: 'session.ended' as const, at, sid, session: { id: sid, reason } });

test('session-activity-after-end: a valid token of a signed-out session fires; idle, expiry, revocation or deprovisioning ends, rejections, the grace and other sessions do not', () => {
  for (const reason of ['sign_out', 'logout', null]) {
    const alerts = run('session-activity-after-end', [{ at: T0 }, ended(T0 + MIN, reason), { at: T0 + 10 * MIN, ip: '198.51.100.9' }]);
    assert.equal(alerts.length, 1, String(reason));
    assert.equal(alerts[0]!.rule, 'session-activity-after-end');
    assert.equal(alerts[0]!.keys.sessionId, 'sess-1');
    assert.equal(alerts[0]!.attributes.endReason, reason ?? 'sign_out');
    assert.equal(alerts[0]!.evidence.length, 2);
  }
  for (const reason of ['idle_timeout', 'token_expiry', 'evicted', 'revocation', 'deprovisioning'])
    assert.equal(run('session-activity-after-end', [ended(T0, reason), { at: T0 + 10 * MIN }]).length, 0, reason);
  assert.equal(run('session-activity-after-end', [ended(T0, 'sign_out'), { at: T0 + 2_000 }]).length, 0, 'in flight');
  assert.equal(
    run('session-activity-after-end', [ended(T0, 'sign_out'), { at: T0 + 10 * MIN, kind: 'token.rejected', reason: 'revoked' }]).length,
    0,
    'rejected: enforced, claims forgeable',
  );
  assert.equal(run('session-activity-after-end', [ended(T0, 'sign_out'), { at: T0 + 10 * MIN, sid: 'sess-2' }]).length, 0, 'another session');
  assert.equal(
    run('session-activity-after-end', [
      ended(T0, 'sign_out'),
      { kind: 'session.started', at: T0 + MIN, session: { id: 'sess-1', reason: null } },
      { at: T0 + 10 * MIN },
    ]).length,
    0,
    'started again by the IdP',
  );
  assert.equal(run('session-activity-after-end', [{ at: T0 }, { at: T0 + 10 * MIN }]).length, 0, 'no end');
});

test('session-multi-country: one session used in a second country by another device fires; the same device abroad, two sessions, rejected tokens and unlocatable networks do not', () => {
  const alerts = run('session-multi-country', [
    { at: T0, country: 'DE', ua: 'Firefox/1' },
    { at: T0 + MIN, country: 'DE', ua: 'Firefox/2' },
    { at: T0 + 2 * MIN, country: 'BR', ip: '198.51.100.9', ua: 'python-requests/2' },
    { at: T0 + 3 * MIN, country: 'DE', ua: 'Firefox/2' },
  ]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.attributes.countries, 'DE,BR');
  assert.equal(alerts[0]!.keys.sessionId, 'sess-1');
  assert.equal(alerts[0]!.evidence.length, 2);
  assert.equal(
    run('session-multi-country', [
      { at: T0, country: 'DE', ua: 'A/1' },
      { at: T0 + MIN, country: 'BR', sid: 'sess-2', ua: 'B/1' },
    ]).length,
    0,
    'two sessions',
  );
  assert.equal(
    run('session-multi-country', [
      { at: T0, country: 'DE', ua: 'A/1' },
      { at: T0 + MIN, country: 'BR', kind: 'token.rejected', reason: 'expired', ua: 'B/1' },
    ]).length,
    0,
    'rejected claims are forgeable',
  );
  assert.equal(
    run('session-multi-country', [
      { at: T0, country: 'DE', ua: 'A/1' },
      { at: T0 + MIN, country: 'NL', asn: 9009, ua: 'B/1' },
    ]).length,
    0,
    'a VPN exit locates nobody',
  );
  // bounded: a session seen from 100 countries keeps at most 8 places
  const many = run(
    'session-multi-country',
    Array.from({ length: 100 }, (_, i) => ({ at: T0 + i * MIN, country: `C${i}`, ua: `D${String.fromCharCode(97 + (i % 26))}/1` })),
  );
  assert.ok(many.length >= 1 && many.length <= 7, String(many.length));
});

test('session-multi-country (generated): a session that only ever moves with its one device never fires, whatever its countries and order; a second device in another country always does', () => {
  let seed = 4242;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const countries = ['DE', 'FR', 'ES', 'GB', 'US', 'NL', 'BR', 'JP'];
  const browsers = ['Mozilla/5.0 (iPhone) Safari/604.1', 'Mozilla/5.0 (Windows NT 10.0) Chrome/120.0', 'okhttp/4.12', 'Mozilla/5.0 (X11; Linux) Firefox/121.0'];
  for (let round = 0; round < 300; round++) {
    const ua = browsers[rand(browsers.length)]!;
    const n = 2 + rand(30);
    // travel, carrier hubs across a border, home and away alternating: one device throughout
    const trip = Array.from({ length: n }, (_, i) => ({
      at: T0 + i * MIN,
      country: countries[rand(1 + rand(countries.length))]!,
      ua: ua.replace(/\d+/, String(rand(99))),
    }));
    assert.equal(run('session-multi-country', trip).length, 0, `round ${round}: ${JSON.stringify(trip.map((t) => t.country))}`);
    // a copy of the session on another device, in a country the owner's device was not seen in
    const seen = new Set(trip.map((t) => t.country));
    const away = countries.find((c) => !seen.has(c))!;
    const other = browsers.find((b) => b.replace(/[\d._]+/g, '') !== ua.replace(/[\d._]+/g, ''))!;
    const copied = [...trip];
    copied.splice(1 + rand(n), 0, { at: T0 + rand(n) * MIN, country: away, ua: other });
    const alerts = run('session-multi-country', copied);
    assert.ok(alerts.length >= 1, `round ${round}: copied to ${away}`);
    assert.ok(alerts[0]!.attributes.countries!.split(',').includes(away), `round ${round}: names ${away}`);
  }
});
