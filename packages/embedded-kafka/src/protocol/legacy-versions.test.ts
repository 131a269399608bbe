import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, gunzipSync, gzipSync } from 'node:zlib';
import { Kafka, logLevel } from 'kafkajs';
import { compress as lz4Compress, decompress as lz4Decompress } from 'lz4js';
import { hash as xxh32 } from 'lz4js/xxh32.js';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappyjs';
import { startBroker, type Broker } from '../index.js';
import { decodeRecords, readBatchHeader } from '../storage/record-batch.js';
import { Reader, Writer } from './primitives.js';
import { prng } from '@jwt-audit/runtime/testing/prng';
import { buildBatch, produceBody as produceV3Body, RawConnection, readProduceResult } from '../testdata/wire.js';

// The old message formats on the raw wire, as Kafka 3.9 serves them (Produce v0-2 and Fetch v0-3 are
// "deprecatedVersions" there, removed in 4.0 by KIP-896): message sets v0/v1 produced are converted
// to record batches v2 (LogValidator), Fetch v0-3 is answered in v0/v1 (RecordsUtil.downConvert).
// The message format is encoded here from the protocol guide ("Message sets"), independently of
// storage/legacy-messages.ts; responses are decoded to the last byte.

let broker: Broker;
let dir: string;
let conn: RawConnection;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-legacy-'));
  broker = await startBroker({ dir, port: 0, initialRebalanceDelayMs: 0 });
  const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'legacy' },
      { topic: 'legacy-bad' },
      { topic: 'legacy-kafkajs' },
      { topic: 'legacy-appendtime', configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
      { topic: 'legacy-compact', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      { topic: 'legacy-small', configEntries: [{ name: 'max.message.bytes', value: '2000' }] },
      { topic: 'legacy-noconvert', configEntries: [{ name: 'message.downconversion.enable', value: 'false' }] },
      { topic: 'legacy-zstd', configEntries: [{ name: 'compression.type', value: 'zstd' }] },
    ],
  });
  await admin.disconnect();
  conn = await RawConnection.open(broker.port);
});
after(async () => {
  conn?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

const NONE = 0,
  GZIP = 1,
  SNAPPY = 2,
  LZ4 = 3,
  ZSTD = 4;
const CODECS = [NONE, GZIP, SNAPPY, LZ4] as const;
const E = {
  NONE: 0,
  CORRUPT_MESSAGE: 2,
  UNSUPPORTED_VERSION: 35,
  INVALID_TIMESTAMP: 32,
  MESSAGE_TOO_LARGE: 10,
  UNKNOWN_SERVER_ERROR: -1,
  INVALID_RECORD: 87,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_LEADER_EPOCH: 75,
};

// ---- message sets v0/v1, as the protocol guide defines them ----

interface Msg {
  key: Buffer | null;
  value: Buffer | null;
  timestamp?: number;
  attributes?: number;
}

function nbytes(w: Writer, b: Buffer | null): Writer {
  return b === null ? w.int32(-1) : w.int32(b.length).raw(b);
}

/** One message (crc onwards): crc INT32 over magic..end, magic, attributes, v1 timestamp, key, value. */
function message(magic: number, m: Msg): Buffer {
  const w = new Writer();
  w.uint32(0)
    .int8(magic)
    .int8(m.attributes ?? 0);
  if (magic === 1) w.int64(m.timestamp ?? -1);
  nbytes(nbytes(w, m.key), m.value);
  const b = Buffer.from(w.toBuffer());
  b.writeUInt32BE(crc32(b.subarray(4)), 0);
  return b;
}

const entry = (offset: number, msg: Buffer) => Buffer.from(new Writer().int64(offset).int32(msg.length).raw(msg).toBuffer());

function compress(codec: number, data: Buffer, magic: number, rawSnappy = false): Buffer {
  if (codec === GZIP) return gzipSync(data);
  if (codec === SNAPPY) {
    if (rawSnappy) return Buffer.from(snappyCompress(data));
    const block = Buffer.from(snappyCompress(data));
    return Buffer.concat([
      Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]),
      Buffer.from(new Writer().int32(block.length).toBuffer()),
      block,
    ]);
  }
  if (codec === LZ4) {
    const out = Buffer.from(lz4Compress(data));
    // Kafka's pre-0.10 LZ4 frames (magic 0): header checksum over the magic number too
    if (magic === 0) out[6] = (xxh32(0, out, 0, 6) >> 8) & 0xff;
    return out;
  }
  return data;
}

/** A message set: uncompressed (one entry per message, offsets 0..n-1) or one wrapper of `codec`. */
function messageSet(
  magic: number,
  codec: number,
  msgs: Msg[],
  o: { wrapperOffset?: number; rawSnappy?: boolean; wrapperTimestamp?: number; wrapperAttributes?: number } = {},
): Buffer {
  if (codec === NONE) return Buffer.concat(msgs.map((m, i) => entry(i, message(magic, m))));
  const inner = Buffer.concat(msgs.map((m, i) => entry(i, message(magic, m)))); // v1: relative offsets
  const maxTs = msgs.reduce((t, m) => Math.max(t, m.timestamp ?? -1), -1);
  const wrapper = message(magic, {
    key: null,
    value: compress(codec, inner, magic, o.rawSnappy),
    timestamp: o.wrapperTimestamp ?? maxTs,
    attributes: o.wrapperAttributes ?? codec,
  });
  return entry(o.wrapperOffset ?? msgs.length - 1, wrapper);
}

interface Decoded {
  offset: number;
  magic: number;
  attributes: number;
  timestamp: number | undefined;
  key: string | null;
  value: string | null;
  /** A wrapper's inner messages. */
  inner?: Decoded[];
}

function uncompress(codec: number, b: Buffer): Buffer {
  if (codec === GZIP) return gunzipSync(b);
  if (codec === LZ4) return Buffer.from(lz4Decompress(b));
  assert.equal(codec, SNAPPY);
  assert.deepEqual([...b.subarray(0, 8)], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0], 'snappy in the xerial framing Java clients read');
  const parts: Buffer[] = [];
  for (let pos = 16; pos < b.length; ) {
    const len = b.readInt32BE(pos);
    parts.push(Buffer.from(snappyUncompress(b.subarray(pos + 4, pos + 4 + len))));
    pos += 4 + len;
  }
  return Buffer.concat(parts);
}

/** Decodes a whole message set, checking every CRC-32 and that nothing is left over. */
function decodeSet(b: Buffer): Decoded[] {
  const r = new Reader(b);
  const out: Decoded[] = [];
  while (r.remaining() > 0) {
    const offset = r.int64n();
    const size = r.int32();
    const m = new Reader(Buffer.from(b.subarray(r.offset, r.offset + size)));
    r.offset += size;
    const crc = m.int32() >>> 0;
    assert.equal(crc, crc32(m.buf.subarray(4)), 'CRC-32 of the message');
    const magic = m.int8();
    const attributes = m.int8();
    const timestamp = magic === 1 ? m.int64n() : undefined;
    const key = m.nullableBytes();
    const value = m.nullableBytes();
    assert.equal(m.remaining(), 0, 'message decoded to its last byte');
    const d: Decoded = { offset, magic, attributes, timestamp, key: key?.toString() ?? null, value: value?.toString() ?? null };
    if ((attributes & 7) !== NONE) d.inner = decodeSet(uncompress(attributes & 7, value!));
    out.push(d);
  }
  return out;
}

// ---- Produce v0-2 and Fetch v0-3, per ProduceRequest.json / FetchRequest.json ----

function produceBody(topic: string, records: Buffer | null, acks = -1): Buffer {
  const w = new Writer();
  w.int16(acks).int32(5000);
  w.array([topic], (x, t) => x.string(t).array([0], (y, p) => y.int32(p).nullableBytes(records)));
  return Buffer.from(w.toBuffer());
}

/** Produce v0-2 response: [name, [partition, error, base_offset, v2 log_append_time]], v1+ throttle. */
async function produce(v: number, topic: string, records: Buffer | null): Promise<{ error: number; baseOffset: number; logAppendTime: number | undefined }> {
  const r = new Reader(await conn.request(0, v, produceBody(topic, records)));
  let res!: { error: number; baseOffset: number; logAppendTime: number | undefined };
  r.array((x) => {
    assert.equal(x.string(), topic);
    x.array((y) => {
      assert.equal(y.int32(), 0);
      res = { error: y.int16(), baseOffset: y.int64n(), logAppendTime: v >= 2 ? y.int64n() : undefined };
    });
  });
  if (v >= 1) assert.equal(r.int32(), 0, 'throttle_time_ms');
  assert.equal(r.remaining(), 0, `Produce v${v} response decoded to its last byte`);
  return res;
}

interface FetchWant {
  offset: number;
  currentLeaderEpoch?: number;
  lastFetchedEpoch?: number;
}

/** Fetch v0-12 body for partition 0 of one topic (v7+: no session, epoch -1). */
function fetchBody(v: number, topic: string, want: FetchWant): Buffer {
  const f = v >= 12;
  const w = new Writer();
  w.int32(-1).int32(0).int32(0);
  if (v >= 3) w.int32(1 << 20);
  if (v >= 4) w.int8(0);
  if (v >= 7) w.int32(0).int32(-1);
  w.arr(f, [topic], (x, t) => {
    x.str(f, t)
      .arr(f, [0], (y, p) => {
        y.int32(p);
        if (v >= 9) y.int32(want.currentLeaderEpoch ?? -1);
        y.int64(want.offset);
        if (v >= 12) y.int32(want.lastFetchedEpoch ?? -1);
        if (v >= 5) y.int64(-1);
        y.int32(1 << 20).tags(f);
      })
      .tags(f);
  });
  if (v >= 7) w.arr(f, [], () => undefined);
  if (v >= 11) w.str(f, '');
  w.tags(f);
  return Buffer.from(w.toBuffer());
}

interface Fetched {
  error: number;
  hw: number;
  logStart: number | undefined;
  records: Buffer;
  diverging?: { epoch: number; endOffset: number };
}

/** Fetch v0-12 response for one partition, decoded to the last byte (v12: tagged fields read). */
async function fetch(v: number, topic: string, want: FetchWant): Promise<Fetched> {
  const f = v >= 12;
  const r = new Reader(await conn.request(1, v, fetchBody(v, topic, want), f));
  if (f) assert.equal(r.uvarint(), 0, 'response header tags');
  if (v >= 1) assert.equal(r.int32(), 0, 'throttle_time_ms');
  if (v >= 7) {
    assert.equal(r.int16(), 0);
    assert.equal(r.int32(), 0, 'no session (epoch -1)');
  }
  let out!: Fetched;
  r.arr(f, (x) => {
    assert.equal(x.str(f), topic);
    x.arr(f, (y) => {
      assert.equal(y.int32(), 0);
      const error = y.int16();
      const hw = y.int64n();
      if (v >= 4) assert.equal(y.int64n(), hw, 'last stable offset');
      const logStart = v >= 5 ? y.int64n() : undefined;
      if (v >= 4) assert.equal(y.arr(f, () => undefined)?.length ?? 0, 0, 'no aborted transactions');
      if (v >= 11) assert.equal(y.int32(), -1, 'preferred read replica');
      out = { error, hw, logStart, records: Buffer.from(y.byts(f)) };
      if (f) {
        const n = y.uvarint();
        for (let i = 0; i < n; i++) {
          const tag = y.uvarint();
          const size = y.uvarint();
          assert.equal(tag, 0, 'only diverging_epoch (tag 0) is ever sent');
          const t = new Reader(Buffer.from(y.buf.subarray(y.offset, y.offset + size)));
          y.offset += size;
          out.diverging = { epoch: t.int32(), endOffset: t.int64n() };
          assert.equal(t.uvarint(), 0);
          assert.equal(t.remaining(), 0);
        }
      }
    });
    if (f) assert.equal(x.uvarint(), 0);
  });
  if (f) assert.equal(r.uvarint(), 0);
  assert.equal(r.remaining(), 0, `Fetch v${v} response decoded to its last byte`);
  return out;
}

async function logEnd(topic: string): Promise<number> {
  return (await fetch(4, topic, { offset: 0 })).hw;
}

/** The records stored from `offset`, as Fetch v4 (record batches v2) returns them. */
async function storedFrom(topic: string, offset: number) {
  const { records } = await fetch(4, topic, { offset });
  const batches = [];
  for (let pos = 0; pos < records.length; ) {
    const h = readBatchHeader(records, pos)!;
    const bytes = records.subarray(pos, pos + h.size);
    batches.push({ h, records: decodeRecords(Buffer.from(bytes)).filter((x) => x.offset >= offset) });
    pos += h.size;
  }
  return batches;
}

const msgs = (n: number, tag: string, ts?: number): Msg[] =>
  Array.from({ length: n }, (_, i) => ({
    key: i === 1 ? null : Buffer.from(`k${i}`),
    value: i === 2 ? null : Buffer.from(`${tag}-${i}-${'v'.repeat(i * 7)}`),
    timestamp: ts === undefined ? undefined : ts + i,
  }));

test('Produce v0-2 with message sets v0 and v1, uncompressed and gzip/snappy/lz4: each set becomes one record batch v2 (offsets assigned, the codec kept, v0 timestamps -1), read back by Fetch v4 (LogValidator.convertAndAssignOffsetsNonCompressed / validateMessagesAndAssignOffsetsCompressed)', async () => {
  const base = Date.now() - 60_000;
  for (let v = 0; v <= 2; v++) {
    for (const magic of [0, 1]) {
      for (const codec of CODECS) {
        const at = `Produce v${v}, magic ${magic}, codec ${codec}`;
        const sent = msgs(5, at, magic === 1 ? base : undefined);
        const end = await logEnd('legacy');
        const res = await produce(v, 'legacy', messageSet(magic, codec, sent));
        assert.deepEqual(res, { error: 0, baseOffset: end, logAppendTime: v >= 2 ? -1 : undefined }, at);
        const [batch, ...rest] = await storedFrom('legacy', end);
        assert.equal(rest.length, 0, `${at}: one batch`);
        assert.equal(batch!.h.magic, 2);
        assert.equal(batch!.h.attributes & 7, codec, `${at}: stored with the codec sent`);
        assert.equal(batch!.h.producerId, -1);
        assert.deepEqual(
          batch!.records.map((r) => ({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, timestamp: r.timestamp })),
          sent.map((m, i) => ({ offset: end + i, key: m.key?.toString() ?? null, value: m.value?.toString() ?? null, timestamp: magic === 1 ? base + i : -1 })),
          at,
        );
        assert.equal(batch!.h.maxTimestamp, magic === 1 ? base + 4 : -1);
      }
    }
  }
  // librdkafka sends snappy without the xerial framing; a v1 wrapper with offset 0 (old librdkafka) is accepted
  const end = await logEnd('legacy');
  assert.equal((await produce(2, 'legacy', messageSet(1, SNAPPY, msgs(3, 'raw', base), { rawSnappy: true, wrapperOffset: 0 }))).error, 0);
  assert.deepEqual(
    (await storedFrom('legacy', end))[0]!.records.map((r) => r.offset),
    [end, end + 1, end + 2],
  );
  // kafkajs (none and gzip: it has no snappy or lz4 codec of its own) reads converted batches like any other
  const topic = 'legacy-kafkajs';
  for (const codec of [NONE, GZIP])
    for (const magic of [0, 1])
      assert.equal((await produce(2, topic, messageSet(magic, codec, msgs(3, `kjs-${magic}-${codec}`, magic === 1 ? base : undefined)))).error, 0);
  const consumer = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).consumer({ groupId: 'legacy-reader' });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: (string | null)[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.push(message.value?.toString() ?? null);
          if (seen.length === 12) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  assert.deepEqual(
    seen,
    [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ].flatMap(([c, m]) => msgs(3, `kjs-${m}-${c}`).map((x) => x.value?.toString() ?? null)),
  );
});

test('Produce v2 into a LogAppendTime topic stamps the converted batch and answers log_append_time; Fetch v2-3 answers it in magic 1 with the timestamp-type bit, v0-1 in magic 0', async () => {
  const end = await logEnd('legacy-appendtime');
  const before = Date.now();
  const res = await produce(2, 'legacy-appendtime', messageSet(1, GZIP, msgs(3, 'lat', 1000)));
  assert.equal(res.error, 0);
  assert.ok(res.logAppendTime! >= before && res.logAppendTime! <= Date.now(), 'the append time');
  const [batch] = await storedFrom('legacy-appendtime', end);
  assert.equal(batch!.h.attributes & 8, 8);
  assert.equal(batch!.h.maxTimestamp, res.logAppendTime);
  const v1 = decodeSet((await fetch(3, 'legacy-appendtime', { offset: end })).records);
  assert.equal(v1.length, 1);
  assert.equal(v1[0]!.attributes, GZIP | 8, 'wrapper: codec and LogAppendTime');
  assert.equal(v1[0]!.timestamp, res.logAppendTime);
  assert.deepEqual(
    v1[0]!.inner!.map((m) => [m.offset, m.attributes, m.timestamp]),
    [
      [0, 8, res.logAppendTime],
      [1, 8, res.logAppendTime],
      [2, 8, res.logAppendTime],
    ],
  );
  const v0 = decodeSet((await fetch(1, 'legacy-appendtime', { offset: end })).records);
  assert.deepEqual(
    v0[0]!.inner!.map((m) => [m.offset, m.magic, m.attributes, m.timestamp]),
    [
      [end, 0, 0, undefined],
      [end + 1, 0, 0, undefined],
      [end + 2, 0, 0, undefined],
    ],
  );
});

test('Fetch v0-3 down-converts stored batches v2 (from kafkajs, every codec kafkajs has, and from old producers): v0-1 to magic 0, v2-3 to magic 1; uncompressed records from the fetch offset on, compressed ones as one wrapper of the same codec (v1: relative inner offsets, wrapper offset the last); headers dropped (RecordsUtil.downConvert)', async () => {
  const producer = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const start = await logEnd('legacy');
  const ts = Date.now() - 5000;
  await producer.send({
    topic: 'legacy',
    messages: [0, 1, 2, 3].map((i) => ({ key: `h${i}`, value: `plain-${i}`, timestamp: String(ts + i), headers: { h: 'dropped' } })),
  });
  await producer.send({ topic: 'legacy', compression: 1, messages: [0, 1, 2].map((i) => ({ key: null, value: `gz-${i}`, timestamp: String(ts + 10 + i) })) });
  await producer.disconnect();
  await produce(0, 'legacy', messageSet(0, LZ4, msgs(2, 'old-lz4')));
  for (let v = 0; v <= 3; v++) {
    const magic = v <= 1 ? 0 : 1;
    // from the second plain record: the first one is left out of an uncompressed batch
    const got = decodeSet((await fetch(v, 'legacy', { offset: start + 1 })).records);
    const plain = got.slice(0, 3);
    assert.deepEqual(
      plain.map((m) => [m.offset, m.magic, m.attributes, m.key, m.value, m.timestamp]),
      [1, 2, 3].map((i) => [start + i, magic, 0, `h${i}`, `plain-${i}`, magic === 1 ? ts + i : undefined]),
      `Fetch v${v}: uncompressed`,
    );
    const gz = got[3]!;
    assert.deepEqual(
      [gz.offset, gz.magic, gz.attributes, gz.timestamp, gz.key],
      [start + 6, magic, GZIP, magic === 1 ? ts + 12 : undefined, null],
      `Fetch v${v}: the wrapper`,
    );
    assert.deepEqual(
      gz.inner!.map((m) => [m.offset, m.value, m.timestamp]),
      [0, 1, 2].map((i) => [magic === 1 ? i : start + 4 + i, `gz-${i}`, magic === 1 ? ts + 10 + i : undefined]),
      `Fetch v${v}: inner offsets`,
    );
    const lz = got[4]!;
    assert.equal(lz.attributes, LZ4);
    assert.deepEqual(
      lz.inner!.map((m) => m.value),
      ['old-lz4-0-', 'old-lz4-1-vvvvvvv'],
    );
    assert.equal(got.length, 5);
  }
  // Magic 0 lz4 wrappers carry Kafka's pre-0.10 header checksum (over the magic number too)
  const raw = (await fetch(0, 'legacy', { offset: start + 7 })).records;
  const wrapperValue = raw.subarray(12 + 4 + 2 + 4 + 4); // offset, size, crc, magic, attributes, key -1, value length
  assert.equal(wrapperValue[6], (xxh32(0, wrapperValue, 0, 6) >> 8) & 0xff);
});

test('Fetch below v10 of a topic with compression.type=zstd answers UNSUPPORTED_COMPRESSION_TYPE (KIP-110); a zstd batch cannot be down-converted for v0-3; message.downconversion.enable=false answers v0-3 UNSUPPORTED_VERSION', async () => {
  assert.equal((await produce(2, 'legacy-zstd', messageSet(1, NONE, msgs(2, 'z', 1)))).error, 0);
  for (const v of [0, 3, 4, 9])
    assert.deepEqual(
      await fetch(v, 'legacy-zstd', { offset: 0 }),
      { error: E.UNSUPPORTED_COMPRESSION_TYPE, hw: -1, logStart: v >= 5 ? -1 : undefined, records: Buffer.alloc(0) },
      `v${v}`,
    );
  assert.equal((await fetch(12, 'legacy-zstd', { offset: 0 })).error, 0);

  const zstdBatch = buildBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }], { attributes: ZSTD, body: ZSTD_FRAME_OF_ONE_RECORD });
  const producedAt = await logEnd('legacy-bad');
  assert.equal(readProduceResult(await conn.request(0, 7, produceV3Body('legacy-bad', zstdBatch))).error, 0, 'zstd batch stored (Produce v7)');
  for (const v of [0, 1, 2, 3])
    assert.equal((await fetch(v, 'legacy-bad', { offset: producedAt })).error, E.UNSUPPORTED_COMPRESSION_TYPE, `v${v}: zstd is not down-converted`);
  assert.equal((await fetch(4, 'legacy-bad', { offset: producedAt })).error, 0);

  assert.equal((await produce(1, 'legacy-noconvert', messageSet(0, NONE, msgs(2, 'n')))).error, 0);
  for (const v of [0, 1, 2, 3]) assert.equal((await fetch(v, 'legacy-noconvert', { offset: 0 })).error, E.UNSUPPORTED_VERSION);
  assert.equal((await fetch(4, 'legacy-noconvert', { offset: 0 })).error, 0);
});

/** A zstd frame (zstd -19) of the uncompressed records section of one record, key 'k' value 'v'. */
const ZSTD_FRAME_OF_ONE_RECORD = (() => {
  const body = new Writer().varint(8).int8(0).varlong(0n).varint(0).varint(1).raw(Buffer.from('k')).varint(1).raw(Buffer.from('v')).varint(0).toBuffer();
  // raw block frame: magic, frame header (single segment, content size in 1 byte), one raw last block
  const len = body.length;
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, len, (len << 3) | 1, 0, 0]), Buffer.from(body)]);
})();

/** Re-CRCs the message of the entry at `pos` (after its bytes were changed on purpose). */
function recrc(set: Buffer, pos = 0): Buffer {
  const b = Buffer.from(set);
  const size = b.readInt32BE(pos + 8);
  b.writeUInt32BE(crc32(b.subarray(pos + 16, pos + 12 + size)), pos + 12);
  return b;
}

test('generated malformed message sets v0/v1 are each answered as Kafka 3.9 answers them, nothing of them stored, the connection kept: bad CRCs, bad magic, truncation anywhere, entries under 14 bytes, nested compression, codecs 4-7, wrapper and inner inconsistencies', async () => {
  const rand = prng(22);
  const cases: [string, Buffer | null, number, number?][] = []; // what, set, error, records appended
  for (const magic of [0, 1]) {
    for (const codec of CODECS) {
      const good = messageSet(magic, codec, msgs(3, `bad-${magic}-${codec}`, magic === 1 ? 1000 : undefined));
      const wrap = `magic ${magic} codec ${codec}`;
      // one byte changed anywhere in a message after its size (its CRC-32 no longer matches, or the magic is invalid)
      for (let i = 0; i < 12; i++) {
        const firstSize = good.readInt32BE(8);
        const pos = 12 + Math.floor(rand() * firstSize);
        const bad = Buffer.from(good);
        bad[pos] = (bad[pos]! + 1 + Math.floor(rand() * 254)) & 0xff;
        cases.push([`${wrap}: byte ${pos} changed`, bad, E.CORRUPT_MESSAGE]);
      }
      // cut short anywhere: a partial last entry is dropped (ByteBufferLogInputStream), whole ones kept
      for (let i = 0; i < 10; i++) {
        const n = Math.floor(rand() * good.length);
        let whole = 0;
        for (let pos = 0; pos + 12 <= n && pos + 12 + good.readInt32BE(pos + 8) <= n; pos += 12 + good.readInt32BE(pos + 8)) whole++;
        cases.push([`${wrap}: cut at ${n} of ${good.length}`, good.subarray(0, n), E.NONE, codec === NONE ? whole : 0]);
      }
      // an entry claiming fewer than 14 bytes (LegacyRecord.RECORD_OVERHEAD_V0)
      const small = Buffer.from(good);
      small.writeInt32BE(Math.floor(rand() * 14) - (rand() < 0.3 ? 1 << 30 : 0), 8);
      cases.push([`${wrap}: size under 14`, small, E.CORRUPT_MESSAGE]);
      for (const m of [-1, 3, 77, -128]) {
        const b = Buffer.from(good);
        b.writeInt8(m, 16);
        cases.push([`${wrap}: magic ${m}`, b, E.CORRUPT_MESSAGE]);
      }
      // a codec id no CompressionType has: 5-7 (forId throws); zstd in a legacy wrapper
      for (const id of [5, 6, 7]) cases.push([`${wrap}: codec ${id}`, recrc(Buffer.from(good).fill(id | (good[17]! & 8), 17, 18)), E.UNKNOWN_SERVER_ERROR]);
      if (codec === NONE) continue;
      cases.push([`${wrap}: zstd wrapper`, recrc(Buffer.from(good).fill(ZSTD, 17, 18)), E.INVALID_RECORD]);
      // the wrapper's value: null, garbage, an inner set cut short or with an entry under 14 bytes
      cases.push([`${wrap}: null wrapper value`, entry(2, message(magic, { key: null, value: null, attributes: codec, timestamp: 5 })), E.INVALID_RECORD]);
      if (codec !== SNAPPY)
        cases.push([
          `${wrap}: body that does not decompress`,
          entry(2, message(magic, { key: null, value: Buffer.from(Array.from({ length: 40 }, () => Math.floor(rand() * 256))), attributes: codec })),
          E.UNKNOWN_SERVER_ERROR,
        ]);
      const inner = Buffer.concat([0, 1].map((i) => entry(i, message(magic, { key: Buffer.from('k'), value: Buffer.from(`in-${i}`), timestamp: 7 }))));
      const wrapped = (set: Buffer, o: { offset?: number } = {}) =>
        entry(o.offset ?? 1, message(magic, { key: null, value: compress(codec, set, magic), attributes: codec, timestamp: 7 }));
      cases.push([`${wrap}: inner set cut short`, wrapped(inner.subarray(0, inner.length - 3)), E.NONE, 1]);
      cases.push([`${wrap}: inner set of nothing whole`, wrapped(inner.subarray(0, 20)), E.INVALID_RECORD]);
      const tiny = Buffer.from(inner);
      tiny.writeInt32BE(13, 8);
      cases.push([`${wrap}: inner entry under 14 bytes`, wrapped(tiny), E.CORRUPT_MESSAGE]);
      const innerBadCrc = Buffer.from(inner);
      innerBadCrc[innerBadCrc.length - 1] = innerBadCrc[innerBadCrc.length - 1]! ^ 0xff;
      cases.push([`${wrap}: inner CRC`, wrapped(innerBadCrc), E.CORRUPT_MESSAGE]);
      // nested compression, an inner magic other than the wrapper's
      cases.push([
        `${wrap}: nested compression`,
        wrapped(
          Buffer.concat([
            entry(0, message(magic, { key: Buffer.from('k'), value: compress(GZIP, inner, magic), attributes: GZIP })),
            inner.subarray(0, inner.length / 2),
          ]),
        ),
        E.INVALID_RECORD,
      ]);
      cases.push([
        `${wrap}: inner magic ${1 - magic}`,
        wrapped(Buffer.concat([entry(0, message(1 - magic, { key: Buffer.from('k'), value: Buffer.from('x') }))])),
        E.INVALID_RECORD,
      ]);
      if (magic === 1)
        cases.push([
          `${wrap}: wrapper offset below the last inner offset`,
          wrapped(Buffer.concat([entry(0, message(1, { key: null, value: Buffer.from('a') })), entry(5, message(1, { key: null, value: Buffer.from('b') }))]), {
            offset: 3,
          }),
          E.INVALID_RECORD,
        ]);
      // a compressed entry must be alone
      cases.push([
        `${wrap}: a wrapper and another entry`,
        Buffer.concat([good, entry(9, message(magic, { key: null, value: Buffer.from('x') }))]),
        E.INVALID_RECORD,
      ]);
    }
    // several uncompressed entries of different magic; key or value length past the message (CRC valid)
    cases.push([
      `magic ${magic}: mixed magic`,
      Buffer.concat([entry(0, message(magic, { key: null, value: Buffer.from('a') })), entry(1, message(1 - magic, { key: null, value: Buffer.from('b') }))]),
      E.INVALID_RECORD,
    ]);
    for (const [what, at] of [
      ['key', magic === 1 ? 14 : 6],
      ['value', magic === 1 ? 18 : 10],
    ] as const) {
      const m = message(magic, { key: null, value: Buffer.from('value') });
      m.writeInt32BE(1000 + Math.floor(rand() * 1000), at);
      m.writeUInt32BE(crc32(m.subarray(4)), 0);
      cases.push([`magic ${magic}: ${what} length past the message`, entry(0, m), E.UNKNOWN_SERVER_ERROR]);
    }
    // a batch v2 after a legacy entry: its CRC-32C, then its magic
    cases.push([
      `magic ${magic}: then a batch v2`,
      Buffer.concat([entry(0, message(magic, { key: null, value: Buffer.from('a') })), buildBatch([{ value: Buffer.from('b') }])]),
      E.INVALID_RECORD,
    ]);
  }
  // timestamps: a record claiming LogAppendTime without a timestamp (LogValidator.validateTimestamp)
  cases.push([
    'v1 LogAppendTime claimed, no timestamp',
    entry(0, message(1, { key: null, value: Buffer.from('x'), attributes: 8, timestamp: -1 })),
    E.INVALID_TIMESTAMP,
  ]);
  cases.push([
    'v1 LogAppendTime claimed with a timestamp (CreateTime topic: the timestamp is what is checked)',
    entry(0, message(1, { key: null, value: Buffer.from('x'), attributes: 8, timestamp: 1234 })),
    E.NONE,
    1,
  ]);
  cases.push([
    'v1 compressed, wrapper claims LogAppendTime',
    messageSet(1, GZIP, msgs(2, 't'), { wrapperAttributes: GZIP | 8, wrapperTimestamp: -1 }),
    E.INVALID_TIMESTAMP,
  ]);
  cases.push(['null record set', null, Number.NaN]);
  cases.push(['empty record set', Buffer.alloc(0), E.NONE, 0]);
  // random bytes whose first magic byte says 0 or 1
  for (let i = 0; i < 40; i++) {
    const b = Buffer.from(Array.from({ length: 17 + Math.floor(rand() * 80) }, () => Math.floor(rand() * 256)));
    b[16] = i % 2;
    cases.push([`random bytes ${i}`, b, Number.NaN]);
  }

  let checked = 0;
  for (const [what, set, error, appended] of cases) {
    for (const v of [0, 2]) {
      const end = await logEnd('legacy-bad');
      const res = await produce(v, 'legacy-bad', set);
      const after = await logEnd('legacy-bad');
      if (Number.isNaN(error)) {
        assert.ok([E.CORRUPT_MESSAGE, E.INVALID_RECORD, E.UNKNOWN_SERVER_ERROR, E.NONE].includes(res.error), `${what}: ${res.error}`);
        if (res.error !== E.NONE) assert.equal(after, end, `${what}: nothing stored`);
      } else {
        assert.equal(res.error, error, `Produce v${v}, ${what}`);
        assert.equal(after - end, error === E.NONE ? (appended ?? 0) : 0, `Produce v${v}, ${what}: records appended`);
        assert.equal(res.baseOffset, error === E.NONE && (appended ?? 0) > 0 ? end : -1, `Produce v${v}, ${what}: base offset`);
      }
      checked++;
    }
  }
  assert.ok(checked > 250, `${checked} cases`);
  assert.ok(!conn.closed, 'every refusal is an answer, not a closed connection');
});

test('topic rules on converted sets: a compacted topic requires keys (INVALID_RECORD), max.message.bytes applies to each entry and to the converted batch (MESSAGE_TOO_LARGE)', async () => {
  assert.equal(
    (
      await produce(
        2,
        'legacy-compact',
        messageSet(1, GZIP, [
          { key: Buffer.from('a'), value: Buffer.from('1') },
          { key: null, value: Buffer.from('2') },
        ]),
      )
    ).error,
    E.INVALID_RECORD,
  );
  assert.equal((await produce(2, 'legacy-compact', messageSet(0, NONE, [{ key: Buffer.from('a'), value: Buffer.from('1') }]))).error, 0);
  assert.equal(await logEnd('legacy-compact'), 1);
  assert.equal(
    (await produce(2, 'legacy-small', messageSet(1, NONE, [{ key: null, value: Buffer.alloc(2100, 1) }]))).error,
    E.MESSAGE_TOO_LARGE,
    'one entry over the limit',
  );
  // entries under the limit that together convert to a batch over it
  assert.equal(
    (
      await produce(
        2,
        'legacy-small',
        messageSet(
          1,
          NONE,
          Array.from({ length: 4 }, () => ({ key: null, value: Buffer.alloc(600, 2) })),
        ),
      )
    ).error,
    E.MESSAGE_TOO_LARGE,
    'the converted batch over the limit',
  );
  assert.equal(
    (
      await produce(
        2,
        'legacy-small',
        messageSet(
          1,
          NONE,
          Array.from({ length: 2 }, () => ({ key: null, value: Buffer.alloc(600, 2) })),
        ),
      )
    ).error,
    0,
  );
  assert.equal(await logEnd('legacy-small'), 2);
});

test('Fetch leader epochs (v9+ current_leader_epoch, v12+ last_fetched_epoch, KIP-320): this broker leads at epoch 0, so a later current epoch is UNKNOWN_LEADER_EPOCH; a fetch offset past the end of epoch 0 answers diverging_epoch (tagged field 0) and no records; an unknown last epoch OFFSET_OUT_OF_RANGE (Partition.readRecords)', async () => {
  await produce(2, 'legacy', messageSet(1, NONE, msgs(2, 'epochs', 1)));
  const end = await logEnd('legacy');
  for (const v of [9, 12]) {
    assert.deepEqual(
      await fetch(v, 'legacy', { offset: 0, currentLeaderEpoch: 1 }),
      { error: E.UNKNOWN_LEADER_EPOCH, hw: -1, logStart: -1, records: Buffer.alloc(0) },
      `v${v}`,
    );
    assert.equal((await fetch(v, 'legacy', { offset: end - 1, currentLeaderEpoch: 0 })).error, 0);
    assert.equal((await fetch(v, 'legacy', { offset: end - 1, currentLeaderEpoch: -7 })).error, 0, 'a negative epoch is not checked');
  }
  const ok = await fetch(12, 'legacy', { offset: end - 1, lastFetchedEpoch: 0 });
  assert.equal(ok.error, 0);
  assert.equal(ok.diverging, undefined);
  assert.ok(ok.records.length > 0);
  assert.deepEqual(await fetch(12, 'legacy', { offset: end + 5, lastFetchedEpoch: 0, currentLeaderEpoch: 0 }), {
    error: 0,
    hw: end,
    logStart: 0,
    records: Buffer.alloc(0),
    diverging: { epoch: 0, endOffset: end },
  });
  assert.deepEqual(
    await fetch(12, 'legacy', { offset: end + 5 }),
    { error: E.OFFSET_OUT_OF_RANGE, hw: -1, logStart: -1, records: Buffer.alloc(0) },
    'without a last fetched epoch: out of range, no high watermark (ReplicaManager.createLogReadResult)',
  );
  assert.deepEqual(await fetch(12, 'legacy', { offset: 0, lastFetchedEpoch: 3 }), {
    error: E.OFFSET_OUT_OF_RANGE,
    hw: -1,
    logStart: -1,
    records: Buffer.alloc(0),
  });
});

test('ListOffsets v0 (deprecated in 3.9; librdkafka with broker.version.fallback below 0.10.1 sends it) answers old_style_offsets as UnifiedLog.legacyFetchOffsetsBefore: latest = the log end then segment starts, earliest = the log start, a time = segments modified by then', async () => {
  const end = await logEnd('legacy-compact');
  assert.ok(end > 0);
  const ask = async (partition: number, timestamp: number, max: number) => {
    const w = new Writer().int32(-1).array(['legacy-compact'], (x, t) => x.string(t).array([partition], (y, p) => y.int32(p).int64(timestamp).int32(max)));
    const r = new Reader(await conn.request(2, 0, Buffer.from(w.toBuffer())));
    let out!: { error: number; offsets: number[] };
    r.array((x) => {
      assert.equal(x.string(), 'legacy-compact');
      x.array((y) => {
        assert.equal(y.int32(), partition);
        out = { error: y.int16(), offsets: y.array((z) => z.int64n()) };
      });
    });
    assert.equal(r.remaining(), 0, 'ListOffsets v0 response decoded to its last byte');
    return out;
  };
  assert.deepEqual(await ask(0, -1, 5), { error: 0, offsets: [end, 0] });
  assert.deepEqual(await ask(0, -1, 1), { error: 0, offsets: [end] });
  assert.deepEqual(await ask(0, -2, 5), { error: 0, offsets: [0] });
  assert.deepEqual(await ask(0, Date.now() + 3_600_000, 5), { error: 0, offsets: [end, 0] });
  assert.deepEqual(await ask(0, 0, 5), { error: 0, offsets: [] }, 'nothing modified by 1970');
  assert.deepEqual(await ask(0, -1, 0), { error: 0, offsets: [] });
  assert.deepEqual(await ask(7, -1, 5), { error: 3, offsets: [] });
});

test('OffsetForLeaderEpoch v0-4 (KIP-101/320: where a fetched epoch ended) answers as Partition.lastOffsetForLeaderEpoch with the one epoch this broker has: epoch 0 ends at the log end, a later or undefined epoch (-1, -1), current_leader_epoch above 0 UNKNOWN_LEADER_EPOCH (v2+), unknown partitions UNKNOWN_TOPIC_OR_PARTITION; ListOffsets v4+ checks the current epoch too', async () => {
  const end = await logEnd('legacy-compact');
  for (let v = 0; v <= 4; v++) {
    const f = v >= 4;
    const asked: [number, number, number][] = [
      [0, -1, 0],
      [0, 0, 0],
      [0, -1, 1],
      [0, -1, -1],
      [0, 0, -5],
      [9, -1, 0],
    ];
    if (v >= 2) asked.push([0, 1, 0]);
    const w = new Writer();
    if (v >= 3) w.int32(-1);
    w.arr(f, ['legacy-compact'], (x, t) =>
      x
        .str(f, t)
        .arr(f, asked, (y, [p, current, epoch]) => {
          y.int32(p);
          if (v >= 2) y.int32(current);
          y.int32(epoch).tags(f);
        })
        .tags(f),
    );
    w.tags(f);
    const r = new Reader(await conn.request(23, v, Buffer.from(w.toBuffer()), f));
    if (f) assert.equal(r.uvarint(), 0);
    if (v >= 2) assert.equal(r.int32(), 0, 'throttle_time_ms');
    const got: [number, number, number | undefined, number][] = [];
    r.arr(f, (x) => {
      assert.equal(x.str(f), 'legacy-compact');
      x.arr(f, (y) => {
        got.push([y.int16(), y.int32(), v >= 1 ? y.int32() : undefined, y.int64n()]);
        if (f) assert.equal(y.uvarint(), 0);
      });
      if (f) assert.equal(x.uvarint(), 0);
    });
    if (f) assert.equal(r.uvarint(), 0);
    assert.equal(r.remaining(), 0, `OffsetForLeaderEpoch v${v} decoded to its last byte`);
    const e = (n: number) => (v >= 1 ? n : undefined);
    const want: [number, number, number | undefined, number][] = [
      [0, 0, e(0), end],
      [0, 0, e(0), end],
      [0, 0, e(-1), -1],
      [0, 0, e(-1), -1],
      [0, 0, e(-5), 0],
      [3, 9, e(-1), -1],
    ];
    if (v >= 2) want.push([E.UNKNOWN_LEADER_EPOCH, 0, e(-1), -1]);
    assert.deepEqual(got, want, `v${v}`);
  }
  // ListOffsets v4: current_leader_epoch (partition, epoch, timestamp -1 = latest)
  for (const [current, error, offset, epoch] of [
    [1, E.UNKNOWN_LEADER_EPOCH, -1, -1],
    [0, 0, end, 0],
    [-1, 0, end, 0],
  ]) {
    const w = new Writer()
      .int32(-1)
      .int8(0)
      .array(['legacy-compact'], (x, t) => x.string(t).array([0], (y) => y.int32(0).int32(current!).int64(-1)));
    const r = new Reader(await conn.request(2, 4, Buffer.from(w.toBuffer())));
    assert.equal(r.int32(), 0);
    r.array(
      (x) =>
        x.string() &&
        x.array((y) =>
          assert.deepEqual(
            [y.int32(), y.int16(), y.int64n(), y.int64n(), y.int32()],
            [0, error, -1, offset, epoch],
            `ListOffsets v4, current epoch ${current}`,
          ),
        ),
    );
    assert.equal(r.remaining(), 0);
  }
});
