/**
 * The producer thread on each Kafka client the interceptor can be configured with
 * (queue.client / AUDIT_INTERCEPTOR_KAFKA_CLIENT): the same records, sent through a ThreadSink,
 * land once each with their keys, values and headers, and every key on the same partition
 * whichever client wrote it; a broker that cannot be reached fails the send (the publisher
 * spools it) without killing the thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { createKafkaClient, ensureTopics, PRODUCER_CLIENTS, type OutRecord } from '@jwt-audit/kafka';
import { AuditError, kafkajsRetry, loadConfig, RETRY_POLICIES } from '@jwt-audit/runtime';
import { until } from '@jwt-audit/runtime/testing/wait';
import { configSchema, defaults, env, type InterceptorConfig } from './config.js';
import { quietLogger } from './testdata/harness.js';
import { ThreadSink } from './thread-sink.js';

const logger = quietLogger();
const policy = RETRY_POLICIES.interceptorKafkaClient;
const clientOverrides = { retry: kafkajsRetry(policy), connectionTimeout: policy.timeoutMs };

test('config: queue.client defaults to platformatic; AUDIT_INTERCEPTOR_KAFKA_CLIENT selects kafkajs; anything else is refused naming the field', () => {
  const load = (environment: Record<string, string>) =>
    loadConfig<InterceptorConfig>({ service: 'interceptor', schema: configSchema, defaults, env, environment, argv: [] });
  assert.equal(load({}).queue.client, 'platformatic');
  assert.equal(load({ AUDIT_INTERCEPTOR_KAFKA_CLIENT: 'kafkajs' }).queue.client, 'kafkajs');
  for (const bad of ['librdkafka', 'KAFKAJS', '', ' platformatic', 'kafkajs\u0000']) {
    assert.throws(() => load({ AUDIT_INTERCEPTOR_KAFKA_CLIENT: bad }), /queue\.client/, JSON.stringify(bad));
  }
});

test('producer thread: each client delivers the same records once, keys on the same partitions; an unreachable broker fails the send, not the thread', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'thread-sink-'));
  const broker = await startBroker({ dir, port: 0 });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'reader' }, logger);
  try {
    const records: OutRecord[] = Array.from({ length: 120 }, (_, i) => ({
      key: i % 9 === 0 ? `ip:198.51.100.${i}` : `sub:${randomBytes(1 + (i % 12)).toString('base64url')}`,
      value: randomBytes(40 + (i % 300)),
      headers: { 'audit-schema-version': '4', 'x-i': String(i) },
    }));
    const partitionsBy = new Map<string, Map<string, number>>();
    for (const client of PRODUCER_CLIENTS) {
      const topic = `sink.${client}`;
      await ensureTopics(kafka, [{ topic, numPartitions: 6 }]);
      const sink = new ThreadSink(
        { kafka: { brokers: [broker.address], clientId: `sink-${client}` }, client, retry: policy, clientOverrides, loggerName: 'test', logLevel: 'silent' },
        logger,
      );
      await sink.connect();
      for (let i = 0; i < records.length; i += 25) await sink.send(topic, records.slice(i, i + 25));
      await sink.close();

      const consumer = kafka.consumer({ groupId: `check-${client}`, maxWaitTimeInMs: 100 });
      const seen: Array<{ partition: number; key: string; value: Buffer; i: string }> = [];
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push({ partition, key: String(message.key), value: message.value!, i: String(message.headers?.['x-i']) });
        },
      });
      await until(`${records.length} records from ${client}`, () => seen.length >= records.length);
      await consumer.disconnect();
      assert.equal(seen.length, records.length, `${client}: each record once`);
      for (const s of seen) {
        const sent = records[Number(s.i)]!;
        assert.equal(s.key, sent.key, `${client}: key`);
        assert.deepEqual(s.value, sent.value, `${client}: value`);
      }
      partitionsBy.set(client, new Map(seen.map((s) => [s.key, s.partition])));
    }
    const [a, b] = PRODUCER_CLIENTS.map((c) => partitionsBy.get(c)!);
    for (const [key, p] of a!) assert.equal(b!.get(key), p, `${key}: the same partition from both clients`);

    for (const client of PRODUCER_CLIENTS) {
      const down = new ThreadSink(
        { kafka: { brokers: ['127.0.0.1:1'], clientId: 'down' }, client, retry: policy, clientOverrides, loggerName: 'test', logLevel: 'silent' },
        logger,
      );
      const err = await down.send('sink.down', records.slice(0, 3)).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof AuditError && err.code === 'AUDIT_ERR_PRODUCER_THREAD', `${client}: the send fails (the publisher spools it)`);
      const again = await down.send('sink.down', records.slice(0, 1)).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(again instanceof AuditError && again.code === 'AUDIT_ERR_PRODUCER_THREAD', `${client}: the thread still answers`);
      await down.close();
    }
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
