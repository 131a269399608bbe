import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CompressionTypes, Kafka, logLevel, type EachBatchPayload } from 'kafkajs';
import { Writable } from 'node:stream';
import { createLogger } from '@jwt-audit/runtime';
import { startBroker, type Broker } from './index.js';
import { Writer } from './protocol/primitives.js';
import { exchange, frame, produceBody, readProduceResult, recordBatch } from './testdata/wire.js';
import { until } from '@jwt-audit/runtime/testing/wait';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'ekafka-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const client = (b: Broker, id = 'test') =>
  new Kafka({ brokers: [b.address], clientId: id, logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 } });

/** polled every 25 ms: the states waited for here are short-lived */
const waitFor = <T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000) =>
  until(what, check, { timeoutMs: ms, intervalMs: 25 });

let shared: Broker;
before(async () => {
  shared = await startBroker({ dir: tmp(), port: 0 });
});
after(() => shared.close());

test('produce/consume round trip keeps keys, headers and timestamps, plain and gzip', async () => {
  const kafka = client(shared);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'round-trip', numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  const ts = Date.parse('2026-11-20T10:00:00Z');
  const messages = Array.from({ length: 40 }, (_, i) => ({
    key: `k${i % 4}`,
    value: `value-${i}`,
    headers: { 'audit-schema': 'x', n: String(i) },
    timestamp: String(ts + i),
  }));
  await producer.send({ topic: 'round-trip', messages: messages.slice(0, 20) });
  await producer.send({ topic: 'round-trip', compression: CompressionTypes.GZIP, messages: messages.slice(20) });
  const consumer = kafka.consumer({ groupId: 'rt', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'round-trip', fromBeginning: true });
  const got: { key: string; value: string; n: string; ts: string; partition: number }[] = [];
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      got.push({ key: message.key!.toString(), value: message.value!.toString(), n: message.headers!.n!.toString(), ts: message.timestamp, partition });
    },
  });
  await waitFor('40 records', () => (got.length >= 40 ? true : undefined));
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  assert.equal(got.length, 40);
  for (const g of got) {
    const i = Number(g.n);
    assert.equal(g.value, `value-${i}`);
    assert.equal(g.key, `k${i % 4}`);
    assert.equal(g.ts, String(ts + i));
  }
  // one key, one partition, in order
  for (const k of ['k0', 'k1', 'k2', 'k3']) {
    const mine = got.filter((g) => g.key === k);
    assert.equal(new Set(mine.map((m) => m.partition)).size, 1);
    assert.deepEqual(
      mine.map((m) => Number(m.n)),
      [...mine.map((m) => Number(m.n))].sort((a, b) => a - b),
    );
  }
});

test('idempotent producer: a retried batch is acknowledged once and not appended again; a gap is refused', async () => {
  const kafka = client(shared);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'idem', numPartitions: 1 }] });
  const init = await exchange(shared.port, frame(22, 0, 1, new Writer().nullableString(null).int32(60000).toBuffer()));
  assert.notEqual(init, 'closed');
  const pid = Number((init as Buffer).readBigInt64BE(6));
  assert.ok(pid > 0);

  const first = recordBatch(pid, 0, ['a', 'b', 'c']);
  const r1 = readProduceResult((await exchange(shared.port, frame(0, 3, 2, produceBody('idem', first)))) as Buffer);
  const retry = readProduceResult((await exchange(shared.port, frame(0, 3, 3, produceBody('idem', recordBatch(pid, 0, ['a', 'b', 'c']))))) as Buffer);
  assert.deepEqual(r1, { error: 0, baseOffset: 0 });
  assert.deepEqual(retry, { error: 0, baseOffset: 0 }, 'the duplicate gets the original offset');
  const next = readProduceResult((await exchange(shared.port, frame(0, 3, 4, produceBody('idem', recordBatch(pid, 3, ['d']))))) as Buffer);
  assert.deepEqual(next, { error: 0, baseOffset: 3 });
  const gap = readProduceResult((await exchange(shared.port, frame(0, 3, 5, produceBody('idem', recordBatch(pid, 9, ['z']))))) as Buffer);
  assert.equal(gap.error, 45, 'OUT_OF_ORDER_SEQUENCE_NUMBER');
  const offsets = await admin.fetchTopicOffsets('idem');
  assert.equal(offsets[0]!.high, '4', 'a, b, c, d: nothing duplicated');

  // and through kafkajs' own idempotent producer
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic: 'idem', acks: -1, messages: [{ value: 'e' }, { value: 'f' }] });
  await producer.disconnect();
  assert.equal((await admin.fetchTopicOffsets('idem'))[0]!.high, '6');
  await admin.disconnect();
});

test('a corrupted batch (bad CRC) is refused with CORRUPT_MESSAGE', async () => {
  const admin = client(shared).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'crc', numPartitions: 1 }] });
  await admin.disconnect();
  const batch = recordBatch(-1, -1, ['x']);
  batch[batch.length - 1] = batch[batch.length - 1]! ^ 0xff;
  const res = readProduceResult((await exchange(shared.port, frame(0, 3, 1, produceBody('crc', batch)))) as Buffer);
  assert.equal(res.error, 2);
});

test('hostile input: garbage, a 2 GiB frame, unknown API, unsupported version close that connection only', async () => {
  const garbage = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await exchange(shared.port, garbage), 'closed');
  const huge = Buffer.alloc(8);
  huge.writeInt32BE(0x7fffffff, 0);
  assert.equal(await exchange(shared.port, huge), 'closed');
  assert.equal(await exchange(shared.port, frame(999, 0, 1, Buffer.alloc(0))), 'closed');
  assert.equal(await exchange(shared.port, frame(0, 99, 1, Buffer.alloc(0))), 'closed', 'Produce v99');
  assert.equal(await exchange(shared.port, frame(3, 1, 1, Buffer.from([0x7f, 0xff, 0xff, 0xff]))), 'closed', 'array count beyond the frame');
  const av = await exchange(shared.port, frame(18, 9, 7, Buffer.alloc(0)));
  assert.notEqual(av, 'closed');
  assert.equal((av as Buffer).readInt16BE(0), 35, 'ApiVersions v9 answered with UNSUPPORTED_VERSION');
  // the broker still serves a well-behaved client
  const admin = client(shared).admin();
  await admin.connect();
  assert.ok(Array.isArray(await admin.listTopics()));
  await admin.disconnect();
});

test('a fetch waiting on an empty partition returns as soon as a record is produced', async () => {
  const kafka = client(shared);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'long-poll', numPartitions: 1 }] });
  await admin.disconnect();
  // Fetch v4: replica -1, max_wait 20 s, min_bytes 1, max_bytes 1 MiB, isolation 0, long-poll/0 from offset 0
  const w = new Writer();
  w.int32(-1)
    .int32(20_000)
    .int32(1)
    .int32(1 << 20)
    .int8(0);
  w.array(['long-poll'], (x, t) => {
    x.string(t);
    x.array([0], (y, p) =>
      y
        .int32(p)
        .int64(0)
        .int32(1 << 20),
    );
  });
  const started = Date.now();
  const pending = exchange(shared.port, frame(1, 4, 9, w.toBuffer()));
  await new Promise((r) => setTimeout(r, 300));
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'long-poll', messages: [{ value: 'wake up' }] });
  const res = await pending;
  const waited = Date.now() - started;
  await producer.disconnect();
  assert.notEqual(res, 'closed');
  assert.ok((res as Buffer).includes(Buffer.from('wake up')), 'the response carries the new record');
  assert.ok(waited < 10_000, `answered after ${waited} ms, not at the 20 s max wait`);
});

test('a group of 3 on 6 partitions sees every record exactly once while one member leaves and one joins', async () => {
  const kafka = client(shared, 'group-test');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'grp', numPartitions: 6 }] });
  const seen = new Map<string, number>();
  const makeMember = async () => {
    const c = kafka.consumer({ groupId: 'g3', maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await c.connect();
    await c.subscribe({ topic: 'grp', fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, isStale, isRunning }: EachBatchPayload) => {
        if (isStale() || !isRunning()) return;
        for (const m of batch.messages) seen.set(m.value!.toString(), (seen.get(m.value!.toString()) ?? 0) + 1);
        const last = batch.messages[batch.messages.length - 1]!.offset;
        resolveOffset(last);
        await c.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last) + 1) }]);
      },
    });
    return c;
  };
  const producer = kafka.producer();
  await producer.connect();
  const produce = async (from: number, n: number) => {
    await producer.send({ topic: 'grp', messages: Array.from({ length: n }, (_, i) => ({ key: `s${(from + i) % 37}`, value: `r${from + i}` })) });
  };
  const a = await makeMember();
  const b = await makeMember();
  const c = await makeMember();
  await produce(0, 300);
  await waitFor('first records', () => (seen.size >= 100 ? true : undefined));
  await b.disconnect(); // leaves mid-stream
  await produce(300, 300);
  const d = await makeMember(); // joins
  await produce(600, 300);
  await waitFor('all 900', () => (seen.size >= 900 ? true : undefined), 30_000);
  await Promise.all([a.disconnect(), c.disconnect(), d.disconnect()]);
  await producer.disconnect();
  await admin.disconnect();
  assert.equal(seen.size, 900);
  const dupes = [...seen].filter(([, n]) => n !== 1);
  assert.deepEqual(dupes, [], 'every record exactly once');
});

test('restart: every acknowledged record and committed offset survives; consumption resumes after the commit', async () => {
  const dir = tmp();
  let broker = await startBroker({ dir, port: 0, fsync: 'always' });
  let kafka = client(broker);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'durable', numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  await producer.send({ topic: 'durable', messages: Array.from({ length: 100 }, (_, i) => ({ value: String(i) })) });
  await producer.disconnect();
  const c1 = kafka.consumer({ groupId: 'resume', maxWaitTimeInMs: 100 });
  await c1.connect();
  await c1.subscribe({ topic: 'durable', fromBeginning: true });
  await c1.run({ autoCommit: false, eachMessage: async () => undefined });
  const admin1 = kafka.admin();
  await admin1.connect();
  await waitFor('joined', async () => ((await admin1.describeGroups(['resume'])).groups[0]?.state === 'Stable' ? true : undefined));
  await admin1.disconnect();
  await c1.commitOffsets([{ topic: 'durable', partition: 0, offset: '60' }]);
  await c1.disconnect();
  await broker.close();

  // a crash mid-append leaves a torn batch at the end of the segment
  const logDir = path.join(dir, 'logs', 'durable-0');
  const segment = readdirSync(logDir).find((f) => f.endsWith('.log'))!;
  appendFileSync(path.join(logDir, segment), Buffer.from([0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 1, 0, 7, 7, 7]));

  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    name: 'torn',
    level: 'warn',
    destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) }),
  });
  broker = await startBroker({ dir, port: 0, logger });
  const cut = lines.filter((l) => /torn segment tail cut/.test(String(l.msg)));
  assert.equal(cut.length, 1, 'the cut is logged once, with what was cut');
  assert.equal(cut[0]!.cutBytes, 15);
  assert.equal(cut[0]!.lastOffset, 99);
  assert.equal(cut[0]!.segment, path.join('logs', 'durable-0', segment));
  kafka = client(broker);
  const admin2 = kafka.admin();
  await admin2.connect();
  assert.deepEqual(
    (await admin2.fetchTopicOffsets('durable')).map((p) => [p.low, p.high]),
    [['0', '100']],
  );
  assert.equal((await admin2.fetchOffsets({ groupId: 'resume', topics: ['durable'] }))[0]!.partitions[0]!.offset, '60');
  const got: number[] = [];
  const c2 = kafka.consumer({ groupId: 'resume', maxWaitTimeInMs: 100 });
  await c2.connect();
  await c2.subscribe({ topic: 'durable', fromBeginning: true });
  await c2.run({ eachMessage: async ({ message }) => void got.push(Number(message.value!.toString())) });
  await waitFor('the uncommitted tail', () => (got.length >= 40 ? true : undefined));
  await c2.disconnect();
  const producer2 = kafka.producer();
  await producer2.connect();
  const [res] = await producer2.send({ topic: 'durable', messages: [{ value: 'after restart' }] });
  assert.equal(res!.baseOffset, '100', 'the torn bytes were truncated, offsets continue');
  await producer2.disconnect();
  await admin2.disconnect();
  await broker.close();
  assert.deepEqual(
    got,
    Array.from({ length: 40 }, (_, i) => 60 + i),
  );
});

test('compaction keeps the latest record per key; size retention drops old segments', async () => {
  const dir = tmp();
  const broker = await startBroker({ dir, port: 0 });
  const kafka = client(broker);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic: 'compacted',
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: '300' },
        ],
      },
      {
        topic: 'bounded',
        numPartitions: 1,
        configEntries: [
          { name: 'retention.bytes', value: '1000' },
          { name: 'segment.bytes', value: '300' },
        ],
      },
    ],
  });
  const producer = kafka.producer();
  await producer.connect();
  for (let round = 0; round < 5; round++) {
    await producer.send({ topic: 'compacted', messages: ['jti:a', 'sub:b', 'jti:c'].map((key) => ({ key, value: `${key}@${round}` })) });
  }
  for (let i = 0; i < 10; i++) await producer.send({ topic: 'bounded', messages: [{ value: 'x'.repeat(200) }] });
  broker.maintain();
  const values: string[] = [];
  const consumer = kafka.consumer({ groupId: 'compaction-reader', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'compacted', fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
  await waitFor('latest values', () => (['jti:a@4', 'sub:b@4', 'jti:c@4'].every((v) => values.includes(v)) ? true : undefined));
  await consumer.disconnect();
  for (const key of ['jti:a', 'sub:b', 'jti:c']) {
    const older = values.filter((v) => v.startsWith(`${key}@`) && v !== `${key}@4`);
    assert.ok(older.length <= 1, `at most the active segment keeps an older ${key}: ${older.join(',')}`);
  }
  assert.ok(values.length < 15, `compaction removed records (${values.length} of 15 left)`);
  const bounded = await admin.fetchTopicOffsets('bounded');
  assert.ok(Number(bounded[0]!.low) > 0, 'old segments deleted');
  assert.equal(bounded[0]!.high, '10');
  await producer.disconnect();
  await admin.disconnect();
  await broker.close();
});
