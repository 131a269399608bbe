import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alertCodec, type Alert } from '@jwt-audit/events';
import { advance, applyChanges, createDetectorState, detect, drainChanges, restoreState, snapshotState, stateStats } from './detector.js';
import { DetectionConfigError, DetectionStateError } from './errors.js';
import { detectionConfigSchema, resolveDetectionConfig } from './config.js';
import { generateScenario } from './scenario.js';
import { ev, T0 } from './testdata/events.js';

const MIN = 60_000;

test('suppression: a storm for one rule and key is one alert at once plus one roll-up with the count', () => {
  // token-tampering only (the same storm is also an auth-failure burst)
  const state = createDetectorState({ rules: { 'auth-failure-burst/ip': { enabled: false }, 'auth-failure-burst/subject': { enabled: false } } });
  const out: Alert[] = [];
  // 40 tampered tokens from one IP within 2 minutes
  for (let i = 0; i < 40; i++) {
    const e = ev({ kind: 'token.rejected', reason: 'bad_signature', at: T0 + i * 3_000 });
    out.push(...detect(state, e, e.occurredAt).alerts);
  }
  assert.equal(out.length, 1, 'one alert while the window is open');
  assert.equal(out[0]!.suppressed, 0);
  // another key is not suppressed by it
  const other = ev({ kind: 'token.rejected', reason: 'bad_signature', at: T0 + 3 * MIN, ip: '198.51.100.77' });
  assert.equal(detect(state, other, other.occurredAt).alerts.length, 1);
  // event time passes the window's end: the roll-up reports the folded findings
  const later = ev({ kind: 'session.started', at: T0 + 11 * MIN, noToken: true });
  const rolled = detect(state, later, later.occurredAt).alerts;
  assert.equal(rolled.length, 1);
  assert.equal(rolled[0]!.suppressed, 39);
  assert.equal(rolled[0]!.count, 40);
  assert.equal(rolled[0]!.attributes.rollupOf, out[0]!.id);
  assert.notEqual(rolled[0]!.id, out[0]!.id);
  assert.deepEqual(alertCodec.validate(rolled[0]), [], 'roll-ups are valid alerts');
  assert.deepEqual(alertCodec.validate(out[0]), []);
  // after the window a new finding is a new alert
  const again = ev({ kind: 'token.rejected', reason: 'bad_signature', at: T0 + 12 * MIN });
  assert.equal(detect(state, again, again.occurredAt).alerts.length, 1);
});

test('alerts are deterministic: the same events give the same alert ids', () => {
  const s = generateScenario({ subjects: 30, seed: 7 });
  const ids = () => {
    const state = createDetectorState();
    return s.events.flatMap((e) => detect(state, e, Date.now()).alerts.map((a) => a.id));
  };
  const first = ids();
  assert.ok(first.length > 10);
  assert.deepEqual(ids(), first);
  assert.ok(
    first.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)),
    'UUIDv7-shaped',
  );
});

test('snapshot + journal restore: stopping anywhere and resuming gives exactly the alerts of an uninterrupted run', () => {
  const s = generateScenario({ subjects: 40, seed: 11 });
  const whole = createDetectorState();
  const expected = s.events.flatMap((e) => detect(whole, e, e.occurredAt).alerts.map((a) => a.id));
  expected.push(...advance(whole, s.end + 86_400_000, 0).map((a) => a.id));

  const cutSnapshot = Math.floor(s.events.length * 0.3);
  const cutCrash = Math.floor(s.events.length * 0.6);
  let state = createDetectorState();
  const got: string[] = [];
  let snapshot = '';
  const journal: string[] = [];
  s.events.forEach((e, i) => {
    if (i >= cutCrash) return;
    got.push(...detect(state, e, e.occurredAt).alerts.map((a) => a.id));
    state.offset = String(i);
    if (i === cutSnapshot) snapshot = JSON.stringify(snapshotState(state));
    else if (i > cutSnapshot && i % 100 === 0) journal.push(JSON.stringify(drainChanges(state)));
  });
  journal.push(JSON.stringify(drainChanges(state)));
  // "crash": rebuild from the snapshot and the journal only (through JSON, as on disk)
  state = restoreState(JSON.parse(snapshot));
  for (const line of journal) applyChanges(state, JSON.parse(line));
  assert.equal(state.offset, String(cutCrash - 1));
  for (const e of s.events.slice(cutCrash)) got.push(...detect(state, e, e.occurredAt).alerts.map((a) => a.id));
  got.push(...advance(state, s.end + 86_400_000, 0).map((a) => a.id));
  assert.deepEqual(got, expected);
  assert.deepEqual(stateStats(state), stateStats(whole));
});

test('memory is bounded: maxKeys per rule, least recently written evicted; expired entries swept', () => {
  const state = createDetectorState({ rules: { 'impossible-travel': { maxKeys: 100 } } });
  for (let i = 0; i < 1_000; i++) {
    const e = ev({ sub: `user-${i}`, geo: [50, 10], at: T0 + i });
    detect(state, e, e.occurredAt);
  }
  const stats = stateStats(state)['impossible-travel']!;
  assert.equal(stats.keys, 100);
  assert.equal(stats.evictions, 900);
  // a month later (knownPlacesMs) every entry has expired
  advance(state, T0 + 31 * 86_400_000, 0);
  assert.equal(stateStats(state)['impossible-travel']!.keys, 0);
});

test('an event from the far future does not advance event time (no mass expiry from one bad clock)', () => {
  const state = createDetectorState();
  const e = ev({ at: T0 });
  detect(state, e, T0);
  const bogus = ev({ at: T0 + 365 * 86_400_000, sub: 'x' });
  detect(state, bogus, T0);
  assert.equal(state.watermark, T0);
});

test('configuration: every unknown rule, setting and bad value reported at once; schema derived from defaults', () => {
  assert.throws(
    () =>
      resolveDetectionConfig({
        'no-such-rule': {},
        'impossible-travel': { maxSpeedKmh: -1, colour: 'red' } as never,
        'token-tampering': { severity: 'urgent' as never },
      }),
    (err: unknown) => err instanceof DetectionConfigError && err.problems.length === 4 && err.code === 'AUDIT_ERR_DETECTION_CONFIG',
  );
  const cfg = resolveDetectionConfig({ 'long-lived-token': { maxLifetimeSec: { access: 7200 } as never } });
  assert.equal((cfg['long-lived-token']!.maxLifetimeSec as Record<string, number>).access, 7200);
  assert.equal((cfg['long-lived-token']!.maxLifetimeSec as Record<string, number>).refresh, 30 * 86400);
  const schema = detectionConfigSchema() as { properties: Record<string, { properties: Record<string, unknown> }> };
  assert.deepEqual(schema.properties['impossible-travel']!.properties.severity, { enum: ['low', 'medium', 'high', 'critical'] });
  assert.throws(() => restoreState({ v: 9 }), DetectionStateError);
});

test('a disabled rule raises nothing and keeps no state', () => {
  const state = createDetectorState({ rules: { 'token-tampering': { enabled: false } } });
  const e = ev({ kind: 'token.rejected', reason: 'bad_signature' });
  assert.equal(detect(state, e, e.occurredAt).alerts.length, 0);
  assert.equal(stateStats(state)['token-tampering'], undefined);
});

test('partitionings: a state for the IP stage runs only IP-keyed rules', () => {
  const state = createDetectorState({ partitionings: ['ip', 'client'] });
  assert.deepEqual(state.slots.map((s) => s.rule.name).sort(), ['auth-failure-burst/ip', 'issuance-spike/client', 'token-guessing']);
  const sub = createDetectorState({ partitionings: ['subject'] });
  assert.ok(!sub.slots.some((s) => s.rule.partitioning !== 'subject'));
  const out: Alert[] = [];
  for (let i = 0; i < 25; i++) {
    const e = ev({ kind: 'token.rejected', reason: 'malformed', sub: `u${i}`, at: T0 + (i * MIN) / 30 });
    out.push(...detect(state, e, e.occurredAt, 'ip').alerts, ...detect(state, e, e.occurredAt, 'client').alerts);
  }
  assert.deepEqual(
    out.map((a) => a.attributes.variant),
    ['ip'],
  );
});

test('repartitionKeys: the IP and client keys an event needs, only for enabled rules', async () => {
  const { repartitionKeys, partitioningOfKey } = await import('./detector.js');
  const cfg = resolveDetectionConfig();
  assert.deepEqual(repartitionKeys(cfg, ev({ kind: 'token.rejected', reason: 'malformed', ip: '198.51.100.3' })), ['ip:198.51.100.3']);
  assert.deepEqual(repartitionKeys(cfg, ev({ kind: 'token.issued', clientId: 'web' })), ['client:web']);
  assert.deepEqual(repartitionKeys(cfg, ev({ kind: 'token.validated' })), []);
  assert.deepEqual(
    repartitionKeys(
      resolveDetectionConfig({ 'auth-failure-burst/ip': { enabled: false }, 'token-guessing': { enabled: false } }),
      ev({ kind: 'token.rejected', reason: 'malformed' }),
    ),
    [],
  );
  // a failed login at the token endpoint goes to the IP, username and network stages
  const login = ev({ kind: 'http.exchange', noToken: true, status: 400, ip: '198.51.100.7', asn: 64501 });
  login.http!.request.method = 'POST';
  login.http!.request.path = '/oauth/token';
  login.http!.request.body = {
    contentType: 'application/x-www-form-urlencoded',
    size: 0,
    truncated: false,
    sha256: null,
    content: 'grant_type=password&username=hmac%3Ak%3Aabc&password=%5Bredacted%5D',
  };
  assert.deepEqual(repartitionKeys(cfg, login).sort(), ['ip:198.51.100.7', 'login:hmac:k:abc', 'network:AS64501']);
  assert.equal(partitioningOfKey('ip:1.2.3.4'), 'ip');
  assert.equal(partitioningOfKey('network:AS1'), 'network');
  assert.equal(partitioningOfKey('login:x'), 'login');
  assert.equal(partitioningOfKey('sub:alice'), null);
});
