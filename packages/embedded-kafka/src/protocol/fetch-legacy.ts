/**
 * What Fetch answers differently by version or leader epoch, as Kafka 3.9's KafkaApis.handleFetchRequest
 * and Partition.readRecords do:
 *   v0-3 (deprecated, removed in 4.0): records down-converted to message format v0 (Fetch v0-1) or v1
 *     (v2-3), storage/legacy-messages.ts; a topic with message.downconversion.enable=false answers
 *     UNSUPPORTED_VERSION, a zstd batch UNSUPPORTED_COMPRESSION_TYPE (RecordsUtil.downConvert).
 *   v0-9: a topic whose compression.type is zstd answers UNSUPPORTED_COMPRESSION_TYPE (KIP-110).
 *   v9+ current_leader_epoch: this broker leads every partition at epoch 0 (Metadata says so), so a
 *     larger epoch is UNKNOWN_LEADER_EPOCH (the client knows of a leader this broker has not heard
 *     of) and no epoch can be older (FENCED_LEADER_EPOCH needs a leader change). Negative = not checked.
 *   v12+ last_fetched_epoch (KIP-320 truncation detection): its end offset is the log end for epoch
 *     0, unknown for a later one (OFFSET_OUT_OF_RANGE, "Could not determine the end offset of the
 *     last fetched epoch"); a fetch offset past that end answers no records and the tagged field
 *     diverging_epoch (tag 0: epoch, end_offset) so the client truncates.
 * Errors here carry high watermark and log start -1, as Kafka's FetchResponse.partitionResponse.
 * The other tagged fields (current_leader, tag 1: only with NOT_LEADER_OR_FOLLOWER or
 * FENCED_LEADER_EPOCH, which one broker never answers; snapshot_id, tag 2: KRaft's metadata log only)
 * are never set.
 */
import { ErrorCode } from '../errors.js';
import { downConvertRecordSet } from '../storage/legacy-messages.js';
import type { BrokerContext } from './context.js';
import type { Writer } from './primitives.js';

/** The only leader epoch this broker has (KRaft starts a partition's leader at epoch 0 and it never changes here). */
export const LEADER_EPOCH = 0;

export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export interface PartitionAnswer {
  partition: number;
  error: number;
  hw: number;
  start: number;
  /** The last stable offset (v4+), -1 with an error. */
  lso: number;
  /** read_committed: the aborted transactions in the range read (v4+); read_uncommitted: null. */
  aborted: Array<{ producerId: number; firstOffset: number }> | null;
  records: Buffer;
  diverging?: EpochEndOffset;
}

interface TopicAnswer<P extends PartitionAnswer> {
  topic: string;
  partitions: P[];
}

/** Partition.readRecords' epoch checks: an error, a diverging epoch, or undefined to read as usual. */
export function checkEpochs(
  p: { offset: number; currentLeaderEpoch?: number; lastFetchedEpoch?: number },
  logStart: number,
  logEnd: number,
): { error: number; hw: number; start: number; diverging?: EpochEndOffset } | undefined {
  const current = p.currentLeaderEpoch ?? -1;
  if (current > LEADER_EPOCH) return { error: ErrorCode.UNKNOWN_LEADER_EPOCH, hw: -1, start: -1 };
  const last = p.lastFetchedEpoch ?? -1;
  if (last < 0) return undefined;
  if (last > LEADER_EPOCH || p.offset < logStart) return { error: ErrorCode.OFFSET_OUT_OF_RANGE, hw: -1, start: -1 };
  if (logEnd < p.offset) return { error: ErrorCode.NONE, hw: logEnd, start: logStart, diverging: { epoch: LEADER_EPOCH, endOffset: logEnd } };
  return undefined;
}

/** The partition's tagged fields with diverging_epoch (tag 0) in them. */
export function writeDivergingEpoch(w: Writer, d: EpochEndOffset): void {
  w.uvarint(1)
    .uvarint(0)
    .uvarint(4 + 8 + 1)
    .int32(d.epoch)
    .int64(d.endOffset)
    .uvarint(0);
}

/** Fetch v0-9's answers: zstd topics refused below v10, records down-converted below v4. */
export function adaptForOldFetch<P extends PartitionAnswer, T extends TopicAnswer<P>>(
  version: number,
  ctx: BrokerContext,
  answered: T[],
  asked: { topic: string; partitions: { partition: number; offset: number }[] }[],
): T[] {
  return answered.map((t) => {
    const topic = ctx.topics.topics.get(t.topic);
    if (!topic) return t;
    const refuse = (p: P, error: number): P => ({ ...p, error, hw: -1, start: -1, lso: -1, aborted: null, records: Buffer.alloc(0) });
    return {
      ...t,
      partitions: t.partitions.map((p) => {
        if (p.error !== ErrorCode.NONE) return p;
        if (ctx.topics.config(topic, 'compression.type') === 'zstd') return refuse(p, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
        if (version > 3) return p;
        if (ctx.topics.config(topic, 'message.downconversion.enable') === 'false') return refuse(p, ErrorCode.UNSUPPORTED_VERSION);
        const offset = asked.find((a) => a.topic === t.topic)?.partitions.find((a) => a.partition === p.partition)?.offset ?? 0;
        const converted = downConvertRecordSet(p.records, version <= 1 ? 0 : 1, offset);
        return converted.ok ? { ...p, records: converted.records } : refuse(p, converted.error);
      }),
    };
  });
}
