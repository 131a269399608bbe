/**
 * The consumer group APIs (classic protocol) at the versions Kafka 3.9 advertises, fields and
 * versions from apache/kafka's clients/src/main/resources/common/message/*.json. Every response of
 * a version with throttle_time_ms carries 0 there. Flexible versions (KIP-482: compact strings,
 * arrays and bytes, tagged fields) read and write through the `flex`-taking primitives; unknown
 * tagged fields are skipped.
 *
 * FindCoordinator (10) v0-6, flexible 3+
 *   Request: key STRING (v0-3), key_type INT8 (v1+), coordinator_keys [STRING] (v4+)
 *   Response: throttle_time_ms (v1+); v0-3: error_code, error_message NULLABLE_STRING (v1+), node_id,
 *             host, port; v4+: [coordinators: key, node_id, host, port, error_code, error_message]
 *   Key types 0 (group) and 1 (transaction) answer this broker; 2 (share, KIP-932) is INVALID_REQUEST
 *   below v6 and COORDINATOR_NOT_AVAILABLE at v6 (KafkaApis.getCoordinator); any other INVALID_REQUEST.
 *   An error below v4 answers node -1, host "", port -1 (Node.noNode).
 * JoinGroup (11) v0-9, flexible 6+
 *   Request: group_id, session_timeout_ms, rebalance_timeout_ms (v1+), member_id,
 *            group_instance_id NULLABLE_STRING (v5+), protocol_type, [protocols: name, metadata BYTES],
 *            reason NULLABLE_STRING (v8+)
 *   Response: throttle_time_ms (v2+), error_code, generation_id, protocol_type NULLABLE_STRING (v7+),
 *             protocol_name (nullable v7+: null for none), leader, skip_assignment BOOL (v9+),
 *             member_id, [members: member_id, group_instance_id NULLABLE_STRING (v5+), metadata BYTES]
 *   From v4 a dynamic member without an id gets MEMBER_ID_REQUIRED and its id (KIP-394).
 * SyncGroup (14) v0-5, flexible 4+
 *   Request: group_id, generation_id, member_id, group_instance_id (v3+), protocol_type and
 *            protocol_name NULLABLE_STRING (v5+), [assignments: member_id, assignment BYTES]
 *   Response: throttle_time_ms (v1+), error_code, protocol_type, protocol_name (v5+), assignment BYTES
 * Heartbeat (12) v0-4, flexible 4+
 *   Request: group_id, generation_id, member_id, group_instance_id (v3+)
 *   Response: throttle_time_ms (v1+), error_code
 * LeaveGroup (13) v0-5, flexible 4+
 *   Request: group_id, member_id (v0-2); [members: member_id, group_instance_id, reason (v5+)] (v3+)
 *   Response: throttle_time_ms (v1+), error_code, [members: member_id, group_instance_id, error_code] (v3+)
 *   Below v3 the one member's error is the top-level error (LeaveGroupResponse).
 * OffsetCommit (8) v0-9, flexible 8+
 *   Request: group_id, generation_id_or_member_epoch (v1+), member_id (v1+), group_instance_id (v7+),
 *            retention_time_ms INT64 (v2-4), [topics: name, [partitions: partition_index,
 *            committed_offset INT64, committed_leader_epoch INT32 (v6+), commit_timestamp INT64 (v1 only),
 *            committed_metadata NULLABLE_STRING]]
 *   v0 (ZooKeeper offsets) is answered as a KRaft Kafka 3.9: UNSUPPORTED_VERSION on every partition
 *   when any topic exists (nothing stored). v1 commits as v2; its commit_timestamp only sets when
 *   Kafka would expire the offset, and offsets never expire here, so it is read and not kept.
 *   Response: throttle_time_ms (v3+), [topics: name, [partitions: partition_index, error_code]]
 * OffsetFetch (9) v0-9, flexible 6+ (v0 reads ZooKeeper: every partition -1, "", UNSUPPORTED_VERSION
 *   from a KRaft Kafka 3.9)
 *   Request v0-7: group_id, [topics: name, [partition_indexes INT32]] (null = all from v2),
 *            require_stable BOOL (v7+)
 *   Request v8+: [groups: group_id, member_id NULLABLE_STRING (v9+), member_epoch INT32 (v9+),
 *            [topics] (null = all)], require_stable BOOL
 *   Response v1-7: throttle_time_ms (v3+), [topics: name, [partitions: partition_index,
 *            committed_offset, committed_leader_epoch (v5+), metadata, error_code]], error_code (v2+)
 *   Response v8+: throttle_time_ms, [groups: group_id, [topics: ...], error_code]
 *   require_stable (v7+): a partition with an offset held by an open transaction (TxnOffsetCommit not yet
 *   committed or aborted) answers UNSTABLE_OFFSET_COMMIT and offset -1, as Kafka; member id and epoch are the new
 *   consumer protocol's (KIP-848) and, as Kafka's classic coordinator does, not checked.
 * DescribeGroups (15) v0-5, flexible 5+
 *   Request: [groups STRING], include_authorized_operations BOOL (v3+)
 *   Response: throttle_time_ms (v1+), [groups: error_code, group_id, group_state, protocol_type,
 *             protocol_data, [members: member_id, group_instance_id (v4+), client_id, client_host,
 *             member_metadata BYTES, member_assignment BYTES], authorized_operations INT32 (v3+)]
 *   Without an authorizer every group operation is allowed: READ, DELETE, DESCRIBE (bits 3, 6, 8),
 *   for every group answered without an error, a Dead (unknown) one too; INT32_MIN when not asked for.
 * ListGroups (16) v0-5, flexible 3+
 *   Request: states_filter [STRING] (v4+), types_filter [STRING] (v5+)
 *   Response: throttle_time_ms (v1+), error_code, [groups: group_id, protocol_type, group_state (v4+),
 *             group_type (v5+)]
 *   Every group here is "classic"; both filters ignore case, as Kafka's classic coordinator; empty = all.
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';
import type { Reader, Writer } from './primitives.js';

/** A member id or group instance id as the request gives it; '' stands for "unknown member". */
const nullable = (r: Reader, f: boolean) => r.nstr(f);

export const findCoordinatorApi: ApiDefinition = {
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 6,
  flexibleVersion: 3,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const single = v < 4 ? r.str(f) : '';
    const keyType = v >= 1 ? r.int8() : 0;
    const keys = v >= 4 ? r.arr(f, (x) => x.str(f)) : [single];
    r.tags(f);
    const error = keyType === 0 || keyType === 1 ? ErrorCode.NONE : keyType === 2 && v >= 6 ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.INVALID_REQUEST;
    const node = error === ErrorCode.NONE ? { id: ctx.nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort } : { id: -1, host: '', port: -1 };
    const message =
      error === ErrorCode.NONE
        ? null
        : error === ErrorCode.INVALID_REQUEST
          ? `Unknown coordinator type received: ${keyType}`
          : 'The coordinator is not available.';
    if (v >= 1) w.int32(0);
    if (v < 4) {
      w.int16(error);
      if (v >= 1) w.str(f, message);
      w.int32(node.id).str(f, node.host).int32(node.port);
    } else {
      w.arr(f, keys, (x, k) => x.str(f, k).int32(node.id).str(f, node.host).int32(node.port).int16(error).str(f, message).tags(f));
    }
    w.tags(f);
  },
};

export const joinGroupApi: ApiDefinition = {
  key: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 9,
  flexibleVersion: 6,
  async handle(r, w, { apiVersion: v, flexible: f, clientId, clientHost }, ctx) {
    const groupId = r.str(f);
    const sessionTimeout = r.int32();
    const rebalanceTimeout = v >= 1 ? r.int32() : sessionTimeout;
    const memberId = r.str(f);
    const groupInstanceId = v >= 5 ? nullable(r, f) : null;
    const protocolType = r.str(f);
    const protocols = r.arr(f, (x) => {
      const p = { name: x.str(f), metadata: Buffer.from(x.byts(f)) };
      x.tags(f);
      return p;
    });
    if (v >= 8) r.nstr(f);
    r.tags(f);
    const res = await ctx.groups.join({
      groupId,
      memberId,
      groupInstanceId,
      requireKnownMemberId: v >= 4,
      clientId: clientId ?? '',
      clientHost,
      sessionTimeout,
      rebalanceTimeout,
      protocolType,
      protocols,
    });
    if (v >= 2) w.int32(0);
    w.int16(res.errorCode).int32(res.generationId);
    if (v >= 7) w.str(f, res.protocolType || null);
    w.str(f, v >= 7 && !res.protocolName ? null : res.protocolName).str(f, res.leader);
    if (v >= 9) w.bool(false);
    w.str(f, res.memberId);
    w.arr(f, res.members, (x, m) => {
      x.str(f, m.memberId);
      if (v >= 5) x.str(f, m.groupInstanceId);
      x.byts(f, m.metadata).tags(f);
    });
    w.tags(f);
  },
};

export const syncGroupApi: ApiDefinition = {
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleVersion: 4,
  async handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const groupId = r.str(f);
    const generationId = r.int32();
    const memberId = r.str(f);
    const groupInstanceId = v >= 3 ? nullable(r, f) : null;
    const protocolType = v >= 5 ? r.nstr(f) : null;
    const protocolName = v >= 5 ? r.nstr(f) : null;
    const assignments = r.arr(f, (x) => {
      const a = { memberId: x.str(f), assignment: Buffer.from(x.byts(f)) };
      x.tags(f);
      return a;
    });
    r.tags(f);
    const res = await ctx.groups.sync({ groupId, generationId, memberId, groupInstanceId, protocolType, protocolName, assignments });
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode);
    if (v >= 5) w.str(f, res.protocolType).str(f, res.protocolName);
    w.byts(f, res.assignment).tags(f);
  },
};

export const heartbeatApi: ApiDefinition = {
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersion: 4,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const groupId = r.str(f);
    const generationId = r.int32();
    const memberId = r.str(f);
    const groupInstanceId = v >= 3 ? nullable(r, f) : null;
    r.tags(f);
    const code = ctx.groups.heartbeat(groupId, generationId, memberId, groupInstanceId);
    if (v >= 1) w.int32(0);
    w.int16(code).tags(f);
  },
};

export const leaveGroupApi: ApiDefinition = {
  key: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleVersion: 4,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const groupId = r.str(f);
    const members =
      v >= 3
        ? r.arr(f, (x) => {
            const m = { memberId: x.str(f), groupInstanceId: x.nstr(f) };
            if (v >= 5) x.nstr(f);
            x.tags(f);
            return m;
          })
        : [{ memberId: r.str(f), groupInstanceId: null }];
    r.tags(f);
    const codes = ctx.groups.leave(groupId, members);
    if (v >= 1) w.int32(0);
    if (v < 3) {
      w.int16(codes[0]!);
    } else {
      w.int16(ErrorCode.NONE);
      w.arr(f, members, (x, m) => {
        x.str(f, m.memberId).str(f, m.groupInstanceId).int16(codes[members.indexOf(m)]!).tags(f);
      });
    }
    w.tags(f);
  },
};

export const offsetCommitApi: ApiDefinition = {
  key: 8,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 9,
  flexibleVersion: 8,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const groupId = r.str(f);
    const generationId = v >= 1 ? r.int32() : -1;
    const memberId = v >= 1 ? r.str(f) : '';
    const groupInstanceId = v >= 7 ? nullable(r, f) : null;
    if (v >= 2 && v <= 4) r.int64();
    const topics = r.arr(f, (x) => {
      const t = {
        name: x.str(f),
        partitions: x.arr(f, (y) => {
          const p = {
            partition: y.int32(),
            offset: y.int64n(),
            leaderEpoch: v >= 6 ? y.int32() : -1,
            commitTimestamp: v === 1 ? y.int64n() : -1,
            metadata: y.nstr(f),
          };
          y.tags(f);
          return p;
        }),
      };
      x.tags(f);
      return t;
    });
    r.tags(f);
    const known = topics.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, exists: !!ctx.topics.topics.get(t.name)?.logs[p.partition] })) }));
    const offsets = known.flatMap((t) =>
      t.partitions
        .filter((p) => p.exists)
        .map((p) => ({ topic: t.name, partition: p.partition, offset: p.offset, leaderEpoch: p.leaderEpoch, metadata: p.metadata })),
    );
    // v0 stores offsets in ZooKeeper: a KRaft Kafka 3.9 answers the whole request UNSUPPORTED_VERSION
    // (commitOffsetsToZookeeper's requireZkOrThrow) once a topic exists, and changes nothing.
    const zookeeperOnly = v === 0 && offsets.length > 0;
    const code = zookeeperOnly ? ErrorCode.UNSUPPORTED_VERSION : ctx.groups.commit({ groupId, generationId, memberId, groupInstanceId, offsets });
    if (v >= 3) w.int32(0);
    w.arr(f, known, (x, t) => {
      x.str(f, t.name);
      x.arr(f, t.partitions, (y, p) =>
        y
          .int32(p.partition)
          .int16(p.exists || zookeeperOnly ? code : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
          .tags(f),
      );
      x.tags(f);
    });
    w.tags(f);
  },
};

type TopicRequest = { name: string; partitions: number[] };

function readTopics(r: Reader, f: boolean, nullableTopics: boolean): TopicRequest[] | null {
  const item = (x: Reader): TopicRequest => {
    const t = { name: x.str(f), partitions: x.arr(f, (y) => y.int32()) };
    x.tags(f);
    return t;
  };
  return nullableTopics ? r.narr(f, item) : r.arr(f, item);
}

export const offsetFetchApi: ApiDefinition = {
  key: 9,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 9,
  flexibleVersion: 6,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    let groups: { groupId: string; topics: TopicRequest[] | null }[];
    if (v < 8) {
      const groupId = r.str(f);
      groups = [{ groupId, topics: readTopics(r, f, v >= 2) }];
    } else {
      groups = r.arr(f, (x) => {
        const groupId = x.str(f);
        if (v >= 9) {
          x.nstr(f);
          x.int32();
        }
        const g = { groupId, topics: readTopics(x, f, true) };
        x.tags(f);
        return g;
      });
    }
    const requireStable = v >= 7 ? r.bool() : false;
    r.tags(f);
    const resolve = (groupId: string, topics: TopicRequest[] | null): TopicRequest[] => {
      if (topics !== null) return topics;
      const byTopic = new Map<string, number[]>();
      for (const { topic, partition } of ctx.groups.committedPartitions(groupId)) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
      return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    };
    const writeTopics = (x: Writer, groupId: string, topics: TopicRequest[]) => {
      x.arr(f, topics, (y, t) => {
        y.str(f, t.name);
        y.arr(f, t.partitions, (z, p) => {
          // v0 reads ZooKeeper: KRaft Kafka 3.9 answers every partition -1, "", UNSUPPORTED_VERSION
          // (OffsetFetchRequest.getErrorResponse below v2)
          if (v === 0) return z.int32(p).int64(-1).str(f, '').int16(ErrorCode.UNSUPPORTED_VERSION);
          // GroupMetadataManager.getOffsets: an offset a transaction still holds is not stable yet.
          const unstable = requireStable && ctx.txns.hasPendingOffset(groupId, t.name, p);
          const o = unstable ? { offset: -1, leaderEpoch: -1, metadata: '' } : ctx.groups.fetchOffset(groupId, t.name, p);
          z.int32(p).int64(o.offset);
          if (v >= 5) z.int32(o.leaderEpoch);
          z.str(f, o.metadata)
            .int16(unstable ? ErrorCode.UNSTABLE_OFFSET_COMMIT : ErrorCode.NONE)
            .tags(f);
        });
        y.tags(f);
      });
    };
    if (v >= 3) w.int32(0);
    if (v < 8) {
      const g = groups[0]!;
      writeTopics(w, g.groupId, resolve(g.groupId, g.topics));
      if (v >= 2) w.int16(ErrorCode.NONE);
    } else {
      w.arr(f, groups, (x, g) => {
        x.str(f, g.groupId);
        writeTopics(x, g.groupId, resolve(g.groupId, g.topics));
        x.int16(ErrorCode.NONE).tags(f);
      });
    }
    w.tags(f);
  },
};

/** Kafka's AclOperation codes of what a group allows (no authorizer: all of them). */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

export const describeGroupsApi: ApiDefinition = {
  key: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  flexibleVersion: 5,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const ids = r.arr(f, (x) => x.str(f));
    const withOperations = v >= 3 ? r.bool() : false;
    r.tags(f);
    if (v >= 1) w.int32(0);
    w.arr(f, ids, (x, id) => {
      const g = ctx.groups.describe(id);
      x.int16(g.errorCode).str(f, g.groupId).str(f, g.state).str(f, g.protocolType).str(f, g.protocol);
      x.arr(f, g.members, (y, m) => {
        y.str(f, m.memberId);
        if (v >= 4) y.str(f, m.groupInstanceId);
        y.str(f, m.clientId).str(f, m.clientHost).byts(f, m.metadata).byts(f, m.assignment).tags(f);
      });
      if (v >= 3) x.int32(withOperations && g.errorCode === ErrorCode.NONE ? GROUP_OPERATIONS : -2147483648);
      x.tags(f);
    });
    w.tags(f);
  },
};

export const listGroupsApi: ApiDefinition = {
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 5,
  flexibleVersion: 3,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const states = v >= 4 ? r.arr(f, (x) => x.str(f)) : [];
    const types = v >= 5 ? r.arr(f, (x) => x.str(f)) : [];
    r.tags(f);
    const wantedStates = new Set(states.map((x) => x.toLowerCase()));
    const classic = types.length === 0 || types.some((t) => t.toLowerCase() === 'classic');
    const groups = ctx.groups.list().filter((g) => (wantedStates.size === 0 || wantedStates.has(g.state.toLowerCase())) && classic);
    if (v >= 1) w.int32(0);
    w.int16(ErrorCode.NONE);
    w.arr(f, groups, (x, g) => {
      x.str(f, g.groupId).str(f, g.protocolType);
      if (v >= 4) x.str(f, g.state);
      if (v >= 5) x.str(f, 'classic');
      x.tags(f);
    });
    w.tags(f);
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
    w.arr(f, ids, (x, id) =>
      x
        .str(f, id)
        .int16(id ? ctx.groups.deleteGroup(id) : ErrorCode.INVALID_GROUP_ID)
        .tags(f),
    );
    w.tags(f);
  },
};
