/**
 * Record batch v2 (magic 2), the unit the broker stores and serves, byte for byte as produced:
 *
 *   offset  size  field
 *   0       8     baseOffset            (assigned by the broker: rewritten in place)
 *   8       4     batchLength           (bytes after this field)
 *   12      4     partitionLeaderEpoch
 *   16      1     magic = 2
 *   17      4     crc                   (CRC-32C of bytes 21..end)
 *   21      2     attributes            (bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control)
 *   23      4     lastOffsetDelta
 *   27      8     firstTimestamp
 *   35      8     maxTimestamp
 *   43      8     producerId
 *   51      2     producerEpoch
 *   53      4     baseSequence
 *   57      4     recordCount
 *   61      ...   records (compressed as a whole when attributes say so)
 *
 * Each record: length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
 * key (varint length, -1 = null), value (same), headers (varint count, each key/value varint-length).
 * baseOffset and partitionLeaderEpoch sit outside the CRC, so assigning offsets keeps it valid.
 */
import { gunzipSync } from 'node:zlib';
import { crc32c } from './crc32c.js';
import { Reader, Writer } from '../protocol/primitives.js';

export const BATCH_HEADER_BYTES = 61;

export interface BatchHeader {
  baseOffset: number;
  /** Total size of the batch in bytes (batchLength + 12). */
  size: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export class BatchError extends Error {}

/** Reads the header of the batch at `pos`; undefined when fewer bytes than a whole batch remain. */
export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader | undefined {
  if (buf.length - pos < BATCH_HEADER_BYTES) return undefined;
  const batchLength = buf.readInt32BE(pos + 8);
  const size = batchLength + 12;
  if (batchLength < BATCH_HEADER_BYTES - 12) throw new BatchError(`batch length ${batchLength} is too small`);
  if (buf.length - pos < size) return undefined;
  return {
    baseOffset: Number(buf.readBigInt64BE(pos)),
    size,
    magic: buf.readInt8(pos + 16),
    crc: buf.readUInt32BE(pos + 17),
    attributes: buf.readInt16BE(pos + 21),
    lastOffsetDelta: buf.readInt32BE(pos + 23),
    firstTimestamp: Number(buf.readBigInt64BE(pos + 27)),
    maxTimestamp: Number(buf.readBigInt64BE(pos + 35)),
    producerId: Number(buf.readBigInt64BE(pos + 43)),
    producerEpoch: buf.readInt16BE(pos + 51),
    baseSequence: buf.readInt32BE(pos + 53),
    recordCount: buf.readInt32BE(pos + 57),
  };
}

export function crcValid(buf: Buffer, pos: number, h: BatchHeader): boolean {
  return crc32c(buf, pos + 21, pos + h.size) === h.crc;
}

/**
 * Splits a produce request's record set into batches, validating each (magic 2, CRC, counts).
 * Throws BatchError for anything else: older message formats are not accepted.
 */
export function splitBatches(records: Buffer): { header: BatchHeader; bytes: Buffer }[] {
  const out: { header: BatchHeader; bytes: Buffer }[] = [];
  let pos = 0;
  while (pos < records.length) {
    if (records.length - pos >= 17 && records.readInt8(pos + 16) !== 2) throw new BatchError(`unsupported message format magic ${records.readInt8(pos + 16)}`);
    const h = readBatchHeader(records, pos);
    if (!h) throw new BatchError('truncated record batch');
    if (h.magic !== 2) throw new BatchError(`unsupported message format magic ${h.magic}`);
    if (!crcValid(records, pos, h)) throw new BatchError('record batch CRC-32C mismatch');
    if (h.recordCount < 0 || h.lastOffsetDelta < 0) throw new BatchError('negative record count or offset delta');
    out.push({ header: h, bytes: Buffer.from(records.subarray(pos, pos + h.size)) });
    pos += h.size;
  }
  return out;
}

export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  batch.writeBigInt64BE(BigInt(baseOffset), 0);
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  /** The record's bytes as stored (uncompressed), for rebuilding batches. */
  raw: Buffer;
  offsetDelta: number;
}

const COMPRESSION_MASK = 0x07;

/** Decodes the records of an uncompressed or gzip batch (other codecs: undefined, kept opaque). */
export function decodeRecords(batch: Buffer): DecodedRecord[] | undefined {
  const h = readBatchHeader(batch);
  if (!h) return undefined;
  const codec = h.attributes & COMPRESSION_MASK;
  let body = batch.subarray(BATCH_HEADER_BYTES, h.size);
  if (codec === 1) body = gunzipSync(body);
  else if (codec !== 0) return undefined;
  const r = new Reader(body);
  const out: DecodedRecord[] = [];
  for (let i = 0; i < h.recordCount; i++) {
    const start = r.offset;
    const len = r.varint();
    const bodyStart = r.offset;
    r.int8();
    const tsDelta = Number(r.varlong());
    const offsetDelta = r.varint();
    const keyLen = r.varint();
    const key = keyLen < 0 ? null : Buffer.from(body.subarray(r.offset, (r.offset += keyLen)));
    const valLen = r.varint();
    const value = valLen < 0 ? null : Buffer.from(body.subarray(r.offset, (r.offset += valLen)));
    const headerCount = r.varint();
    const headers: { key: string; value: Buffer | null }[] = [];
    for (let j = 0; j < headerCount; j++) {
      const kl = r.varint();
      const k = body.toString('utf8', r.offset, (r.offset += kl));
      const vl = r.varint();
      headers.push({ key: k, value: vl < 0 ? null : Buffer.from(body.subarray(r.offset, (r.offset += vl))) });
    }
    r.offset = bodyStart + len;
    out.push({ offset: h.baseOffset + offsetDelta, timestamp: h.firstTimestamp + tsDelta, key, value, headers, raw: Buffer.from(body.subarray(start, r.offset)), offsetDelta });
  }
  return out;
}

/**
 * Rebuilds an uncompressed batch from a subset of another batch's records (compaction). The
 * records keep their offset deltas, so their offsets do not change; gaps are allowed, as in Kafka.
 */
export function rebuildBatch(original: Buffer, records: DecodedRecord[]): Buffer {
  const h = readBatchHeader(original)!;
  const w = new Writer(BATCH_HEADER_BYTES + records.reduce((n, r) => n + r.raw.length, 0));
  w.int64(h.baseOffset).int32(0).int32(original.readInt32BE(12)).int8(2).uint32(0);
  w.int16(h.attributes & ~COMPRESSION_MASK).int32(h.lastOffsetDelta).int64(h.firstTimestamp).int64(h.maxTimestamp);
  w.int64(h.producerId).int16(h.producerEpoch).int32(h.baseSequence).int32(records.length);
  for (const r of records) w.raw(r.raw);
  const buf = Buffer.from(w.toBuffer());
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeUInt32BE(crc32c(buf, 21), 17);
  return buf;
}
