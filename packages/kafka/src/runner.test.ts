import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { deadLetterCodec, eventCodec, readSchemaFile, newId, type AuditEvent, TOPICS } from '@jwt-audit/events';
import { AuditError, createLogger } from '@jwt-audit/runtime';
import { createKafkaClient, createAuditProducer, createConsumerRunner, createTransformStage, ensureTopics, type InputRecord } from './index.js';

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

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function readAll(topic: string, expected: number): Promise<InputRecord[]> {
  const consumer = kafka.consumer({ groupId: `reader-${newId()}`, maxWaitTimeInMs: 100 });
  const seen: InputRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      seen.push({ topic: t, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers as Record<string, Buffer>, timestamp: Number(message.timestamp) });
    },
  });
  await waitFor(`${expected} records on ${topic}`, () => (seen.length >= expected ? true : undefined));
  await consumer.disconnect();
  return seen;
}

test('transform stage: every event transformed once, keyed by subject; a poison record goes to the DLQ with its origin', async () => {
  const input = `t.in.${newId()}`;
  const output = `t.out.${newId()}`;
  await ensureTopics(kafka, [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }, { topic: TOPICS.dlq, numPartitions: 1 }]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  const events = Array.from({ length: 30 }, (_, i) => event(`user-${i % 5}`, i));
  await producer.send(input, events.map((e) => ({ key: `sub:${e.actor.sub}`, ...eventCodec.encode(e) })));
  await producer.send(input, [{ key: 'sub:user-0', value: Buffer.from('not avro at all') }]);

  const stage = createTransformStage({
    kafka, groupId: `g-${newId()}`, stage: 'test-stage', inputTopic: input, outputTopic: output, logger, producer,
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
    assert.deepEqual(forUser0, [...forUser0].sort((a, b) => a - b));

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
  await ensureTopics(kafka, [{ topic: input, numPartitions: 1 }, { topic: output, numPartitions: 1 }, { topic: TOPICS.dlq, numPartitions: 1 }]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  const events = Array.from({ length: 6 }, (_, i) => event('user-async', i));
  await producer.send(input, events.map((e) => ({ key: 'sub:user-async', ...eventCodec.encode(e) })));
  const stage = createTransformStage({
    kafka, groupId: `g-${newId()}`, stage: 'async-stage', inputTopic: input, outputTopic: output, logger, producer,
    transform: async (e) => {
      await new Promise((r) => setTimeout(r, 1));
      if (e.attributes.n === '3') throw new AuditError('AUDIT_ERR_TEST', 'refused by the transform');
      return { ...e, attributes: { ...e.attributes, seen: 'async' } };
    },
  });
  await stage.start();
  try {
    const out = (await readAll(output, 5)).map((r) => eventCodec.decode(r.value!, r.headers));
    assert.deepEqual(out.map((e) => e.attributes), ['0', '1', '2', '4', '5'].map((n) => ({ n, seen: 'async' })));
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
  await producer.send(topic, Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })));
  let failuresLeft = 2;
  const sunk: string[] = [];
  const admin = kafka.admin();
  await admin.connect();
  const committed = async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset;

  const runner = createConsumerRunner({
    kafka, groupId, topics: [topic], stage: 'sink', logger, producer, retry: { initialMs: 20, maxMs: 50 },
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
  await producer.send(topic, ['a', 'b', 'poison', 'c'].map((v) => ({ key: null, value: Buffer.from(v) })));
  const sunk: string[] = [];
  const runner = createConsumerRunner({
    kafka, groupId: `g-${newId()}`, topics: [topic], stage: 'splitter', logger, producer,
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
