import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { AuditError, createLogger, createMetrics } from '@jwt-audit/runtime';
import { createAuditProducer, createKafkaClient, ensureTopics } from './index.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('producer: after a torn segment tail is cut, OUT_OF_ORDER_SEQUENCE_NUMBER re-creates the idempotent producer and the retried send succeeds', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kafka-producer-'));
  let broker = await startBroker({ dir, port: 0, fsync: 'always' });
  const port = broker.port;
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'producer-test' }, logger, { retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 1_000 } });
  const metrics = createMetrics({ defaultMetrics: false });
  const producer = createAuditProducer(kafka, { logger, metrics });
  try {
    await ensureTopics(kafka, [{ topic: 'torn', numPartitions: 1 }]);
    await producer.connect();
    for (let b = 0; b < 3; b++) await producer.send('torn', Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(`${b}-${i}`) })));
    const firstId = producer.raw;
    await broker.close();
    // tear the last batch (a crash mid-append): the broker cuts it at start, so its producer
    // state ends at sequence 9 while the producer goes on from 15
    const logDir = path.join(dir, 'logs', 'torn-0');
    const segment = path.join(logDir, readdirSync(logDir).find((f) => f.endsWith('.log'))!);
    truncateSync(segment, statSync(segment).size - 7);
    // the same address: the producer is the one that was connected before the restart
    broker = await startBroker({ dir, port, fsync: 'always' });

    const next = Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(`3-${i}`) }));
    const failed = await producer.send('torn', next).then(() => undefined, (err: unknown) => err);
    assert.ok(failed instanceof AuditError, 'the first send after the cut fails');
    assert.equal(failed.code, 'AUDIT_ERR_KAFKA_PRODUCER_STATE');
    assert.equal(failed.retriable, true, 'retriable: the caller retries the batch, it never dead-letters it');
    assert.match(failed.message, /sequence/i);
    assert.notEqual(producer.raw, firstId, 'a new kafkajs producer (a new producer id)');
    await producer.send('torn', next);
    assert.match(await metrics.registry.metrics(), /audit_kafka_producer_recreated_total 1\b/);

    const admin = kafka.admin();
    await admin.connect();
    const [offsets] = await admin.fetchTopicOffsets('torn');
    await admin.disconnect();
    assert.equal(offsets!.high, '15', 'two whole batches kept, the torn one cut, the retried one appended');
  } finally {
    await producer.disconnect().catch(() => undefined);
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
