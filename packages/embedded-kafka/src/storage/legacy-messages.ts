/**
 * Message sets v0 and v1 (magic 0/1, the formats before Kafka 0.11), which Produce v0-2 may carry
 * and Fetch v0-3 must be answered in. Kafka 3.9 still serves those versions ("deprecatedVersions"
 * in ProduceRequest.json 0-6 and FetchRequest.json 0-3; removed in 4.0, KIP-896) and always stores
 * record batches v2, converting on the way in and down-converting on the way out.
 *
 * A message set is a sequence of entries:
 *   offset INT64, message_size INT32, then message_size bytes of message:
 *     crc UINT32 (CRC-32, IEEE, of the bytes after it), magic INT8 (0 or 1),
 *     attributes INT8 (bits 0-2 codec: 0 none, 1 gzip, 2 snappy, 3 lz4; bit 3 (v1) LogAppendTime),
 *     v1: timestamp INT64 (v0 has none: -1), key BYTES (INT32 length, negative = null), value BYTES
 * A compressed message ("wrapper") has the codec in its attributes and, as value, the compression
 * of an inner message set of uncompressed messages. v1 wrappers carry the absolute offset of the
 * last inner message and inner offsets relative to the first (0..n-1); v0 inner offsets are
 * absolute. A v1 wrapper's timestamp is the largest inner one, or the append time (LogAppendTime).
 * lz4 in magic 0 is Kafka's pre-0.10 frame whose header checksum also covers the magic number
 * (KafkaLZ4BlockOutputStream's useBrokenFlagDescriptorChecksum); readers ignore that checksum.
 *
 * On produce (convertLegacyRecordSet), in Kafka 3.9's order:
 *   ByteBufferLogInputStream: an entry smaller than 14 bytes or a magic outside 0-2 -> CORRUPT_MESSAGE;
 *     a partial entry at the end is dropped (nothing at all: acknowledged with offset -1, appended nothing)
 *   UnifiedLog.analyzeAndValidateRecords, each entry: larger than max.message.bytes -> MESSAGE_TOO_LARGE;
 *     CRC-32 -> CORRUPT_MESSAGE; codec id 5-7 -> UNKNOWN_SERVER_ERROR
 *   LogValidator: a compressed entry must be the only one, every entry has the first one's magic
 *     -> INVALID_RECORD; a wrapper: zstd or a null value -> INVALID_RECORD, a body that does not
 *     decompress -> UNKNOWN_SERVER_ERROR, inner entries smaller than 14 bytes -> CORRUPT_MESSAGE, none
 *     -> INVALID_RECORD, a v1 wrapper offset (not 0) below the last inner offset -> INVALID_RECORD;
 *     each record: compressed inside a wrapper, or a magic other than the wrapper's, or no key in a
 *     compacted topic -> INVALID_RECORD; an inner CRC -> CORRUPT_MESSAGE; a LogAppendTime-typed
 *     record whose timestamp is not checked against the topic's CreateTime -> INVALID_TIMESTAMP
 *   Records whose key or value length runs past the message fail in Kafka's LegacyRecord
 *     (IllegalArgumentException) -> UNKNOWN_SERVER_ERROR; bytes after the value are ignored, as there.
 * The records become one record batch v2 with the set's codec (the topic's compression.type
 * "producer"), producer id -1, partition leader epoch 0, timestamps as sent (-1 for v0), re-checked
 * against max.message.bytes after the conversion.
 *
 * On fetch (downConvertRecordSet), as Kafka's RecordsUtil.downConvert: control batches are left
 * out, a zstd batch cannot be converted (UNSUPPORTED_COMPRESSION_TYPE), an uncompressed batch
 * becomes one message per record at or after the fetch offset, a compressed batch one wrapper of
 * the same codec holding all its records; headers are dropped (v0/v1 have none).
 */
import { crc32, gzipSync } from 'node:zlib';
import { compress as lz4Compress } from 'lz4js';
import { hash as xxh32 } from 'lz4js/xxh32.js';
import { compress as snappyCompress } from 'snappyjs';
import { ErrorCode } from '../errors.js';
import { Codec, CodecError, decompress } from './codecs.js';
import { crc32c } from './crc32c.js';
import { COMPRESSION_MASK, CONTROL_BIT, TIMESTAMP_TYPE_BIT, decodeRecords, readBatchHeader, type BatchHeader } from './record-batch.js';
import type { TopicRules, Validation } from './log-validator.js';
import { Writer } from '../protocol/primitives.js';

/** LegacyRecord.RECORD_OVERHEAD_V0: crc, magic, attributes, key and value lengths. */
const RECORD_OVERHEAD_V0 = 14;
const LOG_OVERHEAD = 12;
const MAGIC_OFFSET = 16;

/**
 * Whether a Produce v0-2 record set is read as a message set here: anything but a whole record
 * batch v2 with a valid CRC-32C first (which log-validator.ts checks). So a bad magic or a broken
 * first entry is answered as Kafka's ByteBufferLogInputStream and analyzeAndValidateRecords do.
 */
export function isLegacyRecordSet(records: Buffer | null): boolean {
  if (!records || records.length < LOG_OVERHEAD + 49 || records.readInt8(MAGIC_OFFSET) !== 2) return true;
  const size = records.readInt32BE(8);
  return size < 49 || records.length < LOG_OVERHEAD + size || !batchCrcValid(records.subarray(LOG_OVERHEAD, LOG_OVERHEAD + size));
}

interface Entry {
  offset: number;
  /** The message: crc onwards. */
  message: Buffer;
  magic: number;
  attributes: number;
}

class Refused extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface LegacyRecord {
  offset: number;
  magic: number;
  attributes: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
}

/** The entries of a message set (ByteBufferLogInputStream / DataLogInputStream): a partial last entry ends it. */
function entries(set: Buffer): Entry[] {
  const out: Entry[] = [];
  let pos = 0;
  while (set.length - pos >= LOG_OVERHEAD) {
    const size = set.readInt32BE(pos + 8);
    if (size < RECORD_OVERHEAD_V0)
      throw new Refused(ErrorCode.CORRUPT_MESSAGE, `Record size ${size} is less than the minimum record overhead (${RECORD_OVERHEAD_V0})`);
    if (set.length - pos < MAGIC_OFFSET + 1) break;
    const magic = set.readInt8(pos + MAGIC_OFFSET);
    if (magic < 0 || magic > 2) throw new Refused(ErrorCode.CORRUPT_MESSAGE, `Invalid magic found in record: ${magic}`);
    if (set.length - pos < LOG_OVERHEAD + size) break;
    const message = set.subarray(pos + LOG_OVERHEAD, pos + LOG_OVERHEAD + size);
    // a batch v2 among the entries has its attributes (INT16) after its CRC-32C
    const attributes = magic === 2 ? (message.length >= 11 ? message.readInt16BE(9) : 0) : message.readInt8(5);
    out.push({ offset: Number(set.readBigInt64BE(pos)), message, magic, attributes });
    pos += LOG_OVERHEAD + size;
  }
  return out;
}

const crcValid = (message: Buffer) => message.readUInt32BE(0) === crc32(message.subarray(4));
/** A batch v2 among legacy entries (DefaultRecordBatch.isValid: a whole header and its CRC-32C); it then fails the magic check. */
const batchCrcValid = (message: Buffer) => message.length + LOG_OVERHEAD >= 61 && message.readUInt32BE(5) === crc32c(message, 9);

/** Kafka's Utils.sizeDelimited: a negative length is null; one past the end throws (IllegalArgumentException there). */
function sizeDelimited(message: Buffer, at: number, what: string): { value: Buffer | null; end: number } {
  if (at + 4 > message.length) throw new Refused(ErrorCode.UNKNOWN_SERVER_ERROR, `message too short for its ${what} length`);
  const len = message.readInt32BE(at);
  if (len < 0) return { value: null, end: at + 4 };
  if (at + 4 + len > message.length) throw new Refused(ErrorCode.UNKNOWN_SERVER_ERROR, `${what} length ${len} runs past the message`);
  // a view: the request's buffer lives until the converted batch is built
  return { value: message.subarray(at + 4, at + 4 + len), end: at + 4 + len };
}

function readRecord(e: Entry): LegacyRecord {
  const m = e.message;
  let at = 6;
  let timestamp = -1;
  if (e.magic === 1) {
    if (m.length < 14 + 8) throw new Refused(ErrorCode.UNKNOWN_SERVER_ERROR, 'message v1 too short for its timestamp');
    timestamp = Number(m.readBigInt64BE(6));
    at = 14;
  }
  const key = sizeDelimited(m, at, 'key');
  const value = sizeDelimited(m, key.end, 'value');
  return { offset: e.offset, magic: e.magic, attributes: e.attributes, timestamp, key: key.value, value: value.value };
}

interface Converted {
  codec: number;
  records: LegacyRecord[];
  /** The type of timestamp the client claimed (LogValidator.validateTimestamp looks at it). */
  logAppendTimeClaimed: boolean;
}

type RecordError = { code: number; message: string };

function checkRecord(r: LegacyRecord, index: number, claimedLogAppendTime: boolean, rules: TopicRules): RecordError | undefined {
  if (rules.compacted && r.key === null)
    return { code: ErrorCode.INVALID_RECORD, message: `Compacted topic cannot accept message without key (record ${index})` };
  // validateTimestamp: with CreateTime a timestamp is range-checked (unbounded by default); otherwise a
  // record claiming LogAppendTime is refused: only the broker sets it.
  if (!(!rules.logAppendTime && r.timestamp !== -1) && claimedLogAppendTime) {
    return {
      code: ErrorCode.INVALID_TIMESTAMP,
      message: `Invalid timestamp type in message ${index}. Producer should not set timestamp type to LogAppendTime.`,
    };
  }
  return undefined;
}

function readSet(set: Buffer, rules: TopicRules): Converted {
  const shallow = entries(set);
  for (const e of shallow) {
    if (LOG_OVERHEAD + e.message.length > rules.maxMessageBytes) {
      throw new Refused(
        ErrorCode.MESSAGE_TOO_LARGE,
        `The record batch size is ${LOG_OVERHEAD + e.message.length} bytes which exceeds the maximum configured value of ${rules.maxMessageBytes}.`,
      );
    }
    if (!(e.magic < 2 ? crcValid(e.message) : batchCrcValid(e.message)))
      throw new Refused(ErrorCode.CORRUPT_MESSAGE, `Record is corrupt (stored crc = ${e.message.readUInt32BE(0)})`);
    if ((e.attributes & COMPRESSION_MASK) > Codec.ZSTD)
      throw new Refused(ErrorCode.UNKNOWN_SERVER_ERROR, `Unknown compression type id: ${e.attributes & COMPRESSION_MASK}`);
  }
  if (shallow.length === 0) return { codec: Codec.NONE, records: [], logAppendTimeClaimed: false };
  const first = shallow[0]!;
  const codec = shallow.reduce((c, e) => ((e.attributes & COMPRESSION_MASK) !== Codec.NONE ? e.attributes & COMPRESSION_MASK : c), Codec.NONE as number);
  if (codec !== Codec.NONE && shallow.length > 1) throw new Refused(ErrorCode.INVALID_RECORD, 'Compressed outer record has more than one batch');
  const badMagic = shallow.find((e) => e.magic !== first.magic);
  if (badMagic) throw new Refused(ErrorCode.INVALID_RECORD, `Batch magic ${badMagic.magic} is not the same as the first batch's magic byte ${first.magic}`);
  const errors: RecordError[] = [];
  const records: LegacyRecord[] = [];
  if (codec === Codec.NONE) {
    shallow.forEach((e, i) => {
      const r = readRecord(e);
      const error = checkRecord(r, i, e.magic === 1 && (e.attributes & TIMESTAMP_TYPE_BIT) !== 0, rules);
      if (error) errors.push(error);
      else records.push(r);
    });
    finish(errors);
    return { codec, records, logAppendTimeClaimed: false };
  }
  // one wrapper: AbstractLegacyRecordBatch.DeepRecordsIterator
  const wrapper = readRecord(first);
  const claimed = first.magic === 1 && (first.attributes & TIMESTAMP_TYPE_BIT) !== 0;
  if (codec === Codec.ZSTD) throw new Refused(ErrorCode.INVALID_RECORD, `Invalid wrapper compressionType found in legacy deep record iterator ${first.magic}`);
  if (wrapper.value === null) throw new Refused(ErrorCode.INVALID_RECORD, `Found invalid compressed record set with null value (magic = ${first.magic})`);
  let inner: Entry[];
  try {
    inner = entries(decompress(codec, wrapper.value));
  } catch (err) {
    if (err instanceof CodecError) throw new Refused(ErrorCode.UNKNOWN_SERVER_ERROR, err.message);
    throw err;
  }
  if (inner.length === 0) throw new Refused(ErrorCode.INVALID_RECORD, 'Found invalid compressed record set with no inner records');
  const lastInner = inner[inner.length - 1]!.offset;
  if (first.magic === 1 && first.offset !== 0 && first.offset < lastInner) {
    throw new Refused(
      ErrorCode.INVALID_RECORD,
      `Found invalid wrapper offset in compressed v1 message set, wrapper offset '${first.offset}' is less than the last inner message offset '${lastInner}' and it is not zero.`,
    );
  }
  inner.forEach((e, i) => {
    if ((e.attributes & COMPRESSION_MASK) !== Codec.NONE) {
      errors.push({
        code: ErrorCode.INVALID_RECORD,
        message: `Compressed outer record should not have an inner record with a compression attribute set (record ${i})`,
      });
      return;
    }
    if (e.magic !== first.magic) {
      errors.push({ code: ErrorCode.INVALID_RECORD, message: `Record ${i}'s magic does not match outer magic ${first.magic}` });
      return;
    }
    if (!crcValid(e.message)) throw new Refused(ErrorCode.CORRUPT_MESSAGE, `Record is corrupt (stored crc = ${e.message.readUInt32BE(0)}) (inner record ${i})`);
    const r = readRecord(e);
    if (claimed) r.timestamp = wrapper.timestamp; // LegacyRecord.timestamp(): a LogAppendTime wrapper's time
    const error = checkRecord(r, i, claimed, rules);
    if (error) errors.push(error);
    else records.push(r);
  });
  finish(errors);
  return { codec, records, logAppendTimeClaimed: claimed };
}

/** LogValidator.processRecordErrors: any invalid timestamp makes it INVALID_TIMESTAMP, else INVALID_RECORD. */
function finish(errors: RecordError[]): void {
  if (errors.length === 0) return;
  if (errors.some((e) => e.code === ErrorCode.INVALID_TIMESTAMP))
    throw new Refused(ErrorCode.INVALID_TIMESTAMP, 'One or more records have been rejected due to invalid timestamp');
  throw new Refused(
    ErrorCode.INVALID_RECORD,
    `One or more records have been rejected due to ${errors.length} record errors in total, and only showing the first three errors at most: ${errors
      .slice(0, 3)
      .map((e) => e.message)
      .join('; ')}`,
  );
}

const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
const XERIAL_BLOCK = 32 * 1024;

/** Compression as Kafka's Java codecs write it: gzip, xerial-framed snappy, the LZ4 frame (magic 0: broken header checksum). */
export function compress(codec: number, data: Buffer, magic: number): Buffer {
  switch (codec) {
    case Codec.GZIP:
      return gzipSync(data);
    case Codec.SNAPPY: {
      const parts: Buffer[] = [XERIAL_HEADER];
      for (let pos = 0; pos < data.length || pos === 0; pos += XERIAL_BLOCK) {
        const block = Buffer.from(snappyCompress(data.subarray(pos, pos + XERIAL_BLOCK)));
        const len = Buffer.alloc(4);
        len.writeInt32BE(block.length);
        parts.push(len, block);
        if (data.length === 0) break;
      }
      return Buffer.concat(parts);
    }
    case Codec.LZ4: {
      const out = Buffer.from(lz4Compress(data));
      // the frame descriptor is magic(4) FLG BD HC: no content size is written, so HC is byte 6
      if (magic === 0) out[6] = (xxh32(0, out, 0, 6) >> 8) & 0xff;
      return out;
    }
    default:
      return data;
  }
}

/** Bytes of a zigzag varint (int32) / varlong. */
function varintSize(v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  let n = 1;
  while (z >= 0x80) {
    z >>>= 7;
    n++;
  }
  return n;
}
function varlongSize(v: number): number {
  let z = BigInt.asUintN(64, (BigInt(v) << 1n) ^ (BigInt(v) >> 63n));
  let n = 1;
  while (z >= 0x80n) {
    z >>= 7n;
    n++;
  }
  return n;
}

/** One record batch v2 of legacy records (MemoryRecordsBuilder): offsets 0..n-1, assigned on append. */
function buildBatch(records: LegacyRecord[], codec: number, logAppendTime: number | null): Buffer {
  const base = records[0]!.timestamp;
  let maxTimestamp = -1;
  let total = 0;
  // each record's length first, so the records are written once into one buffer (measured: a
  // Writer per record cost about as much as the rest of the conversion)
  const lengths = records.map((r, i) => {
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    const k = r.key?.length ?? -1;
    const v = r.value?.length ?? -1;
    const len = 1 + varlongSize(r.timestamp - base) + varintSize(i) + varintSize(k) + Math.max(k, 0) + varintSize(v) + Math.max(v, 0) + 1;
    total += varintSize(len) + len;
    return len;
  });
  const body = new Writer(total);
  records.forEach((r, i) => {
    body
      .varint(lengths[i]!)
      .int8(0)
      .varlong(BigInt(r.timestamp - base))
      .varint(i);
    if (r.key === null) body.varint(-1);
    else body.varint(r.key.length).raw(r.key);
    if (r.value === null) body.varint(-1);
    else body.varint(r.value.length).raw(r.value);
    body.varint(0);
  });
  const plain = Buffer.from(body.toBuffer());
  const section = codec === Codec.NONE ? plain : compress(codec, plain, 2);
  const attributes = codec | (logAppendTime !== null ? TIMESTAMP_TYPE_BIT : 0);
  const w = new Writer(61 + section.length);
  w.int64(0)
    .int32(0)
    .int32(0)
    .int8(2)
    .uint32(0)
    .int16(attributes)
    .int32(records.length - 1);
  w.int64(base)
    .int64(logAppendTime ?? maxTimestamp)
    .int64(-1)
    .int16(-1)
    .int32(-1)
    .int32(records.length)
    .raw(section);
  const batch = Buffer.from(w.toBuffer());
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeUInt32BE(crc32c(batch, 21), 17);
  return batch;
}

/**
 * Validates a Produce v0-2 message set (magic 0/1) as Kafka 3.9 does and converts it to one record
 * batch v2 (LogValidator.convertAndAssignOffsetsNonCompressed / validateMessagesAndAssignOffsetsCompressed).
 * An empty result (no whole entry) appends nothing.
 */
export function convertLegacyRecordSet(records: Buffer | null, rules: TopicRules, now: number): Validation {
  try {
    const { codec, records: converted } = readSet(records ?? Buffer.alloc(0), rules);
    if (converted.length === 0) return { ok: true, batches: [] };
    const bytes = buildBatch(converted, codec, rules.logAppendTime ? now : null);
    // UnifiedLog.append re-checks the size when conversion may have changed it
    if (bytes.length > rules.maxMessageBytes) {
      return {
        ok: false,
        error: ErrorCode.MESSAGE_TOO_LARGE,
        message: `Message batch size is ${bytes.length} bytes which exceeds the maximum configured size of ${rules.maxMessageBytes}.`,
      };
    }
    return { ok: true, batches: [{ header: readBatchHeader(bytes)!, bytes }] };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, error: err.code, message: err.message };
    throw err;
  }
}

/** Appends one message entry to `w`, its CRC-32 patched in place once written. */
function writeMessage(w: Writer, offset: number, magic: number, attributes: number, timestamp: number, key: Buffer | null, value: Buffer | null): void {
  const size = 6 + (magic === 1 ? 8 : 0) + 4 + (key?.length ?? 0) + 4 + (value?.length ?? 0);
  w.int64(offset).int32(size);
  const start = w.length;
  w.uint32(0).int8(magic).int8(attributes);
  if (magic === 1) w.int64(timestamp);
  w.nullableBytes(key).nullableBytes(value);
  const buf = w.toBuffer(); // a view of the writer's buffer: patched before anything else is written
  buf.writeUInt32BE(crc32(buf.subarray(start + 4)), start);
}

/**
 * Stored record batches v2 as a message set of `toMagic` (Fetch v0-1: 0, v2-3: 1), as Kafka's
 * RecordsUtil.downConvert. A batch that does not decode (none should: every one was validated on
 * produce) is left out; an incomplete batch at the end of the read is too.
 */
export function downConvertRecordSet(stored: Buffer, toMagic: 0 | 1, fetchOffset: number): { ok: true; records: Buffer } | { ok: false; error: number } {
  const w = new Writer(stored.length + 64);
  for (let pos = 0; pos < stored.length; ) {
    let h: BatchHeader | undefined;
    try {
      h = readBatchHeader(stored, pos);
    } catch {
      break;
    }
    if (!h) break;
    const batch = stored.subarray(pos, pos + h.size);
    pos += h.size;
    if ((h.attributes & CONTROL_BIT) !== 0) continue;
    const codec = h.attributes & COMPRESSION_MASK;
    if (codec === Codec.ZSTD) return { ok: false, error: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE };
    let records;
    try {
      records = decodeRecords(batch);
    } catch {
      continue;
    }
    const appendTime = (h.attributes & TIMESTAMP_TYPE_BIT) !== 0 ? h.maxTimestamp : null;
    const tsBit = toMagic === 1 && appendTime !== null ? TIMESTAMP_TYPE_BIT : 0;
    if (codec === Codec.NONE) {
      for (const r of records) {
        if (r.offset >= fetchOffset) writeMessage(w, r.offset, toMagic, tsBit, appendTime ?? r.timestamp, r.key, r.value);
      }
      continue;
    }
    if (records.length === 0) continue;
    const inner = new Writer(h.size * 2);
    const baseOffset = records[0]!.offset;
    let maxTimestamp = -1;
    for (const r of records) {
      const ts = appendTime ?? r.timestamp;
      if (ts > maxTimestamp) maxTimestamp = ts;
      writeMessage(inner, toMagic === 1 ? r.offset - baseOffset : r.offset, toMagic, tsBit, ts, r.key, r.value);
    }
    const value = compress(codec, Buffer.from(inner.toBuffer()), toMagic);
    writeMessage(w, records[records.length - 1]!.offset, toMagic, codec | tsBit, appendTime ?? maxTimestamp, null, value);
  }
  return { ok: true, records: Buffer.from(w.toBuffer()) };
}
