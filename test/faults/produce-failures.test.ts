// Fault: produces of the masker and the enricher fail as kafkajs reports an unreachable broker,
// retriable and wrapped non-retriable: retried and the partition held, never dead-lettered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClientErrors } from '@jwt-audit/kafka';
import { PER_FAULT, startFaultPipeline } from './pipeline.js';

test('fault: transient produce failures (ECONNREFUSED, retriable and wrapped non-retriable) are retried; nothing answered is missing or dead-lettered', async (t) => {
  const p = await startFaultPipeline(t);
  const fault = 'transient produce failures';
  const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } = KafkaClientErrors;
  const refused = () => new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  const failures = () => [
    new KafkaJSNumberOfRetriesExceeded(refused(), { retryCount: 5, retryTime: 100 }),
    // what a handler's retry wrapper makes of it: non-retriable to kafkajs, still not the record's fault
    new (KafkaJSNonRetriableError as unknown as new (e: Error, o: object) => Error)(refused(), { cause: refused() }),
    refused(),
  ];
  p.masker.ctl.failures.push(...failures());
  p.enricher.ctl.failures.push(...failures(), ...failures());
  const startedAt = Date.now();
  await p.send(fault, PER_FAULT);
  const recovery = await p.recovered(fault, startedAt);
  assert.equal(p.masker.ctl.failures.length + p.enricher.ctl.failures.length, 0, 'every injected failure was met');
  await p.report(fault, recovery);
});
