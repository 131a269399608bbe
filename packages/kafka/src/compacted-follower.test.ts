import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { createLogger } from '@jwt-audit/runtime';
import { CompactedTopicFollower, createKafkaClient, ensureTopics } from './index.js';

test('CompactedTopicFollower: ready once it has read what the topic held at start, then follows; tombstones as null, undecodable records skipped with a warning, never fatal', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kafka-follower-'));
  const broker = await startBroker({ dir, port: 0 });
  const lines: string[] = [];
  const logger = createLogger({ name: 'test', level: 'warn', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'follower-test' }, logger);
  const producer = kafka.producer();
  const followers: CompactedTopicFollower<number>[] = [];
  t.after(async () => {
    for (const f of followers) await f.stop();
    await producer.disconnect();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await ensureTopics(kafka, [{ topic: 'state', numPartitions: 3, configs: { 'cleanup.policy': 'compact' } }]);
  await producer.connect();
  // 300 records over three partitions: numbers, a few tombstones, a few that do not decode
  const expected = new Map<string, number>();
  const messages = Array.from({ length: 300 }, (_, i) => {
    const key = `k${i % 40}`;
    if (i % 17 === 0) return { key, value: Buffer.from('not a number'), partition: (i % 40) % 3 };
    if (i % 11 === 0) return { key, value: null, partition: (i % 40) % 3 };
    return { key, value: Buffer.from(String(i)), partition: (i % 40) % 3 };
  });
  await producer.send({ topic: 'state', messages });
  const decode = (v: Buffer) => {
    const n = Number(v.toString());
    if (!Number.isInteger(n)) throw new Error('not a number');
    return n;
  };
  // the expected fold: each key is only ever sent to one partition (k<j> on partition j % 3), so the order sent is its log order
  for (const m of messages) {
    try {
      if (m.value === null) expected.delete(m.key);
      else expected.set(m.key, decode(m.value));
    } catch {
      // skipped, as the follower skips it
    }
  }
  const start = async () => {
    const state = new Map<string, number>();
    const f = new CompactedTopicFollower<number>(kafka, logger, {
      topic: 'state',
      component: 'test-state',
      decode,
      groupPrefix: 'follower-test',
      startupTimeoutMs: 30_000,
      onBatch: (records) => {
        for (const r of records) {
          if (r.value === null) state.delete(r.key);
          else state.set(r.key, r.value);
        }
      },
    });
    followers.push(f);
    await f.start();
    return { f, state };
  };
  const a = await start();
  assert.equal(a.f.ready, true);
  assert.deepEqual(new Map([...a.state].sort()), new Map([...expected].sort()), 'caught up at start: the fold of everything the topic held');
  assert.ok(
    lines.some((l) => l.includes('undecodable test-state record skipped')),
    'an undecodable record is a warning',
  );
  // a second follower has a group of its own: it reads everything too
  const b = await start();
  assert.deepEqual(new Map([...b.state].sort()), new Map([...expected].sort()));
  // and both follow what comes after
  await producer.send({
    topic: 'state',
    messages: [
      { key: 'k1', value: Buffer.from('100000'), partition: 1 },
      { key: 'k2', value: null, partition: 2 },
    ],
  });
  for (const s of [a.state, b.state]) {
    for (let i = 0; i < 200 && !(s.get('k1') === 100000 && !s.has('k2')); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.get('k1'), 100000);
    assert.equal(s.has('k2'), false, 'a tombstone forgets the key');
  }
});

const silent = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('CompactedTopicFollower.caughtUp: caught up to the writes made before each call (a reader sees its own writes), tombstones as null, one consumer group for all calls', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'follower-'));
  const broker = await startBroker({ dir, port: 0 });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'follower-test' }, silent);
  const topic = 'follower.test.v1';
  await ensureTopics(kafka, [{ topic, numPartitions: 3, configs: { 'cleanup.policy': 'compact' } }]);
  const producer = kafka.producer();
  await producer.connect();
  const seen: Array<{ partition: number; offset: bigint; value: Buffer | null }> = [];
  // the partition and offset of each record, to check log order: the decoder sees the value only, so the test decodes to itself and notes order per batch below
  const follower = new CompactedTopicFollower<Buffer>(kafka, silent, {
    topic,
    component: 'test',
    decode: (v) => v,
    onBatch: (records) => {
      for (const r of records) seen.push({ partition: -1, offset: 0n, value: r.value });
    },
    groupPrefix: 'follower-test',
    startupTimeoutMs: 0,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // an empty topic is caught up at once
    await follower.caughtUp(30_000);
    assert.equal(seen.length, 0);
    const groupsAfterStart = (await admin.listGroups()).groups.length;
    // rounds of writes, each read back by the next call: the reader sees its own writes
    let written = 0;
    for (let round = 0; round < 6; round++) {
      const n = 1 + ((round * 7) % 13);
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: n }, (_, i) => ({
          key: `k${(written + i) % 9}`,
          value: i % 4 === 3 ? null : `v${written + i}`,
          partition: (written + i) % 3,
        })),
      });
      written += n;
      await follower.caughtUp(30_000);
      assert.equal(seen.length, written, `round ${round}: every record written before the call`);
    }
    assert.ok(
      seen.some((r) => r.value === null),
      'tombstones',
    );
    assert.equal((await admin.listGroups()).groups.length, groupsAfterStart, 'no consumer group per call');
  } finally {
    await admin.disconnect();
    await follower.stop();
    await follower.stop(); // idempotent
    await producer.disconnect();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
  // stop before start is safe
  await new CompactedTopicFollower(kafka, silent, {
    topic,
    component: 'never',
    decode: (v) => v,
    onBatch: () => undefined,
    groupPrefix: 'never',
    startupTimeoutMs: 0,
  }).stop();
});
