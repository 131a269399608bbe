import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startBroker, type Broker, type BrokerOptions } from '../index.js';

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

const client = (b: Broker) => new Kafka({ brokers: [b.address], clientId: 'txn-test', logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });

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
  await consumer.run({ eachMessage: async ({ partition, message }) => void got.push({ p: partition, o: BigInt(message.offset), v: message.value!.toString() }) });
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
  await committed.send({ topic: 'txn-basic', messages: [{ key: 'a', value: 'c1' }, { key: 'b', value: 'c2' }] });
  await committed.commit();
  const aborted = await p.transaction();
  await aborted.send({ topic: 'txn-basic', messages: [{ key: 'a', value: 'x1' }, { key: 'b', value: 'x2' }, { key: 'c', value: 'x3' }] });
  await aborted.abort();
  const last = await p.transaction();
  await last.send({ topic: 'txn-basic', messages: [{ key: 'a', value: 'c3' }, { key: 'b', value: 'c4' }] });
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
  await assert.rejects(t.send({ topic: 'txn-fence', messages: [{ value: 'zombie-2' }] }), (err: Error & { type?: string; cause?: { type?: string } }) => /INVALID_PRODUCER_EPOCH|epoch/i.test(`${err.message} ${err.type} ${err.cause?.type}`));
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
  await done.send({ topic: 'txn-restart', messages: [{ key: 'k1', value: 'kept-1' }, { key: 'k2', value: 'kept-2' }] });
  await done.sendOffsets({ consumerGroupId: 'g', topics: [{ topic: 'txn-restart', partitions: [{ partition: 0, offset: '1' }] }] });
  await done.commit();
  const open = await p.transaction();
  await open.send({ topic: 'txn-restart', messages: [{ key: 'k1', value: 'lost-1' }, { key: 'k2', value: 'lost-2' }] });
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

/** A small seeded generator, so a failure names the case that reproduces it. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
