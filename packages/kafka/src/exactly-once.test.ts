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
import {
  createKafkaClient,
  createAuditProducer,
  createConsumerRunner,
  createTransformStage,
  ensureTopics,
  type InputRecord,
  type TransactionScope,
} from './index.js';

// The transactional consume-transform-produce path (issue #27 item 2): outputs, dead letters and
// the input offset commit together, so an attempt that fails after producing leaves nothing a
// read_committed reader sees.

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let broker: Awaited<ReturnType<typeof startBroker>>;
let dir: string;
let kafka: Kafka;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kafka-eos-'));
  broker = await startBroker({ dir, port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'eos-test' }, logger);
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

const example = readSchemaFile('examples/http.exchange.json') as AuditEvent;
const event = (sub: string, n: number): AuditEvent => ({ ...example, id: newId(), actor: { ...example.actor, sub }, attributes: { n: String(n) } });

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every record of `topic` up to its end (read_committed: up to the last stable offset, which must reach the end). */
async function readToEnd(topic: string, readUncommitted = false): Promise<InputRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `reader-${newId()}`, maxWaitTimeInMs: 100, readUncommitted });
  const seen: InputRecord[] = [];
  const reached = new Map<number, number>();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages)
        seen.push({
          topic,
          partition: batch.partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: message.headers as Record<string, Buffer>,
          timestamp: Number(message.timestamp),
        });
      // control records advance the batch past its last message: lastOffset() counts them
      reached.set(batch.partition, Number(batch.lastOffset()) + 1);
    },
  });
  await waitFor(`${topic} read to its end`, () => ([...ends].every(([p, end]) => end === 0 || (reached.get(p) ?? 0) >= end - 1) ? true : undefined));
  await consumer.disconnect();
  return seen;
}

test('a stage that fails after producing, every first attempt of a batch: at-least-once repeats the outputs, the transactional path shows each once (the aborted copies only to read_uncommitted)', async () => {
  const results: Record<string, { committed: number; uncommitted: number; unique: number }> = {};
  for (const exactlyOnce of [false, true]) {
    const input = `eos.in.${newId()}`;
    const output = `eos.out.${newId()}`;
    await ensureTopics(kafka, [
      { topic: input, numPartitions: 2 },
      { topic: output, numPartitions: 2 },
    ]);
    const feeder = createAuditProducer(kafka, { logger });
    await feeder.connect();
    const events = Array.from({ length: 200 }, (_, i) => event(`user-${i % 7}`, i));
    await feeder.send(
      input,
      events.map((e) => ({ key: `sub:${e.actor.sub}`, ...eventCodec.encode(e) })),
    );
    await feeder.disconnect();
    const producer = createAuditProducer(kafka, { logger, ...(exactlyOnce ? { transactionalId: `eos-${newId()}` } : {}) });
    const groupId = `g-${newId()}`;
    const attempts = new Map<string, number>();
    const runner = createConsumerRunner({
      kafka,
      groupId,
      topics: [input],
      stage: 'eos-test',
      logger,
      producer,
      retry: { initialMs: 10, maxMs: 50 },
      async handler(records) {
        await producer.send(
          output,
          records.map((r) => ({ key: r.key, value: r.value, headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v!.toString()])) })),
        );
        const key = `${records[0]!.partition}:${records[0]!.offset}`;
        const n = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, n);
        // the output is written; the stage "crashes" before it can commit the input offset
        if (n === 1) throw new AuditError('AUDIT_ERR_TEST_SINK', 'failed after producing', { retriable: true });
      },
    });
    await runner.start();
    const admin = kafka.admin();
    await admin.connect();
    await waitFor('the group committed every input record', async () => {
      const [c] = await admin.fetchOffsets({ groupId, topics: [input] });
      const total = c!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      return total === events.length ? true : undefined;
    });
    await admin.disconnect();
    await runner.stop();
    await producer.disconnect();
    const ids = (rs: InputRecord[]) => rs.map((r) => eventCodec.decode(r.value!, r.headers).id);
    const committed = ids(await readToEnd(output));
    const uncommitted = ids(await readToEnd(output, true));
    assert.deepEqual(new Set(committed), new Set(events.map((e) => e.id)), 'every event reaches the output');
    results[exactlyOnce ? 'transactional' : 'at-least-once'] = {
      committed: committed.length,
      uncommitted: uncommitted.length,
      unique: new Set(committed).size,
    };
  }
  const alo = results['at-least-once']!;
  const eos = results.transactional!;
  assert.ok(alo.committed > alo.unique, `at-least-once repeats what a failed attempt produced (${alo.committed} read, ${alo.unique} distinct)`);
  assert.equal(eos.committed, eos.unique, 'transactional: each event read once by read_committed');
  assert.ok(eos.uncommitted > eos.committed, `the aborted attempts were written (${eos.uncommitted} read uncommitted): they are hidden, not avoided`);
});

test('transactional transform stage: the poison record goes to the DLQ in the same transaction, the rest once, and the group offset is at the end', async () => {
  const input = `eos.t.in.${newId()}`;
  const output = `eos.t.out.${newId()}`;
  await ensureTopics(kafka, [
    { topic: input, numPartitions: 1 },
    { topic: output, numPartitions: 1 },
    { topic: TOPICS.dlq, numPartitions: 1 },
  ]);
  const feeder = createAuditProducer(kafka, { logger });
  await feeder.connect();
  const events = Array.from({ length: 40 }, (_, i) => event('user-dlq', i));
  await feeder.send(input, [
    ...events.slice(0, 20).map((e) => ({ key: 'sub:user-dlq', ...eventCodec.encode(e) })),
    { key: 'sub:user-dlq', value: Buffer.from('not avro') },
    ...events.slice(20).map((e) => ({ key: 'sub:user-dlq', ...eventCodec.encode(e) })),
  ]);
  await feeder.disconnect();
  const producer = createAuditProducer(kafka, { logger, transactionalId: `eos-stage-${newId()}` });
  const groupId = `g-${newId()}`;
  const stage = createTransformStage({
    kafka,
    groupId,
    stage: 'eos-stage',
    inputTopic: input,
    outputTopic: output,
    logger,
    producer,
    transform: (e) => {
      if (e.attributes.n === '33') throw new AuditError('AUDIT_ERR_TEST', 'refused by the transform');
      return { ...e, attributes: { ...e.attributes, seen: 'eos' } };
    },
  });
  await stage.start();
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor('the group at the end of the input', async () => {
      const [c] = await admin.fetchOffsets({ groupId, topics: [input] });
      return c!.partitions[0]!.offset === '41' ? true : undefined;
    });
    const out = (await readToEnd(output)).map((r) => eventCodec.decode(r.value!, r.headers));
    assert.deepEqual(
      out.map((e) => Number(e.attributes.n)),
      [...Array(40).keys()].filter((n) => n !== 33),
      'every other event once, in order',
    );
    const dlq = (await readToEnd(TOPICS.dlq)).map((r) => deadLetterCodec.decode(r.value!, r.headers)).filter((d) => d.originTopic === input);
    assert.deepEqual(dlq.map((d) => d.code).sort(), ['AUDIT_ERR_TEST', 'AUDIT_ERR_UNDECODABLE']);
    assert.deepEqual(
      dlq.map((d) => d.originOffset).sort((a, b) => a - b),
      [20, 34],
    );
  } finally {
    await admin.disconnect();
    await stage.stop();
    await producer.disconnect();
  }
});

test('a transactional producer fenced by a newer instance of the same id is replaced, and its batch is redone once', async () => {
  const topic = `eos.fence.${newId()}`;
  await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
  const id = `eos-fence-${newId()}`;
  const a = createAuditProducer(kafka, { logger, transactionalId: id });
  await a.transaction!(() => a.send(topic, [{ key: 'k', value: Buffer.from('first') }]));
  const b = createAuditProducer(kafka, { logger, transactionalId: id });
  await b.transaction!(() => b.send(topic, [{ key: 'k', value: Buffer.from('second') }]));
  // a is fenced: its transaction fails with a producer-state error and a new producer takes over
  await assert.rejects(
    a.transaction!(() => a.send(topic, [{ key: 'k', value: Buffer.from('zombie') }])),
    (err: AuditError) => err.code === 'AUDIT_ERR_KAFKA_PRODUCER_STATE',
  );
  await a.transaction!(() => a.send(topic, [{ key: 'k', value: Buffer.from('third') }]));
  const values = (await readToEnd(topic)).map((r) => r.value!.toString());
  assert.deepEqual(values, ['first', 'second', 'third']);
  await a.disconnect();
  await b.disconnect();
});

test('two transactional stages in a chain (as masker -> enricher), every other transaction of each failing after producing: the second reads only committed records and the end holds each event once', async () => {
  const [input, middle, output] = [`eos.c.in.${newId()}`, `eos.c.mid.${newId()}`, `eos.c.out.${newId()}`];
  await ensureTopics(
    kafka,
    [input, middle, output].map((topic) => ({ topic, numPartitions: 2 })),
  );
  const feeder = createAuditProducer(kafka, { logger });
  await feeder.connect();
  const events = Array.from({ length: 150 }, (_, i) => event(`user-${i % 5}`, i));
  await feeder.send(
    input,
    events.map((e) => ({ key: `sub:${e.actor.sub}`, ...eventCodec.encode(e) })),
  );
  await feeder.disconnect();
  const stages = [
    [input, middle],
    [middle, output],
  ].map(([from, to], i) => {
    const producer = createAuditProducer(kafka, { logger, transactionalId: `eos-chain-${i}-${newId()}` });
    const stage = createTransformStage({
      kafka,
      groupId: `g-chain-${i}-${newId()}`,
      stage: `chain-${i}`,
      inputTopic: from!,
      outputTopic: to!,
      logger,
      producer,
      transform: (e) => ({ ...e, attributes: { ...e.attributes, [`stage${i}`]: 'yes' } }),
    });
    // every other transaction fails after its batch's output was produced (a sink that failed, a crash before commit): aborted, redone
    const inner = producer.transaction!.bind(producer);
    let n = 0;
    producer.transaction = <T>(fn: (tx: TransactionScope) => Promise<T>) =>
      inner<T>(async (tx) => {
        const r = await fn(tx);
        if (++n % 2 === 1) throw new AuditError('AUDIT_ERR_TEST_SINK', 'failed after producing', { retriable: true });
        return r;
      });
    return { stage, producer };
  });
  for (const s of stages) await s.stage.start();
  try {
    await waitFor('every event through both stages', async () => ((await readToEnd(output)).length >= events.length ? true : undefined), 60_000);
    const out = (await readToEnd(output)).map((r) => eventCodec.decode(r.value!, r.headers));
    assert.equal(out.length, events.length, 'each event once at the end of the chain');
    assert.deepEqual(new Set(out.map((e) => e.id)), new Set(events.map((e) => e.id)));
    for (const e of out) assert.deepEqual([e.attributes.stage0, e.attributes.stage1], ['yes', 'yes']);
    const middleAll = await readToEnd(middle, true);
    assert.ok(
      middleAll.length > events.length,
      `the first stage's aborted attempts were written (${middleAll.length} records read_uncommitted) and the second never read them`,
    );
  } finally {
    for (const s of stages) {
      await s.stage.stop();
      await s.producer.disconnect();
    }
  }
});
