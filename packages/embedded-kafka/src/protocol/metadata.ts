/**
 * Metadata (key 3), versions 0-4.
 *   Request v0:    [topics STRING]                 (empty = all topics)
 *   Request v1-3:  [topics STRING] nullable        (null = all topics, empty = none)
 *   Request v4:    v1 + allow_auto_topic_creation BOOLEAN
 *   Response v0:   [brokers: node_id INT32, host STRING, port INT32]
 *                  [topics: error_code INT16, name STRING,
 *                     [partitions: error_code INT16, partition_index INT32, leader_id INT32, [replica_nodes INT32], [isr_nodes INT32]]]
 *   Response v1:   brokers add rack NULLABLE_STRING; controller_id INT32 after brokers; topics add is_internal BOOLEAN after name
 *   Response v2:   cluster_id NULLABLE_STRING between brokers and controller_id
 *   Response v3-4: throttle_time_ms INT32 first
 * One broker: it leads every partition and is the controller.
 */
import { ErrorCode } from '../errors.js';
import { TopicStore } from '../storage/topic-store.js';
import type { ApiDefinition } from './context.js';

export const metadataApi: ApiDefinition = {
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 4,
  handle(r, w, { apiVersion: v }, ctx) {
    let requested: string[] | null = v === 0 ? r.array((x) => x.string()) : r.nullableArray((x) => x.string());
    if (v === 0 && requested?.length === 0) requested = null;
    const allowAuto = v >= 4 ? r.bool() : true;
    const names = requested ?? [...ctx.topics.topics.keys()].sort();
    const topics = names.map((name) => {
      let t = ctx.topics.topics.get(name);
      if (!t && requested && allowAuto && ctx.autoCreateTopics && TopicStore.validName(name)) {
        ctx.createTopic(name, ctx.defaultPartitions, {});
        t = ctx.topics.topics.get(name);
      }
      if (!t) return { name, error: TopicStore.validName(name) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION, partitions: 0 };
      return { name, error: ErrorCode.NONE, partitions: t.meta.partitions };
    });
    if (v >= 3) w.int32(0);
    w.array([ctx.nodeId], (x, id) => {
      x.int32(id).string(ctx.advertisedHost).int32(ctx.advertisedPort);
      if (v >= 1) x.nullableString(null);
    });
    if (v >= 2) w.nullableString(ctx.clusterId);
    if (v >= 1) w.int32(ctx.nodeId);
    w.array(topics, (x, t) => {
      x.int16(t.error).string(t.name);
      if (v >= 1) x.bool(false);
      x.array(Array.from({ length: t.partitions }, (_, i) => i), (y, p) => {
        y.int16(ErrorCode.NONE).int32(p).int32(ctx.nodeId);
        y.array([ctx.nodeId], (z, n) => z.int32(n));
        y.array([ctx.nodeId], (z, n) => z.int32(n));
      });
    });
  },
};
