// Fault: a torn tail of audit.masked.v1, the last batch the masker produced cut at the broker's
// restart: the masker's idempotent producer gets OUT_OF_ORDER_SEQUENCE_NUMBER and must be re-created
// (before issue #28: 12 % of events dead-lettered and their offsets committed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { TOPICS } from '@jwt-audit/events';
import { counter, PER_FAULT, size, startFaultPipeline, until } from './pipeline.js';

test('fault: torn segment tail of audit.masked.v1; the broker logs the cut, the masker producer is re-created, nothing answered is missing', async (t) => {
  const p = await startFaultPipeline(t);
  const fault = 'torn segment tail';
  await p.send(fault, PER_FAULT / 2);
  await p.recovered(fault, Date.now());
  const recreatedBefore = await counter(p.maskerMetrics, 'audit_kafka_producer_recreated_total');
  await p.restartBroker(async () => {
    // every event of this suite is keyed by the client address: one partition holds them
    const logs = path.join(p.dir, 'kafka', 'logs');
    const partitionDir = readdirSync(logs)
      .filter((d) => d.startsWith(`${TOPICS.masked}-`))
      .map((d) => path.join(logs, d))
      .sort((a, b) => size(b) - size(a))[0]!;
    const segment = path.join(
      partitionDir,
      readdirSync(partitionDir)
        .filter((f) => f.endsWith('.log'))
        .sort()
        .at(-1)!,
    );
    truncateSync(segment, statSync(segment).size - 7);
  });
  const restartedAt = Date.now();
  assert.ok(
    p.broker.lines.some((l) => l.msg.startsWith('torn segment tail cut')),
    'the broker logs the cut',
  );
  // The cut batch had been acknowledged: the enricher's committed offset now lies past the log end.
  // It must notice (OFFSET_OUT_OF_RANGE, reset to the earliest as Kafka's auto.offset.reset) before
  // new records take the offsets again, or it skips them: Kafka reuses them too, and kafkajs has no
  // leader-epoch check (KIP-320) to find the truncation. With one broker, losing an acknowledged
  // batch is losing data; the suite checks what the pipeline does about it, not that it cannot be.
  await until(
    'the enricher has reset past the cut',
    async () => ((await p.offsets('jwt-audit-enricher', TOPICS.masked)).every((o) => o.committed <= o.high) ? true : undefined),
    60_000,
  );
  await p.send(fault, PER_FAULT / 2);
  const recovery = await p.recovered(fault, restartedAt);
  assert.ok(
    (await counter(p.maskerMetrics, 'audit_kafka_producer_recreated_total')) > recreatedBefore,
    'OUT_OF_ORDER_SEQUENCE_NUMBER re-created the masker producer',
  );
  await p.report(fault, recovery);
});
