/**
 * Fetch (key 1), versions 0-17 (FetchRequest.json / FetchResponse.json; flexible from v12).
 *   Request:  replica_id INT32 (v0-14; a tagged replica_state from v15), max_wait_ms INT32, min_bytes INT32, v3+ max_bytes INT32, v4+ isolation_level INT8,
 *             v7+ session_id INT32, session_epoch INT32,
 *             [topics: topic STRING (v13+: topic_id UUID), [partitions: partition INT32, v9+ current_leader_epoch INT32,
 *              fetch_offset INT64, v12+ last_fetched_epoch INT32, v5+ log_start_offset INT64, partition_max_bytes INT32]],
 *             v7+ [forgotten_topics_data: topic STRING (v13+: topic_id UUID), [partitions INT32]], v11+ rack_id STRING
 *             (v17's replica_directory_id is a tagged field, skipped)
 *   Response: v1+ throttle_time_ms INT32, v7+ error_code INT16, session_id INT32,
 *             [responses: topic STRING (v13+: topic_id UUID), [partitions: partition INT32, error_code INT16, high_watermark INT64,
 *              v4+ last_stable_offset INT64, v5+ log_start_offset INT64, v4+ [aborted_transactions: producer_id INT64,
 *              first_offset INT64] (nullable), v11+ preferred_read_replica INT32, records NULLABLE_BYTES]]
 *   A topic id this broker does not know answers its partitions UNKNOWN_TOPIC_ID (v13+), as KafkaApis does.
 *   v0-3 answer in message format v0/v1, leader epochs (v9+, v12+) are checked and v12+'s
 *   diverging_epoch tagged field is sent: fetch-legacy.ts. The other v12+ tagged fields (current
 *   leader, snapshot id, v16's node endpoints) are never set: this broker leads everything at epoch 0.
 * isolation_level READ_COMMITTED (1): records up to the last stable offset only (the first offset of
 *   the oldest open transaction), and the aborted transactions overlapping the range read, for the
 *   client to drop (an empty list when none); READ_UNCOMMITTED gets everything up to the high
 *   watermark and a null list, as Kafka's ReplicaManager answers. last_stable_offset is sent for both.
 * Fetch sessions (KIP-227, v7+): see fetch-sessions.ts; v4-6 fetches are always full.
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
import { adaptForOldFetch, checkEpochs, writeDivergingEpoch, type PartitionAnswer } from './fetch-legacy.js';
import { nextEpoch, sessionKey, type FetchSession, type SessionPartition } from './fetch-sessions.js';

interface Want {
  topic: string;
  /** v13+: the topic id asked for; its name is '' when the id is unknown. */
  topicId: string | null;
  partitions: { partition: number; offset: number; maxBytes: number; currentLeaderEpoch?: number; lastFetchedEpoch?: number }[];
}

/** isolation_level 1: read_committed stops at the last stable offset and lists the aborted transactions it covers. */
const READ_COMMITTED = 1;

function collect(ctx: BrokerContext, wants: Want[], maxBytes: number, isolation: number) {
  let total = 0;
  const out = wants.map((t) => ({
    topic: t.topic,
    topicId: t.topicId,
    partitions: t.partitions.map((p): PartitionAnswer => {
      const log = ctx.topics.topics.get(t.topic)?.logs[p.partition];
      const none = { lso: -1, aborted: null, records: Buffer.alloc(0) };
      if (!log && t.topicId !== null && !t.topic) return { partition: p.partition, error: ErrorCode.UNKNOWN_TOPIC_ID, hw: -1, start: -1, ...none };
      if (!log) return { partition: p.partition, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, hw: -1, start: -1, ...none };
      const hw = log.nextOffset;
      const start = log.startOffset;
      const lso = log.lastStableOffset;
      const epochs = checkEpochs(p, start, hw);
      if (epochs) return { partition: p.partition, ...none, ...(epochs.error === ErrorCode.NONE ? { lso } : {}), ...epochs };
      // ReplicaManager.createLogReadResult: an error carries no high watermark, stable offset or log start (-1)
      if (p.offset < start || p.offset > hw) return { partition: p.partition, error: ErrorCode.OFFSET_OUT_OF_RANGE, hw: -1, start: -1, ...none };
      const budget = Math.max(0, Math.min(p.maxBytes, maxBytes - total));
      const end = isolation === READ_COMMITTED ? lso : hw;
      const records = p.offset < end ? log.read(p.offset, budget, total === 0, end) : Buffer.alloc(0);
      total += records.length;
      const aborted = isolation === READ_COMMITTED ? log.txns.abortedIn(p.offset, end) : null;
      return { partition: p.partition, error: ErrorCode.NONE, hw, start, lso, aborted, records };
    }),
  }));
  return { out, total };
}

export const fetchApi: ApiDefinition = {
  key: 1,
  name: 'Fetch',
  minVersion: 0,
  maxVersion: 17,
  flexibleVersion: 12,
  async handle(r, w, { apiVersion: v, flexible: f }, ctx, signal) {
    if (v <= 14) r.int32();
    const maxWait = Math.max(0, Math.min(r.int32(), 30_000));
    const minBytes = r.int32();
    const requestedMax = v >= 3 ? r.int32() : 0;
    const maxBytes = Math.min(requestedMax > 0 ? requestedMax : ctx.fetchMaxBytes, ctx.fetchMaxBytes);
    const isolation = v >= 4 ? r.int8() : 0; // v0-3 have no isolation level: read_uncommitted
    const sessionId = v >= 7 ? r.int32() : 0;
    const epoch = v >= 7 ? r.int32() : -1;
    const wants: Want[] = r.arr(f, (x) => {
      const topicId = v >= 13 ? x.uuid() : null;
      const topic = v >= 13 ? (topicId === null ? '' : (ctx.topics.nameOf(topicId) ?? '')) : x.str(f);
      const partitions = x.arr(f, (y) => {
        const partition = y.int32();
        const currentLeaderEpoch = v >= 9 ? y.int32() : -1;
        const offset = y.int64n();
        const lastFetchedEpoch = v >= 12 ? y.int32() : -1;
        if (v >= 5) y.int64();
        const p = { partition, offset, maxBytes: y.int32(), currentLeaderEpoch, lastFetchedEpoch };
        y.tags(f);
        return p;
      });
      x.tags(f);
      return { topic, topicId, partitions };
    });
    const forgotten: string[] = [];
    if (v >= 7) {
      r.arr(f, (x) => {
        const topicId = v >= 13 ? x.uuid() : null;
        const topic = v >= 13 ? '' : x.str(f);
        for (const p of x.arr(f, (y) => y.int32())) forgotten.push(sessionKey(topic, topicId, p));
        x.tags(f);
      });
    }
    if (v >= 11) r.str(f);
    r.tags(f);

    // KIP-227: which session this fetch belongs to (FetchManager.newContext).
    const sessions = ctx.fetchSessions;
    const full = epoch === 0 || epoch === -1;
    let session: FetchSession | undefined;
    let sessionError: number = ErrorCode.NONE;
    if (full) {
      if (sessionId !== 0) sessions.remove(sessionId);
    } else {
      session = sessions.get(sessionId);
      if (!session) sessionError = ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
      else if (session.epoch !== epoch) sessionError = ErrorCode.INVALID_FETCH_SESSION_EPOCH;
      else if (session.usesTopicIds !== v >= 13) sessionError = ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR;
    }
    if (sessionError !== ErrorCode.NONE) {
      w.int32(0).int16(sessionError).int32(0);
      w.arr(f, [], () => undefined);
      w.tags(f);
      return;
    }
    if (session) {
      for (const t of wants) {
        for (const p of t.partitions) {
          const k = sessionKey(t.topic, t.topicId, p.partition);
          const known = session.partitions.get(k);
          if (known) {
            known.offset = p.offset;
            known.maxBytes = p.maxBytes;
          } else
            session.partitions.set(k, {
              topic: t.topic,
              topicId: t.topicId,
              partition: p.partition,
              offset: p.offset,
              maxBytes: p.maxBytes,
              highWatermark: -1,
              logStartOffset: -1,
            });
        }
      }
      for (const k of forgotten) session.partitions.delete(k);
      if (session.partitions.size === 0) {
        sessions.remove(session.id);
        session = undefined;
      } else session.epoch = nextEpoch(session.epoch);
    }
    // An incremental fetch reads every partition of its session, in the session's order.
    const asked: Want[] = session ? sessionWants(session) : wants;

    const deadline = Date.now() + maxWait;
    let result = collect(ctx, asked, maxBytes, isolation);
    const hasError = () => result.out.some((t) => t.partitions.some((p) => p.error !== ErrorCode.NONE || p.diverging));
    while (result.total < minBytes && !hasError() && Date.now() < deadline && !signal.aborted) {
      await ctx.waitForAppend(deadline - Date.now(), signal);
      result = collect(ctx, asked, maxBytes, isolation);
    }
    let answered = result.out;
    let responseSessionId = 0;
    if (session) {
      // Only what changed for the client (FetchSession.CachedPartition.maybeUpdateResponseData).
      const s = session;
      responseSessionId = s.id;
      answered = result.out
        .map((t) => ({
          ...t,
          partitions: t.partitions.filter((p) => {
            const cached = s.partitions.get(sessionKey(t.topic, t.topicId, p.partition))!;
            const changed = p.records.length > 0 || p.error !== ErrorCode.NONE || cached.highWatermark !== p.hw || cached.logStartOffset !== p.start;
            cached.highWatermark = p.error !== ErrorCode.NONE ? -1 : p.hw;
            cached.logStartOffset = p.start;
            return changed;
          }),
        }))
        .filter((t) => t.partitions.length > 0);
    } else if (v >= 7 && epoch === 0) {
      const partitions = new Map<string, SessionPartition>();
      for (const t of wants) {
        const out = result.out.find((o) => o.topic === t.topic && o.topicId === t.topicId);
        for (const p of t.partitions) {
          const got = out?.partitions.find((x) => x.partition === p.partition);
          partitions.set(sessionKey(t.topic, t.topicId, p.partition), {
            topic: t.topic,
            topicId: t.topicId,
            partition: p.partition,
            offset: p.offset,
            maxBytes: p.maxBytes,
            highWatermark: got && got.error === ErrorCode.NONE ? got.hw : -1,
            logStartOffset: got?.start ?? -1,
          });
        }
      }
      responseSessionId = sessions.create(v >= 13, partitions)?.id ?? 0;
    }
    // v0-3 answer in message format v0/v1; v0-9 cannot read a zstd topic (fetch-legacy.ts)
    if (v < 10) answered = adaptForOldFetch(v, ctx, answered, asked);
    if (v >= 1) w.int32(0);
    if (v >= 7) w.int16(ErrorCode.NONE).int32(responseSessionId);
    w.arr(f, answered, (x, t) => {
      if (v >= 13) x.uuid(t.topicId);
      else x.str(f, t.topic);
      x.arr(f, t.partitions, (y, p) => {
        y.int32(p.partition).int16(p.error).int64(p.hw);
        if (v >= 4) y.int64(p.lso);
        if (v >= 5) y.int64(p.start);
        if (v >= 4) y.arr(f, p.aborted, (z, a) => z.int64(a.producerId).int64(a.firstOffset).tags(f));
        if (v >= 11) y.int32(-1);
        y.byts(f, p.records);
        if (f && p.diverging) writeDivergingEpoch(y, p.diverging);
        else y.tags(f);
      });
      x.tags(f);
    });
    w.tags(f);
  },
};

/** A session's partitions as a fetch of them, topics grouped in first-seen order. */
function sessionWants(session: FetchSession): Want[] {
  const byTopic = new Map<string, Want>();
  for (const p of session.partitions.values()) {
    const k = p.topicId ?? p.topic;
    let t = byTopic.get(k);
    if (!t) {
      t = { topic: p.topic, topicId: p.topicId, partitions: [] };
      byTopic.set(k, t);
    }
    t.partitions.push({ partition: p.partition, offset: p.offset, maxBytes: p.maxBytes });
  }
  return [...byTopic.values()];
}
