import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { PYTHON, requireTools, run as runTool } from '../testdata/librdkafka-tools.js';

// Transactions checked by librdkafka 2.0.2 (python3-confluent-kafka and kcat from Debian, which
// .ci/run installs): its transactional producer (InitProducerId v4, AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit v3 with group metadata, EndTxn) and its read_committed consumer.

const CLIENT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'testdata', 'rdkafka-transactions.py');

/** The transaction clients run longer than the plain ones: 90 s each. */
const run = (cmd: string, args: string[], input?: string, timeoutMs = 90_000) => runTool(cmd, args, input, timeoutMs);

const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!) as Record<string, unknown>;

let broker: Broker;
let dir: string;
before(async () => {
  requireTools();
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-rdkafka-txn-'));
  broker = await startBroker({ dir, port: 0, initialRebalanceDelayMs: 0 });
});
after(async () => {
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function createTopic(topic: string, numPartitions = 1) {
  const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions }] });
  await admin.disconnect();
}

async function read(topic: string, isolation: 'read_committed' | 'read_uncommitted', count: number): Promise<string[]> {
  const r = await run(PYTHON, [CLIENT, 'read', broker.address, topic, isolation, String(count)]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return lastJson(r.stdout).values as string[];
}

test('librdkafka transactional producer: committed records visible to read_committed, aborted ones only to read_uncommitted (python and kcat)', async () => {
  await createTopic('rd-txn', 2);
  const ops = [
    { op: 'begin' },
    ...['c1', 'c2', 'c3'].map((value) => ({ op: 'send', value })),
    { op: 'commit' },
    { op: 'begin' },
    ...['a1', 'a2'].map((value) => ({ op: 'send', value })),
    { op: 'flush' },
    { op: 'abort' }, // unflushed records are purged by abort, never sent
    { op: 'begin' },
    ...['c4', 'c5'].map((value) => ({ op: 'send', value })),
    { op: 'commit' },
  ];
  const p = await run(PYTHON, [CLIENT, 'ops', broker.address, 'rd-txn', 'rd-1'], ops.map((o) => JSON.stringify(o)).join('\n') + '\n');
  assert.equal(p.code, 0, p.stderr + p.stdout);
  assert.deepEqual(lastJson(p.stdout), { done: ops.length });
  assert.deepEqual((await read('rd-txn', 'read_committed', 5)).sort(), ['c1', 'c2', 'c3', 'c4', 'c5']);
  assert.deepEqual((await read('rd-txn', 'read_uncommitted', 7)).sort(), ['a1', 'a2', 'c1', 'c2', 'c3', 'c4', 'c5']);
  for (const [isolation, expected] of [
    ['read_committed', 5],
    ['read_uncommitted', 7],
  ] as const) {
    const k = await run('kcat', ['-b', broker.address, '-C', '-t', 'rd-txn', '-o', 'beginning', '-e', '-X', `isolation.level=${isolation}`, '-f', '%s\\n']);
    assert.equal(k.code, 0, k.stderr);
    assert.equal(k.stdout.trim().split('\n').length, expected, `kcat ${isolation}: ${k.stdout}`);
  }
});

test('librdkafka consume-transform-produce: send_offsets_to_transaction (TxnOffsetCommit v3, generation and member checked) moves the group exactly to what it produced', async () => {
  await createTopic('rd-in');
  await createTopic('rd-out');
  const kafka = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const values = Array.from({ length: 120 }, (_, i) => `v${i}`);
  await producer.send({ topic: 'rd-in', messages: values.map((value) => ({ value })) });
  await producer.disconnect();
  const c = await run(PYTHON, [CLIENT, 'copy', broker.address, 'rd-in', 'rd-out', 'rd-copy', 'rd-copier', String(values.length)]);
  assert.equal(c.code, 0, c.stderr + c.stdout);
  assert.deepEqual(lastJson(c.stdout), { copied: values.length });
  assert.deepEqual(
    await read('rd-out', 'read_committed', values.length),
    values.map((v) => v.toUpperCase()),
  );
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchOffsets({ groupId: 'rd-copy', topics: ['rd-in'] });
  assert.equal(offsets[0]!.partitions[0]!.offset, String(values.length));
  await admin.disconnect();
});
