import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Hit } from './reader.js';
import { buildTimeline, steps } from './timeline.js';

const hit = (id: string, at: number, doc: Record<string, unknown>): Hit => ({
  id,
  index: 'logs-jwt_audit.events-x',
  doc: { '@timestamp': new Date(at).toISOString(), ...doc },
});
const refresh = (id: string, at: number, prev: string, fp: string) =>
  hit(id, at, {
    event: { action: 'token-refreshed', outcome: 'success' },
    jwt_audit: { token: { typ: 'refresh', previous_fingerprint: prev, fingerprint: fp, family_id: 'f' } },
  });

test('a refresh token exchanged twice is reuse, once only and from its second exchange on; a chain of rotations is not', () => {
  const events = [
    hit('i', 0, { event: { action: 'token-issued', outcome: 'success' }, jwt_audit: { token: { typ: 'refresh', fingerprint: 'A', family_id: 'f' } } }),
    refresh('r1', 10, 'A', 'B'),
    refresh('r2', 20, 'B', 'C'),
    refresh('r3', 30, 'A', 'D'),
    refresh('r4', 40, 'C', 'E'),
    refresh('r5', 50, 'A', 'F'),
  ];
  const { entries, chain } = buildTimeline(events, []);
  assert.deepEqual(
    entries.map((e) => e.reuse),
    [false, false, false, true, false, true],
  );
  assert.deepEqual(
    chain.map((c) => c.fingerprint),
    ['A', 'B', 'C', 'D', 'E', 'F'],
  );
});

test('events and alerts in time order (an alert after the event of the same instant); steps find the next rejection and alert both ways', () => {
  const events = [
    hit('a', 0, { event: { action: 'token-validated', outcome: 'success' } }),
    hit('b', 10, { event: { action: 'token-rejected', outcome: 'failure', reason: 'expired' } }),
    hit('c', 20, { event: { action: 'http-exchange', outcome: 'success' } }),
  ];
  const alerts = [
    {
      id: 'x',
      index: 'logs-jwt_audit.alerts-x',
      doc: { '@timestamp': new Date(10).toISOString(), rule: { name: 'r' }, jwt_audit: { alert: { severity: 'high' } } },
    },
  ];
  const { entries } = buildTimeline(events, alerts);
  assert.deepEqual(
    entries.map((e) => e.id),
    ['a', 'b', 'x', 'c'],
  );
  assert.deepEqual(steps(entries, 0), { prev: -1, next: 1, nextRejection: 1, prevRejection: -1, nextAlert: 2, prevAlert: -1 });
  assert.deepEqual(steps(entries, 3), { prev: 2, next: -1, nextRejection: -1, prevRejection: 1, nextAlert: -1, prevAlert: 2 });
  assert.deepEqual(steps([], 0), { prev: -1, next: -1, nextRejection: -1, prevRejection: -1, nextAlert: -1, prevAlert: -1 });
});
