import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { Reader, Writer } from './primitives.js';
import { RawConnection } from '../testdata/wire.js';

// Incremental fetch sessions (KIP-227) as Kafka 3.9's FetchManager answers them, on the raw wire
// with Fetch v12 (topic names) and v13 (topic ids).

let broker: Broker;
let dir: string;
let kafka: Kafka;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-fsess-'));
  broker = await startBroker({ dir, port: 0 });
  kafka = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'fs', numPartitions: 3 }] });
  await admin.disconnect();
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

const E = { NONE: 0, FETCH_SESSION_ID_NOT_FOUND: 70, INVALID_FETCH_SESSION_EPOCH: 71, FETCH_SESSION_TOPIC_ID_ERROR: 106 };

interface Req {
  sessionId: number;
  epoch: number;
  partitions?: [number, number][];
  forget?: number[];
  maxWaitMs?: number;
  minBytes?: number;
  topicId?: string;
}
/** Fetch v12 (or v13 with `topicId`) on topic 'fs'. */
function body(v: number, q: Req): Buffer {
  const w = new Writer();
  w.int32(-1)
    .int32(q.maxWaitMs ?? 0)
    .int32(q.minBytes ?? 0)
    .int32(1 << 20)
    .int8(0)
    .int32(q.sessionId)
    .int32(q.epoch);
  const topic = (x: Writer) => (v >= 13 ? x.uuid(q.topicId!) : x.str(true, 'fs'));
  const parts = q.partitions ?? [];
  w.arr(true, parts.length ? [0] : [], (x) => {
    topic(x);
    x.arr(true, parts, (y, [p, o]) =>
      y
        .int32(p)
        .int32(-1)
        .int64(o)
        .int32(-1)
        .int64(-1)
        .int32(1 << 20)
        .uvarint(0),
    );
    x.uvarint(0);
  });
  const forget = q.forget ?? [];
  w.arr(true, forget.length ? [0] : [], (x) => {
    topic(x);
    x.arr(true, forget, (y, p) => y.int32(p));
    x.uvarint(0);
  });
  w.str(true, '').uvarint(0);
  return Buffer.from(w.toBuffer());
}
interface Res {
  error: number;
  sessionId: number;
  partitions: { partition: number; error: number; hw: number; records: number }[];
}
function read(v: number, b: Buffer): Res {
  const r = new Reader(b);
  r.skipTaggedFields();
  assert.equal(r.int32(), 0);
  const error = r.int16();
  const sessionId = r.int32();
  const partitions: Res['partitions'] = [];
  r.arr(true, (x) => {
    if (v >= 13) x.uuid();
    else assert.equal(x.str(true), 'fs');
    x.arr(true, (y) => {
      const partition = y.int32();
      const perr = y.int16();
      const hw = y.int64n();
      y.int64();
      y.int64();
      y.narr(true, (z) => [z.int64(), z.int64(), z.skipTaggedFields()]);
      y.int32();
      partitions.push({ partition, error: perr, hw, records: y.byts(true).length });
      y.skipTaggedFields();
    });
    x.skipTaggedFields();
  });
  r.skipTaggedFields();
  assert.equal(r.remaining(), 0);
  return { error, sessionId, partitions };
}
const fetch = async (c: RawConnection, q: Req, v = 12) => read(v, await c.request(1, v, body(v, q), true));
const parts = (res: Res) => res.partitions.map((p) => [p.partition, p.hw, p.records > 0]);

async function produce(partition: number, n: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'fs', messages: Array.from({ length: n }, (_, i) => ({ partition, value: `p${partition}-${i}` })) });
  await producer.disconnect();
}

test('a full fetch with epoch 0 creates a session; incremental fetches answer only what changed; the epoch advances by one', async () => {
  const c = await RawConnection.open(broker.port);
  await produce(0, 2);
  const first = await fetch(c, {
    sessionId: 0,
    epoch: 0,
    partitions: [
      [0, 0],
      [1, 0],
      [2, 0],
    ],
  });
  assert.equal(first.error, E.NONE);
  assert.ok(first.sessionId > 0, 'a session id');
  assert.deepEqual(
    parts(first),
    [
      [0, 2, true],
      [1, 0, false],
      [2, 0, false],
    ],
    'a full answer: every partition',
  );
  const id = first.sessionId;
  // The client moves partition 0 past what it read and sends only that change.
  let res = await fetch(c, { sessionId: id, epoch: 1, partitions: [[0, 2]] });
  assert.deepEqual([res.error, res.sessionId, parts(res)], [E.NONE, id, []], 'nothing changed: no partitions');
  await produce(1, 3);
  res = await fetch(c, { sessionId: id, epoch: 2 });
  assert.deepEqual(parts(res), [[1, 3, true]], 'partition 1 has records (the session kept its offset 0)');
  res = await fetch(c, { sessionId: id, epoch: 3, partitions: [[1, 3]] });
  assert.deepEqual(parts(res), [], 'read to the end');
  // An incremental fetch long-polls over the whole session.
  const waiting = fetch(c, { sessionId: id, epoch: 4, maxWaitMs: 20_000, minBytes: 1 });
  await produce(2, 1);
  res = await waiting;
  assert.deepEqual(parts(res), [[2, 1, true]]);
  c.close();
});

test('session errors as FetchManager: an unknown id, another epoch, topic ids mixed with names; a session emptied by forgotten partitions closes; epoch -1 fetches without one; a full fetch naming a session closes it', async () => {
  const c = await RawConnection.open(broker.port);
  const created = await fetch(c, {
    sessionId: 0,
    epoch: 0,
    partitions: [
      [0, 0],
      [1, 0],
    ],
  });
  const id = created.sessionId;
  assert.deepEqual(await fetch(c, { sessionId: id, epoch: 2 }), { error: E.INVALID_FETCH_SESSION_EPOCH, sessionId: 0, partitions: [] });
  assert.equal((await fetch(c, { sessionId: id, epoch: 1 })).error, E.NONE, 'an error does not advance the epoch');
  assert.deepEqual(await fetch(c, { sessionId: id === 1 ? 2 : id - 1, epoch: 1 }), { error: E.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, partitions: [] });
  assert.deepEqual(await fetch(c, { sessionId: id, epoch: 2, topicId: 'ab'.repeat(16) }, 13), {
    error: E.FETCH_SESSION_TOPIC_ID_ERROR,
    sessionId: 0,
    partitions: [],
  });
  // Forgetting every partition closes the session.
  const closed = await fetch(c, { sessionId: id, epoch: 2, forget: [0, 1] });
  assert.deepEqual([closed.error, closed.sessionId], [E.NONE, 0]);
  assert.equal((await fetch(c, { sessionId: id, epoch: 3 })).error, E.FETCH_SESSION_ID_NOT_FOUND);
  // FINAL_EPOCH (-1): a full fetch, no session (what kafkajs and librdkafka 2.0 send).
  const sessionless = await fetch(c, { sessionId: 0, epoch: -1, partitions: [[0, 0]] });
  assert.deepEqual([sessionless.error, sessionless.sessionId, sessionless.partitions.length], [E.NONE, 0, 1]);
  // A full fetch naming a session closes it (and epoch 0 opens a new one).
  const a = (await fetch(c, { sessionId: 0, epoch: 0, partitions: [[0, 0]] })).sessionId;
  const b = (await fetch(c, { sessionId: a, epoch: 0, partitions: [[1, 0]] })).sessionId;
  assert.ok(b > 0 && b !== a);
  assert.equal((await fetch(c, { sessionId: a, epoch: 1 })).error, E.FETCH_SESSION_ID_NOT_FOUND);
  assert.equal((await fetch(c, { sessionId: b, epoch: 1 })).error, E.NONE);
  c.close();
});

test('generated session id / epoch sequences get the answer a model of FetchManager predicts', async () => {
  const c = await RawConnection.open(broker.port);
  let seed = 227;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const model = new Map<number, number>(); // session id -> expected epoch
  const empty = new Set<number>(); // sessions created without partitions (Kafka creates those too)
  for (let i = 0; i < 300; i++) {
    const ids = [...model.keys()];
    const choice = rand(6);
    if (choice === 0 || ids.length === 0) {
      const res = await fetch(c, { sessionId: 0, epoch: 0, partitions: [[rand(3), 0]] });
      assert.equal(res.error, E.NONE);
      model.set(res.sessionId, 1);
      continue;
    }
    const id = choice === 1 ? 1 + rand(0x7ffffffe) : ids[rand(ids.length)]!;
    const expected = model.get(id);
    const epoch = [expected ?? 1, (expected ?? 1) + 1, (expected ?? 1) - 1, 0x7fffffff, -2 - rand(1000), 1 + rand(1_000_000)][rand(6)]!;
    const res = await fetch(c, { sessionId: id, epoch });
    if (epoch === 0) {
      // A full fetch naming the session closes it and opens a new one.
      model.delete(id);
      assert.equal(res.error, E.NONE);
      assert.ok(res.sessionId > 0);
      model.set(res.sessionId, 1);
      empty.add(res.sessionId);
      continue;
    }
    if (expected === undefined) assert.equal(res.error, E.FETCH_SESSION_ID_NOT_FOUND, `id ${id} epoch ${epoch}`);
    else if (epoch !== expected) assert.equal(res.error, E.INVALID_FETCH_SESSION_EPOCH, `id ${id} epoch ${epoch}, expected ${expected}`);
    else if (empty.has(id)) {
      assert.deepEqual([res.error, res.sessionId], [E.NONE, 0], 'a session with no partitions is closed by its first incremental fetch');
      model.delete(id);
    } else {
      assert.deepEqual([res.error, res.sessionId], [E.NONE, id]);
      model.set(id, expected + 1);
    }
  }
  c.close();
});

test('the session cache keeps max.incremental.fetch.session.cache.slots sessions, evicting the least recently used; 0 slots creates none', async () => {
  for (const slots of [2, 0]) {
    const d = mkdtempSync(path.join(tmpdir(), 'ekafka-fsess-slots-'));
    const b = await startBroker({ dir: d, port: 0, maxIncrementalFetchSessionCacheSlots: slots });
    const admin = new Kafka({ brokers: [b.address], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'fs', numPartitions: 1 }] });
    await admin.disconnect();
    const c = await RawConnection.open(b.port);
    const open = async () => (await fetch(c, { sessionId: 0, epoch: 0, partitions: [[0, 0]] })).sessionId;
    if (slots === 0) assert.equal(await open(), 0);
    else {
      const [s1, s2] = [await open(), await open()];
      assert.equal((await fetch(c, { sessionId: s1, epoch: 1 })).error, E.NONE, 's1 used: s2 is now the least recent');
      const s3 = await open();
      assert.equal((await fetch(c, { sessionId: s2, epoch: 1 })).error, E.FETCH_SESSION_ID_NOT_FOUND, 's2 evicted');
      assert.equal((await fetch(c, { sessionId: s1, epoch: 2 })).error, E.NONE);
      assert.equal((await fetch(c, { sessionId: s3, epoch: 1 })).error, E.NONE);
    }
    c.close();
    await b.close();
    rmSync(d, { recursive: true, force: true });
  }
});
