/**
 * CreateTopics (key 19), versions 0-2.
 *   Request v0:  [topics: name STRING, num_partitions INT32, replication_factor INT16,
 *                 [assignments: partition_index INT32, [broker_ids INT32]],
 *                 [configs: name STRING, value NULLABLE_STRING]], timeout_ms INT32
 *   Request v1-2: v0 + validate_only BOOLEAN
 *   Response v0: [topics: name STRING, error_code INT16]
 *   Response v1: topics add error_message NULLABLE_STRING
 *   Response v2: throttle_time_ms INT32 first
 * DeleteTopics (key 20), versions 0-1.
 *   Request:     [topic_names STRING], timeout_ms INT32
 *   Response v0: [responses: name STRING, error_code INT16];  v1: throttle_time_ms INT32 first
 * One broker: replication factor must be 1 or -1 (broker default).
 */
import { ErrorCode } from '../errors.js';
import { validateTopicConfigs } from '../storage/topic-config.js';
import { TopicStore } from '../storage/topic-store.js';
import type { ApiDefinition } from './context.js';

export const createTopicsApi: ApiDefinition = {
  key: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 2,
  handle(r, w, { apiVersion: v }, ctx) {
    const topics = r.array((x) => ({
      name: x.string(),
      partitions: x.int32(),
      replication: x.int16(),
      assignments: x.array((y) => ({ partition: y.int32(), brokers: y.array((z) => z.int32()) })),
      configs: x.array((y) => ({ name: y.string(), value: y.nullableString() })),
    }));
    r.int32();
    const validateOnly = v >= 1 ? r.bool() : false;
    const results = topics.map((t) => {
      const configs = Object.fromEntries(t.configs.filter((c) => c.value !== null).map((c) => [c.name, c.value as string]));
      const partitions = t.partitions === -1 ? ctx.defaultPartitions : t.assignments.length > 0 ? t.assignments.length : t.partitions;
      if (!TopicStore.validName(t.name)) return { name: t.name, error: ErrorCode.INVALID_TOPIC_EXCEPTION, message: 'invalid topic name' };
      if (ctx.topics.topics.has(t.name)) return { name: t.name, error: ErrorCode.TOPIC_ALREADY_EXISTS, message: `Topic '${t.name}' already exists.` };
      if (partitions < 1 || partitions > 10_000) return { name: t.name, error: ErrorCode.INVALID_PARTITIONS, message: 'number of partitions must be 1..10000' };
      if (t.replication !== -1 && t.replication !== 1) return { name: t.name, error: ErrorCode.INVALID_REPLICATION_FACTOR, message: 'this broker is a single node: replication factor 1' };
      const bad = validateTopicConfigs(configs);
      if (bad) return { name: t.name, error: ErrorCode.INVALID_CONFIG, message: bad };
      if (validateOnly) return { name: t.name, error: ErrorCode.NONE, message: null };
      return { name: t.name, ...ctx.createTopic(t.name, partitions, configs) };
    });
    if (v >= 2) w.int32(0);
    w.array(results, (x, t) => {
      x.string(t.name).int16(t.error);
      if (v >= 1) x.nullableString(t.message);
    });
  },
};

export const deleteTopicsApi: ApiDefinition = {
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 1,
  handle(r, w, { apiVersion: v }, ctx) {
    const names = r.array((x) => x.string());
    r.int32();
    if (v >= 1) w.int32(0);
    w.array(names, (x, name) => x.string(name).int16(ctx.deleteTopic(name)));
  },
};

/**
 * InitProducerId (key 22), versions 0-5 (flexible from 2; InitProducerIdRequest.json).
 *   Request:  transactional_id NULLABLE_STRING, transaction_timeout_ms INT32,
 *             v3+: producer_id INT64, producer_epoch INT16 (-1/-1: a new producer)
 *   Response: throttle_time_ms INT32, error_code INT16, producer_id INT64, producer_epoch INT16
 * Idempotent producers only: a transactional id is refused. As KafkaApis: a producer id without an
 * epoch (or an epoch without an id) is INVALID_REQUEST; otherwise a producer without a
 * transactional id always gets a new id at epoch 0 (TransactionCoordinator.handleInitProducerId).
 */
export const initProducerIdApi: ApiDefinition = {
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  flexibleVersion: 2,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const transactionalId = r.nstr(f);
    r.int32();
    const producerId = v >= 3 ? r.int64() : -1n;
    const producerEpoch = v >= 3 ? r.int16() : -1;
    r.tags(f);
    const error = transactionalId !== null ? ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT : (producerId === -1n) !== (producerEpoch === -1) ? ErrorCode.INVALID_REQUEST : ErrorCode.NONE;
    if (error !== ErrorCode.NONE) w.int32(0).int16(error).int64(-1).int16(-1);
    else w.int32(0).int16(ErrorCode.NONE).int64(ctx.nextProducerId()).int16(0);
    w.tags(f);
  },
};
