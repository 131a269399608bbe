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
import { crc32c } from './crc32c.js';
import { decompress } from './codecs.js';
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

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_BIT = 0x08;
export const TRANSACTIONAL_BIT = 0x10;
export const CONTROL_BIT = 0x20;

/**
 * Decodes every record of a batch of any codec (codecs.ts). Throws CodecError when the body does
 * not decompress and BatchError when the records do not parse exactly (a record running past the
 * section, a negative length other than -1 for null, bytes left over after recordCount records:
 * Kafka's "Incorrect declared batch size").
 */
export function decodeRecords(batch: Buffer): DecodedRecord[] {
  const h = readBatchHeader(batch);
  if (!h) throw new BatchError('truncated record batch');
  const body = decompress(h.attributes & COMPRESSION_MASK, batch.subarray(BATCH_HEADER_BYTES, h.size));
  const r = new Reader(body);
  const out: DecodedRecord[] = [];
  const field = (what: string): Buffer | null => {
    const len = r.varint();
    if (len < -1) throw new BatchError(`negative ${what} length ${len}`);
    if (len === -1) return null;
    if (len > r.remaining()) throw new BatchError(`${what} runs past the records`);
    return Buffer.from(body.subarray(r.offset, (r.offset += len)));
  };
  try {
    for (let i = 0; i < h.recordCount; i++) {
      const start = r.offset;
      const len = r.varint();
      const bodyStart = r.offset;
      if (len < 0 || len > r.remaining()) throw new BatchError(`record ${i} length ${len} runs past the records`);
      r.int8();
      const tsDelta = Number(r.varlong());
      const offsetDelta = r.varint();
      const key = field('key');
      const value = field('value');
      const headerCount = r.varint();
      if (headerCount < 0) throw new BatchError(`negative header count ${headerCount}`);
      const headers: { key: string; value: Buffer | null }[] = [];
      for (let j = 0; j < headerCount; j++) {
        const k = field('header key');
        if (k === null) throw new BatchError('null header key');
        headers.push({ key: k.toString('utf8'), value: field('header value') });
      }
      if (r.offset !== bodyStart + len) throw new BatchError(`record ${i} declares ${len} bytes, holds ${r.offset - bodyStart}`);
      out.push({
        offset: h.baseOffset + offsetDelta,
        timestamp: h.firstTimestamp + tsDelta,
        key,
        value,
        headers,
        raw: Buffer.from(body.subarray(start, r.offset)),
        offsetDelta,
      });
    }
  } catch (err) {
    if (err instanceof BatchError) throw err;
    throw new BatchError(`records do not parse: ${(err as Error).message}`);
  }
  if (r.remaining() > 0) throw new BatchError(`${r.remaining()} bytes after the declared ${h.recordCount} records`);
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
  w.int16(h.attributes & ~COMPRESSION_MASK)
    .int32(h.lastOffsetDelta)
    .int64(h.firstTimestamp)
    .int64(h.maxTimestamp);
  w.int64(h.producerId).int16(h.producerEpoch).int32(h.baseSequence).int32(records.length);
  for (const r of records) w.raw(r.raw);
  const buf = Buffer.from(w.toBuffer());
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeUInt32BE(crc32c(buf, 21), 17);
  return buf;
}
