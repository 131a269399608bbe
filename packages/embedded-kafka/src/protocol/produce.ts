/**
 * Produce (key 0), version 3 (the first with record batches v2).
 *   Request:  transactional_id NULLABLE_STRING, acks INT16, timeout_ms INT32,
 *             [topic_data: name STRING, [partition_data: index INT32, records NULLABLE_BYTES]]
 *   Response: [responses: name STRING, [partition_responses: index INT32, error_code INT16,
 *                base_offset INT64, log_append_time_ms INT64]], throttle_time_ms INT32
 * Each batch is checked (magic 2, CRC-32C) and stored as received, compressed or not, with its
 * base offset assigned. Idempotent producers (producer_id >= 0): per partition the batch's
 * sequence must follow the producer's last one; a retried batch already appended is acknowledged
 * with its original offset and not appended again; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
 * acks=0 gets no response (the connection layer drops it). Transactions are not supported.
 */
import { ErrorCode } from '../errors.js';
import { BatchError, splitBatches, type BatchHeader } from '../storage/record-batch.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { ApiDefinition } from './context.js';

export const NO_RESPONSE = Symbol('no-response');

function checkSequence(log: PartitionLog, batches: { header: BatchHeader }[]): { error: number; duplicateOffset?: number } {
  const first = batches[0]!.header;
  if (first.producerId < 0) return { error: ErrorCode.NONE };
  const history = log.producers.get(first.producerId);
  const last = history?.[history.length - 1];
  for (const b of batches) {
    const h = b.header;
    const lastSeq = h.baseSequence + h.lastOffsetDelta;
    const dup = history?.find((x) => x.baseSequence === h.baseSequence && x.lastSequence === lastSeq && x.producerEpoch === h.producerEpoch);
    if (dup) return { error: ErrorCode.NONE, duplicateOffset: dup.baseOffset };
  }
  if (last && first.producerEpoch < last.producerEpoch) return { error: ErrorCode.INVALID_PRODUCER_EPOCH };
  const expected = !last || first.producerEpoch > last.producerEpoch ? 0 : last.lastSequence + 1;
  if (first.baseSequence !== expected) return { error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
  return { error: ErrorCode.NONE };
}

export const produceApi: ApiDefinition = {
  key: 0,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 3,
  handle(r, w, _meta, ctx) {
    const transactionalId = r.nullableString();
    const acks = r.int16();
    r.int32();
    const topics = r.array((x) => ({ name: x.string(), partitions: x.array((y) => ({ index: y.int32(), records: y.nullableBytes() })) }));
    const now = Date.now();
    const results = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const res = (error: number, baseOffset = -1) => ({ index: p.index, error, baseOffset });
        if (transactionalId !== null) return res(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
        if (acks !== 0 && acks !== 1 && acks !== -1) return res(ErrorCode.INVALID_REQUIRED_ACKS);
        const topic = ctx.topics.topics.get(t.name);
        const log = topic?.logs[p.index];
        if (!log) return res(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        let batches;
        try {
          batches = splitBatches(p.records ?? Buffer.alloc(0));
        } catch (err) {
          ctx.logger.warn({ topic: t.name, partition: p.index, reason: (err as BatchError).message }, 'produce refused: corrupt batch');
          return res(ErrorCode.CORRUPT_MESSAGE);
        }
        if (batches.length === 0) return res(ErrorCode.CORRUPT_MESSAGE);
        const maxBytes = Number(ctx.topics.config(topic, 'max.message.bytes') || 16 * 1024 * 1024);
        if (batches.some((b) => b.header.size > maxBytes)) return res(ErrorCode.MESSAGE_TOO_LARGE);
        const seq = checkSequence(log, batches);
        if (seq.error !== ErrorCode.NONE) return res(seq.error);
        if (seq.duplicateOffset !== undefined) return res(ErrorCode.NONE, seq.duplicateOffset);
        return res(ErrorCode.NONE, log.append(batches, now));
      }),
    }));
    if (results.some((t) => t.partitions.some((p) => p.baseOffset >= 0))) ctx.notifyAppend();
    if (acks === 0) throw NO_RESPONSE;
    w.array(results, (x, t) => {
      x.string(t.name);
      x.array(t.partitions, (y, p) => y.int32(p.index).int16(p.error).int64(p.baseOffset).int64(-1));
    });
    w.int32(0);
  },
};
