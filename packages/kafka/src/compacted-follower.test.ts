import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { createLogger } from '@jwt-audit/runtime';
import { createKafkaClient, ensureTopics, followCompactedTopic, type CompactedRecord } from './index.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('a compacted-topic follower: every record in log order per partition, tombstones as null, caught up to the writes made before each call, one consumer group for all calls', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'follower-'));
  const broker = await startBroker({ dir, port: 0 });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'follower-test' }, logger);
  const topic = 'follower.test.v1';
  await ensureTopics(kafka, [{ topic, numPartitions: 3, configs: { 'cleanup.policy': 'compact' } }]);
  const producer = kafka.producer();
  await producer.connect();
  const seen: CompactedRecord[] = [];
  const follower = followCompactedTopic(kafka, topic, (r) => seen.push(r), { groupPrefix: 'follower-test' });
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
      await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ key: `k${(written + i) % 9}`, value: i % 4 === 3 ? null : `v${written + i}`, partition: (written + i) % 3 })) });
      written += n;
      await follower.caughtUp(30_000);
      assert.equal(seen.length, written, `round ${round}: every record written before the call`);
    }
    // per partition in log order; tombstones handed over as null
    for (const p of [0, 1, 2]) {
      const offsets = seen.filter((r) => r.partition === p).map((r) => BigInt(r.offset));
      assert.deepEqual(offsets, [...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    assert.ok(seen.some((r) => r.value === null), 'tombstones');
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
  await followCompactedTopic(kafka, topic, () => undefined, { groupPrefix: 'never' }).stop();
});
