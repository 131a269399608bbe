/**
 * CreateTopics (key 19), versions 0-7 (flexible from 5; CreateTopicsRequest.json / CreateTopicsResponse.json).
 *   Request:  [topics: name, num_partitions INT32, replication_factor INT16,
 *              [assignments: partition_index INT32, [broker_ids INT32]],
 *              [configs: name, value NULLABLE_STRING]], timeout_ms INT32, v1+: validate_only BOOL
 *   Response: v2+ throttle_time_ms, [topics: name, v7+ topic_id UUID, error_code,
 *              v1+ error_message NULLABLE_STRING, v5+ num_partitions INT32, replication_factor INT16,
 *              configs (nullable) [name, value NULLABLE_STRING, read_only BOOL, config_source INT8,
 *              is_sensitive BOOL]] (KIP-525); the tagged topic_config_error_code is not sent.
 *   v4+ may leave partitions / replication factor at -1 (KIP-464): the broker defaults. An error
 *   answers -1, -1, no configs and the zero topic id.
 * DeleteTopics (key 20), versions 0-6 (flexible from 4).
 *   Request v0-5: [topic_names STRING], timeout_ms INT32;  v6: [topics: name NULLABLE_STRING, topic_id UUID], timeout_ms
 *   Response: v1+ throttle_time_ms, [responses: name (nullable v6), v6 topic_id, error_code, v5+ error_message]
 *   v6 deletes by name, or by id when the name is null (an unknown id: UNKNOWN_TOPIC_ID).
 * One broker: replication factor must be 1 or -1 (broker default).
 */
import { ErrorCode } from '../errors.js';
import { validateTopicConfigs } from '../storage/topic-config.js';
import { TopicStore } from '../storage/topic-store.js';
import { topicConfigEntries } from './configs-admin.js';
import type { ApiDefinition } from './context.js';

export const createTopicsApi: ApiDefinition = {
  key: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,
  flexibleVersion: 5,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const topics = r.arr(f, (x) => {
      const t = {
        name: x.str(f),
        partitions: x.int32(),
        replication: x.int16(),
        assignments: x.arr(f, (y) => {
          const a = { partition: y.int32(), brokers: y.arr(f, (z) => z.int32()) };
          y.tags(f);
          return a;
        }),
        configs: x.arr(f, (y) => {
          const c = { name: y.str(f), value: y.nstr(f) };
          y.tags(f);
          return c;
        }),
      };
      x.tags(f);
      return t;
    });
    r.int32();
    const validateOnly = v >= 1 ? r.bool() : false;
    r.tags(f);
    const results = topics.map((t) => {
      const configs = Object.fromEntries(t.configs.filter((c) => c.value !== null).map((c) => [c.name, c.value as string]));
      const partitions = t.partitions === -1 ? ctx.defaultPartitions : t.assignments.length > 0 ? t.assignments.length : t.partitions;
      const fail = (error: number, message: string) => ({ name: t.name, error, message, partitions: -1, configs: null as Record<string, string> | null });
      if (!TopicStore.validName(t.name)) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, 'invalid topic name');
      if (ctx.topics.topics.has(t.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`);
      if (partitions < 1 || partitions > 10_000) return fail(ErrorCode.INVALID_PARTITIONS, 'number of partitions must be 1..10000');
      if (t.replication !== -1 && t.replication !== 1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'this broker is a single node: replication factor 1');
      const bad = validateTopicConfigs(configs);
      if (bad) return fail(ErrorCode.INVALID_CONFIG, bad);
      if (validateOnly) return { name: t.name, error: ErrorCode.NONE, message: null, partitions, configs };
      const created = ctx.createTopic(t.name, partitions, configs);
      return created.error === ErrorCode.NONE ? { name: t.name, ...created, partitions, configs } : fail(created.error, created.message ?? '');
    });
    if (v >= 2) w.int32(0);
    w.arr(f, results, (x, t) => {
      x.str(f, t.name);
      if (v >= 7) x.uuid(t.error === ErrorCode.NONE ? (ctx.topics.topics.get(t.name)?.meta.id ?? null) : null);
      x.int16(t.error);
      if (v >= 1) x.str(f, t.message);
      if (v >= 5) {
        x.int32(t.partitions).int16(t.error === ErrorCode.NONE ? 1 : -1);
        x.arr(f, t.configs && topicConfigEntries(ctx, t.configs), (y, c) =>
          y.str(f, c.name).str(f, c.value).bool(c.readOnly).int8(c.source).bool(false).tags(f),
        );
      }
      x.tags(f);
    });
    w.tags(f);
  },
};

export const deleteTopicsApi: ApiDefinition = {
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  flexibleVersion: 4,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const wanted =
      v >= 6
        ? r.arr(f, (x) => {
            const t = { name: x.nstr(f), id: x.uuid() };
            x.tags(f);
            return t;
          })
        : r.arr(f, (x) => ({ name: x.str(f) as string | null, id: null as string | null }));
    r.int32();
    r.tags(f);
    const results = wanted.map((t) => {
      const name = t.name ?? (t.id === null ? undefined : ctx.topics.nameOf(t.id));
      if (name === undefined)
        return {
          name: null,
          id: t.id,
          error: t.id === null ? ErrorCode.INVALID_REQUEST : ErrorCode.UNKNOWN_TOPIC_ID,
          message: t.id === null ? 'Neither topic name nor id were specified.' : `Topic id ${t.id} not found.`,
        };
      const id = ctx.topics.topics.get(name)?.meta.id ?? null;
      const error = ctx.deleteTopic(name);
      return { name, id, error, message: error === ErrorCode.NONE ? null : `Topic '${name}' does not exist.` };
    });
    if (v >= 1) w.int32(0);
    w.arr(f, results, (x, t) => {
      x.str(f, t.name);
      if (v >= 6) x.uuid(t.id);
      x.int16(t.error);
      if (v >= 5) x.str(f, t.message);
      x.tags(f);
    });
    w.tags(f);
  },
};

/**
 * InitProducerId (key 22), versions 0-5 (flexible from 2; InitProducerIdRequest.json).
 *   Request:  transactional_id NULLABLE_STRING, transaction_timeout_ms INT32,
 *             v3+: producer_id INT64, producer_epoch INT16 (-1/-1: a new producer)
 *   Response: throttle_time_ms INT32, error_code INT16, producer_id INT64, producer_epoch INT16
 * A transactional id goes to the transaction coordinator (transactions.ts: epoch bump, fencing,
 * open transaction aborted, INVALID_TRANSACTION_TIMEOUT past transaction.max.timeout.ms). As KafkaApis: a producer id without an
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
    const timeoutMs = r.int32();
    const producerId = v >= 3 ? r.int64() : -1n;
    const producerEpoch = v >= 3 ? r.int16() : -1;
    r.tags(f);
    const error = (producerId === -1n) !== (producerEpoch === -1) ? ErrorCode.INVALID_REQUEST : ErrorCode.NONE;
    if (error === ErrorCode.NONE && transactionalId !== null) {
      // transactions.ts; PRODUCER_FENCED (KIP-588) is INVALID_PRODUCER_EPOCH to v0-3.
      const t = ctx.txns.initTransactional(transactionalId, timeoutMs, Number(producerId), producerEpoch);
      w.int32(0)
        .int16(t.error === ErrorCode.PRODUCER_FENCED && v < 4 ? ErrorCode.INVALID_PRODUCER_EPOCH : t.error)
        .int64(t.producerId)
        .int16(t.producerEpoch);
    } else if (error !== ErrorCode.NONE) w.int32(0).int16(error).int64(-1).int16(-1);
    else w.int32(0).int16(ErrorCode.NONE).int64(ctx.nextProducerId()).int16(0);
    w.tags(f);
  },
};
