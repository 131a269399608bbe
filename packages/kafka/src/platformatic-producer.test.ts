/**
 * The @platformatic/kafka AuditProducer against the embedded broker, held to the kafkajs one's
 * contract: the same partition for the same key (kafkajs's DefaultPartitioner, Java's), keys,
 * values, headers and timestamps as sent, idempotent (a producer id from InitProducerId, a torn
 * tail answered with OUT_OF_ORDER_SEQUENCE_NUMBER re-creates it), large sends split under
 * message.max.bytes, and every failure classed by errors.ts as kafkajs's are (an unreachable
 * broker, refused credentials, an untrusted certificate, each protocol error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { MultipleErrors, ProtocolError, ResponseError, protocolErrors } from '@platformatic/kafka';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { AuditError, createLogger, createMetrics, type KafkaConnectionConfig } from '@jwt-audit/runtime';
import { makeTestPki } from '@jwt-audit/runtime/testing/pki';
import { until } from '@jwt-audit/runtime/testing/wait';
import {
  createAuditProducer,
  createKafkaClient,
  createPlatformaticProducer,
  createProducerClient,
  ensureTopics,
  failureClass,
  isConnectionError,
  kafkaSettingsRefused,
  Partitioners,
  type Kafka,
  type OutRecord,
} from './index.js';
import { javaCompatiblePartitioner } from './platformatic-producer.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const FAST = { attempts: 3, initialMs: 50, maxMs: 200, minMs: 0, jitter: 'full', timeoutMs: 1_000, retryOn: { retriableFlag: true, network: true } } as const;

let seed = 21;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
/** Keys as an attacker or a real pipeline makes them: empty, ASCII, UTF-8 of every width, control bytes, every length 0-80. */
function generatedKey(i: number): string {
  const alphabet = ['a', 'Z', '0', ':', '-', '\u0000', '\u007f', 'é', 'ß', '€', '中', '😀', '\ud800', ' '];
  const n = i % 81;
  let s = i % 5 === 0 ? `sub:user-${i}` : i % 7 === 0 ? `ip:192.0.2.${i % 256}` : '';
  while (s.length < n) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
}

test('partitioner: every generated key gets the partition kafkajs DefaultPartitioner gives it, for every partition count', () => {
  const kafkajsPartition = Partitioners.DefaultPartitioner();
  const ours = javaCompatiblePartitioner();
  const counts = [1, 2, 3, 7, 12, 32, 100];
  let compared = 0;
  for (let i = 0; i < 3_000; i++) {
    const key = i % 3 === 0 ? randomBytes(i % 40) : Buffer.from(generatedKey(i));
    const raw = ours({ topic: 't', key }, key);
    for (const n of counts) {
      const partitionMetadata = Array.from({ length: n }, (_, p) => ({ partitionId: p, leader: 0 }));
      const expected = kafkajsPartition({ topic: 't', partitionMetadata, message: { key, value: null } } as never);
      // the client applies `% partitionsCount` to what the partitioner returns
      assert.equal(raw % n, expected, `key ${key.toString('hex')} over ${n} partitions`);
      compared++;
    }
  }
  assert.equal(compared, 21_000);
  // without a key: round robin, as kafkajs (never one partition for every unkeyed record)
  const unkeyed = new Set(Array.from({ length: 12 }, () => ours({ topic: 't' }, undefined) % 4));
  assert.deepEqual([...unkeyed].sort(), [0, 1, 2, 3]);
});

async function withBroker(fn: (kafka: Kafka, config: KafkaConnectionConfig, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plt-producer-'));
  const broker = await startBroker({ dir, port: 0 });
  const config = { brokers: [broker.address], clientId: 'plt-test' };
  const kafka = createKafkaClient(config, logger);
  try {
    await fn(kafka, config, dir);
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Read {
  partition: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}
async function readAll(kafka: Kafka, topic: string, expected: number): Promise<Read[]> {
  const consumer = kafka.consumer({ groupId: `reader-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 100 });
  const seen: Read[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      seen.push({ partition, key: message.key?.toString() ?? null, value: message.value, headers, timestamp: message.timestamp });
    },
  });
  await until(`${expected} records on ${topic}`, () => seen.length >= expected);
  await consumer.disconnect();
  return seen;
}

test('platformatic producer: keys land on the partitions kafkajs puts them on; keys, values, headers and timestamps as sent', async () => {
  await withBroker(async (kafka, config) => {
    await ensureTopics(kafka, [
      { topic: 'by-plt', numPartitions: 7 },
      { topic: 'by-kafkajs', numPartitions: 7 },
    ]);
    const records: OutRecord[] = Array.from({ length: 300 }, (_, i) => ({
      key: generatedKey(i + 1),
      value: randomBytes(i % 50),
      headers: { 'audit-schema-version': String(i % 3), 'x-n': `n-${i}-é` },
      timestamp: 1_700_000_000_000 + i,
    }));
    const plt = createProducerClient(config, { client: 'platformatic', logger, retry: FAST });
    const kjs = createAuditProducer(kafka, { logger });
    await plt.connect();
    await kjs.connect();
    for (let i = 0; i < records.length; i += 37) {
      await plt.send('by-plt', records.slice(i, i + 37));
      await kjs.send('by-kafkajs', records.slice(i, i + 37));
    }
    await plt.disconnect();
    await kjs.disconnect();
    const a = await readAll(kafka, 'by-plt', records.length);
    const b = await readAll(kafka, 'by-kafkajs', records.length);
    assert.equal(a.length, records.length, 'each record once');
    const partitionOf = new Map(b.map((r) => [r.key, r.partition]));
    const byN = new Map(a.map((r) => [r.headers['x-n'], r]));
    for (const [i, sent] of records.entries()) {
      const got = byN.get(`n-${i}-é`);
      assert.ok(got, `record ${i} read back`);
      assert.equal(got.key, Buffer.from(sent.key as string).toString(), 'the key as UTF-8 (a lone surrogate as U+FFFD, as kafkajs writes it)');
      assert.deepEqual(got.value, sent.value);
      assert.deepEqual(got.headers, sent.headers);
      assert.equal(got.timestamp, String(sent.timestamp));
      assert.equal(got.partition, partitionOf.get(Buffer.from(sent.key as string).toString()), `key ${JSON.stringify(sent.key)}: the partition kafkajs chose`);
    }
    assert.ok(new Set(a.map((r) => r.partition)).size === 7, 'spread over every partition');
  });
});

test('platformatic producer: idempotent; after a torn segment tail is cut, OUT_OF_ORDER_SEQUENCE_NUMBER re-creates it and the retried send lands once', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plt-torn-'));
  let broker = await startBroker({ dir, port: 0, fsync: 'always' });
  const port = broker.port;
  const config = { brokers: [broker.address], clientId: 'plt-torn' };
  const kafka = createKafkaClient(config, logger, { retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 1_000 } });
  const metrics = createMetrics({ defaultMetrics: false });
  const producer = createPlatformaticProducer(config, { logger, metrics, retry: { ...FAST, attempts: 8 } });
  try {
    await ensureTopics(kafka, [{ topic: 'torn', numPartitions: 1 }]);
    await producer.connect();
    const first = producer.raw as { producerId?: bigint };
    assert.equal(typeof first.producerId, 'bigint', 'a producer id from InitProducerId');
    for (let b = 0; b < 3; b++)
      await producer.send(
        'torn',
        Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(`${b}-${i}`) })),
      );
    await broker.close();
    const logDir = path.join(dir, 'logs', 'torn-0');
    const segment = path.join(logDir, readdirSync(logDir).find((f) => f.endsWith('.log'))!);
    truncateSync(segment, statSync(segment).size - 7);
    broker = await startBroker({ dir, port, fsync: 'always' });

    const next = Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(`3-${i}`) }));
    const failed = await until('the broker back and refusing the sequence', async () => {
      const err = await producer.send('torn', next).then(
        () => new Error('accepted'),
        (e: unknown) => e,
      );
      return err instanceof AuditError && err.code === 'AUDIT_ERR_KAFKA' ? undefined : err;
    });
    assert.ok(failed instanceof AuditError, String(failed));
    assert.equal(failed.code, 'AUDIT_ERR_KAFKA_PRODUCER_STATE');
    assert.equal(failed.retriable, true);
    assert.notEqual(producer.raw, first, 'a new producer (a new producer id)');
    await producer.send('torn', next);
    assert.match(await metrics.registry.metrics(), /audit_kafka_producer_recreated_total 1\b/);
    const admin = kafka.admin();
    await admin.connect();
    const [offsets] = await admin.fetchTopicOffsets('torn');
    await admin.disconnect();
    assert.equal(offsets!.high, '15', 'two whole batches kept, the torn one cut, the retried one appended once');
  } finally {
    await producer.disconnect().catch(() => undefined);
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("platformatic producer: a send over the broker's message.max.bytes goes in requests under it, in order", async () => {
  await withBroker(async (kafka, config) => {
    await ensureTopics(kafka, [{ topic: 'big', numPartitions: 1 }]);
    const producer = createPlatformaticProducer(config, { logger, retry: FAST });
    const records = Array.from({ length: 60 }, (_, i) => ({
      key: 'k',
      value: Buffer.alloc(100_000 + Math.floor(rand() * 50_000), i),
      headers: { i: String(i) },
    }));
    await producer.send('big', records);
    await producer.disconnect();
    const got = await readAll(kafka, 'big', records.length);
    assert.deepEqual(
      got.map((r) => r.headers.i),
      records.map((r) => r.headers.i),
      'every record, in order',
    );
  });
});

test('platformatic producer: an unreachable broker is a transient connection error; refused credentials and an untrusted certificate name the setting', async () => {
  const down = createPlatformaticProducer({ brokers: ['127.0.0.1:1'], clientId: 'down' }, { logger, retry: FAST });
  const e = await down.send('t', [{ key: 'k', value: Buffer.from('v') }]).then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(e instanceof AuditError);
  assert.equal(e.code, 'AUDIT_ERR_KAFKA');
  assert.equal(e.retriable, true);
  assert.ok(isConnectionError(e), 'the dependency state sees an outage');
  await down.disconnect();

  const pki = makeTestPki();
  const stranger = makeTestPki();
  const dir = mkdtempSync(path.join(tmpdir(), 'plt-secured-'));
  const broker = await startBroker({
    dir,
    port: 0,
    sasl: { users: { audit: 'right-pw' }, mechanisms: ['SCRAM-SHA-512'] },
    tls: { key: pki.key, cert: pki.cert },
  });
  const secured = (over: Partial<KafkaConnectionConfig>): KafkaConnectionConfig => ({
    brokers: [broker.address],
    clientId: 'secured',
    tls: { caFile: pki.caFile },
    sasl: { mechanism: 'scram-sha-512', username: 'audit', password: 'right-pw' },
    ...over,
  });
  const attempt = async (config: KafkaConnectionConfig) => {
    const p = createPlatformaticProducer(config, { logger, retry: FAST });
    try {
      await p.connect();
      return undefined;
    } catch (err) {
      return err;
    } finally {
      await p.disconnect().catch(() => undefined);
    }
  };
  try {
    await ensureTopics(createKafkaClient(secured({}), logger), [{ topic: 'ok', numPartitions: 2 }]);
    const good = createPlatformaticProducer(secured({}), { logger, retry: FAST });
    await good.send('ok', [{ key: 'k', value: Buffer.from('over SASL_SSL') }]);
    await good.disconnect();
    const cases: Array<[string, Partial<KafkaConnectionConfig>, RegExp]> = [
      ['wrong password', { sasl: { mechanism: 'scram-sha-512', username: 'audit', password: 'wrong' } }, /AUDIT_KAFKA_SASL_PASSWORD/],
      ['unknown user', { sasl: { mechanism: 'scram-sha-512', username: 'mallory', password: 'right-pw' } }, /AUDIT_KAFKA_SASL_USERNAME/],
      ['mechanism not offered', { sasl: { mechanism: 'scram-sha-256', username: 'audit', password: 'right-pw' } }, /AUDIT_KAFKA_SASL_MECHANISM/],
      ['untrusted CA', { tls: { caFile: stranger.caFile } }, /AUDIT_KAFKA_SSL_CA_FILE/],
    ];
    for (const [what, over, re] of cases) {
      const config = secured(over);
      const err = await attempt(config);
      assert.ok(err instanceof AuditError, `${what}: refused`);
      assert.equal(failureClass(err), 'fatal', `${what}: never retried as if it would heal`);
      const refused = kafkaSettingsRefused(err.cause, config);
      assert.ok(refused, `${what}: a refused setting`);
      assert.match(refused.message, re, what);
      assert.ok(!refused.message.includes(config.sasl!.password), `${what}: no password in the message`);
      assert.ok(!isConnectionError(err), `${what}: not reported as an outage`);
    }
  } finally {
    await broker.close();
    for (const d of [dir, pki.dir, stranger.dir]) rmSync(d, { recursive: true, force: true });
  }
});

// kafkajs' table of Kafka's error codes, the reference for what each code means to a stage
const { errorCodes, createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error') as {
  errorCodes: Array<{ type: string; code: number }>;
  createErrorFromCode(code: number): Error;
};

test('errors: every protocol error @platformatic/kafka raises, bare, in a response, after retries, gets the class kafkajs gets for the same code', () => {
  const byId = protocolErrors as unknown as Record<string, { code: number }>;
  let checked = 0;
  for (const [id, { code }] of Object.entries(byId)) {
    if (code <= 0 || !errorCodes.some((c) => c.code === code)) continue;
    const expected = failureClass(createErrorFromCode(code));
    const bare = new ProtocolError(id);
    const inResponse = new ResponseError(0, 9, { '/topics/0/partitions/0': [code, null] }, {});
    const afterRetries = new MultipleErrors('produce failed 3 times.', [new Error('Connection closed'), inResponse]);
    for (const [how, err] of [
      ['bare', bare],
      ['in a response', inResponse],
      ['after retries', afterRetries],
    ] as const) {
      assert.equal(failureClass(err), expected, `${id} (${code}) ${how}`);
    }
    checked++;
  }
  assert.ok(checked >= 80, `${checked} codes compared`);
});
