import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { compress as lz4Compress } from 'lz4js';
import { compress as snappyCompress } from 'snappyjs';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { buildBatch, encodeRecords, fetchBody, produceBody, RawConnection, readFetchResult, readProduceResult, type TestRecord } from '../testdata/wire.js';
import { decodeRecords } from './record-batch.js';

// Compaction as Kafka's LogCleaner: every codec, after a restart, by dirty ratio, tombstones after
// delete.retention.ms, emptied segments removed.

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const codecs: [number, (b: Buffer) => Buffer][] = [
  [0, (b) => b],
  [1, (b) => gzipSync(b)],
  [2, (b) => Buffer.from(snappyCompress(b))],
  [3, (b) => Buffer.from(lz4Compress(b))],
];

async function produce(c: RawConnection, topic: string, records: TestRecord[], codec: number, firstTimestamp?: number) {
  const [, enc] = codecs[codec]!;
  const batch = buildBatch(records, { attributes: codec, body: enc(encodeRecords(records)), ...(firstTimestamp !== undefined ? { firstTimestamp } : {}) });
  assert.equal(readProduceResult(await c.request(0, 3, produceBody(topic, batch))).error, 0);
}

/** Every record of partition 0, as key=value (value null shown as ∅), read over the wire. */
async function contents(b: Broker, topic: string): Promise<string[]> {
  const c = await RawConnection.open(b.port);
  const admin = new Kafka({ brokers: [b.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const from = Number((await admin.fetchTopicOffsets(topic))[0]!.low); // emptied segments moved the start
  await admin.disconnect();
  const [p] = readFetchResult(await c.request(1, 4, fetchBody(topic, [{ partition: 0, offset: from, maxBytes: 1 << 24 }])));
  c.close();
  const out: string[] = [];
  for (let pos = 0; pos < p!.records.length; pos += 12 + p!.records.readInt32BE(pos + 8)) {
    for (const r of decodeRecords(p!.records.subarray(pos, pos + 12 + p!.records.readInt32BE(pos + 8))))
      out.push(`${r.key}=${r.value === null ? '∅' : r.value}`);
  }
  return out;
}

async function start(dir: string): Promise<{ b: Broker; c: RawConnection }> {
  const b = await startBroker({ dir, port: 0 });
  return { b, c: await RawConnection.open(b.port) };
}

test('compaction decodes every codec, resumes after a restart, drops expired tombstones and emptied segments, and waits for min.cleanable.dirty.ratio', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ekafka-compact-'));
  dirs.push(dir);
  let { b, c } = await start(dir);
  const admin = new Kafka({ brokers: [b.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic: 'state',
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: '300' },
          { name: 'delete.retention.ms', value: '60000' },
        ],
      },
    ],
  });
  await admin.disconnect();
  const old = Date.now() - 3_600_000;
  // 4 rounds of the same 3 keys, each round in a different codec; k2's last word is a tombstone
  for (let round = 0; round < 4; round++) {
    await produce(
      c,
      'state',
      ['k0', 'k1', 'k2'].map((k) => ({ key: Buffer.from(k), value: round === 3 && k === 'k2' ? null : Buffer.from(`${k}@${round}`) })),
      round,
      old,
    );
  }
  // a filler closes round 3's segment (the active segment is never cleaned, as in Kafka)
  await produce(c, 'state', [{ key: Buffer.from('filler'), value: Buffer.from('f'.repeat(400)) }], 0, old);
  await produce(c, 'state', [{ key: Buffer.from('tail'), value: Buffer.from('active') }], 0);
  const segmentsBefore = readdirSync(path.join(dir, 'logs', 'state-0')).filter((f) => f.endsWith('.log')).length;
  c.close();
  await b.close();

  ({ b, c } = await start(dir)); // nothing compacted before the restart
  const first = b.maintain();
  assert.ok(first.compactedRecords >= 9, `after the restart compaction runs (${first.compactedRecords} removed)`);
  assert.deepEqual(
    await contents(b, 'state'),
    ['k0=k0@3', 'k1=k1@3', `filler=${'f'.repeat(400)}`, 'tail=active'],
    'latest per key; the expired tombstone gone too',
  );
  const segmentsAfter = readdirSync(path.join(dir, 'logs', 'state-0')).filter((f) => f.endsWith('.log')).length;
  assert.ok(segmentsAfter < segmentsBefore, `emptied segments removed (${segmentsBefore} -> ${segmentsAfter})`);

  // a fresh tombstone (newer than delete.retention.ms) is kept
  await produce(c, 'state', [{ key: Buffer.from('k0'), value: null }], 0);
  await produce(c, 'state', [{ key: Buffer.from('x'), value: Buffer.from('y'.repeat(300)) }], 0);
  b.maintain();
  assert.ok((await contents(b, 'state')).includes('k0=∅'), 'a recent tombstone stays for delete.retention.ms');
  c.close();
  await b.close();
});

test('min.cleanable.dirty.ratio: a log that is mostly clean is not recompacted; min.compaction.lag.ms keeps recent records', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ekafka-compact-ratio-'));
  dirs.push(dir);
  const { b, c } = await start(dir);
  const admin = new Kafka({ brokers: [b.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic: 'ratio',
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: '200' },
          { name: 'min.cleanable.dirty.ratio', value: '0.9' },
        ],
      },
      {
        topic: 'lagged',
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: '200' },
          { name: 'min.compaction.lag.ms', value: '3600000' },
        ],
      },
    ],
  });
  await admin.disconnect();
  // 8 segments of distinct keys: cleaned once (nothing to remove), they are the clean part
  for (let i = 0; i < 8; i++) await produce(c, 'ratio', [{ key: Buffer.from(`u${i}`), value: Buffer.from(`${'p'.repeat(100)}`) }], 0);
  assert.equal(b.maintain().compactedRecords, 0);
  // two obsolete values of k in 2 new closed segments: 2 dirty of 9 closed is below 0.9
  for (let i = 0; i < 3; i++) await produce(c, 'ratio', [{ key: Buffer.from('k'), value: Buffer.from(`v${i}-${'p'.repeat(100)}`) }], 0);
  assert.equal(b.maintain().compactedRecords, 0, 'mostly clean: not compacted');
  assert.equal((await contents(b, 'ratio')).filter((r) => r.startsWith('k=')).length, 3);
  for (let i = 0; i < 6; i++) await produce(c, 'lagged', [{ key: Buffer.from('k'), value: Buffer.from(`v${i}-${'p'.repeat(100)}`) }], 0);
  assert.equal(b.maintain().compactedRecords, 0, 'every record is newer than min.compaction.lag.ms');
  assert.equal((await contents(b, 'lagged')).length, 6);
  c.close();
  await b.close();
});
