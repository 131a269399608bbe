/**
 * Produce (key 0), versions 0-11 (ProduceRequest.json / ProduceResponse.json; flexible from v9).
 *   Request:  [v3+ transactional_id NULLABLE_STRING], acks INT16, timeout_ms INT32,
 *             [topic_data: name STRING, [partition_data: index INT32, records NULLABLE_BYTES]]
 *   Response: [responses: name STRING, [partition_responses: index INT32, error_code INT16,
 *                base_offset INT64, v2+ log_append_time_ms INT64, v5+ log_start_offset INT64,
 *                v8+ [record_errors: batch_index INT32, batch_index_error_message NULLABLE_STRING],
 *                v8+ error_message NULLABLE_STRING]], v1+ throttle_time_ms INT32
 *   v10-11 add only tagged fields (current leader, node endpoints), which this broker leaves out.
 * Validation as Kafka 3.9 does it: storage/log-validator.ts. A v0-2 request may carry message sets
 * v0/v1 (magic 0/1): validated and converted to one record batch v2 as Kafka 3.9 does
 * (storage/legacy-messages.ts). Each batch v2 is stored as received, compressed or not, with its
 * base offset assigned.
 * Idempotent producers (producer_id >= 0): per partition the batch's sequence must follow the
 * producer's last one; a retried batch already appended is acknowledged with its original offset
 * and not appended again; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
 * acks=0 gets no response (the connection layer drops it). Transactional batches: checked against
 * the transaction coordinator (transactions.ts) before the sequence check.
 */
import { ErrorCode } from '../errors.js';
import { hasTransactionalBatch, validateRecordSet } from '../storage/log-validator.js';
import { convertLegacyRecordSet, isLegacyRecordSet } from '../storage/legacy-messages.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { TRANSACTIONAL_BIT, type BatchHeader } from '../storage/record-batch.js';
import type { ApiDefinition, BrokerContext } from './context.js';

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

/** A transactional batch: its producer must hold the transactional id and have added the partition (transactions.ts). */
function checkTransactional(ctx: BrokerContext, transactionalId: string, topic: string, partition: number, h: BatchHeader): number {
  if ((h.attributes & TRANSACTIONAL_BIT) === 0) return ErrorCode.NONE;
  return ctx.txns.checkProduce(transactionalId, h.producerId, h.producerEpoch, topic, partition);
}

interface PartitionResult {
  index: number;
  error: number;
  baseOffset: number;
  logAppendTime: number;
  logStartOffset: number;
  message: string | null;
}

export const produceApi: ApiDefinition = {
  key: 0,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 11,
  flexibleVersion: 9,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const transactionalId = v >= 3 ? r.nstr(f) : null;
    const acks = r.int16();
    r.int32();
    const topics = r.arr(f, (x) => {
      const name = x.str(f);
      const partitions = x.arr(f, (y) => {
        const p = { index: y.int32(), records: y.nbyts(f) };
        y.tags(f);
        return p;
      });
      x.tags(f);
      return { name, partitions };
    });
    r.tags(f);
    const now = Date.now();
    // KafkaApis: transactional records need a transactional id, else the whole request fails.
    const txnDenied = transactionalId === null && topics.some((t) => t.partitions.some((p) => hasTransactionalBatch(p.records)));
    const results = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p): PartitionResult => {
        const res = (error: number, baseOffset = -1, message: string | null = null, logAppendTime = -1): PartitionResult => ({
          index: p.index,
          error,
          baseOffset,
          logAppendTime,
          logStartOffset: log?.startOffset ?? -1,
          message,
        });
        const topic = ctx.topics.topics.get(t.name);
        const log = topic?.logs[p.index];
        if (txnDenied) return res(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        if (acks !== 0 && acks !== 1 && acks !== -1) return res(ErrorCode.INVALID_REQUIRED_ACKS);
        if (!topic || !log) return res(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        const logAppendTimeTopic = ctx.topics.config(topic, 'message.timestamp.type') === 'LogAppendTime';
        const rules = {
          maxMessageBytes: Number(ctx.topics.config(topic, 'max.message.bytes')),
          compacted: ctx.topics.config(topic, 'cleanup.policy').includes('compact'),
          logAppendTime: logAppendTimeTopic,
        };
        // v0-2 may carry message sets v0/v1: converted to one batch v2 (storage/legacy-messages.ts)
        const checked =
          v < 3 && isLegacyRecordSet(p.records) ? convertLegacyRecordSet(p.records, rules, now) : validateRecordSet(Math.max(v, 3), p.records, rules, now);
        if (checked.ok && checked.batches.length === 0) return res(ErrorCode.NONE);
        if (!checked.ok) {
          ctx.logger.warn({ topic: t.name, partition: p.index, error: checked.error, reason: checked.message }, 'produce refused');
          return res(checked.error, -1, checked.message);
        }
        const txn = transactionalId === null ? ErrorCode.NONE : checkTransactional(ctx, transactionalId, t.name, p.index, checked.batches[0]!.header);
        if (txn !== ErrorCode.NONE) return res(txn);
        const appendTime = logAppendTimeTopic ? now : -1;
        const seq = checkSequence(log, checked.batches);
        if (seq.error !== ErrorCode.NONE) return res(seq.error);
        if (seq.duplicateOffset !== undefined) return res(ErrorCode.NONE, seq.duplicateOffset, null, appendTime);
        return res(ErrorCode.NONE, log.append(checked.batches, now), null, appendTime);
      }),
    }));
    if (results.some((t) => t.partitions.some((p) => p.baseOffset >= 0))) ctx.notifyAppend();
    if (acks === 0) throw NO_RESPONSE;
    w.arr(f, results, (x, t) => {
      x.str(f, t.name);
      x.arr(f, t.partitions, (y, p) => {
        y.int32(p.index).int16(p.error).int64(p.baseOffset);
        if (v >= 2) y.int64(p.logAppendTime);
        if (v >= 5) y.int64(p.logStartOffset);
        if (v >= 8) {
          y.arr(f, [], () => undefined);
          y.str(f, p.message);
        }
        y.tags(f);
      });
      x.tags(f);
    });
    if (v >= 1) w.int32(0);
    w.tags(f);
  },
};
