/**
 * OffsetForLeaderEpoch (key 23), versions 0-4 (OffsetForLeaderEpochRequest.json / ...Response.json;
 * flexible from v4). What a client asks after a leader change to find where its fetched epoch
 * ended, to detect log truncation (KIP-101, KIP-320; the Java consumer and librdkafka 2.1+ do).
 *   Request:  v3+ replica_id INT32, [topics: topic STRING, [partitions: partition INT32,
 *             v2+ current_leader_epoch INT32, leader_epoch INT32]]
 *   Response: v2+ throttle_time_ms INT32, [topics: topic STRING, [partitions: error_code INT16,
 *             partition INT32, v1+ leader_epoch INT32, end_offset INT64]]
 * As Kafka's Partition.lastOffsetForLeaderEpoch over LeaderEpochFileCache.endOffsetFor, with the
 * one epoch this broker has (0, from the log start): a current_leader_epoch above 0 is
 * UNKNOWN_LEADER_EPOCH (negative: not checked); epoch 0 ends at the log end; an epoch above 0 or -1
 * is unknown (-1, -1); an epoch below 0 other than -1 is answered (that epoch, the log start), as
 * the cache answers an epoch older than any it holds. Errors carry -1, -1.
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';
import { LEADER_EPOCH } from './fetch-legacy.js';

export const offsetForLeaderEpochApi: ApiDefinition = {
  key: 23,
  name: 'OffsetForLeaderEpoch',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersion: 4,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    if (v >= 3) r.int32();
    const topics = r.arr(f, (x) => {
      const topic = x.str(f);
      const partitions = x.arr(f, (y) => {
        const partition = y.int32();
        const current = v >= 2 ? y.int32() : -1;
        const p = { partition, current, epoch: y.int32() };
        y.tags(f);
        return p;
      });
      x.tags(f);
      return { topic, partitions };
    });
    r.tags(f);
    if (v >= 2) w.int32(0);
    w.arr(f, topics, (x, t) => {
      x.str(f, t.topic);
      x.arr(f, t.partitions, (y, p) => {
        const log = ctx.topics.topics.get(t.topic)?.logs[p.partition];
        let answer: [number, number, number];
        if (!log) answer = [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1];
        else if (p.current > LEADER_EPOCH) answer = [ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1];
        else if (p.epoch === LEADER_EPOCH) answer = [ErrorCode.NONE, LEADER_EPOCH, log.nextOffset];
        else if (p.epoch > LEADER_EPOCH || p.epoch === -1) answer = [ErrorCode.NONE, -1, -1];
        else answer = [ErrorCode.NONE, p.epoch, log.startOffset];
        y.int16(answer[0]).int32(p.partition);
        if (v >= 1) y.int32(answer[1]);
        y.int64(answer[2]).tags(f);
      });
      x.tags(f);
    });
    w.tags(f);
  },
};
