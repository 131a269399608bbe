import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type ConfigResourceTypes } from 'kafkajs';

// kafkajs' ConfigResourceTypes enum is not an ES export: its values (Kafka's resource types).
const TOPIC = 2 as ConfigResourceTypes;
const BROKER = 4 as ConfigResourceTypes;
import { startBroker, type Broker } from '../index.js';
import { Reader, Writer } from './primitives.js';
import { RawConnection } from '../testdata/wire.js';

// The admin APIs through kafkajs' admin client, and flexible versions (KIP-482) on the wire.

let broker: Broker;
let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-admin-'));
  broker = await startBroker({ dir, port: 0 });
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});
const kafka = () => new Kafka({ brokers: [broker.address], clientId: 'admin-test', logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50 } });

test('ApiVersions v3 (flexible, KIP-511): compact array and tagged fields, response header v0; every API listed once with its range', async () => {
  const c = await RawConnection.open(broker.port);
  const body = new Writer().str(true, 'test-client').str(true, '1.0').tags(true).toBuffer();
  for (const v of [3, 4]) {
    const r = new Reader(await c.request(18, v, Buffer.from(body), true));
    assert.equal(r.int16(), 0);
    const apis = r.arr(true, (x) => {
      const a = { key: x.int16(), min: x.int16(), max: x.int16() };
      x.tags(true);
      return a;
    });
    r.int32();
    r.skipTaggedFields();
    assert.equal(r.remaining(), 0, 'nothing left over');
    const byKey = new Map(apis.map((a) => [a.key, a]));
    assert.equal(byKey.size, apis.length);
    for (const [key, min, max] of [
      [0, 0, 11],
      [1, 0, 17],
      [2, 0, 8],
      [3, 0, 12],
      [23, 0, 4],
      [8, 0, 9],
      [9, 0, 9],
      [10, 0, 6],
      [11, 0, 9],
      [12, 0, 4],
      [13, 0, 5],
      [14, 0, 5],
      [15, 0, 5],
      [16, 0, 5],
      [18, 0, 4],
      [19, 0, 7],
      [20, 0, 6],
      [21, 0, 2],
      [22, 0, 5],
      [32, 0, 4],
      [33, 0, 2],
      [37, 0, 3],
      [42, 0, 2],
      [44, 0, 1],
    ] as const) {
      assert.deepEqual(byKey.get(key), { key, min, max }, `api ${key}`);
    }
  }
  c.close();
});

test('CreatePartitions grows a topic (never shrinks it: INVALID_PARTITIONS); records go to the new partitions', async () => {
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'growing', numPartitions: 2 }] });
  await admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 5 }] });
  assert.equal((await admin.fetchTopicMetadata({ topics: ['growing'] })).topics[0]!.partitions.length, 5);
  await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 3 }] }), /partitions|INVALID_PARTITIONS/i);
  await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 5 }] }));
  await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'no-such-topic', count: 5 }] }));
  const producer = kafka().producer();
  await producer.connect();
  await producer.send({ topic: 'growing', messages: [{ partition: 4, value: 'in a new partition' }] });
  await producer.disconnect();
  assert.equal((await admin.fetchTopicOffsets('growing')).find((p) => p.partition === 4)!.high, '1');
  await admin.disconnect();
});

test("DescribeConfigs reports a topic's configs with their source; AlterConfigs replaces them (validated as CreateTopics does) and the broker applies them", async () => {
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'configured', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
  const describe = async () => (await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC, name: 'configured' }] })).resources[0]!;
  let res = await describe();
  const entry = (n: string) => res.configEntries.find((e) => e.configName === n);
  assert.equal(entry('retention.ms')!.configValue, '3600000');
  assert.equal(entry('retention.ms')!.isDefault, false);
  assert.equal(entry('cleanup.policy')!.configValue, 'delete');
  assert.equal(entry('cleanup.policy')!.isDefault, true);
  assert.equal(entry('max.message.bytes')!.configValue, '1048588');
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: TOPIC, name: 'configured', configEntries: [{ name: 'max.message.bytes', value: '100' }] }],
  });
  res = await describe();
  assert.equal(entry('max.message.bytes')!.configValue, '100');
  assert.equal(entry('retention.ms')!.configValue, '604800000', 'AlterConfigs replaced the whole set: retention.ms back to its default');
  await assert.rejects(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name: 'configured', configEntries: [{ name: 'segment.bytes', value: '1' }] }] }),
  );
  await assert.rejects(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name: 'configured', configEntries: [{ name: 'no.such.config', value: '1' }] }] }),
  );
  const producer = kafka().producer({ retry: { retries: 0 } });
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'configured', messages: [{ value: 'x'.repeat(200) }] }), 'the new max.message.bytes applies');
  await producer.disconnect();
  const broker1 = (await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: BROKER, name: '1' }] })).resources[0]!;
  assert.equal(broker1.configEntries.find((e) => e.configName === 'group.min.session.timeout.ms')!.configValue, '6000');
  await admin.disconnect();
});

function incrementalBody(topic: string, changes: [string, number, string | null][], flexible: boolean): Buffer {
  const w = new Writer();
  w.arr(flexible, [topic], (x, t) => {
    x.int8(2).str(flexible, t);
    x.arr(flexible, changes, (y, [n, op, v]) => y.str(flexible, n).int8(op).str(flexible, v).tags(flexible));
    x.tags(flexible);
  });
  w.bool(false).tags(flexible);
  return Buffer.from(w.toBuffer());
}

test('IncrementalAlterConfigs (v0 and flexible v1): SET, DELETE, APPEND, SUBTRACT as KIP-339', async () => {
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'incremental', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '1000' }] }] });
  const c = await RawConnection.open(broker.port);
  const alter = async (changes: [string, number, string | null][], v: number) => {
    const r = new Reader(await c.request(44, v, incrementalBody('incremental', changes, v >= 1), v >= 1));
    if (v >= 1) r.skipTaggedFields();
    r.int32();
    let out = { error: -99, message: null as string | null };
    r.arr(v >= 1, (x) => {
      out = { error: x.int16(), message: x.nstr(v >= 1) };
      x.int8();
      x.str(v >= 1);
      x.tags(v >= 1);
    });
    return out;
  };
  const configs = async () =>
    Object.fromEntries(
      (await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC, name: 'incremental' }] })).resources[0]!.configEntries.map((e) => [
        e.configName,
        e.configValue,
      ]),
    );
  for (const v of [0, 1]) {
    assert.equal((await alter([['segment.ms', 0, '60000']], v)).error, 0);
    let now = await configs();
    assert.equal(now['segment.ms'], '60000');
    assert.equal(now['retention.ms'], '1000', 'other configs kept');
    assert.equal(
      (
        await alter(
          [
            ['cleanup.policy', 0, 'delete'],
            ['cleanup.policy', 2, 'compact'],
          ],
          v,
        )
      ).error,
      0,
    );
    assert.equal((await configs())['cleanup.policy'], 'delete,compact');
    assert.equal((await alter([['cleanup.policy', 3, 'delete']], v)).error, 0);
    assert.equal((await configs())['cleanup.policy'], 'compact');
    assert.equal((await alter([['segment.ms', 1, null]], v)).error, 0);
    now = await configs();
    assert.equal(now['segment.ms'], '86400000', 'deleted: back to the default');
    const bad = await alter([['retention.ms', 2, '5']], v);
    assert.equal(bad.error, 40, 'APPEND on a non-list config');
    assert.equal((await alter([['segment.bytes', 0, '13']], v)).error, 40);
    assert.equal((await alter([['cleanup.policy', 0, 'delete']], v)).error, 0);
  }
  c.close();
  await admin.disconnect();
});

test('DeleteRecords moves the log start offset (served and listed from there, kept over a restart); DeleteGroups removes an empty group, not one with members', async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'ekafka-admin-restart-'));
  let b = await startBroker({ dir: d, port: 0 });
  let k = new Kafka({ brokers: [b.address], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50 } });
  let admin = k.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'trimmed', numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: '200' }] }] });
  const producer = k.producer();
  await producer.connect();
  for (let i = 0; i < 20; i++) await producer.send({ topic: 'trimmed', messages: [{ value: `r${i}` }] });
  await producer.disconnect();
  await admin.fetchTopicMetadata({ topics: ['trimmed'] }); // kafkajs looks the leader up in its cached metadata
  await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '12' }] });
  assert.deepEqual(
    (await admin.fetchTopicOffsets('trimmed')).map((p) => [p.low, p.high]),
    [['12', '20']],
  );
  await assert.rejects(admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '21' }] }));
  const consumer = k.consumer({ groupId: 'trim-reader', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'trimmed', fromBeginning: true });
  const got: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
  while (got.length < 8) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    got.slice(0, 8),
    Array.from({ length: 8 }, (_, i) => `r${12 + i}`),
  );
  await assert.rejects(admin.deleteGroups(['trim-reader']), 'a group with members is not deleted');
  await consumer.disconnect();
  await admin.deleteGroups(['trim-reader']);
  assert.deepEqual(
    (await admin.fetchOffsets({ groupId: 'trim-reader', topics: ['trimmed'] }))[0]!.partitions.map((p) => p.offset),
    ['-1'],
    'its offsets are gone',
  );
  await assert.rejects(admin.deleteGroups(['trim-reader']), 'GROUP_ID_NOT_FOUND');
  await admin.disconnect();
  await b.close();
  b = await startBroker({ dir: d, port: 0 });
  k = new Kafka({ brokers: [b.address], logLevel: logLevel.NOTHING });
  admin = k.admin();
  await admin.connect();
  assert.deepEqual(
    (await admin.fetchTopicOffsets('trimmed')).map((p) => [p.low, p.high]),
    [['12', '20']],
    'the start offset survived the restart',
  );
  await admin.disconnect();
  await b.close();
  rmSync(d, { recursive: true, force: true });
});
