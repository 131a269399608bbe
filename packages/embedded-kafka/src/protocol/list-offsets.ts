/**
 * ListOffsets (key 2), versions 0-8 (ListOffsetsRequest.json / ListOffsetsResponse.json; flexible from v6).
 *   Request:  replica_id INT32, v2+ isolation_level INT8, [topics: name STRING,
 *             [partitions: partition_index INT32, v4+ current_leader_epoch INT32, timestamp INT64,
 *             v0 max_num_offsets INT32]]
 *   Response: v2+ throttle_time_ms INT32, [topics: name STRING, [partitions: partition_index INT32,
 *             error_code INT16, v0 old_style_offsets [INT64], v1+ timestamp INT64, offset INT64, v4+ leader_epoch INT32]]
 * v0 (deprecated in 3.9, what librdkafka sends with broker.version.fallback < 0.10.1) answers as
 * Kafka's legacyFetchOffsetsBefore: offsets of segment starts by file time (PartitionLog.legacyOffsetsBefore).
 * timestamp -1 = latest (log end), -2 = earliest (log start) and, from v8, -4 = earliest local (the
 * same here): timestamp -1 in the answer. From v7, -3 = the record with the largest timestamp.
 * Otherwise, as Kafka's UnifiedLog.fetchOffsetByTimestamp: the first *record* (not batch) whose
 * timestamp is >= the target, with that record's timestamp; offset and timestamp -1 when no record
 * is that new. There are no transactions, so both isolation levels read the same. A v4+
 * current_leader_epoch above this broker's 0 is UNKNOWN_LEADER_EPOCH (Partition.fetchOffsetForTimestamp).
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';
import { LEADER_EPOCH } from './fetch-legacy.js';

export const listOffsetsApi: ApiDefinition = {
  key: 2,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 8,
  flexibleVersion: 6,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    r.int32();
    if (v >= 2) r.int8();
    const topics = r.arr(f, (x) => {
      const name = x.str(f);
      const partitions = x.arr(f, (y) => {
        const partition = y.int32();
        const currentLeaderEpoch = v >= 4 ? y.int32() : -1;
        const timestamp = y.int64n();
        const maxNumOffsets = v === 0 ? y.int32() : 1;
        y.tags(f);
        return { partition, currentLeaderEpoch, timestamp, maxNumOffsets };
      });
      x.tags(f);
      return { name, partitions };
    });
    r.tags(f);
    if (v >= 2) w.int32(0);
    w.arr(f, topics, (x, t) => {
      x.str(f, t.name);
      x.arr(f, t.partitions, (y, p) => {
        const log = ctx.topics.topics.get(t.name)?.logs[p.partition];
        if (v === 0) {
          y.int32(p.partition).int16(log ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          y.array(log ? log.legacyOffsetsBefore(p.timestamp, p.maxNumOffsets) : [], (z, o) => z.int64(o));
          return;
        }
        let found: { error: number; timestamp: number; offset: number };
        if (!log) found = { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 };
        else if (p.currentLeaderEpoch > LEADER_EPOCH) found = { error: ErrorCode.UNKNOWN_LEADER_EPOCH, timestamp: -1, offset: -1 };
        else if (p.timestamp === -1) found = { error: ErrorCode.NONE, timestamp: -1, offset: log.nextOffset };
        else if (p.timestamp === -2 || (v >= 8 && p.timestamp === -4)) found = { error: ErrorCode.NONE, timestamp: -1, offset: log.startOffset };
        else if (v >= 7 && p.timestamp === -3) found = { error: ErrorCode.NONE, ...(log.maxTimestampRecord() ?? { timestamp: -1, offset: -1 }) };
        else found = { error: ErrorCode.NONE, ...(log.offsetForTimestamp(p.timestamp) ?? { timestamp: -1, offset: -1 }) };
        y.int32(p.partition).int16(found.error).int64(found.timestamp).int64(found.offset);
        if (v >= 4) y.int32(found.offset >= 0 ? 0 : -1);
        y.tags(f);
      });
      x.tags(f);
    });
    w.tags(f);
  },
};
