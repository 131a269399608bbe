// Fault: the masker killed with SIGKILL three times while it works through 3,000 events, on the
// transactional path (issue #27 item 2, kafka.exactlyOnce). Each batch's outputs and input offset
// commit in one Kafka transaction, so what a killed masker had produced but not committed is
// aborted (by the restarted instance's InitProducerId) and never read by read_committed
// consumers: audit.masked.v1 read_committed holds every event exactly once. The same scenario on
// the at-least-once path is services/masker's `npm run bench:crash`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCrashScenario } from '../../services/masker/bench/crash-harness.js';
import { progress } from './pipeline.js';

test('fault: the transactional masker killed -9 three times mid-load: every event once in audit.masked.v1 (read_committed), none lost', async (t) => {
  // 3,000 events at 60/s: a 50 s load, long enough for three kill-restart cycles (kills are made only while it runs)
  const r = await runCrashScenario({ exactlyOnce: true, events: 3_000, kills: 3, rate: 60, progress });
  t.diagnostic(
    `| masker kill -9 x${r.kills}, transactional | ${r.events} | read_committed ${r.readCommitted} | lost ${r.lost} | duplicates ${r.duplicates} | written (aborted included) ${r.written} | ${r.seconds} s |`,
  );
  assert.ok(r.kills >= 2, `the masker was killed mid-load (${r.kills} of 3 kills made while the load ran)`);
  assert.equal(r.lost, 0, 'nothing lost');
  assert.equal(r.distinct, r.events, 'every event reached audit.masked.v1');
  assert.equal(r.duplicates, 0, 'read_committed: no event twice after the kills');
  assert.ok(r.written >= r.readCommitted, 'read_uncommitted sees at least what read_committed sees');
});
