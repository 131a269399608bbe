import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { AuditError, createLogger, createMetrics } from '@jwt-audit/runtime';
import { chunkRecords, createAuditProducer, failureClass, createKafkaClient, ensureTopics, recordSize } from './index.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('producer: after a torn segment tail is cut, OUT_OF_ORDER_SEQUENCE_NUMBER re-creates the idempotent producer and the retried send succeeds', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kafka-producer-'));
  let broker = await startBroker({ dir, port: 0, fsync: 'always' });
  const port = broker.port;
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'producer-test' }, logger, {
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 1_000 },
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const producer = createAuditProducer(kafka, { logger, metrics });
  try {
    await ensureTopics(kafka, [{ topic: 'torn', numPartitions: 1 }]);
    await producer.connect();
    for (let b = 0; b < 3; b++)
      await producer.send(
        'torn',
        Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(`${b}-${i}`) })),
      );
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
    const failed = await producer.send('torn', next).then(
      () => undefined,
      (err: unknown) => err,
    );
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

test("producer: a send larger than the broker's message.max.bytes goes in requests under it, in order, with no MESSAGE_TOO_LARGE; a lone record over it is still refused as the record's fault", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kafka-producer-'));
  const broker = await startBroker({ dir, port: 0 });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'producer-test' }, logger);
  const producer = createAuditProducer(kafka, { logger });
  try {
    await ensureTopics(kafka, [{ topic: 'big', numPartitions: 1 }]);
    await producer.connect();
    // generated sizes: from a few bytes to 300 kB, 6 MB and more in one send, with headers
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const records = Array.from({ length: 400 }, (_, i) => ({
      key: `k${i % 3}`,
      value: Buffer.alloc(Math.floor(rand() < 0.05 ? 200_000 + rand() * 100_000 : rand() * 20_000), i % 251),
      headers: { 'event-id': `id-${i}`, 'x-big': 'h'.repeat(Math.floor(rand() * 500)) },
    }));
    const total = records.reduce((n, r) => n + r.value.length, 0);
    assert.ok(total > 6 * 1_048_588, `the send (${total} bytes) is several times message.max.bytes`);
    await producer.send('big', records);

    const seen: string[] = [];
    const consumer = kafka.consumer({ groupId: 'big-reader', maxBytes: 10 << 20 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'big', fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const i = seen.length;
          assert.equal(message.value!.length, records[i]!.value.length);
          seen.push(String(message.headers!['event-id']));
          if (seen.length === records.length) resolve();
        },
      });
    });
    await done;
    await consumer.disconnect();
    assert.deepEqual(
      seen,
      records.map((r) => r.headers['event-id']),
      'every record, once, in the order sent',
    );

    const tooLarge = await producer.send('big', [{ key: 'k', value: Buffer.alloc(1_100_000) }]).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(tooLarge instanceof AuditError);
    assert.match(tooLarge.message, /larger than the max message size/);
    assert.equal(failureClass(tooLarge), 'record', "the record's own fault: a runner dead-letters that one record");
  } finally {
    await producer.disconnect().catch(() => undefined);
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chunkRecords: runs keep the order, stay under the limit unless a record alone is over it, and lose nothing (generated)', () => {
  let seed = 11;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let round = 0; round < 200; round++) {
    const limit = 1_000 + Math.floor(rand() * 50_000);
    const records = Array.from({ length: Math.floor(rand() * 300) }, (_, i) => ({
      key: rand() < 0.5 ? `é${i}` : Buffer.from([i & 255]),
      value: rand() < 0.1 ? null : Buffer.alloc(Math.floor(rand() * limit * (rand() < 0.05 ? 2 : 0.3))),
    }));
    const chunks = chunkRecords(records, limit);
    assert.deepEqual(chunks.flat(), records);
    for (const c of chunks) {
      assert.ok(c.length > 0);
      const bytes = c.reduce((n, r) => n + recordSize(r), 0);
      assert.ok(bytes <= limit || c.length === 1, `a run of ${c.length} records is ${bytes} bytes over ${limit}`);
    }
  }
});
