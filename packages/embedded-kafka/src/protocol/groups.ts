/**
 * The consumer group APIs. Every response of a version with throttle_time_ms carries 0 there.
 *
 * FindCoordinator (key 10), v0-1
 *   Request v0: key STRING;  v1: key STRING, key_type INT8
 *   Response v0: error_code INT16, node_id INT32, host STRING, port INT32
 *   Response v1: throttle_time_ms INT32, error_code INT16, error_message NULLABLE_STRING, node_id, host, port
 * JoinGroup (key 11), v0-2
 *   Request v0: group_id STRING, session_timeout_ms INT32, member_id STRING, protocol_type STRING,
 *               [protocols: name STRING, metadata BYTES]
 *   Request v1-2: rebalance_timeout_ms INT32 after session_timeout_ms
 *   Response v0-1: error_code INT16, generation_id INT32, protocol_name STRING, leader STRING,
 *               member_id STRING, [members: member_id STRING, metadata BYTES];  v2: throttle_time_ms first
 * SyncGroup (key 14), v0-1
 *   Request: group_id STRING, generation_id INT32, member_id STRING, [assignments: member_id STRING, assignment BYTES]
 *   Response v0: error_code INT16, assignment BYTES;  v1: throttle_time_ms first
 * Heartbeat (key 12), v0-1
 *   Request: group_id STRING, generation_id INT32, member_id STRING
 *   Response v0: error_code INT16;  v1: throttle_time_ms first
 * LeaveGroup (key 13), v0-1
 *   Request: group_id STRING, member_id STRING
 *   Response v0: error_code INT16;  v1: throttle_time_ms first
 * OffsetCommit (key 8), v2
 *   Request: group_id STRING, generation_id INT32, member_id STRING, retention_time_ms INT64,
 *            [topics: name STRING, [partitions: partition_index INT32, committed_offset INT64, committed_metadata NULLABLE_STRING]]
 *   Response: [topics: name STRING, [partitions: partition_index INT32, error_code INT16]]
 * OffsetFetch (key 9), v1-3
 *   Request: group_id STRING, [topics: name STRING, [partition_indexes INT32]] (nullable from v2: all)
 *   Response v1: [topics: name STRING, [partitions: partition_index INT32, committed_offset INT64,
 *                metadata NULLABLE_STRING, error_code INT16]];  v2: + error_code INT16;  v3: throttle_time_ms first
 * DescribeGroups (key 15), v0-1
 *   Request: [groups STRING]
 *   Response v0: [groups: error_code INT16, group_id STRING, group_state STRING, protocol_type STRING,
 *                protocol_data STRING, [members: member_id STRING, client_id STRING, client_host STRING,
 *                member_metadata BYTES, member_assignment BYTES]];  v1: throttle_time_ms first
 * ListGroups (key 16), v0-1
 *   Request: (empty)
 *   Response v0: error_code INT16, [groups: group_id STRING, protocol_type STRING];  v1: throttle_time_ms first
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';

export const findCoordinatorApi: ApiDefinition = {
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 1,
  handle(r, w, { apiVersion: v }, ctx) {
    r.string();
    if (v >= 1) r.int8();
    if (v >= 1) w.int32(0).int16(ErrorCode.NONE).nullableString(null);
    else w.int16(ErrorCode.NONE);
    w.int32(ctx.nodeId).string(ctx.advertisedHost).int32(ctx.advertisedPort);
  },
};

export const joinGroupApi: ApiDefinition = {
  key: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 2,
  async handle(r, w, { apiVersion: v, clientId, clientHost }, ctx) {
    const groupId = r.string();
    const sessionTimeout = r.int32();
    const rebalanceTimeout = v >= 1 ? r.int32() : sessionTimeout;
    const memberId = r.string();
    const protocolType = r.string();
    const protocols = r.array((x) => ({ name: x.string(), metadata: Buffer.from(x.bytes()) }));
    const res = await ctx.groups.join({ groupId, memberId, clientId: clientId ?? '', clientHost, sessionTimeout, rebalanceTimeout, protocolType, protocols });
    if (v >= 2) w.int32(0);
    w.int16(res.errorCode).int32(res.generationId).string(res.protocolName).string(res.leader).string(res.memberId);
    w.array(res.members, (x, m) => x.string(m.memberId).bytes(m.metadata));
  },
};

export const syncGroupApi: ApiDefinition = {
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 1,
  async handle(r, w, { apiVersion: v }, ctx) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    const assignments = r.array((x) => ({ memberId: x.string(), assignment: Buffer.from(x.bytes()) }));
    const res = await ctx.groups.sync({ groupId, generationId, memberId, assignments });
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode).bytes(res.assignment);
  },
};

export const heartbeatApi: ApiDefinition = {
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 1,
  handle(r, w, { apiVersion: v }, ctx) {
    const code = ctx.groups.heartbeat(r.string(), r.int32(), r.string());
    if (v >= 1) w.int32(0);
    w.int16(code);
  },
};

export const leaveGroupApi: ApiDefinition = {
  key: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 1,
  handle(r, w, { apiVersion: v }, ctx) {
    const code = ctx.groups.leave(r.string(), r.string());
    if (v >= 1) w.int32(0);
    w.int16(code);
  },
};

export const offsetCommitApi: ApiDefinition = {
  key: 8,
  name: 'OffsetCommit',
  minVersion: 2,
  maxVersion: 2,
  handle(r, w, _meta, ctx) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    r.int64();
    const topics = r.array((x) => ({
      name: x.string(),
      partitions: x.array((y) => ({ partition: y.int32(), offset: y.int64n(), metadata: y.nullableString() })),
    }));
    const known = topics.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, exists: !!ctx.topics.topics.get(t.name)?.logs[p.partition] })) }));
    const offsets = known.flatMap((t) => t.partitions.filter((p) => p.exists).map((p) => ({ topic: t.name, partition: p.partition, offset: p.offset, metadata: p.metadata })));
    const code = ctx.groups.commit({ groupId, generationId, memberId, offsets });
    w.array(known, (x, t) => {
      x.string(t.name);
      x.array(t.partitions, (y, p) => y.int32(p.partition).int16(p.exists ? code : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
    });
  },
};

export const offsetFetchApi: ApiDefinition = {
  key: 9,
  name: 'OffsetFetch',
  minVersion: 1,
  maxVersion: 3,
  handle(r, w, { apiVersion: v }, ctx) {
    const groupId = r.string();
    const requested = v >= 2 ? r.nullableArray((x) => ({ name: x.string(), partitions: x.array((y) => y.int32()) })) : r.array((x) => ({ name: x.string(), partitions: x.array((y) => y.int32()) }));
    let topics = requested;
    if (topics === null) {
      const byTopic = new Map<string, number[]>();
      for (const { topic, partition } of ctx.groups.committedPartitions(groupId)) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
      topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    }
    if (v >= 3) w.int32(0);
    w.array(topics, (x, t) => {
      x.string(t.name);
      x.array(t.partitions, (y, p) => {
        const o = ctx.groups.fetchOffset(groupId, t.name, p);
        y.int32(p).int64(o.offset).nullableString(o.metadata).int16(ErrorCode.NONE);
      });
    });
    if (v >= 2) w.int16(ErrorCode.NONE);
  },
};

export const describeGroupsApi: ApiDefinition = {
  key: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 1,
  handle(r, w, { apiVersion: v }, ctx) {
    const ids = r.array((x) => x.string());
    if (v >= 1) w.int32(0);
    w.array(ids, (x, id) => {
      const g = ctx.groups.describe(id);
      x.int16(g.errorCode).string(g.groupId).string(g.state).string(g.protocolType).string(g.protocol);
      x.array(g.members, (y, m) => y.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment));
    });
  },
};

export const listGroupsApi: ApiDefinition = {
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 1,
  handle(_r, w, { apiVersion: v }, ctx) {
    if (v >= 1) w.int32(0);
    w.int16(ErrorCode.NONE);
    w.array(ctx.groups.list(), (x, g) => x.string(g.groupId).string(g.protocolType));
  },
};

/**
 * DeleteGroups (key 42), versions 0-2 (flexible from 2)
 *   Request:  [groups_names STRING]
 *   Response: throttle_time_ms INT32, [results: group_id STRING, error_code INT16]
 */
export const deleteGroupsApi: ApiDefinition = {
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  flexibleVersion: 2,
  handle(r, w, { flexible: f }, ctx) {
    const ids = r.arr(f, (x) => x.str(f));
    r.tags(f);
    w.int32(0);
    w.arr(f, ids, (x, id) => x.str(f, id).int16(id ? ctx.groups.deleteGroup(id) : ErrorCode.INVALID_GROUP_ID).tags(f));
    w.tags(f);
  },
};
