/**
 * CreatePartitions (key 37), versions 0-3 (flexible from 2)
 *   Request:  [topics: name STRING, count INT32, [assignments: [broker_ids INT32]] (nullable)], timeout_ms INT32, validate_only BOOLEAN
 *   Response: throttle_time_ms INT32, [results: name STRING, error_code INT16, error_message NULLABLE_STRING]
 *   The new count must exceed the current one (INVALID_PARTITIONS, with Kafka's wording); given
 *   assignments must number count - current, each [this broker] (INVALID_REPLICA_ASSIGNMENT).
 * DeleteRecords (key 21), versions 0-2 (flexible from 2)
 *   Request:  [topics: name STRING, [partitions: partition_index INT32, offset INT64]], timeout_ms INT32
 *   Response: throttle_time_ms INT32, [topics: name STRING, [partitions: partition_index INT32, low_watermark INT64, error_code INT16]]
 *   Moves the log start offset up to `offset` (-1 = the high watermark), as Kafka's
 *   UnifiedLog.maybeIncrementLogStartOffset: records below it are no longer served, whole
 *   segments below it are deleted, and the new start survives a restart. An offset above the high
 *   watermark is OFFSET_OUT_OF_RANGE.
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';

export const createPartitionsApi: ApiDefinition = {
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,
  flexibleVersion: 2,
  handle(r, w, { flexible: f }, ctx) {
    const topics = r.arr(f, (x) => {
      const t = {
        name: x.str(f),
        count: x.int32(),
        assignments: x.narr(f, (y) => {
          const ids = y.arr(f, (z) => z.int32());
          y.tags(f);
          return ids;
        }),
      };
      x.tags(f);
      return t;
    });
    r.int32();
    const validateOnly = r.bool();
    r.tags(f);
    w.int32(0);
    w.arr(f, topics, (x, t) => {
      const topic = ctx.topics.topics.get(t.name);
      let error: number = ErrorCode.NONE;
      let message: string | null = null;
      if (!topic) [error, message] = [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`];
      else if (t.count <= topic.meta.partitions) {
        [error, message] = [
          ErrorCode.INVALID_PARTITIONS,
          t.count === topic.meta.partitions
            ? `Topic already has ${t.count} partitions.`
            : `Topic currently has ${topic.meta.partitions} partitions, which is higher than the requested ${t.count}.`,
        ];
      } else if (t.count > 10_000) [error, message] = [ErrorCode.INVALID_PARTITIONS, 'number of partitions must be at most 10000'];
      else if (
        t.assignments &&
        (t.assignments.length !== t.count - topic.meta.partitions || t.assignments.some((a) => a.length !== 1 || a[0] !== ctx.nodeId))
      ) {
        [error, message] = [
          ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          `Increasing the number of partitions by ${t.count - topic.meta.partitions} needs that many assignments, each [${ctx.nodeId}]`,
        ];
      } else if (!validateOnly) {
        const res = ctx.addPartitions(t.name, t.count);
        [error, message] = [res.error, res.message];
      }
      x.str(f, t.name).int16(error).str(f, message).tags(f);
    });
    w.tags(f);
  },
};

export const deleteRecordsApi: ApiDefinition = {
  key: 21,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 2,
  flexibleVersion: 2,
  handle(r, w, { flexible: f }, ctx) {
    const topics = r.arr(f, (x) => {
      const name = x.str(f);
      const partitions = x.arr(f, (y) => {
        const p = { index: y.int32(), offset: y.int64n() };
        y.tags(f);
        return p;
      });
      x.tags(f);
      return { name, partitions };
    });
    r.int32();
    r.tags(f);
    w.int32(0);
    w.arr(f, topics, (x, t) => {
      x.str(f, t.name);
      x.arr(f, t.partitions, (y, p) => {
        const log = ctx.topics.topics.get(t.name)?.logs[p.index];
        let low = -1;
        let error: number = ErrorCode.NONE;
        if (!log) error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else {
          const target = p.offset === -1 ? log.nextOffset : p.offset;
          if (target < 0 || target > log.nextOffset) error = ErrorCode.OFFSET_OUT_OF_RANGE;
          else low = log.deleteRecordsBefore(target);
        }
        y.int32(p.index).int64(low).int16(error).tags(f);
      });
      x.tags(f);
    });
    w.tags(f);
  },
};
