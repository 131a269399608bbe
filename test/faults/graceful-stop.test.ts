// Fault: every stage stopped gracefully with events in flight, then started again. A clean stop
// repeats nothing (issue #27 item 1): each stage finishes and commits the batch it holds, through
// the batch's consumer group, before it leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PER_FAULT, progress, startFaultPipeline, until } from './pipeline.js';

test('fault: every stage stopped gracefully under load and started again; nothing answered is missing, nothing is repeated in audit.masked.v1, audit.enriched.v1 or the archive', async (t) => {
  const p = await startFaultPipeline(t);
  const fault = 'stop under load';
  await p.send('warm-up', 10);
  await p.recovered('warm-up', Date.now());
  const sending = p.send(fault, PER_FAULT, 40);
  await until('events in flight', async () => (p.sent(fault) >= PER_FAULT / 3 ? true : undefined), 30_000);
  progress('stopping every stage');
  await p.stopStages();
  progress('starting every stage');
  await p.startStages();
  const restartedAt = Date.now();
  await sending;
  const recovery = await p.recovered(fault, restartedAt);
  const { repeated } = await p.report(fault, recovery);
  assert.equal(repeated.masked, 0, 'graceful stop: nothing repeated in audit.masked.v1');
  assert.equal(repeated.enriched, 0, 'graceful stop: nothing repeated in audit.enriched.v1');
  assert.equal(repeated.archive, 0, 'graceful stop: nothing archived twice');
});
