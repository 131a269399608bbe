/**
 * Fetch (key 1), version 4.
 *   Request:  replica_id INT32, max_wait_ms INT32, min_bytes INT32, max_bytes INT32,
 *             isolation_level INT8, [topics: topic STRING, [partitions: partition INT32,
 *             fetch_offset INT64, partition_max_bytes INT32]]
 *   Response: throttle_time_ms INT32, [responses: topic STRING, [partitions: partition INT32,
 *             error_code INT16, high_watermark INT64, last_stable_offset INT64,
 *             [aborted_transactions: producer_id INT64, first_offset INT64] (nullable), records NULLABLE_BYTES]]
 * Long polling (Kafka's ReplicaManager.fetchMessages): the response is sent at once when
 * max_wait_ms <= 0 or at least min_bytes are available (so min_bytes = 0 never waits), else when a
 * produce brings enough or max_wait_ms passes. Whole batches are returned (the first may start
 * before fetch_offset; clients skip the records before it).
 * Size: the response holds at most min(max_bytes, the broker's fetch.max.bytes) and each partition
 * at most its partition_max_bytes, except that the first partition with data returns at least its
 * first batch even if that is larger (Kafka's minOneMessage), so a large record still progresses;
 * every later partition is held to its limits strictly.
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition, BrokerContext } from './context.js';

interface Want {
  topic: string;
  partitions: { partition: number; offset: number; maxBytes: number }[];
}

function collect(ctx: BrokerContext, wants: Want[], maxBytes: number) {
  let total = 0;
  const out = wants.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p) => {
      const log = ctx.topics.topics.get(t.topic)?.logs[p.partition];
      if (!log) return { partition: p.partition, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, hw: -1, records: Buffer.alloc(0) };
      const hw = log.nextOffset;
      if (p.offset < log.startOffset || p.offset > hw) return { partition: p.partition, error: ErrorCode.OFFSET_OUT_OF_RANGE, hw, records: Buffer.alloc(0) };
      const budget = Math.max(0, Math.min(p.maxBytes, maxBytes - total));
      const records = p.offset < hw ? log.read(p.offset, budget, total === 0) : Buffer.alloc(0);
      total += records.length;
      return { partition: p.partition, error: ErrorCode.NONE, hw, records };
    }),
  }));
  return { out, total };
}

export const fetchApi: ApiDefinition = {
  key: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 4,
  async handle(r, w, _meta, ctx, signal) {
    r.int32();
    const maxWait = Math.max(0, Math.min(r.int32(), 30_000));
    const minBytes = r.int32();
    const requestedMax = r.int32();
    const maxBytes = Math.min(requestedMax > 0 ? requestedMax : ctx.fetchMaxBytes, ctx.fetchMaxBytes);
    r.int8();
    const wants: Want[] = r.array((x) => ({
      topic: x.string(),
      partitions: x.array((y) => ({ partition: y.int32(), offset: y.int64n(), maxBytes: y.int32() })),
    }));
    const deadline = Date.now() + maxWait;
    let result = collect(ctx, wants, maxBytes);
    const hasError = () => result.out.some((t) => t.partitions.some((p) => p.error !== ErrorCode.NONE));
    while (result.total < minBytes && !hasError() && Date.now() < deadline && !signal.aborted) {
      await ctx.waitForAppend(deadline - Date.now(), signal);
      result = collect(ctx, wants, maxBytes);
    }
    w.int32(0);
    w.array(result.out, (x, t) => {
      x.string(t.topic);
      x.array(t.partitions, (y, p) => {
        y.int32(p.partition).int16(p.error).int64(p.hw).int64(p.hw);
        y.array([], () => undefined);
        y.bytes(p.records);
      });
    });
  },
};
