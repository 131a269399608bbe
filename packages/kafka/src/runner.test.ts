import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { alertCodec, deadLetterCodec, eventCodec, readSchemaFile, newId, type AuditEvent, TOPICS } from '@jwt-audit/events';
import { AuditError, createLogger, createMetrics } from '@jwt-audit/runtime';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import {
  DEAD_LETTER_RATE_RULE,
  createKafkaClient,
  createAuditProducer,
  createConsumerRunner,
  createTransformStage,
  ensureTopics,
  fromKafkaError,
  type InputRecord,
} from './index.js';
import { DeadLetterRate } from './runner.js';
import { until as waitFor } from '@jwt-audit/runtime/testing/wait';

const codeError = (code: number) =>
  (createRequire(import.meta.url)('kafkajs/src/protocol/error') as { createErrorFromCode(c: number): Error }).createErrorFromCode(code);

const logger = createLogger({ name: 'test', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let broker: Awaited<ReturnType<typeof startBroker>>;
let dir: string;
let kafka: Kafka;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kafka-runner-'));
  broker = await startBroker({ dir, port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'runner-test' }, logger);
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

const example = readSchemaFile('examples/http.exchange.json') as AuditEvent;
const event = (sub: string, n: number): AuditEvent => ({ ...example, id: newId(), actor: { ...example.actor, sub }, attributes: { n: String(n) } });

async function readAll(topic: string, expected: number): Promise<InputRecord[]> {
  const consumer = kafka.consumer({ groupId: `reader-${newId()}`, maxWaitTimeInMs: 100 });
  const seen: InputRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      seen.push({
        topic: t,
        partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        headers: message.headers as Record<string, Buffer>,
        timestamp: Number(message.timestamp),
      });
    },
  });
  await waitFor(`${expected} records on ${topic}`, () => (seen.length >= expected ? true : undefined));
  await consumer.disconnect();
  return seen;
}

test('transform stage: every event transformed once, keyed by subject; a poison record goes to the DLQ with its origin', async () => {
  const input = `t.in.${newId()}`;
  const output = `t.out.${newId()}`;
  await ensureTopics(kafka, [
    { topic: input, numPartitions: 3 },
    { topic: output, numPartitions: 3 },
    { topic: TOPICS.dlq, numPartitions: 1 },
  ]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  const events = Array.from({ length: 30 }, (_, i) => event(`user-${i % 5}`, i));
  await producer.send(
    input,
    events.map((e) => ({ key: `sub:${e.actor.sub}`, ...eventCodec.encode(e) })),
  );
  await producer.send(input, [{ key: 'sub:user-0', value: Buffer.from('not avro at all') }]);

  const stage = createTransformStage({
    kafka,
    groupId: `g-${newId()}`,
    stage: 'test-stage',
    inputTopic: input,
    outputTopic: output,
    logger,
    producer,
    transform: (e) => ({ ...e, attributes: { ...e.attributes, seen: 'yes' } }),
  });
  await stage.start();
  try {
    const out = await readAll(output, 30);
    assert.equal(out.length, 30);
    const decoded = out.map((r) => ({ key: r.key!.toString(), e: eventCodec.decode(r.value!, r.headers) }));
    assert.deepEqual(new Set(decoded.map((d) => d.e.id)), new Set(events.map((e) => e.id)));
    for (const d of decoded) {
      assert.equal(d.e.attributes.seen, 'yes');
      assert.equal(d.key, `sub:${d.e.actor.sub}`);
    }
    // one subject's events stay in order
    const forUser0 = decoded.filter((d) => d.e.actor.sub === 'user-0').map((d) => Number(d.e.attributes.n));
    assert.deepEqual(
      forUser0,
      [...forUser0].sort((a, b) => a - b),
    );

    const dlq = (await readAll(TOPICS.dlq, 1)).map((r) => deadLetterCodec.decode(r.value!, r.headers)).filter((d) => d.originTopic === input);
    assert.equal(dlq.length, 1);
    assert.equal(dlq[0]!.stage, 'test-stage');
    assert.equal(dlq[0]!.code, 'AUDIT_ERR_UNDECODABLE');
    assert.equal(dlq[0]!.payload!.toString(), 'not avro at all');
    assert.equal(dlq[0]!.originKey!.toString(), 'sub:user-0');
  } finally {
    await stage.stop();
    await producer.disconnect();
  }
});

test('transform stage: an async transform is awaited, and its rejection dead-letters that record only', async () => {
  const input = `t.in.${newId()}`;
  const output = `t.out.${newId()}`;
  await ensureTopics(kafka, [
    { topic: input, numPartitions: 1 },
    { topic: output, numPartitions: 1 },
    { topic: TOPICS.dlq, numPartitions: 1 },
  ]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  const events = Array.from({ length: 6 }, (_, i) => event('user-async', i));
  await producer.send(
    input,
    events.map((e) => ({ key: 'sub:user-async', ...eventCodec.encode(e) })),
  );
  const stage = createTransformStage({
    kafka,
    groupId: `g-${newId()}`,
    stage: 'async-stage',
    inputTopic: input,
    outputTopic: output,
    logger,
    producer,
    transform: async (e) => {
      await new Promise((r) => setTimeout(r, 1));
      if (e.attributes.n === '3') throw new AuditError('AUDIT_ERR_TEST', 'refused by the transform');
      return { ...e, attributes: { ...e.attributes, seen: 'async' } };
    },
  });
  await stage.start();
  try {
    const out = (await readAll(output, 5)).map((r) => eventCodec.decode(r.value!, r.headers));
    assert.deepEqual(
      out.map((e) => e.attributes),
      ['0', '1', '2', '4', '5'].map((n) => ({ n, seen: 'async' })),
    );
    const dlq = (await readAll(TOPICS.dlq, 1)).map((r) => deadLetterCodec.decode(r.value!, r.headers)).filter((d) => d.originTopic === input);
    assert.equal(dlq.length, 1);
    assert.equal(dlq[0]!.code, 'AUDIT_ERR_TEST');
  } finally {
    await stage.stop();
    await producer.disconnect();
  }
});

test('runner: a retriable sink failure is retried; offsets are committed only after success', async () => {
  const topic = `t.retry.${newId()}`;
  const groupId = `g-${newId()}`;
  await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  await producer.send(
    topic,
    Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })),
  );
  let failuresLeft = 2;
  const sunk: string[] = [];
  const admin = kafka.admin();
  await admin.connect();
  const committed = async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset;

  const runner = createConsumerRunner({
    kafka,
    groupId,
    topics: [topic],
    stage: 'sink',
    logger,
    producer,
    retry: { initialMs: 20, maxMs: 50 },
    handler: async (records) => {
      if (failuresLeft > 0) {
        failuresLeft--;
        assert.equal(await committed(), '-1', 'nothing committed while the sink fails');
        throw new AuditError('AUDIT_ERR_SINK_DOWN', 'sink unavailable', { retriable: true });
      }
      sunk.push(...records.map((r) => r.value!.toString()));
    },
  });
  await runner.start();
  try {
    await waitFor('10 records sunk', () => (sunk.length >= 10 ? true : undefined));
    await waitFor('commit', async () => ((await committed()) === '10' ? true : undefined));
    assert.deepEqual(sunk, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(failuresLeft, 0);
  } finally {
    await runner.stop();
    await admin.disconnect();
    await producer.disconnect();
  }
  assert.equal(runner.health().state, 'stopped');
});

test('runner: a batch failing for good is split; only the bad record is dead-lettered', async () => {
  const topic = `t.split.${newId()}`;
  await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  await producer.send(
    topic,
    ['a', 'b', 'poison', 'c'].map((v) => ({ key: null, value: Buffer.from(v) })),
  );
  const sunk: string[] = [];
  const runner = createConsumerRunner({
    kafka,
    groupId: `g-${newId()}`,
    topics: [topic],
    stage: 'splitter',
    logger,
    producer,
    handler: async (records) => {
      if (records.some((r) => r.value!.toString() === 'poison')) throw new AuditError('AUDIT_ERR_MAPPING', 'cannot map poison');
      sunk.push(...records.map((r) => r.value!.toString()));
    },
  });
  await runner.start();
  try {
    await waitFor('3 good records', () => (sunk.length >= 3 ? true : undefined));
    const letters = await waitFor('the dead letter', async () => {
      const all = (await readAll(TOPICS.dlq, 1)).map((r) => deadLetterCodec.decode(r.value!, r.headers)).filter((d) => d.originTopic === topic);
      return all.length > 0 ? all : undefined;
    });
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.originOffset, 2);
    assert.equal(letters[0]!.code, 'AUDIT_ERR_MAPPING');
    assert.equal(letters[0]!.reason, 'cannot map poison');
    assert.deepEqual(sunk.sort(), ['a', 'b', 'c']);
  } finally {
    await runner.stop();
    await producer.disconnect();
  }
});

test('runner: a commit refused because the session expired (unknown member) rejoins and resumes; nothing lost, the process never left without a consumer', async () => {
  const topic = `t.rejoin.${newId()}`;
  const groupId = `g-${newId()}`;
  await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  await producer.send(
    topic,
    Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })),
  );
  const sunk: string[] = [];
  let stalled = false;
  const crashes: unknown[] = [];
  const metrics = createMetrics({ defaultMetrics: false });
  const runner = createConsumerRunner({
    kafka,
    groupId,
    topics: [topic],
    stage: 'rejoin',
    logger,
    producer,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 1_000,
    metrics,
    onFailure: (err) => crashes.push(err),
    handler: async (records) => {
      if (!stalled) {
        // longer than the session without a heartbeat: the broker removes the member, and the
        // commit that follows is answered UNKNOWN_MEMBER_ID (or ILLEGAL_GENERATION)
        stalled = true;
        await new Promise((r) => setTimeout(r, 9_000));
      }
      sunk.push(...records.map((r) => r.value!.toString()));
    },
  });
  const admin = kafka.admin();
  await admin.connect();
  await runner.start();
  try {
    await waitFor(
      'the batch redone and committed',
      async () => ((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset === '20' ? true : undefined),
      45_000,
    );
    assert.deepEqual(new Set(sunk), new Set(Array.from({ length: 20 }, (_, i) => String(i))), 'every record sunk');
    assert.ok(sunk.length > 20, `the uncommitted batch was delivered again after the rejoin (${sunk.length} records sunk)`);
    assert.deepEqual(crashes, [], 'the consumer was never given up');
    assert.match(await metrics.registry.metrics(), /audit_rejoin_rejoins_total 1\b/, 'the refused commit handed the rebalance back to kafkajs, which rejoined');
    await waitFor('healthy again', () => (runner.health().ok ? true : undefined));
    assert.equal(runner.health().state, 'running');
  } finally {
    await runner.stop();
    await admin.disconnect();
    await producer.disconnect();
  }
});

test('runner: a dead-letter rate above the threshold turns health unhealthy, and it recovers when the rate falls', async () => {
  const topic = `t.dlrate.${newId()}`;
  await ensureTopics(kafka, [
    { topic, numPartitions: 1 },
    { topic: TOPICS.dlq, numPartitions: 1 },
    { topic: TOPICS.alerts, numPartitions: 1 },
  ]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  await producer.send(
    topic,
    Array.from({ length: 30 }, (_, i) => ({ key: 'k', value: Buffer.from(i % 3 === 0 ? 'ok' : 'poison') })),
  );
  const runner = createConsumerRunner({
    kafka,
    groupId: `g-${newId()}`,
    topics: [topic],
    stage: 'dlrate',
    logger,
    producer,
    deadLetterAlert: { ratio: 0.05, windowMs: 3_000, minCount: 5 },
    handler: async (records) => ({
      deadLetters: records
        .filter((r) => r.value!.toString() === 'poison')
        .map((record) => ({ record, error: new AuditError('AUDIT_ERR_TEST_POISON', 'poison') })),
    }),
  });
  await runner.start();
  try {
    const unhealthy = await waitFor('unhealthy', () => (runner.health().ok ? undefined : runner.health()));
    assert.match(unhealthy.lastError ?? '', /dead-letter rate above 0\.05/);
    // nothing more comes: after the window the rate is 0 again
    await waitFor('healthy after the window', () => (runner.health().ok ? true : undefined), 15_000);
    // every batch done: one alert any alerting consumer of audit.alerts.v1 sees, naming the dead letters
    const alerts = (await readAll(TOPICS.alerts, 1)).map((r) => alertCodec.decode(r.value!, r.headers as never));
    const letters = (await readAll(TOPICS.dlq, 20)).map((r) => deadLetterCodec.decode(r.value!, r.headers as never));
    const mine = alerts.filter((a) => a.attributes['pipeline.topic'] === topic);
    assert.equal(mine.length, 1, 'one alert while the rate stays above the threshold, not one per batch');
    const [alert] = mine;
    assert.equal(alert!.rule, DEAD_LETTER_RATE_RULE);
    assert.equal(alert!.severity, 'high');
    assert.equal(alert!.attributes['pipeline.stage'], 'dlrate');
    assert.ok(alert!.count >= 5 && alert!.evidence.length > 0);
    const ids = new Set(letters.filter((l) => l.originTopic === topic).map((l) => l.id));
    for (const id of alert!.evidence) assert.ok(ids.has(id), `evidence ${id} is a dead letter of audit.dlq.v1`);
  } finally {
    await runner.stop();
    await producer.disconnect();
  }
});

test('runner: a batch failing for a reason that is not the record (sink down, a non-retriable Kafka error) is held and retried, never dead-lettered', async () => {
  const topic = `t.hold.${newId()}`;
  const groupId = `g-${newId()}`;
  await ensureTopics(kafka, [
    { topic, numPartitions: 1 },
    { topic: TOPICS.dlq, numPartitions: 1 },
  ]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  await producer.send(
    topic,
    Array.from({ length: 6 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })),
  );
  const { KafkaJSNonRetriableError } = kafkajs;
  // what the masker met (issue #28): a sequence error, an unreachable broker, then a fatal one
  const failures = [
    fromKafkaError(codeError(45), 'producing'),
    fromKafkaError(new KafkaJSNonRetriableError(new Error('connect ECONNREFUSED 127.0.0.1:1')), 'producing'),
    new AuditError('AUDIT_ERR_ES_UNAUTHORIZED', 'HTTP 401', { retriable: true }),
  ];
  const sunk: string[] = [];
  const metrics = createMetrics({ defaultMetrics: false });
  const runner = createConsumerRunner({
    kafka,
    groupId,
    topics: [topic],
    stage: 'hold',
    logger,
    producer,
    retry: { initialMs: 20, maxMs: 200 },
    metrics,
    handler: async (records) => {
      const f = failures.shift();
      if (f) throw f;
      sunk.push(...records.map((r) => r.value!.toString()));
    },
  });
  const admin = kafka.admin();
  await admin.connect();
  await runner.start();
  try {
    await waitFor('committed', async () => ((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset === '6' ? true : undefined));
    assert.deepEqual(sunk, ['0', '1', '2', '3', '4', '5']);
    assert.equal(failures.length, 0);
    const text = await metrics.registry.metrics();
    assert.match(text, /audit_hold_records_total\{outcome="processed"\} 6\b/);
    assert.doesNotMatch(text, /outcome="dead_lettered"/, 'nothing dead-lettered');
    assert.match(text, /audit_hold_retries_total 3\b/, 'each failure backed off and retried the same batch');
  } finally {
    await runner.stop();
    await admin.disconnect();
    await producer.disconnect();
  }
});

test('dead-letter rate: generated sequences agree with counting every record of the window', () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let run = 0; run < 200; run++) {
    const windowMs = 1_000 * (1 + Math.floor(random() * 10));
    const ratio = [0, 0.01, 0.1, 0.5][Math.floor(random() * 4)]!;
    const minCount = Math.floor(random() * 20);
    const rate = new DeadLetterRate(windowMs, ratio, minCount);
    const events: Array<{ at: number; total: number; dead: number }> = [];
    let now = 1_700_000_000_000 + Math.floor(random() * 1_000);
    for (let i = 0; i < 60; i++) {
      now += Math.floor(random() * 1_500);
      const total = Math.floor(random() * 50);
      const dead = Math.floor(random() * (total + 1) * random());
      rate.add(total, dead, now);
      events.push({ at: now, total, dead });
      // the oracle: the buckets of whole seconds after (now - window)
      const inWindow = events.filter((e) => Math.floor(e.at / 1000) > Math.floor((now - windowMs) / 1000));
      const t = inWindow.reduce((n, e) => n + e.total, 0);
      const d = inWindow.reduce((n, e) => n + e.dead, 0);
      assert.deepEqual(rate.read(now), { total: t, dead: d, above: d >= minCount && d > ratio * t }, `run ${run} step ${i}`);
    }
  }
});
