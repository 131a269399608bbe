import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startBroker, type Broker, type BrokerOptions } from '../index.js';
import { Reader, Writer } from './primitives.js';
import { buildBatch, exchange, frame, produceBody, RawConnection, readProduceResult } from '../testdata/wire.js';
import { prng } from '@jwt-audit/runtime/testing/prng';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'ekafka-txn-'));
  dirs.push(d);
  return d;
};
const brokers: Broker[] = [];
after(async () => {
  for (const b of brokers) await b.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(opts: Partial<BrokerOptions> & { dir?: string } = {}): Promise<Broker> {
  const b = await startBroker({ port: 0, ...opts, dir: opts.dir ?? tmp() });
  brokers.push(b);
  return b;
}

const client = (b: Broker) =>
  new Kafka({ brokers: [b.address], clientId: 'txn-test', logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function createTopic(b: Broker, topic: string, numPartitions = 1) {
  const admin = client(b).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions }] });
  await admin.disconnect();
}

async function txProducer(b: Broker, transactionalId: string, transactionTimeout = 60_000): Promise<Producer> {
  const p = client(b).producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout });
  await p.connect();
  return p;
}

/** Reads a topic from the beginning with a fresh group until `done` says so; returns the values in partition/offset order. */
async function readTopic(b: Broker, topic: string, opts: { readUncommitted?: boolean; done: (values: string[]) => boolean }): Promise<string[]> {
  const consumer = client(b).consumer({ groupId: `read-${Math.random()}`, maxWaitTimeInMs: 50, readUncommitted: opts.readUncommitted ?? false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: { p: number; o: bigint; v: string }[] = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => void got.push({ p: partition, o: BigInt(message.offset), v: message.value!.toString() }),
  });
  try {
    await waitFor(`${topic}: expected records`, () => (opts.done(got.map((g) => g.v)) ? true : undefined));
  } finally {
    await consumer.disconnect();
  }
  return got.sort((a, b) => a.p - b.p || (a.o < b.o ? -1 : 1)).map((g) => g.v);
}

async function latestOffsets(b: Broker, topic: string) {
  // kafkajs's admin asks ListOffsets with READ_COMMITTED: the last stable offset.
  const admin = client(b).admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return offsets.map((o) => ({ partition: o.partition, offset: Number(o.offset), high: Number(o.high) }));
}

test('committed records are read once by read_committed consumers, aborted ones never; read_uncommitted sees both', async () => {
  const b = await start();
  await createTopic(b, 'txn-basic', 2);
  const p = await txProducer(b, 'basic');
  const committed = await p.transaction();
  await committed.send({
    topic: 'txn-basic',
    messages: [
      { key: 'a', value: 'c1' },
      { key: 'b', value: 'c2' },
    ],
  });
  await committed.commit();
  const aborted = await p.transaction();
  await aborted.send({
    topic: 'txn-basic',
    messages: [
      { key: 'a', value: 'x1' },
      { key: 'b', value: 'x2' },
      { key: 'c', value: 'x3' },
    ],
  });
  await aborted.abort();
  const last = await p.transaction();
  await last.send({
    topic: 'txn-basic',
    messages: [
      { key: 'a', value: 'c3' },
      { key: 'b', value: 'c4' },
    ],
  });
  await last.commit();
  await p.disconnect();

  const rc = await readTopic(b, 'txn-basic', { done: (v) => v.includes('c3') && v.includes('c4') });
  assert.deepEqual([...rc].sort(), ['c1', 'c2', 'c3', 'c4']);
  const ru = await readTopic(b, 'txn-basic', { readUncommitted: true, done: (v) => v.length >= 7 });
  assert.deepEqual([...ru].sort(), ['c1', 'c2', 'c3', 'c4', 'x1', 'x2', 'x3']);
});

test('an open transaction holds read_committed consumers at the last stable offset; ListOffsets read_committed answers it, not the high watermark', async () => {
  const b = await start();
  await createTopic(b, 'txn-lso');
  const plain = client(b).producer();
  await plain.connect();
  await plain.send({ topic: 'txn-lso', messages: [{ value: 'before' }] });
  const p = await txProducer(b, 'lso');
  const open = await p.transaction();
  await open.send({ topic: 'txn-lso', messages: [{ value: 'inside-1' }, { value: 'inside-2' }] });
  // A non-transactional record after the open transaction: behind the LSO too.
  await plain.send({ topic: 'txn-lso', messages: [{ value: 'after' }] });
  const [off] = await latestOffsets(b, 'txn-lso');
  assert.equal(off!.offset, 1, 'LSO = first offset of the open transaction');

  const consumer = client(b).consumer({ groupId: 'lso-reader', maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'txn-lso', fromBeginning: true });
  const got: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
  await waitFor('the record before the transaction', () => (got.includes('before') ? true : undefined));
  // What read_committed may read is bounded by the LSO, which the open transaction pins: commit moves it.
  assert.deepEqual(got, ['before']);
  await open.commit();
  await waitFor('records after commit', () => (got.length === 4 ? true : undefined));
  assert.deepEqual(got, ['before', 'inside-1', 'inside-2', 'after']);
  await consumer.disconnect();
  const [end] = await latestOffsets(b, 'txn-lso');
  assert.equal(end!.offset, 5, 'LSO = log end once decided (4 records + 1 marker)');
  await plain.disconnect();
  await p.disconnect();
});

test('sendOffsets: offsets reach the group only when the transaction commits, never when it aborts', async () => {
  const b = await start();
  await createTopic(b, 'txn-in');
  await createTopic(b, 'txn-out');
  const kafka = client(b);
  const admin = kafka.admin();
  await admin.connect();
  const committedOffset = async () => Number((await admin.fetchOffsets({ groupId: 'stage', topics: ['txn-in'] }))[0]!.partitions[0]!.offset);
  const p = await txProducer(b, 'offsets');
  const t1 = await p.transaction();
  await t1.send({ topic: 'txn-out', messages: [{ value: 'out-1' }] });
  await t1.sendOffsets({ consumerGroupId: 'stage', topics: [{ topic: 'txn-in', partitions: [{ partition: 0, offset: '7' }] }] });
  assert.equal(await committedOffset(), -1, 'pending until commit');
  await t1.commit();
  assert.equal(await committedOffset(), 7);
  const t2 = await p.transaction();
  await t2.send({ topic: 'txn-out', messages: [{ value: 'out-2' }] });
  await t2.sendOffsets({ consumerGroupId: 'stage', topics: [{ topic: 'txn-in', partitions: [{ partition: 0, offset: '9' }] }] });
  await t2.abort();
  assert.equal(await committedOffset(), 7, 'an aborted transaction commits no offset');
  await admin.disconnect();
  await p.disconnect();
});

test('a second producer with the same transactional id fences the first and aborts its open transaction', async () => {
  const b = await start();
  await createTopic(b, 'txn-fence');
  const old = await txProducer(b, 'fence');
  const t = await old.transaction();
  await t.send({ topic: 'txn-fence', messages: [{ value: 'zombie-1' }] });
  const fresh = await txProducer(b, 'fence');
  const ft = await fresh.transaction(); // kafkajs sends InitProducerId here
  // The zombie can neither write nor commit: INVALID_PRODUCER_EPOCH (PRODUCER_FENCED to newer clients).
  await assert.rejects(t.send({ topic: 'txn-fence', messages: [{ value: 'zombie-2' }] }), (err: Error & { type?: string; cause?: { type?: string } }) =>
    /INVALID_PRODUCER_EPOCH|epoch/i.test(`${err.message} ${err.type} ${err.cause?.type}`),
  );
  await assert.rejects(t.commit());
  await ft.send({ topic: 'txn-fence', messages: [{ value: 'fresh' }] });
  await ft.commit();
  const rc = await readTopic(b, 'txn-fence', { done: (v) => v.includes('fresh') });
  assert.deepEqual(rc, ['fresh']);
  await old.disconnect().catch(() => undefined);
  await fresh.disconnect();
});

test('a transaction open past its transaction.timeout.ms is aborted by the broker and its producer fenced', async () => {
  const b = await start({ transactionAbortTimedOutIntervalMs: 100 });
  await createTopic(b, 'txn-timeout');
  const p = await txProducer(b, 'slow', 1_000);
  const t = await p.transaction();
  await t.send({ topic: 'txn-timeout', messages: [{ value: 'never' }] });
  await waitFor('the broker to abort the transaction', async () => {
    const [o] = await latestOffsets(b, 'txn-timeout');
    return o!.offset === 2 ? true : undefined; // record + abort marker: LSO at the log end
  });
  await assert.rejects(t.commit());
  await p.disconnect().catch(() => undefined);
  const next = await txProducer(b, 'slow');
  const t2 = await next.transaction();
  await t2.send({ topic: 'txn-timeout', messages: [{ value: 'later' }] });
  await t2.commit();
  const rc = await readTopic(b, 'txn-timeout', { done: (v) => v.includes('later') });
  assert.deepEqual(rc, ['later']);
  await next.disconnect();
});

test('a broker restarted mid-transaction keeps it open (LSO held), and the next producer of the id aborts it', async () => {
  const dir = tmp();
  let b = await start({ dir });
  await createTopic(b, 'txn-restart');
  const p = await txProducer(b, 'restart');
  const done = await p.transaction();
  await done.send({
    topic: 'txn-restart',
    messages: [
      { key: 'k1', value: 'kept-1' },
      { key: 'k2', value: 'kept-2' },
    ],
  });
  await done.sendOffsets({ consumerGroupId: 'g', topics: [{ topic: 'txn-restart', partitions: [{ partition: 0, offset: '1' }] }] });
  await done.commit();
  const open = await p.transaction();
  await open.send({
    topic: 'txn-restart',
    messages: [
      { key: 'k1', value: 'lost-1' },
      { key: 'k2', value: 'lost-2' },
    ],
  });
  await p.disconnect().catch(() => undefined);
  await b.close();

  b = await start({ dir });
  // 2 committed records, their marker (offset 2), 2 open records (3, 4): the LSO stays at 3.
  assert.equal((await latestOffsets(b, 'txn-restart'))[0]!.offset, 3, 'the open transaction still holds the LSO after the restart');
  const next = await txProducer(b, 'restart');
  const t = await next.transaction(); // InitProducerId: aborts the open transaction (marker at 5)
  assert.equal((await latestOffsets(b, 'txn-restart'))[0]!.offset, 6, 'decided once the next producer initialised the id');
  await t.send({ topic: 'txn-restart', messages: [{ key: 'k1', value: 'kept-3' }] });
  await t.commit();
  const rc = await readTopic(b, 'txn-restart', { done: (v) => v.includes('kept-3') && v.length >= 3 });
  assert.deepEqual([...rc].sort(), ['kept-1', 'kept-2', 'kept-3']);
  const admin = client(b).admin();
  await admin.connect();
  const offs = await admin.fetchOffsets({ groupId: 'g', topics: ['txn-restart'] });
  assert.equal(offs[0]!.partitions.find((x) => x.partition === 0)!.offset, '1', 'committed transactional offset survives the restart');
  await admin.disconnect();
  await next.disconnect();
});

test('a broker stopped between PrepareCommit and the markers finishes the commit at start: records visible, offsets applied', async () => {
  const dir = tmp();
  let b = await start({ dir });
  await createTopic(b, 'txn-prepare', 2);
  const p = await txProducer(b, 'prepare');
  const t = await p.transaction();
  await t.send({
    topic: 'txn-prepare',
    messages: [
      { partition: 0, value: 'p0' },
      { partition: 1, value: 'p1' },
    ],
  });
  await t.sendOffsets({ consumerGroupId: 'prep-g', topics: [{ topic: 'txn-prepare', partitions: [{ partition: 0, offset: '3' }] }] });
  await p.disconnect().catch(() => undefined);
  await b.close();
  // What transactions.json holds when the broker dies after writing PrepareCommit, before any marker.
  const file = path.join(dir, 'transactions.json');
  const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { state: string }>;
  assert.equal(state.prepare!.state, 'Ongoing');
  state.prepare!.state = 'PrepareCommit';
  writeFileSync(file, JSON.stringify(state));
  b = await start({ dir });
  for (const o of await latestOffsets(b, 'txn-prepare')) assert.equal(o.offset, 2, `partition ${o.partition}: record + commit marker, decided at start`);
  const rc = await readTopic(b, 'txn-prepare', { done: (v) => v.length >= 2 });
  assert.deepEqual([...rc].sort(), ['p0', 'p1']);
  const admin = client(b).admin();
  await admin.connect();
  const offs = await admin.fetchOffsets({ groupId: 'prep-g', topics: ['txn-prepare'] });
  assert.equal(offs[0]!.partitions.find((x) => x.partition === 0)!.offset, '3');
  await admin.disconnect();
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as Record<string, { state: string }>).prepare!.state, 'CompleteCommit');
});

test('generated interleavings of three transactional producers and a plain one read as a model says', async () => {
  for (const seed of [11, 29, 47]) {
    const b = await start();
    const topic = `txn-model-${seed}`;
    await createTopic(b, topic, 2);
    const rnd = prng(seed);
    const producers = await Promise.all([0, 1, 2].map((i) => txProducer(b, `model-${seed}-${i}`)));
    const plain = client(b).producer();
    await plain.connect();
    type Txn = Awaited<ReturnType<Producer['transaction']>>;
    const open: (Txn | undefined)[] = [undefined, undefined, undefined];
    const pending: string[][] = [[], [], []];
    const committed = new Set<string>();
    const all = new Set<string>();
    let n = 0;
    for (let step = 0; step < 60; step++) {
      const who = Math.floor(rnd() * 4);
      const r = rnd();
      if (who === 3) {
        const v = `s${seed}-plain-${n++}`;
        await plain.send({ topic, messages: [{ key: v, value: v }] });
        committed.add(v);
        all.add(v);
        continue;
      }
      if (!open[who]) open[who] = await producers[who]!.transaction();
      if (r < 0.6 || pending[who]!.length === 0) {
        const vs = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => `s${seed}-p${who}-${n++}`);
        await open[who]!.send({ topic, messages: vs.map((v) => ({ key: v, value: v })) });
        pending[who]!.push(...vs);
        for (const v of vs) all.add(v);
      } else {
        const commit = r < 0.85;
        if (commit) await open[who]!.commit();
        else await open[who]!.abort();
        if (commit) for (const v of pending[who]!) committed.add(v);
        pending[who] = [];
        open[who] = undefined;
      }
    }
    for (let who = 0; who < 3; who++) {
      if (open[who]) {
        await open[who]!.commit();
        for (const v of pending[who]!) committed.add(v);
      }
    }
    const rc = await readTopic(b, topic, { done: (v) => v.length >= committed.size });
    assert.deepEqual(new Set(rc), committed, `seed ${seed}: read_committed reads exactly the committed records`);
    assert.equal(rc.length, committed.size, `seed ${seed}: each once`);
    const ru = await readTopic(b, topic, { readUncommitted: true, done: (v) => v.length >= all.size });
    assert.deepEqual(new Set(ru), all, `seed ${seed}: read_uncommitted reads everything`);
    for (const o of await latestOffsets(b, topic)) assert.equal(o.offset, o.high, `seed ${seed}: every transaction decided`);
    for (const p of producers) await p.disconnect();
    await plain.disconnect();
  }
});

// ---- the raw wire: error codes a client of any version must see ----

const E = {
  NONE: 0,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_PRODUCER_ID_MAPPING: 49,
  INVALID_TRANSACTION_TIMEOUT: 50,
  UNKNOWN_TOPIC: 3,
  OPERATION_NOT_ATTEMPTED: 55,
  UNSTABLE_OFFSET_COMMIT: 88,
  PRODUCER_FENCED: 90,
};

const body = (fill: (w: Writer) => void) => {
  const w = new Writer();
  fill(w);
  return Buffer.from(w.toBuffer());
};
const initPid = (txnId: string, timeoutMs = 60_000) => body((w) => w.nullableString(txnId).int32(timeoutMs)); // v1
const readInit = (b: Buffer) => ({ error: b.readInt16BE(4), producerId: Number(b.readBigInt64BE(6)), epoch: b.readInt16BE(14) });
const addPartitions = (txnId: string, pid: number, epoch: number, topic: string, partitions: number[]) =>
  body((w) =>
    w
      .string(txnId)
      .int64(pid)
      .int16(epoch)
      .array([topic], (x, t) => x.string(t).array(partitions, (y, p) => y.int32(p))),
  );
const readAddPartitions = (b: Buffer) => {
  const r = new Reader(b);
  r.int32();
  return r.array((x) => ({ name: x.string(), partitions: x.array((y) => ({ partition: y.int32(), error: y.int16() })) }))[0]!.partitions.map((p) => p.error);
};
const endTxn = (txnId: string, pid: number, epoch: number, commit: boolean) => body((w) => w.string(txnId).int64(pid).int16(epoch).bool(commit));
const readError = (b: Buffer) => b.readInt16BE(4);

test('raw wire: timeouts, id mapping, fencing per version (PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before), EndTxn retries, unadded partitions, require_stable', async () => {
  const b = await start({ transactionMaxTimeoutMs: 120_000 });
  await createTopic(b, 'wire-txn', 2);
  const c = await RawConnection.open(b.port);
  assert.equal(readInit(await c.request(22, 1, initPid('w', 120_001))).error, E.INVALID_TRANSACTION_TIMEOUT);
  assert.equal(readInit(await c.request(22, 1, initPid('w', 0))).error, E.INVALID_TRANSACTION_TIMEOUT);
  const first = readInit(await c.request(22, 1, initPid('w')));
  assert.deepEqual({ error: first.error, epoch: first.epoch }, { error: 0, epoch: 0 });
  const { producerId: pid } = first;
  // Another producer id, an unknown transactional id: INVALID_PRODUCER_ID_MAPPING.
  assert.deepEqual(readAddPartitions(await c.request(24, 1, addPartitions('w', pid + 1, 0, 'wire-txn', [0]))), [E.INVALID_PRODUCER_ID_MAPPING]);
  assert.deepEqual(readAddPartitions(await c.request(24, 1, addPartitions('nobody', pid, 0, 'wire-txn', [0]))), [E.INVALID_PRODUCER_ID_MAPPING]);
  // An unknown partition: that one UNKNOWN_TOPIC_OR_PARTITION, the rest not attempted.
  assert.deepEqual(readAddPartitions(await c.request(24, 1, addPartitions('w', pid, 0, 'wire-txn', [0, 7]))), [E.OPERATION_NOT_ATTEMPTED, E.UNKNOWN_TOPIC]);
  // EndTxn with nothing begun is INVALID_TXN_STATE.
  assert.equal(readError(await c.request(26, 1, endTxn('w', pid, 0, true))), E.INVALID_TXN_STATE);
  assert.deepEqual(readAddPartitions(await c.request(24, 1, addPartitions('w', pid, 0, 'wire-txn', [0]))), [E.NONE]);
  // A transactional batch to a partition not added: INVALID_TXN_STATE, nothing stored.
  const txnBatch = (seq: number, epoch = 0) =>
    buildBatch([{ value: Buffer.from(`r${seq}`) }], { producerId: pid, producerEpoch: epoch, baseSequence: seq, attributes: 0x10 });
  assert.equal(
    readProduceResult(await c.request(0, 3, produceBody('wire-txn', txnBatch(0), { transactionalId: 'w', partition: 1 }))).error,
    E.INVALID_TXN_STATE,
  );
  assert.equal(readProduceResult(await c.request(0, 3, produceBody('wire-txn', txnBatch(0), { transactionalId: 'w', partition: 0 }))).error, E.NONE);
  // The commit, then its retry (NONE), then an abort of what was committed (INVALID_TXN_STATE).
  assert.equal(readError(await c.request(26, 1, endTxn('w', pid, 0, true))), E.NONE);
  assert.equal(readError(await c.request(26, 1, endTxn('w', pid, 0, true))), E.NONE);
  assert.equal(readError(await c.request(26, 1, endTxn('w', pid, 0, false))), E.INVALID_TXN_STATE);
  // A second InitProducerId fences epoch 0: v1 requests hear INVALID_PRODUCER_EPOCH, v2 PRODUCER_FENCED.
  assert.equal(readInit(await c.request(22, 1, initPid('w'))).epoch, 1);
  assert.equal(readError(await c.request(26, 1, endTxn('w', pid, 0, true))), E.INVALID_PRODUCER_EPOCH);
  assert.equal(readError(await c.request(26, 2, endTxn('w', pid, 0, true))), E.PRODUCER_FENCED);
  assert.deepEqual(readAddPartitions(await c.request(24, 2, addPartitions('w', pid, 0, 'wire-txn', [0]))), [E.PRODUCER_FENCED]);
  assert.equal(
    readProduceResult(await c.request(0, 3, produceBody('wire-txn', txnBatch(1), { transactionalId: 'w', partition: 0 }))).error,
    E.INVALID_PRODUCER_EPOCH,
  );
  // require_stable: an offset held by an open transaction is UNSTABLE_OFFSET_COMMIT until it commits.
  assert.deepEqual(readAddPartitions(await c.request(24, 1, addPartitions('w', pid, 1, 'wire-txn', [0]))), [E.NONE]);
  assert.equal(
    readError(
      await c.request(
        25,
        1,
        body((w) => w.string('w').int64(pid).int16(1).string('stable-g')),
      ),
    ),
    E.NONE,
  );
  const txnCommit = body((w) =>
    w
      .string('w')
      .string('stable-g')
      .int64(pid)
      .int16(1)
      .array(['wire-txn'], (x, t) => x.string(t).array([0], (y, p) => y.int32(p).int64(5).int32(-1).nullableString(null))),
  );
  const txnCommitted = new Reader(await c.request(28, 2, txnCommit));
  txnCommitted.int32();
  assert.deepEqual(
    txnCommitted.array((x) => (x.string(), x.array((y) => (y.int32(), y.int16())))),
    [[E.NONE]],
  );
  const offsetFetch = (stable: boolean) =>
    body((w) =>
      w
        .str(true, 'stable-g')
        .arr(true, ['wire-txn'], (x, t) =>
          x
            .str(true, t)
            .arr(true, [0], (y, p) => y.int32(p))
            .tags(true),
        )
        .bool(stable)
        .tags(true),
    );
  const readFetch = (b2: Buffer) => {
    const r = new Reader(b2);
    r.tags(true);
    r.int32();
    const [p] = r.arr(
      true,
      (x) => (
        x.str(true),
        x.arr(true, (y) => ({ partition: y.int32(), offset: y.int64n(), epoch: y.int32(), metadata: y.nstr(true), error: y.int16(), _: y.tags(true) }))
      ),
    )[0]!;
    return { offset: p!.offset, error: p!.error };
  };
  assert.deepEqual(readFetch(await c.request(9, 7, offsetFetch(true), true)), { offset: -1, error: E.UNSTABLE_OFFSET_COMMIT });
  assert.deepEqual(readFetch(await c.request(9, 7, offsetFetch(false), true)), { offset: -1, error: E.NONE });
  assert.equal(readError(await c.request(26, 1, endTxn('w', pid, 1, true))), E.NONE);
  assert.deepEqual(readFetch(await c.request(9, 7, offsetFetch(true), true)), { offset: 5, error: E.NONE });
  c.close();
});

test('raw wire: 400 generated malformed transaction requests close only their own connection', async () => {
  const b = await start();
  await createTopic(b, 'wire-hostile');
  const rnd = prng(7);
  const valid: [number, number, Buffer][] = [
    [24, 1, addPartitions('h', 1000, 0, 'wire-hostile', [0])],
    [25, 1, body((w) => w.string('h').int64(1000).int16(0).string('g'))],
    [26, 1, endTxn('h', 1000, 0, true)],
    [
      28,
      2,
      body((w) =>
        w
          .string('h')
          .string('g')
          .int64(1000)
          .int16(0)
          .array(['wire-hostile'], (x, t) => x.string(t).array([0], (y, p) => y.int32(p).int64(1).int32(-1).nullableString(null))),
      ),
    ],
    [22, 1, initPid('h')],
  ];
  for (let i = 0; i < 400; i++) {
    const [key, v, good] = valid[i % valid.length]!;
    const bad = Buffer.from(good);
    const cut = Math.floor(rnd() * bad.length);
    const mode = i % 3;
    let bytes: Buffer;
    if (mode === 0)
      bytes = bad.subarray(0, cut); // cut short
    else if (mode === 1) {
      bytes = bad;
      bytes.writeInt16BE(0x7fff, Math.min(cut, bad.length - 2) & ~1);
    } // a length overclaimed
    else {
      bytes = bad;
      for (let j = 0; j < 4; j++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    } // random bytes
    const got = await exchange(b.port, frame(key, v, i, bytes));
    assert.ok(got === 'closed' || Buffer.isBuffer(got), `request ${i} (key ${key}) answered or closed`);
  }
  // The broker still serves everyone else.
  const c = await RawConnection.open(b.port);
  assert.equal(readInit(await c.request(22, 1, initPid('after-hostile'))).error, E.NONE);
  c.close();
});
