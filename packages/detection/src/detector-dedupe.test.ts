import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '@jwt-audit/events';
import { advance, applyChanges, createDetectorState, detect, drainChanges, restoreState, snapshotState } from './detector.js';
import { generateScenario } from './scenario.js';
import { ev, T0 } from './testdata/events.js';

test('deduplication: an event delivered twice does not count twice towards a threshold', () => {
  // nine distinct failures and the ninth again: under the threshold of ten
  const fails = Array.from({ length: 9 }, (_, i) => ev({ kind: 'token.rejected', reason: 'bad_signature', at: T0 + i * 1_000, ip: `198.51.100.${i}` }));
  const state = createDetectorState({ rules: { 'token-tampering': { enabled: false } } });
  const out: Alert[] = [];
  for (const e of [...fails, fails[8]!, structuredClone(fails[3]!)]) out.push(...detect(state, e, e.occurredAt).alerts);
  assert.deepEqual(
    out.filter((a) => a.rule === 'auth-failure-burst'),
    [],
  );
  assert.equal(state.duplicates, 2);
  // without deduplication the copies count (the test can fail)
  const off = createDetectorState({ dedupeMaxIds: 0, rules: { 'token-tampering': { enabled: false } } });
  const counted = [...fails, fails[8]!].flatMap((e) => detect(off, e, e.occurredAt).alerts).filter((a) => a.rule === 'auth-failure-burst');
  assert.equal(counted.length, 1);
});

test('deduplication: a scenario with generated duplicates (a crashed stage re-producing batches) gives exactly the alerts of the clean run', () => {
  const s = generateScenario({ subjects: 60, seed: 9 });
  const clean = createDetectorState();
  const expected = s.events.flatMap((e) => detect(clean, e, e.occurredAt).alerts.map((a) => a.id));
  expected.push(...advance(clean, s.end + 86_400_000, 0).map((a) => a.id));
  let seed = 17;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 5; round++) {
    // after random points, replay the previous batch of up to 200 events again (uncommitted output re-produced)
    const input = [];
    for (let i = 0; i < s.events.length; i++) {
      input.push(s.events[i]!);
      if (rnd() < 0.004) input.push(...s.events.slice(Math.max(0, i - Math.floor(rnd() * 200)), i + 1).map((e) => structuredClone(e)));
    }
    assert.ok(input.length > s.events.length);
    let state = createDetectorState();
    const got: string[] = [];
    for (const [n, e] of input.entries()) {
      got.push(...detect(state, e, e.occurredAt).alerts.map((a) => a.id));
      // the memory of seen ids survives a snapshot (a restart between a batch and its copy)
      if (n === Math.floor(input.length / 2)) state = restoreState(JSON.parse(JSON.stringify(snapshotState(state))));
    }
    got.push(...advance(state, s.end + 86_400_000, 0).map((a) => a.id));
    assert.deepEqual(got, expected);
    assert.equal(state.duplicates > 0, true);
  }
});

test('deduplication is bounded: the last dedupeMaxIds ids, also through a journal replay', () => {
  const state = createDetectorState({ dedupeMaxIds: 50 });
  const events = Array.from({ length: 500 }, (_, i) => ev({ at: T0 + i, sub: `u${i}` }));
  for (const e of events) detect(state, e, e.occurredAt);
  assert.equal(state.seen.size, 50);
  assert.ok(state.seen.has(events[499]!.id) && !state.seen.has(events[449]!.id) && state.seen.has(events[450]!.id));
  // snapshot + journal: the restored memory is the live one
  const snap = JSON.parse(JSON.stringify(snapshotState(state)));
  const more = Array.from({ length: 30 }, (_, i) => ev({ at: T0 + 600 + i, sub: `v${i}` }));
  for (const e of more) detect(state, e, e.occurredAt);
  const journal = JSON.parse(JSON.stringify(drainChanges(state)));
  const restored = restoreState(snap, { dedupeMaxIds: 50 });
  applyChanges(restored, journal);
  assert.deepEqual(restored.seen.dump(), state.seen.dump());
  assert.equal(drainChanges(state).seen, undefined, 'nothing pending after a drain');
});
