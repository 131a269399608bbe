/**
 * Fetch (key 1), versions 4-17 (FetchRequest.json / FetchResponse.json; flexible from v12).
 *   Request:  replica_id INT32 (v0-14; a tagged replica_state from v15), max_wait_ms INT32, min_bytes INT32, max_bytes INT32, isolation_level INT8,
 *             v7+ session_id INT32, session_epoch INT32,
 *             [topics: topic STRING (v13+: topic_id UUID), [partitions: partition INT32, v9+ current_leader_epoch INT32,
 *              fetch_offset INT64, v12+ last_fetched_epoch INT32, v5+ log_start_offset INT64, partition_max_bytes INT32]],
 *             v7+ [forgotten_topics_data: topic STRING (v13+: topic_id UUID), [partitions INT32]], v11+ rack_id STRING
 *             (v17's replica_directory_id is a tagged field, skipped)
 *   Response: throttle_time_ms INT32, v7+ error_code INT16, session_id INT32,
 *             [responses: topic STRING (v13+: topic_id UUID), [partitions: partition INT32, error_code INT16, high_watermark INT64,
 *              last_stable_offset INT64, v5+ log_start_offset INT64, [aborted_transactions: producer_id INT64,
 *              first_offset INT64] (nullable), v11+ preferred_read_replica INT32, records NULLABLE_BYTES]]
 *   A topic id this broker does not know answers its partitions UNKNOWN_TOPIC_ID (v13+), as KafkaApis does.
 *   The tagged fields of v12+ responses (diverging epoch, current leader, snapshot id, v16's node
 *   endpoints) are left out: this broker is the leader of everything at epoch 0.
 * Fetch sessions (KIP-227): the broker creates none, answering session_id 0, which tells the client
 * to keep sending full fetches (Kafka does the same when its session cache is full); a request for
 * an existing session (session_id > 0) gets FETCH_SESSION_ID_NOT_FOUND, so the client starts over.
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
  /** v13+: the topic id asked for; its name is '' when the id is unknown. */
  topicId: string | null;
  partitions: { partition: number; offset: number; maxBytes: number }[];
}

function collect(ctx: BrokerContext, wants: Want[], maxBytes: number) {
  let total = 0;
  const out = wants.map((t) => ({
    topic: t.topic,
    topicId: t.topicId,
    partitions: t.partitions.map((p) => {
      const log = ctx.topics.topics.get(t.topic)?.logs[p.partition];
      if (!log && t.topicId !== null && !t.topic) return { partition: p.partition, error: ErrorCode.UNKNOWN_TOPIC_ID, hw: -1, start: -1, records: Buffer.alloc(0) };
      if (!log) return { partition: p.partition, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, hw: -1, start: -1, records: Buffer.alloc(0) };
      const hw = log.nextOffset;
      const start = log.startOffset;
      if (p.offset < start || p.offset > hw) return { partition: p.partition, error: ErrorCode.OFFSET_OUT_OF_RANGE, hw, start, records: Buffer.alloc(0) };
      const budget = Math.max(0, Math.min(p.maxBytes, maxBytes - total));
      const records = p.offset < hw ? log.read(p.offset, budget, total === 0) : Buffer.alloc(0);
      total += records.length;
      return { partition: p.partition, error: ErrorCode.NONE, hw, start, records };
    }),
  }));
  return { out, total };
}

export const fetchApi: ApiDefinition = {
  key: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 17,
  flexibleVersion: 12,
  async handle(r, w, { apiVersion: v, flexible: f }, ctx, signal) {
    if (v <= 14) r.int32();
    const maxWait = Math.max(0, Math.min(r.int32(), 30_000));
    const minBytes = r.int32();
    const requestedMax = r.int32();
    const maxBytes = Math.min(requestedMax > 0 ? requestedMax : ctx.fetchMaxBytes, ctx.fetchMaxBytes);
    r.int8();
    const sessionId = v >= 7 ? r.int32() : 0;
    if (v >= 7) r.int32();
    const wants: Want[] = r.arr(f, (x) => {
      const topicId = v >= 13 ? x.uuid() : null;
      const topic = v >= 13 ? (topicId === null ? '' : (ctx.topics.nameOf(topicId) ?? '')) : x.str(f);
      const partitions = x.arr(f, (y) => {
        const partition = y.int32();
        if (v >= 9) y.int32();
        const offset = y.int64n();
        if (v >= 12) y.int32();
        if (v >= 5) y.int64();
        const p = { partition, offset, maxBytes: y.int32() };
        y.tags(f);
        return p;
      });
      x.tags(f);
      return { topic, topicId, partitions };
    });
    if (v >= 7) {
      r.arr(f, (x) => {
        if (v >= 13) x.uuid();
        else x.str(f);
        x.arr(f, (y) => y.int32());
        x.tags(f);
      });
    }
    if (v >= 11) r.str(f);
    r.tags(f);
    if (sessionId > 0) {
      // No sessions exist here: the client must start a new (full) fetch.
      w.int32(0).int16(ErrorCode.FETCH_SESSION_ID_NOT_FOUND).int32(0);
      w.arr(f, [], () => undefined);
      w.tags(f);
      return;
    }
    const deadline = Date.now() + maxWait;
    let result = collect(ctx, wants, maxBytes);
    const hasError = () => result.out.some((t) => t.partitions.some((p) => p.error !== ErrorCode.NONE));
    while (result.total < minBytes && !hasError() && Date.now() < deadline && !signal.aborted) {
      await ctx.waitForAppend(deadline - Date.now(), signal);
      result = collect(ctx, wants, maxBytes);
    }
    w.int32(0);
    if (v >= 7) w.int16(ErrorCode.NONE).int32(0);
    w.arr(f, result.out, (x, t) => {
      if (v >= 13) x.uuid(t.topicId);
      else x.str(f, t.topic);
      x.arr(f, t.partitions, (y, p) => {
        y.int32(p.partition).int16(p.error).int64(p.hw).int64(p.hw);
        if (v >= 5) y.int64(p.start);
        y.arr(f, [], () => undefined);
        if (v >= 11) y.int32(-1);
        y.byts(f, p.records);
        y.tags(f);
      });
      x.tags(f);
    });
    w.tags(f);
  },
};
