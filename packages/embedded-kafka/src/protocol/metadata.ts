/**
 * Metadata (key 3), versions 0-12 (MetadataRequest.json / MetadataResponse.json; flexible from v9).
 *   Request:  [topics: v10+ topic_id UUID, name STRING (nullable v10+)] (nullable v1+: null = all topics;
 *             v0: empty = all), v4+ allow_auto_topic_creation BOOLEAN,
 *             v8-10 include_cluster_authorized_operations BOOLEAN, v8+ include_topic_authorized_operations BOOLEAN
 *   Response: v3+ throttle_time_ms INT32, [brokers: node_id INT32, host STRING, port INT32, v1+ rack NULLABLE_STRING],
 *             v2+ cluster_id NULLABLE_STRING, v1+ controller_id INT32,
 *             [topics: error_code INT16, name STRING, v10+ topic_id UUID, v1+ is_internal BOOLEAN,
 *                [partitions: error_code INT16, partition_index INT32, leader_id INT32, v7+ leader_epoch INT32,
 *                 [replica_nodes INT32], [isr_nodes INT32], v5+ [offline_replicas INT32]],
 *              v8+ topic_authorized_operations INT32], v8-10 cluster_authorized_operations INT32
 * One broker: it leads every partition (leader epoch 0) and is the controller. A topic this request
 * auto-creates is answered with LEADER_NOT_AVAILABLE and no partitions, as Kafka answers while the
 * new topic's leaders are elected (KafkaApis.getTopicMetadata); the client asks again.
 */
import { ErrorCode } from '../errors.js';
import { TopicStore } from '../storage/topic-store.js';
import type { ApiDefinition } from './context.js';

/** Kafka's "authorized operations not requested" marker (Integer.MIN_VALUE). */
const NO_OPERATIONS = -2147483648;

export const metadataApi: ApiDefinition = {
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,
  flexibleVersion: 9,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    let requested: { id: string | null; name: string | null }[] | null = r.narr(f, (x) => {
      const id = v >= 10 ? x.uuid() : null;
      const name = v >= 10 ? x.nstr(f) : x.str(f);
      x.tags(f);
      return { id, name };
    });
    if (v === 0 && requested?.length === 0) requested = null;
    const allowAuto = v >= 4 ? r.bool() : true;
    if (v >= 8 && v <= 10) r.bool();
    if (v >= 8) r.bool();
    r.tags(f);
    const names = requested ? requested.map((t) => t.name ?? (t.id ? ctx.topics.nameOf(t.id) : undefined) ?? null) : [...ctx.topics.topics.keys()].sort();
    const topics = names.map((name, i) => {
      if (name === null) return { name: null, id: requested?.[i]?.id ?? null, error: ErrorCode.UNKNOWN_TOPIC_ID, partitions: 0 };
      const t = ctx.topics.topics.get(name);
      if (!t && requested && allowAuto && ctx.autoCreateTopics && TopicStore.validName(name)) {
        const created = ctx.createTopic(name, ctx.defaultPartitions, {});
        return {
          name,
          id: ctx.topics.topics.get(name)?.meta.id ?? null,
          error: created.error === ErrorCode.NONE ? ErrorCode.LEADER_NOT_AVAILABLE : created.error,
          partitions: 0,
        };
      }
      if (!t)
        return { name, id: null, error: TopicStore.validName(name) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION, partitions: 0 };
      return { name, id: t.meta.id ?? null, error: ErrorCode.NONE, partitions: t.meta.partitions };
    });
    if (v >= 3) w.int32(0);
    w.arr(f, [ctx.nodeId], (x, id) => {
      x.int32(id).str(f, ctx.advertisedHost).int32(ctx.advertisedPort);
      if (v >= 1) x.str(f, null);
      x.tags(f);
    });
    if (v >= 2) w.str(f, ctx.clusterId);
    if (v >= 1) w.int32(ctx.nodeId);
    w.arr(f, topics, (x, t) => {
      x.int16(t.error).str(f, t.name ?? (v >= 12 ? null : ''));
      if (v >= 10) x.uuid(t.id);
      if (v >= 1) x.bool(false);
      x.arr(
        f,
        Array.from({ length: t.partitions }, (_, i) => i),
        (y, p) => {
          y.int16(ErrorCode.NONE).int32(p).int32(ctx.nodeId);
          if (v >= 7) y.int32(0);
          y.arr(f, [ctx.nodeId], (z, n) => z.int32(n));
          y.arr(f, [ctx.nodeId], (z, n) => z.int32(n));
          if (v >= 5) y.arr(f, [], () => undefined);
          y.tags(f);
        },
      );
      if (v >= 8) x.int32(NO_OPERATIONS);
      x.tags(f);
    });
    if (v >= 8 && v <= 10) w.int32(NO_OPERATIONS);
    w.tags(f);
  },
};
