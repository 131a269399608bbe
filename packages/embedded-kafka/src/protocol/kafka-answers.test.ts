import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { Reader, Writer } from './primitives.js';
import { buildBatch, produceBody, RawConnection, readProduceResult } from '../testdata/wire.js';

// Kafka's answers, each from the source that decides it.

let broker: Broker;
let dir: string;
let conn: RawConnection;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-answers-'));
  broker = await startBroker({ dir, port: 0, autoCreateTopics: true });
  conn = await RawConnection.open(broker.port);
});
after(async () => {
  conn.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});
const kafka = () => new Kafka({ brokers: [broker.address], clientId: 'answers', logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 } });

async function createTopic(topic: string, configEntries: { name: string; value: string }[] = []) {
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries }] });
  await admin.disconnect();
}

function listOffsetsBody(topic: string, timestamp: number, version: number): Buffer {
  const f = version >= 6;
  const w = new Writer();
  w.int32(-1);
  if (version >= 2) w.int8(0);
  w.arr(f, [topic], (x, t) => {
    x.str(f, t);
    x.arr(f, [timestamp], (y, ts) => {
      y.int32(0);
      if (version >= 4) y.int32(-1);
      y.int64(ts).tags(f);
    });
    x.tags(f);
  });
  w.tags(f);
  return Buffer.from(w.toBuffer());
}

async function listOffsets(topic: string, timestamp: number, version = 1): Promise<{ error: number; timestamp: number; offset: number }> {
  const f = version >= 6;
  const r = new Reader(await conn.request(2, version, listOffsetsBody(topic, timestamp, version), f));
  if (f) r.skipTaggedFields();
  if (version >= 2) r.int32();
  let out = { error: -99, timestamp: 0, offset: 0 };
  r.arr(f, (x) => {
    x.str(f);
    x.arr(f, (y) => {
      y.int32();
      out = { error: y.int16(), timestamp: y.int64n(), offset: y.int64n() };
      if (version >= 4) y.int32();
      y.tags(f);
    });
    x.tags(f);
  });
  return out;
}

test('ListOffsets by timestamp: the first record (not batch) with timestamp >= target and its timestamp; -1/-1 when none is that new (UnifiedLog.fetchOffsetByTimestamp)', async () => {
  await createTopic('times');
  const t0 = Date.parse('2026-03-01T00:00:00Z');
  // 10 batches of 10 records, record i at t0 + 10 * i ms; odd batches gzip
  for (let b = 0; b < 10; b++) {
    const records = Array.from({ length: 10 }, (_, j) => ({ key: Buffer.from(`k${j}`), value: Buffer.from(`v${b * 10 + j}`), timestampDelta: j * 10 }));
    const batch = buildBatch(records, { firstTimestamp: t0 + b * 100 });
    assert.equal(readProduceResult(await conn.request(0, 3, produceBody('times', batch))).error, 0);
  }
  for (const version of [1, 2, 4, 6, 7, 8]) {
    for (let target = t0 - 5; target <= t0 + 1000; target += 7) {
      const expected = Math.max(0, Math.ceil((target - t0) / 10));
      const res = await listOffsets('times', target, version);
      if (expected >= 100) assert.deepEqual(res, { error: 0, timestamp: -1, offset: -1 }, `v${version} ${target - t0}: none that new`);
      else assert.deepEqual(res, { error: 0, timestamp: t0 + expected * 10, offset: expected }, `v${version} target t0+${target - t0}`);
    }
    assert.deepEqual(await listOffsets('times', -1, version), { error: 0, timestamp: -1, offset: 100 }, 'latest');
    assert.deepEqual(await listOffsets('times', -2, version), { error: 0, timestamp: -1, offset: 0 }, 'earliest');
  }
  assert.deepEqual(await listOffsets('times', -3, 7), { error: 0, timestamp: t0 + 990, offset: 99 }, 'max timestamp (KIP-734)');
  // kafkajs agrees
  const admin = kafka().admin();
  await admin.connect();
  assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('times', t0 + 455), [{ partition: 0, offset: '46' }]);
  await admin.disconnect();
});

function metadataBody(topics: string[], version: number): Buffer {
  const f = version >= 9;
  const w = new Writer();
  w.arr(f, topics, (x, t) => {
    if (version >= 10) x.uuid(null);
    x.str(f, t).tags(f);
  });
  if (version >= 4) w.bool(true);
  if (version >= 8 && version <= 10) w.bool(false);
  if (version >= 8) w.bool(false);
  w.tags(f);
  return Buffer.from(w.toBuffer());
}

/** Topic error codes and partition counts from a Metadata response. */
function readMetadataTopics(body: Buffer, version: number): { name: string | null; error: number; partitions: number; id: string | null }[] {
  const f = version >= 9;
  const r = new Reader(body);
  if (f) r.skipTaggedFields();
  if (version >= 3) r.int32();
  r.arr(f, (x) => {
    x.int32();
    x.str(f);
    x.int32();
    if (version >= 1) x.nstr(f);
    x.tags(f);
  });
  if (version >= 2) r.nstr(f);
  if (version >= 1) r.int32();
  return r.arr(f, (x) => {
    const error = x.int16();
    const name = x.nstr(f);
    const id = version >= 10 ? x.uuid() : null;
    if (version >= 1) x.bool();
    const partitions = x.arr(f, (y) => {
      y.int16();
      y.int32();
      y.int32();
      if (version >= 7) y.int32();
      y.arr(f, (z) => z.int32());
      y.arr(f, (z) => z.int32());
      if (version >= 5) y.arr(f, (z) => z.int32());
      y.tags(f);
    }).length;
    if (version >= 8) x.int32();
    x.tags(f);
    return { name, error, partitions, id };
  });
}

test('Metadata that auto-creates a topic answers LEADER_NOT_AVAILABLE, then the topic with its partitions (KafkaApis.getTopicMetadata), at every version 0-12', async () => {
  for (let v = 0; v <= 12; v++) {
    const name = `auto-${v}`;
    const first = readMetadataTopics(await conn.request(3, v, metadataBody([name], v), v >= 9), v);
    assert.deepEqual(
      first.map((t) => [t.name, t.error, t.partitions]),
      [[name, 5, 0]],
      `v${v} first answer`,
    );
    const second = readMetadataTopics(await conn.request(3, v, metadataBody([name], v), v >= 9), v);
    assert.deepEqual(
      second.map((t) => [t.name, t.error, t.partitions]),
      [[name, 0, 1]],
      `v${v} second answer`,
    );
    if (v >= 10) assert.match(second[0]!.id ?? '', /^[0-9a-f]{32}$/, 'a topic id');
  }
  // kafkajs copes (it retries LEADER_NOT_AVAILABLE), producing to a topic that does not exist yet
  const producer = kafka().producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const [res] = await producer.send({ topic: 'auto-kafkajs', messages: [{ value: 'first' }] });
  assert.equal(res!.errorCode, 0);
  await producer.disconnect();
});

test('retention deletes an expired active segment by rolling first (UnifiedLog.deleteSegments); offsets continue after it', async () => {
  await createTopic('expiring', [{ name: 'retention.ms', value: '1000' }]);
  const old = Date.now() - 60_000;
  for (let i = 0; i < 3; i++)
    assert.equal(
      readProduceResult(
        await conn.request(0, 3, produceBody('expiring', buildBatch([{ key: Buffer.from('k'), value: Buffer.from(`old${i}`) }], { firstTimestamp: old }))),
      ).error,
      0,
    );
  const { deletedSegments } = broker.maintain();
  assert.ok(deletedSegments >= 1);
  const admin = kafka().admin();
  await admin.connect();
  assert.deepEqual(
    (await admin.fetchTopicOffsets('expiring')).map((p) => [p.low, p.high]),
    [['3', '3']],
    'nothing left, the end offset kept',
  );
  const producer = kafka().producer();
  await producer.connect();
  const [res] = await producer.send({ topic: 'expiring', messages: [{ value: 'new' }] });
  assert.equal(res!.baseOffset, '3');
  await producer.disconnect();
  broker.maintain();
  assert.deepEqual(
    (await admin.fetchTopicOffsets('expiring')).map((p) => [p.low, p.high]),
    [['3', '4']],
    'a fresh record is kept',
  );
  await admin.disconnect();
});
