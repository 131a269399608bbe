/**
 * The publisher and its spool under disk faults (issue #28 items 3 and 4), against the real
 * embedded broker: a full disk, writes that fail, cursor writes that fail, a loop that fails, a
 * stop with events in memory, and a crash mid-drain. Every event is accounted for: delivered
 * (read back from the broker by id) or counted lost with a reason and a log line.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kafka } from '@jwt-audit/kafka';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { createAuditProducer, createKafkaClient } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { Publisher, type LossReason, type PublisherMetrics, type RecordSink } from './publisher.js';
import { Spool, type SpoolRecord } from './spool.js';
import { SimDisk, fsError } from './testdata/sim-disk.js';
import { prng, quietLogger, waitFor } from './testdata/harness.js';

const quiet = quietLogger();
const OVERRIDES = { retry: { initialRetryTime: 50, retries: 1, maxRetryTime: 200 }, connectionTimeout: 300 };
let dir: string;
let broker: Broker;
let kafka: Kafka;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'publisher-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'publisher-test' }, quiet, OVERRIDES);
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await broker?.close();
  await rm(dir, { recursive: true, force: true });
});

let topics = 0;
async function newTopic(): Promise<string> {
  const topic = `spool-test-${++topics}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  return topic;
}

/** Every value on `topic` (ids), once `last` has arrived (the topic has one partition: all before it has too), or `last` records. */
async function readIds(topic: string, last: string | number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Math.random()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
  try {
    await waitFor(`${last} on ${topic}`, () => (typeof last === 'number' ? seen.length >= last : seen.includes(last)), 30_000);
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

const record = (topic: string, id: string): SpoolRecord => ({
  topic,
  key: `sub:${id.length % 3}`,
  value: Buffer.from(id),
  headers: { 'audit-schema-version': '3' },
});

function counting() {
  const lost = new Map<LossReason, number>();
  const c = { cursorFailures: 0, restarts: 0, spooled: 0, lost };
  const metrics: PublisherMetrics = {
    published() {},
    spooled: (n) => void (c.spooled += n),
    lost: (reason, n) => void lost.set(reason, (lost.get(reason) ?? 0) + n),
    publishSeconds() {},
    queueDepth() {},
    spoolBytes() {},
    cursorWriteFailed: () => void c.cursorFailures++,
    loopRestarted: () => void c.restarts++,
  };
  return { c, metrics, lostTotal: () => [...lost.values()].reduce((a, b) => a + b, 0) };
}

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    name: 'test',
    level: 'info',
    destination: new Writable({
      write: (chunk, _e, cb) => (
        lines.push(
          ...String(chunk)
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        ),
        cb()
      ),
    }),
  });
  return { logger, lines, lostLogged: () => lines.filter((l) => l.msg === 'audit events lost').reduce((n, l) => n + Number(l.events), 0) };
}

/** A sink to a broker that is not there (nothing listens on the port). */
function deadSink(): RecordSink {
  return createAuditProducer(createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'dead' }, quiet, OVERRIDES), { logger: quiet });
}

function start(o: {
  spoolDir: string;
  sink: RecordSink;
  disk?: SimDisk;
  minFreeBytes?: number;
  batchSize?: number;
  metrics?: PublisherMetrics;
  logger?: ReturnType<typeof createLogger>;
  sendTimeoutMs?: number;
  fsync?: 'always' | 'never';
}) {
  const spool = new Spool(o.spoolDir, 1 << 30, o.fsync ?? 'never', { ...(o.disk ? { fs: o.disk } : {}), minFreeBytes: o.minFreeBytes ?? 0, freeCheckMs: 50 });
  const p = new Publisher({
    sink: o.sink,
    spool,
    logger: o.logger ?? quiet,
    maxQueue: 100_000,
    batchSize: o.batchSize ?? 100,
    lingerMs: 0,
    unhealthyAfterLossMs: 300,
    sendTimeoutMs: o.sendTimeoutMs ?? 5_000,
    ...(o.metrics ? { metrics: o.metrics } : {}),
  });
  cleanups.push(() => p.stop());
  return { p, spool };
}

it('a full spool disk: fail-closed admission stops before the reserve, /healthz turns unhealthy, every loss is counted and logged, nothing torn, all kept is delivered', async () => {
  const random = prng(3);
  for (const variant of ['reserve', 'statfs-lies'] as const) {
    const topic = await newTopic();
    const spoolDir = path.join(dir, `full-${variant}`);
    const disk = new SimDisk(256 * 1024, spoolDir);
    if (variant === 'statfs-lies') disk.reportFree = 1 << 30; // another writer, quotas: only the writes find out
    const { c, metrics, lostTotal } = counting();
    const log = capturingLogger();
    const { p } = start({ spoolDir, sink: deadSink(), disk, minFreeBytes: 32 * 1024, metrics, logger: log.logger });
    await p.start();
    let refused = 0;
    let sent = 0;
    let unhealthySeen = false;
    for (let n = 0; n < 4_000; n++) {
      const closed = random() < 0.3;
      if (closed && !p.canAccept()) {
        refused++;
        continue;
      }
      p.enqueue([record(topic, `${variant}-${n}`)]);
      sent++;
      if (n % 50 === 0) {
        await new Promise((r) => setTimeout(r, 5));
        if (!p.health().ok) unhealthySeen = true;
      }
    }
    await waitFor('queue written out', () => p.health().queued === 0, 20_000);
    const h = p.health();
    assert.equal(unhealthySeen || !h.ok, true, `${variant}: /healthz unhealthy while the disk is full`);
    assert.ok(refused > 0, `${variant}: fail-closed requests refused (${refused})`);
    assert.ok(lostTotal() > 0, `${variant}: losses counted`);
    if (variant === 'reserve') assert.equal(disk.used() <= disk.capacity - 32 * 1024 + 16 * 1024, true, 'the reserve was kept (within one batch)');
    const reason: LossReason = variant === 'reserve' ? 'spool_full' : 'spool_error';
    assert.ok((c.lost.get(reason) ?? 0) > 0, `${variant}: counted as ${reason}: ${JSON.stringify([...c.lost])}`);
    assert.equal(c.spooled + lostTotal(), sent, `${variant}: every event spooled or counted lost`);
    await p.stop();
    assert.equal(log.lostLogged(), lostTotal(), `${variant}: the log lines add up to the counter`);

    // the broker is reachable again (a restart pointed at it): everything spooled is delivered, nothing torn
    const up = start({ spoolDir, sink: createAuditProducer(kafka, { logger: quiet }), disk: new SimDisk(1 << 30, spoolDir) });
    await up.p.start();
    assert.equal(up.spool.droppedTailBytes, 0, `${variant}: no torn record after the full disk`);
    assert.equal(up.p.health().spooledRecords, c.spooled);
    await waitFor('drained', () => up.p.health().spooledRecords === 0 && up.p.health().queued === 0, 30_000);
    const last = up.p.health();
    assert.equal(last.ok, true);
    await up.p.stop();
    const size = await topicSize(topic);
    assert.equal(size, c.spooled, `${variant}: every spooled event delivered, once`);
    if (size > 0) assert.equal(new Set(await readIds(topic, size)).size, c.spooled);
  }
});

async function topicSize(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return offsets.reduce((n, o) => n + Number(o.high), 0);
}

it('a crash mid-drain: the restart resumes after the last acknowledged batch (duplicates at most one batch), for generated crash points', async () => {
  const random = prng(11);
  const topic = await newTopic();
  const expected: string[] = [];
  let maxDup = 0;
  let dupTotal = 0;
  const producer = createAuditProducer(kafka, { logger: quiet });
  cleanups.push(() => producer.disconnect());
  for (let v = 0; v < 6; v++) {
    const spoolDir = path.join(dir, `crash-${v}`);
    const batchSize = 10 + Math.floor(random() * 60);
    const n = 150 + Math.floor(random() * 250);
    const crashAfter = Math.floor(random() * 4); // batches acknowledged before the crash
    // a backlog spooled while Kafka was away
    const s = new Spool(spoolDir, 1 << 30, 'always');
    await s.open();
    const ids = Array.from({ length: n }, (_, k) => `c${v}-${k}`);
    assert.equal((await s.append(ids.map((id) => record(topic, id)))).appended, n);
    await s.close();
    expected.push(...ids);
    // the process dies while a batch is on the wire: Kafka has it, the spool never hears back
    let sends = 0;
    let release: (() => void) | undefined;
    const dying: RecordSink = {
      connect: () => producer.connect(),
      disconnect: async () => {},
      async send(t, records) {
        await producer.send(t, records);
        if (sends++ === crashAfter) await new Promise<void>((r) => (release = r)); // never answers
      },
    };
    const first = start({ spoolDir, sink: dying, batchSize, fsync: 'always', sendTimeoutMs: 600_000 });
    await first.p.start();
    await waitFor('the crash', () => release !== undefined, 20_000);
    // a new process on the same directory
    const second = start({ spoolDir, sink: producer, batchSize, fsync: 'always' });
    await second.p.start();
    assert.equal(second.p.health().spooledRecords, n - crashAfter * batchSize, `variant ${v}: resumes after ${crashAfter} acknowledged batches`);
    await waitFor('drained', () => second.p.health().spooledRecords === 0, 30_000);
    await second.p.stop();
    cleanups.push(async () => release?.());
    const dups = Math.min(batchSize, n - crashAfter * batchSize);
    maxDup = Math.max(maxDup, dups);
    dupTotal += dups;
  }
  const got = await readIds(topic, expected[expected.length - 1]!);
  const counts = new Map<string, number>();
  for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const id of expected) assert.ok(counts.has(id), `${id} delivered`);
  const dupIds = [...counts].filter(([, k]) => k > 1);
  assert.ok(
    dupIds.every(([, k]) => k === 2),
    'no record sent more than twice',
  );
  assert.equal(dupIds.length, dupTotal, 'exactly the batch in flight at each crash was sent twice');
  assert.ok(maxDup <= 70);
});

it('a stop with events in memory: they are spooled (and delivered after the restart), or counted and logged as lost', async () => {
  const topic = await newTopic();
  for (const diskFull of [false, true]) {
    const spoolDir = path.join(dir, `stop-${diskFull}`);
    const disk = new SimDisk(diskFull ? 8 * 1024 : 1 << 30, spoolDir);
    const { c, metrics, lostTotal } = counting();
    const log = capturingLogger();
    const { p } = start({ spoolDir, sink: deadSink(), disk, metrics, logger: log.logger, batchSize: 50 });
    await p.start();
    const ids = Array.from({ length: 300 }, (_, k) => `stop-${diskFull}-${k}`);
    for (const id of ids) p.enqueue([record(topic, id)]); // all in memory: the loop has not run yet
    await p.stop();
    assert.equal(p.enqueue([record(topic, 'after-stop')]), false);
    assert.equal(c.lost.get('stopped_in_memory'), 1, 'an event queued after the stop is counted');
    assert.equal(c.spooled + lostTotal(), ids.length + 1, `disk full ${diskFull}: every event spooled or counted lost`);
    assert.equal(log.lostLogged(), lostTotal(), 'and logged with its count');
    if (!diskFull) assert.equal(c.spooled, 300);
    else assert.ok(lostTotal() > 1);
    const up = start({ spoolDir, sink: createAuditProducer(kafka, { logger: quiet }) });
    await up.p.start();
    await waitFor('drained', () => up.p.health().spooledRecords === 0, 30_000);
    await up.p.stop();
    if (!diskFull) {
      const got = await readIds(topic, ids[ids.length - 1]!);
      assert.deepEqual(new Set(got.filter((g) => g.startsWith('stop-false'))), new Set(ids));
    }
  }
});

it('failed cursor writes and a failing loop are retried: the loop never dies, drains, and publishes what comes after', async () => {
  const topic = await newTopic();
  const spoolDir = path.join(dir, 'cursor-fail');
  const s = new Spool(spoolDir, 1 << 30, 'never');
  await s.open();
  await s.append(Array.from({ length: 500 }, (_, k) => record(topic, `cf-${k}`)));
  await s.close();
  const disk = new SimDisk(1 << 30, spoolDir);
  let cursorFaults = 0;
  disk.fault = (op, file) => (file === 'cursor' && op === 'write' && cursorFaults++ < 4 ? fsError('ENOSPC', 'write') : undefined);
  const { c, metrics } = counting();
  const log = capturingLogger();
  const { p, spool } = start({ spoolDir, sink: createAuditProducer(kafka, { logger: quiet }), disk, metrics, logger: log.logger, batchSize: 50 });
  const peek = spool.peek.bind(spool);
  let peekFaults = 0;
  spool.peek = (...a) => (peekFaults++ < 2 ? Promise.reject(fsError('EIO', 'read')) : peek(...a));
  await p.start();
  await waitFor('drained', () => p.health().spooledRecords === 0 && !p.health().cursorBehind, 30_000);
  assert.equal(c.cursorFailures, 4, 'each failed cursor write counted');
  assert.equal(c.restarts, 2, 'each loop failure counted and restarted');
  assert.ok(log.lines.some((l) => l.msg === 'publisher loop failed; restarting'));
  assert.ok(log.lines.some((l) => String(l.msg).startsWith('spool cursor write failed')));
  p.enqueue([record(topic, 'cf-after')]);
  const got = await readIds(topic, 'cf-after');
  for (let k = 0; k < 500; k++) assert.ok(got.includes(`cf-${k}`));
  assert.equal(p.health().ok, true);
});
