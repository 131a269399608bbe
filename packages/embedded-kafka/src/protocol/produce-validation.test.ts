import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { compress as lz4Compress } from 'lz4js';
import { compress as snappyCompress } from 'snappyjs';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { Reader, Writer } from './primitives.js';
import { buildBatch, encodeRecords, produceBody, RawConnection, readProduceResult, type TestRecord } from '../testdata/wire.js';
import { crc32c } from '../storage/crc32c.js';

// Each expectation names where Kafka 3.9 decides it: ProduceRequest.validateRecords,
// UnifiedLog.analyzeAndValidateRecords, LogValidator (validateBatch / validateKey / records), KafkaApis.

const E = {
  NONE: 0,
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  INVALID_SESSION_TIMEOUT: 26,
  INVALID_CONFIG: 40,
  TXN_ID_AUTH: 53,
  UNSUPPORTED_COMPRESSION: 76,
  INVALID_RECORD: 87,
  UNKNOWN_SERVER_ERROR: -1,
};

let broker: Broker;
let conn: RawConnection;
let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-validate-'));
  broker = await startBroker({ dir, port: 0 });
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'plain', numPartitions: 1 },
      { topic: 'fuzz', numPartitions: 1 },
      { topic: 'keyed', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      { topic: 'stamped', numPartitions: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
    ],
  });
  await admin.disconnect();
  conn = await RawConnection.open(broker.port);
});
after(async () => {
  conn.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

function kafka() {
  return new Kafka({ brokers: [broker.address], clientId: 'validate', logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });
}

const values = (n: number, size = 20): TestRecord[] =>
  Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(size, 97 + (i % 26)) }));

async function produce(topic: string, records: Buffer, opts: { version?: number; transactionalId?: string | null } = {}) {
  return readProduceResult(await conn.request(0, opts.version ?? 3, produceBody(topic, records, { transactionalId: opts.transactionalId ?? null })));
}

async function endOffset(topic: string): Promise<number> {
  const admin = kafka().admin();
  await admin.connect();
  const o = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return Number(o[0]!.high);
}

/** Rewrites a batch's attributes (and CRC) so that only the field under test is wrong. */
function withAttributes(batch: Buffer, attributes: number): Buffer {
  const b = Buffer.from(batch);
  b.writeInt16BE(attributes, 21);
  b.writeUInt32BE(crc32c(b, 21), 17);
  return b;
}

test('ProduceRequest.validateRecords (v3+): exactly one batch per partition, none empty; zstd needs v7', async () => {
  const before = await endOffset('plain');
  for (let n = 2; n <= 5; n++) {
    const set = Buffer.concat(Array.from({ length: n }, () => buildBatch(values(2))));
    assert.equal((await produce('plain', set)).error, E.INVALID_RECORD, `${n} batches`);
  }
  assert.equal((await produce('plain', Buffer.alloc(0))).error, E.INVALID_RECORD, 'no batch');
  const zstdClaim = withAttributes(buildBatch(values(1)), 4);
  for (const v of [3, 4, 5, 6]) assert.equal((await produce('plain', zstdClaim, { version: v })).error, E.UNSUPPORTED_COMPRESSION, `zstd at v${v}`);
  assert.equal(await endOffset('plain'), before, 'nothing appended');
});

test('LogValidator: a body that does not decompress with its claimed codec, or an unknown codec id, is refused and never stored', async () => {
  const before = await endOffset('plain');
  const plain = encodeRecords(values(3));
  // a batch claiming codec c whose body is something else (the uncompressed records, or another codec's output)
  const bodies = [plain, gzipSync(plain), Buffer.from(snappyCompress(plain)), Buffer.from(lz4Compress(plain)), Buffer.from('28b52ffd', 'hex')];
  for (let codec = 1; codec <= 4; codec++) {
    for (let b = 0; b < bodies.length; b++) {
      if (b === codec) continue; // that one is genuine
      const batch = buildBatch(values(3), { attributes: codec, body: bodies[b]! });
      const res = await produce('plain', batch, { version: 7 });
      assert.notEqual(res.error, E.NONE, `codec ${codec} with body ${b} refused`);
      assert.ok([E.UNKNOWN_SERVER_ERROR, E.INVALID_RECORD].includes(res.error), `codec ${codec} body ${b}: ${res.error}`);
    }
  }
  for (const codec of [5, 6, 7])
    assert.equal((await produce('plain', buildBatch(values(1), { attributes: codec }), { version: 7 })).error, E.UNKNOWN_SERVER_ERROR, `codec id ${codec}`);
  assert.equal(await endOffset('plain'), before);
  // and the genuine ones are accepted
  for (let codec = 1; codec <= 3; codec++)
    assert.equal((await produce('plain', buildBatch(values(3), { attributes: codec, body: bodies[codec]! }))).error, E.NONE, `genuine codec ${codec}`);
  assert.equal(await endOffset('plain'), before + 9);
});

test('LogValidator.validateBatch: control batches, inconsistent counts, a producer id without a sequence are INVALID_RECORD; transactional bit without transactional id fails the request (KafkaApis)', async () => {
  const before = await endOffset('plain');
  assert.equal((await produce('plain', withAttributes(buildBatch(values(1)), 0x20))).error, E.INVALID_RECORD, 'control bit');
  assert.equal((await produce('plain', buildBatch(values(3), { recordCount: 2 }))).error, E.INVALID_RECORD, 'count below lastOffsetDelta + 1');
  assert.equal((await produce('plain', buildBatch(values(3), { recordCount: 4 }))).error, E.INVALID_RECORD, 'count above');
  assert.equal((await produce('plain', buildBatch(values(1), { recordCount: 0 }))).error, E.INVALID_RECORD, 'count 0');
  assert.equal(
    (await produce('plain', buildBatch(values(2), { producerId: 7, producerEpoch: 0, baseSequence: -1 }))).error,
    E.INVALID_RECORD,
    'pid without sequence',
  );
  assert.equal((await produce('plain', withAttributes(buildBatch(values(1)), 0x10))).error, E.TXN_ID_AUTH, 'transactional bit, no transactional id');
  assert.equal(await endOffset('plain'), before);
});

test('message.max.bytes (1,048,588) and max.message.bytes bound a batch: at the limit accepted, one byte over MESSAGE_TOO_LARGE (UnifiedLog.analyzeAndValidateRecords)', async () => {
  const overhead = buildBatch([{ key: Buffer.from('k'), value: Buffer.alloc(0) }]).length;
  for (const delta of [-3, -1, 0, 1, 2, 1000]) {
    // the value's varint length grows with it: find the value size giving exactly 1,048,588 + delta
    let size = 1_048_588 + delta - overhead;
    while (buildBatch([{ key: Buffer.from('k'), value: Buffer.alloc(size) }]).length > 1_048_588 + delta) size--;
    const batch = buildBatch([{ key: Buffer.from('k'), value: Buffer.alloc(size) }]);
    assert.equal(batch.length, 1_048_588 + delta);
    assert.equal((await produce('plain', batch)).error, delta <= 0 ? E.NONE : E.MESSAGE_TOO_LARGE, `batch of ${batch.length}`);
  }
  // the topic config overrides the broker default
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'small-records', numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '500' }] }] });
  await admin.disconnect();
  assert.equal((await produce('small-records', buildBatch(values(1, 300)))).error, E.NONE);
  assert.equal((await produce('small-records', buildBatch(values(1, 600)))).error, E.MESSAGE_TOO_LARGE);
  // through kafkajs: a 2 MiB record is refused
  const producer = kafka().producer({ retry: { retries: 0 } });
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'plain', messages: [{ value: Buffer.alloc(2 * 1024 * 1024) }] }), /too large|MESSAGE_TOO_LARGE|larger than/i);
  await producer.disconnect();
});

test('a compacted topic refuses a record without a key with INVALID_RECORD, the whole batch (LogValidator.validateKey)', async () => {
  const before = await endOffset('keyed');
  for (let n = 1; n <= 6; n++) {
    for (let i = 0; i < n; i++) {
      const records = values(n).map((r, j) => (j === i ? { ...r, key: null } : r));
      assert.equal((await produce('keyed', buildBatch(records))).error, E.INVALID_RECORD, `null key at ${i} of ${n}`);
      assert.equal(
        (await produce('keyed', buildBatch(records, { attributes: 1, body: gzipSync(encodeRecords(records)) }))).error,
        E.INVALID_RECORD,
        'gzip too',
      );
    }
  }
  assert.equal(await endOffset('keyed'), before);
  assert.equal((await produce('keyed', buildBatch(values(4)))).error, E.NONE);
  const producer = kafka().producer({ retry: { retries: 0 } });
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'keyed', messages: [{ value: 'no key' }] }));
  await producer.send({ topic: 'keyed', messages: [{ key: 'a', value: 'keyed' }] });
  await producer.disconnect();
  assert.equal(await endOffset('keyed'), before + 5);
});

test('message.timestamp.type=LogAppendTime: the broker stamps the batch, and the consumer sees the append time (LogValidator in place)', async () => {
  const created = Date.parse('2020-01-01T00:00:00Z');
  const before = Date.now();
  const res = readProduceResult(await conn.request(0, 3, produceBody('stamped', buildBatch(values(2), { firstTimestamp: created }))));
  assert.equal(res.error, 0);
  const consumer = kafka().consumer({ groupId: 'stamped-reader', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'stamped', fromBeginning: true });
  const stamps: number[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void stamps.push(Number(message.timestamp)) });
  while (stamps.length < 2) await new Promise((r) => setTimeout(r, 20));
  await consumer.disconnect();
  for (const t of stamps) assert.ok(t >= before && t <= Date.now(), `append time ${t}, not the create time ${created}`);
});

test('generated hostile batches (records section mutated, CRC made valid): each is refused or fully decodable, and the partition stays readable for kafkajs', async () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let accepted = 0;
  const offsetsBefore = await endOffset('fuzz');
  for (let i = 0; i < 300; i++) {
    const records = values(1 + Math.floor(rnd() * 5), Math.floor(rnd() * 40));
    let body = encodeRecords(records);
    const gzip = rnd() < 0.3;
    const mutated = Buffer.from(body);
    const flips = 1 + Math.floor(rnd() * 3);
    for (let f = 0; f < flips; f++) mutated[Math.floor(rnd() * mutated.length)] = Math.floor(rnd() * 256);
    if (rnd() < 0.2) body = mutated.subarray(0, Math.floor(rnd() * mutated.length));
    else body = mutated;
    const batch = buildBatch(records, { attributes: gzip ? 1 : 0, body: gzip ? gzipSync(body) : body });
    const res = await produce('fuzz', batch);
    assert.ok([E.NONE, E.INVALID_RECORD].includes(res.error), `variant ${i}: error ${res.error}`);
    if (res.error === E.NONE) accepted += records.length;
  }
  assert.equal(await endOffset('fuzz'), offsetsBefore + accepted);
  // every stored record decodes in kafkajs, which reads the partition to its end
  const consumer = kafka().consumer({ groupId: 'fuzz-reader', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'fuzz', fromBeginning: true });
  let read = 0;
  let crashed: unknown;
  consumer.on(consumer.events.CRASH, (e) => (crashed = e.payload.error));
  await consumer.run({ eachMessage: async () => void read++ });
  const end = Date.now() + 20_000;
  while (read < accepted && !crashed && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await consumer.disconnect();
  assert.equal(crashed, undefined);
  assert.equal(read, accepted);
});

function joinBody(group: string, sessionTimeout: number): Buffer {
  const w = new Writer();
  w.string(group).int32(sessionTimeout).string('').string('consumer');
  w.array(['range'], (x, p) => x.string(p).bytes(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])));
  return Buffer.from(w.toBuffer());
}

test('JoinGroup session timeouts outside group.min/max.session.timeout.ms (6,000 / 1,800,000) get INVALID_SESSION_TIMEOUT', async () => {
  const invalid = [0, 1, 999, 1000, 3000, 5999, 1_800_001, 2 ** 31 - 1, -1];
  for (let i = 0; i < 40; i++) invalid.push(Math.floor((i * 7919) % 6000), 1_800_001 + i * 104_729);
  for (const t of invalid) {
    const body = await conn.request(11, 0, joinBody(`g-${t}`, t));
    assert.equal(new Reader(body).int16(), E.INVALID_SESSION_TIMEOUT, `session timeout ${t}`);
  }
  for (const t of [6000, 1_800_000]) {
    const c = await RawConnection.open(broker.port);
    const body = await c.request(11, 0, joinBody(`ok-${t}`, t));
    assert.equal(new Reader(body).int16(), E.NONE, `session timeout ${t}`);
    c.close();
  }
  // kafkajs with a 3 s session timeout cannot join, as against Kafka
  const consumer = kafka().consumer({ groupId: 'short-session', sessionTimeout: 3000, heartbeatInterval: 1000, retry: { retries: 0 } });
  await consumer.connect();
  await consumer.subscribe({ topic: 'plain' });
  const crashed = new Promise<Error>((resolve) => consumer.on(consumer.events.CRASH, (e) => resolve(e.payload.error)));
  void consumer.run({ eachMessage: async () => undefined }).catch(() => undefined);
  assert.match((await crashed).message, /session timeout/i);
  await consumer.disconnect();
});

function createTopicsBody(name: string, configs: Record<string, string>, validateOnly = true): Buffer {
  const w = new Writer();
  w.array([name], (x, n) => {
    x.string(n).int32(1).int16(1);
    x.array([], () => undefined);
    x.array(Object.entries(configs), (y, [k, v]) => y.string(k).nullableString(v));
  });
  w.int32(5000).bool(validateOnly);
  return Buffer.from(w.toBuffer());
}

async function createTopicError(configs: Record<string, string>): Promise<{ error: number; message: string | null }> {
  const r = new Reader(await conn.request(19, 1, createTopicsBody('cfg-check', configs)));
  r.int32();
  r.string();
  return { error: r.int16(), message: r.nullableString() };
}

test('every Kafka 3.9 topic config is accepted with a valid value and refused with an invalid one (LogConfig); unknown names are INVALID_CONFIG', async () => {
  const cases: [string, string[], string[]][] = [
    ['cleanup.policy', ['delete', 'compact', 'compact,delete', 'delete, compact'], ['', 'none', 'compact;delete']],
    ['compression.type', ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'], ['none', 'GZIP', 'brotli']],
    ['delete.retention.ms', ['0', '86400000'], ['-1', 'x', '1.5']],
    ['min.compaction.lag.ms', ['0', '1000'], ['-1']],
    ['max.compaction.lag.ms', ['1', '9223372036854775807'], ['0']],
    ['min.cleanable.dirty.ratio', ['0', '0.5', '1', '1.0'], ['1.1', '-0.1', 'half']],
    ['message.timestamp.type', ['CreateTime', 'LogAppendTime'], ['createtime', 'NoTime']],
    ['message.timestamp.before.max.ms', ['0', '3600000'], ['-1']],
    ['message.timestamp.after.max.ms', ['0'], ['-5']],
    ['segment.bytes', ['14', '1048576'], ['13', '1', '0', '-1', '2147483648']],
    ['segment.ms', ['1', '604800000'], ['0']],
    ['segment.index.bytes', ['4'], ['3']],
    ['segment.jitter.ms', ['0'], ['-1']],
    ['retention.ms', ['-1', '0', '604800000'], ['-2']],
    ['retention.bytes', ['-1', '1073741824'], ['1e9']],
    ['max.message.bytes', ['0', '1048588'], ['-1']],
    ['min.insync.replicas', ['1', '2'], ['0']],
    ['unclean.leader.election.enable', ['true', 'false'], ['yes']],
    ['preallocate', ['false'], ['1']],
    ['compression.gzip.level', ['-1', '1', '9'], ['0', '10']],
    ['compression.zstd.level', ['-131072', '3', '22'], ['23']],
    ['compression.lz4.level', ['1', '17'], ['0', '18']],
    ['flush.messages', ['1'], ['0']],
    ['index.interval.bytes', ['4096'], ['-1']],
    ['local.retention.ms', ['-2'], ['-3']],
  ];
  for (const [name, good, bad] of cases) {
    for (const v of good) assert.deepEqual(await createTopicError({ [name]: v }), { error: E.NONE, message: null }, `${name}=${v}`);
    for (const v of bad) {
      const r = await createTopicError({ [name]: v });
      assert.equal(r.error, E.INVALID_CONFIG, `${name}=${v}`);
      assert.ok(r.message?.includes(name), `the message names ${name}: ${r.message}`);
    }
  }
  for (const name of ['retention.hours', 'log.retention.ms', 'message.max.bytes', 'segment_bytes', 'x'])
    assert.equal((await createTopicError({ [name]: '1' })).error, E.INVALID_CONFIG, name);
});
