/**
 * What a produced record set must satisfy before it is appended, in the order Kafka 3.9 checks it:
 *   ProduceRequest.validateRecords (v3+): at least one batch, magic 2, no zstd before v7, exactly
 *     one batch per partition                                  -> INVALID_RECORD / UNSUPPORTED_COMPRESSION_TYPE
 *   UnifiedLog.analyzeAndValidateRecords: batch size <= max.message.bytes -> MESSAGE_TOO_LARGE;
 *     CRC-32C -> CORRUPT_MESSAGE; a compression id outside 0-4 (CompressionType.forId throws)
 *                                                              -> UNKNOWN_SERVER_ERROR
 *   LogValidator.validateBatch (client origin): offset range and record count consistent and > 0,
 *     no control batch, a producer id needs a sequence          -> INVALID_RECORD
 *   LogValidator records: the body decompresses with the claimed codec ("Failed to decompress
 *     record stream", a KafkaException)                         -> UNKNOWN_SERVER_ERROR;
 *     the records parse exactly                                 -> INVALID_RECORD;
 *     a compacted topic requires a key on every record          -> INVALID_RECORD
 *   KafkaApis.handleProduceRequest: transactional batches without a transactional id fail the whole
 *     request with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (checked by the caller, across partitions).
 * message.timestamp.type=LogAppendTime: the broker stamps the batch (timestamp type bit, max
 * timestamp = now, CRC recomputed), as LogValidator does in place.
 */
import { ErrorCode } from '../errors.js';
import { CodecError, Codec } from './codecs.js';
import { crc32c } from './crc32c.js';
import {
  BatchError,
  COMPRESSION_MASK,
  CONTROL_BIT,
  TIMESTAMP_TYPE_BIT,
  TRANSACTIONAL_BIT,
  crcValid,
  decodeRecords,
  readBatchHeader,
  type BatchHeader,
} from './record-batch.js';

export interface ValidatedBatch {
  header: BatchHeader;
  bytes: Buffer;
}

export type Validation = { ok: true; batches: ValidatedBatch[] } | { ok: false; error: number; message: string };

export interface TopicRules {
  maxMessageBytes: number;
  compacted: boolean;
  logAppendTime: boolean;
}

const fail = (error: number, message: string): Validation => ({ ok: false, error, message });

/** True when any batch of the set has the transactional bit (Kafka's RequestUtils.hasTransactionalRecords). */
export function hasTransactionalBatch(records: Buffer | null): boolean {
  if (!records) return false;
  for (let pos = 0; pos + 23 <= records.length; ) {
    // a message v0/v1 (magic 0/1) is never transactional: its bytes 21-22 are no attributes
    if (records.readInt8(pos + 16) === 2 && (records.readInt16BE(pos + 21) & TRANSACTIONAL_BIT) !== 0) return true;
    const len = records.readInt32BE(pos + 8);
    if (len <= 0) return false;
    pos += 12 + len;
  }
  return false;
}

export function validateRecordSet(version: number, records: Buffer | null, rules: TopicRules, now: number): Validation {
  const set = records ?? Buffer.alloc(0);
  const batches: ValidatedBatch[] = [];
  let pos = 0;
  while (pos < set.length) {
    if (set.length - pos >= 17 && set.readInt8(pos + 16) !== 2)
      return fail(ErrorCode.INVALID_RECORD, `Produce requests with version ${version} are only allowed to contain record batches with magic version 2`);
    let h: BatchHeader | undefined;
    try {
      h = readBatchHeader(set, pos);
    } catch (err) {
      return fail(ErrorCode.CORRUPT_MESSAGE, (err as Error).message);
    }
    if (!h) return fail(ErrorCode.CORRUPT_MESSAGE, 'truncated record batch');
    batches.push({ header: h, bytes: Buffer.from(set.subarray(pos, pos + h.size)) });
    pos += h.size;
  }
  if (batches.length === 0) return fail(ErrorCode.INVALID_RECORD, `Produce requests with version ${version} must have at least one record batch per partition`);
  const { header: h, bytes } = batches[0]!;
  const codec = h.attributes & COMPRESSION_MASK;
  if (version < 7 && codec === Codec.ZSTD)
    return fail(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Produce requests with version ${version} are not allowed to use ZStandard compression`);
  if (batches.length > 1)
    return fail(ErrorCode.INVALID_RECORD, `Produce requests with version ${version} are only allowed to contain exactly one record batch per partition`);
  if (h.size > rules.maxMessageBytes)
    return fail(
      ErrorCode.MESSAGE_TOO_LARGE,
      `The record batch size is ${h.size} bytes which exceeds the maximum configured value of ${rules.maxMessageBytes}.`,
    );
  if (!crcValid(bytes, 0, h)) return fail(ErrorCode.CORRUPT_MESSAGE, `Record is corrupt (stored crc = ${h.crc})`);
  if (codec > Codec.ZSTD) return fail(ErrorCode.UNKNOWN_SERVER_ERROR, `Unknown compression type id: ${codec}`);
  if (h.lastOffsetDelta < 0) return fail(ErrorCode.INVALID_RECORD, `Batch has an invalid offset range: [0, ${h.lastOffsetDelta}]`);
  if (h.recordCount <= 0) return fail(ErrorCode.INVALID_RECORD, `Invalid reported count for record batch: ${h.recordCount}`);
  if (h.lastOffsetDelta + 1 !== h.recordCount)
    return fail(ErrorCode.INVALID_RECORD, `Inconsistent batch offset range [0, ${h.lastOffsetDelta}] and count of records ${h.recordCount}`);
  if ((h.attributes & CONTROL_BIT) !== 0) return fail(ErrorCode.INVALID_RECORD, 'Clients are not allowed to write control records');
  if (h.producerId >= 0 && h.baseSequence < 0)
    return fail(ErrorCode.INVALID_RECORD, `Invalid sequence number ${h.baseSequence} in record batch with producerId ${h.producerId}`);
  let decoded;
  try {
    decoded = decodeRecords(bytes);
  } catch (err) {
    if (err instanceof CodecError) return fail(ErrorCode.UNKNOWN_SERVER_ERROR, err.message);
    if (err instanceof BatchError) return fail(ErrorCode.INVALID_RECORD, err.message);
    throw err;
  }
  if (rules.compacted) {
    const i = decoded.findIndex((r) => r.key === null);
    if (i >= 0) return fail(ErrorCode.INVALID_RECORD, `Compacted topic cannot accept message without key (record ${i})`);
  }
  if (rules.logAppendTime) {
    bytes.writeInt16BE(h.attributes | TIMESTAMP_TYPE_BIT, 21);
    bytes.writeBigInt64BE(BigInt(now), 35);
    bytes.writeUInt32BE(crc32c(bytes, 21), 17);
    batches[0] = { header: { ...h, attributes: h.attributes | TIMESTAMP_TYPE_BIT, maxTimestamp: now }, bytes };
  }
  return { ok: true, batches };
}
