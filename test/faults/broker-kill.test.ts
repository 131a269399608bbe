// Fault: the broker killed with SIGKILL and restarted on its port, a masker batch held across it for
// longer than the masker's session, so its commit meets the restarted broker's UNKNOWN_MEMBER_ID:
// the runner must rejoin (before issue #28: "consumer crashed ... restart=false", for good).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counter, PER_FAULT, progress, startFaultPipeline, until } from './pipeline.js';

test('fault: broker kill -9 + restart with a masker batch held past its session; nothing answered is missing from Elasticsearch or the archive, the masker rejoined', async (t) => {
  const p = await startFaultPipeline(t);
  const fault = 'broker kill -9 + restart';
  await p.send(fault, 20);
  await p.recovered(fault, Date.now());
  p.masker.ctl.hold();
  const heldBefore = p.masker.ctl.held;
  const rejoinsBefore = await counter(p.maskerMetrics, 'audit_masker_rejoins_total');
  await p.send(fault, 10);
  await until('a masker batch held', async () => (p.masker.ctl.held > heldBefore ? true : undefined), 30_000);
  await p.restartBroker(() => p.send(fault, 15)); // the interceptor spools them
  const restartedAt = Date.now();
  // past the masker's session: the restarted broker does not know the member any more
  await new Promise((r) => setTimeout(r, p.sessionTimeoutMs + 1_000));
  progress('releasing the held masker batch');
  p.masker.ctl.release();
  await p.send(fault, PER_FAULT - 45);
  const recovery = await p.recovered(fault, restartedAt);
  assert.ok(
    (await counter(p.maskerMetrics, 'audit_masker_rejoins_total')) > rejoinsBefore,
    'the held batch met the unknown-member commit error, and the masker rejoined',
  );
  await p.report(fault, recovery);
});
