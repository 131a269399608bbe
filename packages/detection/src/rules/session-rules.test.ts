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
  for (const reason of ['idle_timeout', 'token_expiry', 'evicted', 'revocation', 'deprovisioning']) assert.equal(run('session-activity-after-end', [ended(T0, reason), { at: T0 + 10 * MIN }]).length, 0, reason);
  assert.equal(run('session-activity-after-end', [ended(T0, 'sign_out'), { at: T0 + 2_000 }]).length, 0, 'in flight');
  assert.equal(run('session-activity-after-end', [ended(T0, 'sign_out'), { at: T0 + 10 * MIN, kind: 'token.rejected', reason: 'revoked' }]).length, 0, 'rejected: enforced, claims forgeable');
  assert.equal(run('session-activity-after-end', [ended(T0, 'sign_out'), { at: T0 + 10 * MIN, sid: 'sess-2' }]).length, 0, 'another session');
  assert.equal(run('session-activity-after-end', [ended(T0, 'sign_out'), { kind: 'session.started', at: T0 + MIN, session: { id: 'sess-1', reason: null } }, { at: T0 + 10 * MIN }]).length, 0, 'started again by the IdP');
  assert.equal(run('session-activity-after-end', [{ at: T0 }, { at: T0 + 10 * MIN }]).length, 0, 'no end');
});

test('session-multi-country: one session located in a second country fires once per new country; two sessions in two countries do not', () => {
  const alerts = run('session-multi-country', [{ at: T0, country: 'DE' }, { at: T0 + MIN, country: 'DE' }, { at: T0 + 2 * MIN, country: 'BR', ip: '198.51.100.9' }, { at: T0 + 3 * MIN, country: 'DE' }]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.attributes.countries, 'DE,BR');
  assert.equal(alerts[0]!.keys.sessionId, 'sess-1');
  assert.equal(run('session-multi-country', [{ at: T0, country: 'DE' }, { at: T0 + MIN, country: 'BR', sid: 'sess-2' }]).length, 0);
  assert.equal(run('session-multi-country', [{ at: T0, country: 'DE' }, { at: T0 + MIN, country: 'BR', kind: 'token.rejected', reason: 'expired' }]).length, 0, 'rejected claims are forgeable');
  // bounded: a session seen from 100 countries keeps at most 8
  const many = run('session-multi-country', Array.from({ length: 100 }, (_, i) => ({ at: T0 + i * MIN, country: `C${i}` })));
  assert.ok(many.length >= 1 && many.length <= 7, String(many.length));
});
