import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type Broker } from '../index.js';
import { Reader, Writer } from './primitives.js';
import { prng } from '@jwt-audit/runtime/testing/prng';
import { RawConnection, exchange, frame } from '../testdata/wire.js';

// The classic consumer group APIs at every version Kafka 3.9 advertises, on the raw wire: each
// request encoded as apache/kafka's clients/src/main/resources/common/message/<Api>Request.json
// says for that version, each response decoded field by field (tagged fields included) and checked
// to the last byte. Then generated malformed frames of every version, each closing only its
// connection.

let broker: Broker;
let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ekafka-groupv-'));
  broker = await startBroker({ dir, port: 0, initialRebalanceDelayMs: 0 });
  const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'gv', numPartitions: 2 }] });
  await admin.disconnect();
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

// First flexible version of each API (the JSON's "flexibleVersions").
const FLEX: Record<number, number> = { 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3, 22: 2 };
const flexible = (key: number, v: number) => v >= FLEX[key]!;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const done = (r: Reader, what: string) => assert.equal(r.remaining(), 0, `${what}: no bytes left over`);

/** Tagged fields of a response: the broker sends none. */
function noTags(r: Reader): void {
  assert.equal(r.uvarint(), 0, 'no tagged fields');
}
const tags = (r: Reader, f: boolean) => f && noTags(r);

/** A request body: the header's own tagged fields are added by frame(). */
function body(write: (w: Writer) => void): Buffer {
  const w = new Writer();
  write(w);
  return Buffer.from(w.toBuffer());
}

/** An unknown tagged field (tag 7, 3 bytes), which a broker must skip (KIP-482). */
const unknownTag = (w: Writer) =>
  w
    .uvarint(1)
    .uvarint(7)
    .uvarint(3)
    .raw(Buffer.from([1, 2, 3]));
const reqTags = (w: Writer, f: boolean) => (f ? unknownTag(w) : w);

// Requests, per the JSON schemas.
const req = {
  findCoordinator: (v: number, keys: string[], keyType = 0) =>
    body((w) => {
      const f = flexible(10, v);
      if (v < 4) w.str(f, keys[0]!);
      if (v >= 1) w.int8(keyType);
      if (v >= 4) w.arr(f, keys, (x, k) => x.str(f, k));
      reqTags(w, f);
    }),
  join: (v: number, o: { group: string; memberId: string; instanceId?: string | null; protocols?: [string, Buffer][]; sessionTimeout?: number }) =>
    body((w) => {
      const f = flexible(11, v);
      w.str(f, o.group).int32(o.sessionTimeout ?? 10_000);
      if (v >= 1) w.int32(20_000);
      w.str(f, o.memberId);
      if (v >= 5) w.str(f, o.instanceId ?? null);
      w.str(f, 'consumer');
      w.arr(f, o.protocols ?? [['range', Buffer.from('meta-range')]], (x, [n, m]) => reqTags(x.str(f, n).byts(f, m), f));
      if (v >= 8) w.str(f, 'test reason');
      reqTags(w, f);
    }),
  sync: (
    v: number,
    o: { group: string; generation: number; memberId: string; instanceId?: string | null; protocolName?: string | null; assignments: [string, Buffer][] },
  ) =>
    body((w) => {
      const f = flexible(14, v);
      w.str(f, o.group).int32(o.generation).str(f, o.memberId);
      if (v >= 3) w.str(f, o.instanceId ?? null);
      if (v >= 5) w.str(f, 'consumer').str(f, o.protocolName === undefined ? 'range' : o.protocolName);
      w.arr(f, o.assignments, (x, [m, a]) => reqTags(x.str(f, m).byts(f, a), f));
      reqTags(w, f);
    }),
  heartbeat: (v: number, group: string, generation: number, memberId: string, instanceId: string | null = null) =>
    body((w) => {
      const f = flexible(12, v);
      w.str(f, group).int32(generation).str(f, memberId);
      if (v >= 3) w.str(f, instanceId);
      reqTags(w, f);
    }),
  leave: (v: number, group: string, members: [string, string | null][]) =>
    body((w) => {
      const f = flexible(13, v);
      w.str(f, group);
      if (v < 3) w.str(f, members[0]![0]);
      else
        w.arr(f, members, (x, [m, i]) => {
          x.str(f, m).str(f, i);
          if (v >= 5) x.str(f, 'leaving');
          reqTags(x, f);
        });
      reqTags(w, f);
    }),
  commit: (v: number, group: string, generation: number, memberId: string, parts: [number, number][], instanceId: string | null = null) =>
    body((w) => {
      const f = flexible(8, v);
      w.str(f, group);
      if (v >= 1) w.int32(generation).str(f, memberId);
      if (v >= 7) w.str(f, instanceId);
      if (v >= 2 && v <= 4) w.int64(-1);
      w.arr(f, ['gv'], (x, t) => {
        x.str(f, t);
        x.arr(f, parts, (y, [p, o]) => {
          y.int32(p).int64(o);
          if (v >= 6) y.int32(7);
          if (v === 1) y.int64(Date.now());
          reqTags(y.str(f, `meta-${o}`), f);
        });
        reqTags(x, f);
      });
      reqTags(w, f);
    }),
  fetchOffsets: (v: number, groups: [string, [string, number[]][] | null][]) =>
    body((w) => {
      const f = flexible(9, v);
      const topics = (x: Writer, t: [string, number[]][] | null) =>
        x.arr(f, t, (y, [n, ps]) =>
          reqTags(
            y.str(f, n).arr(f, ps, (z, p) => z.int32(p)),
            f,
          ),
        );
      if (v < 8) {
        w.str(f, groups[0]![0]);
        topics(w, groups[0]![1]);
      } else {
        w.arr(f, groups, (x, [g, t]) => {
          x.str(f, g);
          if (v >= 9) x.str(f, null).int32(-1);
          topics(x, t);
          reqTags(x, f);
        });
      }
      if (v >= 7) w.bool(false);
      reqTags(w, f);
    }),
  describe: (v: number, groups: string[], withOperations = true) =>
    body((w) => {
      const f = flexible(15, v);
      w.arr(f, groups, (x, g) => x.str(f, g));
      if (v >= 3) w.bool(withOperations);
      reqTags(w, f);
    }),
  initProducerId: (v: number, transactionalId: string | null, producerId = -1n, epoch = -1) =>
    body((w) => {
      const f = flexible(22, v);
      w.str(f, transactionalId).int32(60_000);
      if (v >= 3) w.int64(producerId).int16(epoch);
      reqTags(w, f);
    }),
  list: (v: number, states: string[] = [], types: string[] = []) =>
    body((w) => {
      const f = flexible(16, v);
      if (v >= 4) w.arr(f, states, (x, s) => x.str(f, s));
      if (v >= 5) w.arr(f, types, (x, s) => x.str(f, s));
      reqTags(w, f);
    }),
};

// Responses, per the JSON schemas (the response header's tagged fields first on flexible versions).
function open(key: number, v: number, b: Buffer): { r: Reader; f: boolean } {
  const r = new Reader(b);
  const f = flexible(key, v);
  if (f) noTags(r);
  return { r, f };
}

interface Joined {
  error: number;
  generation: number;
  protocolType: string | null | undefined;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean | undefined;
  memberId: string;
  members: { memberId: string; instanceId: string | null | undefined; metadata: string }[];
}
function readJoin(v: number, b: Buffer): Joined {
  const { r, f } = open(11, v, b);
  if (v >= 2) assert.equal(r.int32(), 0, 'throttle');
  const error = r.int16();
  const generation = r.int32();
  const protocolType = v >= 7 ? r.nstr(f) : undefined;
  const protocolName = r.nstr(f);
  const leader = r.str(f);
  const skipAssignment = v >= 9 ? r.bool() : undefined;
  const memberId = r.str(f);
  const members = r.arr(f, (x) => {
    const m = { memberId: x.str(f), instanceId: v >= 5 ? x.nstr(f) : undefined, metadata: x.byts(f).toString() };
    tags(x, f);
    return m;
  });
  tags(r, f);
  done(r, `JoinGroup v${v}`);
  return { error, generation, protocolType, protocolName, leader, skipAssignment, memberId, members };
}
function readSync(v: number, b: Buffer) {
  const { r, f } = open(14, v, b);
  if (v >= 1) assert.equal(r.int32(), 0);
  const error = r.int16();
  const protocol = v >= 5 ? [r.nstr(f), r.nstr(f)] : undefined;
  const assignment = r.byts(f).toString();
  tags(r, f);
  done(r, `SyncGroup v${v}`);
  return { error, protocol, assignment };
}
function readHeartbeat(v: number, b: Buffer): number {
  const { r, f } = open(12, v, b);
  if (v >= 1) assert.equal(r.int32(), 0);
  const error = r.int16();
  tags(r, f);
  done(r, `Heartbeat v${v}`);
  return error;
}
function readLeave(v: number, b: Buffer) {
  const { r, f } = open(13, v, b);
  if (v >= 1) assert.equal(r.int32(), 0);
  const error = r.int16();
  const members =
    v >= 3
      ? r.arr(f, (x) => {
          const m = { memberId: x.str(f), instanceId: x.nstr(f), error: x.int16() };
          tags(x, f);
          return m;
        })
      : undefined;
  tags(r, f);
  done(r, `LeaveGroup v${v}`);
  return { error, members };
}
function readCommit(v: number, b: Buffer): [number, number][] {
  const { r, f } = open(8, v, b);
  if (v >= 3) assert.equal(r.int32(), 0);
  const out: [number, number][] = [];
  r.arr(f, (x) => {
    assert.equal(x.str(f), 'gv');
    x.arr(f, (y) => {
      out.push([y.int32(), y.int16()]);
      tags(y, f);
    });
    tags(x, f);
  });
  tags(r, f);
  done(r, `OffsetCommit v${v}`);
  return out;
}
type FetchedPartition = { topic: string; partition: number; offset: number; leaderEpoch: number | undefined; metadata: string | null; error: number };
function readFetchOffsets(v: number, b: Buffer): { group?: string; error: number | undefined; partitions: FetchedPartition[] }[] {
  const { r, f } = open(9, v, b);
  if (v >= 3) assert.equal(r.int32(), 0);
  const topics = (x: Reader): FetchedPartition[] => {
    const out: FetchedPartition[] = [];
    x.arr(f, (y) => {
      const topic = y.str(f);
      y.arr(f, (z) => {
        out.push({ topic, partition: z.int32(), offset: z.int64n(), leaderEpoch: v >= 5 ? z.int32() : undefined, metadata: z.nstr(f), error: z.int16() });
        tags(z, f);
      });
      tags(y, f);
    });
    return out;
  };
  let result;
  if (v < 8) {
    const partitions = topics(r);
    result = [{ error: v >= 2 ? r.int16() : undefined, partitions }];
  } else {
    result = r.arr(f, (x) => {
      const group = x.str(f);
      const partitions = topics(x);
      const g = { group, partitions, error: x.int16() };
      tags(x, f);
      return g;
    });
  }
  tags(r, f);
  done(r, `OffsetFetch v${v}`);
  return result;
}
function readDescribe(v: number, b: Buffer) {
  const { r, f } = open(15, v, b);
  if (v >= 1) assert.equal(r.int32(), 0);
  const groups = r.arr(f, (x) => {
    const g = {
      error: x.int16(),
      groupId: x.str(f),
      state: x.str(f),
      protocolType: x.str(f),
      protocol: x.str(f),
      members: x.arr(f, (y) => {
        const m = {
          memberId: y.str(f),
          instanceId: v >= 4 ? y.nstr(f) : undefined,
          clientId: y.str(f),
          clientHost: y.str(f),
          metadata: y.byts(f).toString(),
          assignment: y.byts(f).toString(),
        };
        tags(y, f);
        return m;
      }),
      operations: v >= 3 ? x.int32() : undefined,
    };
    tags(x, f);
    return g;
  });
  tags(r, f);
  done(r, `DescribeGroups v${v}`);
  return groups;
}
function readList(v: number, b: Buffer) {
  const { r, f } = open(16, v, b);
  if (v >= 1) assert.equal(r.int32(), 0);
  const error = r.int16();
  const groups = r.arr(f, (x) => {
    const g = { groupId: x.str(f), protocolType: x.str(f), state: v >= 4 ? x.str(f) : undefined, type: v >= 5 ? x.str(f) : undefined };
    tags(x, f);
    return g;
  });
  tags(r, f);
  done(r, `ListGroups v${v}`);
  return { error, groups };
}
function readFindCoordinator(v: number, b: Buffer) {
  const { r, f } = open(10, v, b);
  if (v >= 1) assert.equal(r.int32(), 0);
  let out;
  if (v < 4) {
    const error = r.int16();
    const message = v >= 1 ? r.nstr(f) : undefined;
    out = [{ key: undefined as string | undefined, error, message, node: r.int32(), host: r.str(f), port: r.int32() }];
  } else {
    out = r.arr(f, (x) => {
      const c = {
        key: x.str(f) as string | undefined,
        node: x.int32(),
        host: x.str(f),
        port: x.int32(),
        error: x.int16(),
        message: x.nstr(f) as string | null | undefined,
      };
      tags(x, f);
      return c;
    });
  }
  tags(r, f);
  done(r, `FindCoordinator v${v}`);
  return out;
}

const request = (c: RawConnection, key: number, v: number, b: Buffer) => c.request(key, v, b, flexible(key, v));

test('FindCoordinator v0-6: this broker for group and transaction keys, v4+ one answer per key; share keys (KIP-932) and unknown key types as KafkaApis.getCoordinator answers', async () => {
  const c = await RawConnection.open(broker.port);
  const [host, port] = [broker.address.split(':')[0]!, broker.port];
  for (let v = 0; v <= 6; v++) {
    const keys = v >= 4 ? ['group-a', 'group-b', ''] : ['group-a'];
    const answers = readFindCoordinator(v, await request(c, 10, v, req.findCoordinator(v, keys)));
    assert.equal(answers.length, keys.length, `v${v}`);
    answers.forEach((a, i) => {
      assert.deepEqual({ error: a.error, node: a.node, host: a.host, port: a.port }, { error: 0, node: 1, host, port }, `v${v} key ${i}`);
      if (v >= 1) assert.equal(a.message, null);
      if (v >= 4) assert.equal(a.key, keys[i]);
    });
    if (v >= 1) {
      assert.equal(readFindCoordinator(v, await request(c, 10, v, req.findCoordinator(v, keys, 1)))[0]!.error, 0, `v${v} transaction key`);
      for (const [keyType, error] of [
        [2, v >= 6 ? 15 : 42],
        [3, 42],
        [-1, 42],
      ] as const) {
        const bad = readFindCoordinator(v, await request(c, 10, v, req.findCoordinator(v, keys, keyType)));
        assert.equal(bad.length, keys.length);
        for (const a of bad)
          assert.deepEqual({ error: a.error, node: a.node, host: a.host, port: a.port }, { error, node: -1, host: '', port: -1 }, `v${v} key type ${keyType}`);
      }
    }
  }
  c.close();
});

test('a group through every version: JoinGroup 0-9 (MEMBER_ID_REQUIRED from v4), SyncGroup 0-5, Heartbeat 0-4, OffsetCommit 2-9, OffsetFetch 1-9, DescribeGroups 0-5, ListGroups 0-5, LeaveGroup 0-5', async () => {
  const c = await RawConnection.open(broker.port);
  for (let level = 0; level <= 9; level++) {
    const group = `level-${level}`;
    const jv = level;
    const [sv, hv, lv, cv, fv, dv, gv] = [
      clamp(level, 0, 5),
      clamp(level, 0, 4),
      clamp(level, 0, 5),
      clamp(level, 2, 9),
      clamp(level, 1, 9),
      clamp(level, 0, 5),
      clamp(level, 0, 5),
    ];
    const at = `level ${level}`;

    // JoinGroup: from v4 a member without an id is given one and asked to rejoin with it (KIP-394).
    let joined = readJoin(jv, await request(c, 11, jv, req.join(jv, { group, memberId: '' })));
    if (jv >= 4) {
      assert.equal(joined.error, 79, `${at}: MEMBER_ID_REQUIRED`);
      assert.match(joined.memberId, /^raw-test-[0-9a-f-]{36}$/);
      assert.equal(joined.generation, -1);
      assert.equal(joined.protocolName, jv >= 7 ? null : '', 'no protocol: null from v7 (JoinGroupResponse)');
      if (jv >= 7) assert.equal(joined.protocolType, null);
      assert.deepEqual(joined.members, []);
      joined = readJoin(jv, await request(c, 11, jv, req.join(jv, { group, memberId: joined.memberId })));
    }
    assert.equal(joined.error, 0, at);
    assert.equal(joined.generation, 1);
    assert.equal(joined.protocolName, 'range');
    if (jv >= 7) assert.equal(joined.protocolType, 'consumer');
    if (jv >= 9) assert.equal(joined.skipAssignment, false);
    const me = joined.memberId;
    assert.equal(joined.leader, me);
    assert.deepEqual(joined.members, [{ memberId: me, instanceId: jv >= 5 ? null : undefined, metadata: 'meta-range' }]);
    // A rejoin with an id the group never gave out.
    assert.equal(readJoin(jv, await request(c, 11, jv, req.join(jv, { group, memberId: 'stranger' }))).error, 25, `${at}: UNKNOWN_MEMBER_ID`);

    // SyncGroup: v5 checks the protocol type and name (KIP-559) and answers them.
    if (sv >= 5)
      assert.equal(
        readSync(sv, await request(c, 14, sv, req.sync(sv, { group, generation: 1, memberId: me, protocolName: 'roundrobin', assignments: [] }))).error,
        23,
        'INCONSISTENT_GROUP_PROTOCOL',
      );
    assert.equal(readSync(sv, await request(c, 14, sv, req.sync(sv, { group, generation: 2, memberId: me, assignments: [] }))).error, 22, 'ILLEGAL_GENERATION');
    const synced = readSync(
      sv,
      await request(
        c,
        14,
        sv,
        req.sync(sv, { group, generation: 1, memberId: me, protocolName: sv >= 5 ? null : undefined, assignments: [[me, Buffer.from(`assigned-${level}`)]] }),
      ),
    );
    assert.deepEqual(synced, { error: 0, protocol: sv >= 5 ? ['consumer', 'range'] : undefined, assignment: `assigned-${level}` }, at);

    // Heartbeat.
    assert.equal(readHeartbeat(hv, await request(c, 12, hv, req.heartbeat(hv, group, 1, me))), 0);
    assert.equal(readHeartbeat(hv, await request(c, 12, hv, req.heartbeat(hv, group, 0, me))), 22);
    assert.equal(readHeartbeat(hv, await request(c, 12, hv, req.heartbeat(hv, group, 1, 'stranger'))), 25);

    // OffsetCommit: the leader epoch from v6 is kept and fetched back from OffsetFetch v5.
    assert.deepEqual(
      readCommit(
        cv,
        await request(
          c,
          8,
          cv,
          req.commit(cv, group, 1, me, [
            [0, 40 + level],
            [1, 50 + level],
            [9, 1],
          ]),
        ),
      ),
      [
        [0, 0],
        [1, 0],
        [9, 3],
      ],
      `${at}: partition 9 does not exist`,
    );
    assert.deepEqual(readCommit(cv, await request(c, 8, cv, req.commit(cv, group, 3, me, [[0, 1]]))), [[0, 22]]);
    assert.deepEqual(readCommit(cv, await request(c, 8, cv, req.commit(cv, group, -1, '', [[0, 1]]))), [[0, 25]], 'no admin commit into a group with members');
    const epoch = cv >= 6 ? 7 : -1;
    const expected = (p: number, offset: number): FetchedPartition => ({
      topic: 'gv',
      partition: p,
      offset,
      leaderEpoch: fv >= 5 ? epoch : undefined,
      metadata: `meta-${offset}`,
      error: 0,
    });
    const unknown = (p: number): FetchedPartition => ({
      topic: 'gv',
      partition: p,
      offset: -1,
      leaderEpoch: fv >= 5 ? -1 : undefined,
      metadata: null,
      error: 0,
    });
    const groupsAsked: [string, [string, number[]][] | null][] =
      fv >= 8
        ? [
            [group, [['gv', [0, 1]]]],
            ['no-such-group', [['gv', [0]]]],
            [group, null],
          ]
        : [[group, [['gv', [1, 0]]]]];
    const fetched = readFetchOffsets(fv, await request(c, 9, fv, req.fetchOffsets(fv, groupsAsked)));
    if (fv < 8) {
      assert.deepEqual(fetched, [{ error: fv >= 2 ? 0 : undefined, partitions: [expected(1, 50 + level), expected(0, 40 + level)] }], at);
      if (fv >= 2) {
        const all = readFetchOffsets(fv, await request(c, 9, fv, req.fetchOffsets(fv, [[group, null]])))[0]!;
        assert.deepEqual(
          all.partitions.sort((a, b) => a.partition - b.partition),
          [expected(0, 40 + level), expected(1, 50 + level)],
          `${at}: null topics = every committed partition`,
        );
      }
    } else {
      assert.deepEqual(
        fetched.map((g) => g.group),
        [group, 'no-such-group', group],
      );
      assert.deepEqual(fetched[0], { group, error: 0, partitions: [expected(0, 40 + level), expected(1, 50 + level)] });
      assert.deepEqual(fetched[1], { group: 'no-such-group', error: 0, partitions: [unknown(0)] });
      assert.deepEqual(
        fetched[2]!.partitions.sort((a, b) => a.partition - b.partition),
        [expected(0, 40 + level), expected(1, 50 + level)],
      );
    }

    // DescribeGroups: Stable, with the member's metadata and assignment; authorized operations from v3.
    const described = readDescribe(dv, await request(c, 15, dv, req.describe(dv, [group, 'no-such-group'])));
    assert.deepEqual(
      described[0],
      {
        error: 0,
        groupId: group,
        state: 'Stable',
        protocolType: 'consumer',
        protocol: 'range',
        members: [
          {
            memberId: me,
            instanceId: dv >= 4 ? null : undefined,
            clientId: 'raw-test',
            clientHost: '127.0.0.1',
            metadata: 'meta-range',
            assignment: `assigned-${level}`,
          },
        ],
        operations: dv >= 3 ? (1 << 3) | (1 << 6) | (1 << 8) : undefined,
      },
      at,
    );
    assert.deepEqual(
      described[1],
      {
        error: 0,
        groupId: 'no-such-group',
        state: 'Dead',
        protocolType: '',
        protocol: '',
        members: [],
        operations: dv >= 3 ? (1 << 3) | (1 << 6) | (1 << 8) : undefined,
      },
      'KafkaApis sets the operations of every group answered without an error',
    );
    if (dv >= 3)
      assert.equal(readDescribe(dv, await request(c, 15, dv, req.describe(dv, [group], false)))[0]!.operations, -2147483648, 'not asked for: INT32_MIN');

    // ListGroups: the state from v4 (and its filter, any case), the type from v5.
    const listed = readList(gv, await request(c, 16, gv, req.list(gv)));
    assert.equal(listed.error, 0);
    assert.deepEqual(
      listed.groups.find((g) => g.groupId === group),
      { groupId: group, protocolType: 'consumer', state: gv >= 4 ? 'Stable' : undefined, type: gv >= 5 ? 'classic' : undefined },
    );
    if (gv >= 4) {
      assert.ok(readList(gv, await request(c, 16, gv, req.list(gv, ['STABLE']))).groups.some((g) => g.groupId === group));
      assert.ok(!readList(gv, await request(c, 16, gv, req.list(gv, ['Empty', 'Dead']))).groups.some((g) => g.groupId === group));
    }
    if (gv >= 5) {
      assert.ok(readList(gv, await request(c, 16, gv, req.list(gv, [], ['Classic']))).groups.some((g) => g.groupId === group));
      assert.deepEqual(readList(gv, await request(c, 16, gv, req.list(gv, [], ['consumer']))).groups, [], 'no KIP-848 groups here');
    }

    // LeaveGroup: v3+ answers each member; below v3 the member's error is the top-level one.
    if (lv >= 3) {
      const left = readLeave(
        lv,
        await request(
          c,
          13,
          lv,
          req.leave(lv, group, [
            [me, null],
            ['stranger', null],
          ]),
        ),
      );
      assert.deepEqual(
        left,
        {
          error: 0,
          members: [
            { memberId: me, instanceId: null, error: 0 },
            { memberId: 'stranger', instanceId: null, error: 25 },
          ],
        },
        at,
      );
    } else {
      assert.deepEqual(readLeave(lv, await request(c, 13, lv, req.leave(lv, group, [[me, null]]))), { error: 0, members: undefined });
      assert.deepEqual(readLeave(lv, await request(c, 13, lv, req.leave(lv, group, [[me, null]]))), { error: 25, members: undefined });
    }
    assert.equal(readDescribe(dv, await request(c, 15, dv, req.describe(dv, [group])))[0]!.state, 'Empty');
    // An empty group takes an admin commit (generation -1).
    assert.deepEqual(readCommit(cv, await request(c, 8, cv, req.commit(cv, group, -1, '', [[0, 99]]))), [[0, 0]]);
  }
  c.close();
});

test('OffsetCommit v0 and OffsetFetch v0 (ZooKeeper-era offsets, deprecated in 3.9) answer as a KRaft Kafka 3.9: UNSUPPORTED_VERSION on every partition (KafkaApis requireZkOrThrow, OffsetCommitRequest/OffsetFetchRequest.getErrorResponse), nothing stored; OffsetCommit v1 commits as v2', async () => {
  const c = await RawConnection.open(broker.port);
  const group = 'zk-era';
  assert.deepEqual(
    readCommit(
      0,
      await request(
        c,
        8,
        0,
        req.commit(0, group, -1, '', [
          [0, 5],
          [9, 1],
        ]),
      ),
    ),
    [
      [0, 35],
      [9, 35],
    ],
    'the error response covers the whole request',
  );
  const none: FetchedPartition = { topic: 'gv', partition: 0, offset: -1, leaderEpoch: undefined, metadata: null, error: 0 };
  assert.deepEqual(
    readFetchOffsets(1, await request(c, 9, 1, req.fetchOffsets(1, [[group, [['gv', [0]]]]]))),
    [{ error: undefined, partitions: [none] }],
    'v0 stored nothing',
  );
  // v1 (commit_timestamp per partition) into the empty group, as an admin commit (generation -1)
  assert.deepEqual(
    readCommit(
      1,
      await request(
        c,
        8,
        1,
        req.commit(1, group, -1, '', [
          [0, 5],
          [9, 1],
        ]),
      ),
    ),
    [
      [0, 0],
      [9, 3],
    ],
  );
  assert.deepEqual(readFetchOffsets(1, await request(c, 9, 1, req.fetchOffsets(1, [[group, [['gv', [0]]]]]))), [
    { error: undefined, partitions: [{ ...none, offset: 5, metadata: 'meta-5' }] },
  ]);
  // OffsetFetch v0: -1, "" and UNSUPPORTED_VERSION per partition asked, committed or not
  assert.deepEqual(readFetchOffsets(0, await request(c, 9, 0, req.fetchOffsets(0, [[group, [['gv', [0, 1]]]]]))), [
    {
      error: undefined,
      partitions: [
        { ...none, metadata: '', error: 35 },
        { ...none, partition: 1, metadata: '', error: 35 },
      ],
    },
  ]);
  c.close();
});

test('static membership (KIP-345, JoinGroup v5+): an instance id gets its member id at once; joining again replaces it and fences the old id (FENCED_INSTANCE_ID); LeaveGroup by instance id alone removes it', async () => {
  const c = await RawConnection.open(broker.port);
  for (const v of [5, 9]) {
    const group = `static-${v}`;
    const first = readJoin(v, await request(c, 11, v, req.join(v, { group, memberId: '', instanceId: 'instance-1' })));
    assert.equal(first.error, 0, 'no MEMBER_ID_REQUIRED for a static member');
    assert.match(first.memberId, /^instance-1-/);
    assert.deepEqual(first.members, [{ memberId: first.memberId, instanceId: 'instance-1', metadata: 'meta-range' }]);
    const sv = Math.min(v, 5);
    assert.equal(
      readSync(
        sv,
        await request(
          c,
          14,
          sv,
          req.sync(sv, {
            group,
            generation: first.generation,
            memberId: first.memberId,
            instanceId: 'instance-1',
            assignments: [[first.memberId, Buffer.from('a1')]],
          }),
        ),
      ).error,
      0,
    );
    const hv = 4;
    assert.equal(readHeartbeat(hv, await request(c, 12, hv, req.heartbeat(hv, group, first.generation, first.memberId, 'instance-1'))), 0);
    assert.equal(
      readHeartbeat(hv, await request(c, 12, hv, req.heartbeat(hv, group, first.generation, first.memberId, 'instance-2'))),
      25,
      'an instance id the group does not know',
    );

    // The same instance restarts: it joins without its member id and takes the old one's place.
    const second = readJoin(v, await request(c, 11, v, req.join(v, { group, memberId: '', instanceId: 'instance-1' })));
    assert.equal(second.error, 0);
    assert.notEqual(second.memberId, first.memberId);
    assert.deepEqual(
      second.members.map((m) => [m.memberId, m.instanceId]),
      [[second.memberId, 'instance-1']],
    );
    assert.equal(
      readHeartbeat(hv, await request(c, 12, hv, req.heartbeat(hv, group, second.generation, first.memberId, 'instance-1'))),
      82,
      'the old member id is fenced',
    );
    assert.deepEqual(readCommit(8, await request(c, 8, 8, req.commit(8, group, second.generation, first.memberId, [[0, 5]], 'instance-1'))), [[0, 82]]);
    assert.equal(readJoin(v, await request(c, 11, v, req.join(v, { group, memberId: first.memberId, instanceId: 'instance-1' }))).error, 82);
    assert.equal(
      readSync(
        sv,
        await request(
          c,
          14,
          sv,
          req.sync(sv, {
            group,
            generation: second.generation,
            memberId: second.memberId,
            instanceId: 'instance-1',
            assignments: [[second.memberId, Buffer.from('a2')]],
          }),
        ),
      ).assignment,
      'a2',
    );
    const described = readDescribe(5, await request(c, 15, 5, req.describe(5, [group])))[0]!;
    assert.deepEqual(
      described.members.map((m) => [m.memberId, m.instanceId]),
      [[second.memberId, 'instance-1']],
    );

    // An administrator removes it by instance id (member id unknown).
    const left = readLeave(
      5,
      await request(
        c,
        13,
        5,
        req.leave(5, group, [
          ['', 'instance-1'],
          ['', 'instance-9'],
        ]),
      ),
    );
    assert.deepEqual(left, {
      error: 0,
      members: [
        { memberId: '', instanceId: 'instance-1', error: 0 },
        { memberId: '', instanceId: 'instance-9', error: 25 },
      ],
    });
    assert.equal(readDescribe(5, await request(c, 15, 5, req.describe(5, [group])))[0]!.state, 'Empty');
  }
  c.close();
});

test('a pending member (MEMBER_ID_REQUIRED) may leave before it rejoins; LeaveGroup on an unknown group answers each member UNKNOWN_MEMBER_ID', async () => {
  const c = await RawConnection.open(broker.port);
  const pending = readJoin(9, await request(c, 11, 9, req.join(9, { group: 'pending', memberId: '' }))).memberId;
  assert.deepEqual(readLeave(5, await request(c, 13, 5, req.leave(5, 'pending', [[pending, null]]))).members, [
    { memberId: pending, instanceId: null, error: 0 },
  ]);
  assert.equal(readJoin(9, await request(c, 11, 9, req.join(9, { group: 'pending', memberId: pending }))).error, 25, 'its id is no longer pending');
  assert.deepEqual(
    readLeave(
      5,
      await request(
        c,
        13,
        5,
        req.leave(5, 'never-seen', [
          ['m1', null],
          ['', 'i1'],
        ]),
      ),
    ),
    {
      error: 0,
      members: [
        { memberId: 'm1', instanceId: null, error: 25 },
        { memberId: '', instanceId: 'i1', error: 25 },
      ],
    },
  );
  assert.deepEqual(readLeave(1, await request(c, 13, 1, req.leave(1, 'never-seen', [['m1', null]]))), { error: 25, members: undefined });
  c.close();
});

test('InitProducerId v0-5 (flexible from v2): a new producer id at epoch 0 each time; v3+ an id without an epoch is INVALID_REQUEST; a transactional id keeps its id and bumps its epoch', async () => {
  const c = await RawConnection.open(broker.port);
  const read = (v: number, b: Buffer) => {
    const { r, f } = open(22, v, b);
    assert.equal(r.int32(), 0);
    const out = { error: r.int16(), producerId: r.int64n(), epoch: r.int16() };
    tags(r, f);
    done(r, `InitProducerId v${v}`);
    return out;
  };
  const ids = new Set<number>();
  const txnIds = new Set<number>();
  for (let v = 0; v <= 5; v++) {
    const got = read(v, await request(c, 22, v, req.initProducerId(v, null)));
    assert.equal(got.error, 0);
    assert.equal(got.epoch, 0);
    assert.ok(got.producerId >= 0);
    ids.add(got.producerId);
    if (v >= 3) {
      // An idempotent producer that resumes with its id and epoch still gets a new id (TransactionCoordinator.handleInitProducerId).
      const resumed = read(v, await request(c, 22, v, req.initProducerId(v, null, BigInt(got.producerId), 0)));
      assert.deepEqual({ error: resumed.error, epoch: resumed.epoch }, { error: 0, epoch: 0 });
      ids.add(resumed.producerId);
      assert.deepEqual(read(v, await request(c, 22, v, req.initProducerId(v, null, 5n, -1))), { error: 42, producerId: -1, epoch: -1 });
      assert.deepEqual(read(v, await request(c, 22, v, req.initProducerId(v, null, -1n, 3))), { error: 42, producerId: -1, epoch: -1 });
    }
    // A transactional id keeps its producer id and the epoch goes up by one each time (transactions.ts).
    const txn = read(v, await request(c, 22, v, req.initProducerId(v, 'txn-1')));
    assert.equal(txn.error, 0);
    assert.equal(txn.epoch, v);
    txnIds.add(txn.producerId);
  }
  assert.equal(txnIds.size, 1, 'one producer id for the transactional id');
  assert.equal(ids.size, 6 + 3, 'every answer a new producer id');
  assert.ok(![...txnIds].some((id) => ids.has(id)));
  c.close();
});

/** A small seeded generator, so a failure names the case that reproduces it. */
test('generated malformed frames of every group API version (truncated anywhere, lengths and counts overclaimed) close only their connection', async () => {
  const bodies: [number, number, Buffer][] = [];
  for (let v = 0; v <= 6; v++) bodies.push([10, v, req.findCoordinator(v, ['fz-a', 'fz-b'])]);
  for (let v = 0; v <= 9; v++) bodies.push([11, v, req.join(v, { group: 'fuzz', memberId: 'fz-member', instanceId: v >= 5 ? 'fz-instance' : null })]);
  for (let v = 0; v <= 5; v++)
    bodies.push([14, v, req.sync(v, { group: 'fuzz', generation: 1, memberId: 'fz-member', assignments: [['fz-member', Buffer.from('x')]] })]);
  for (let v = 0; v <= 4; v++) bodies.push([12, v, req.heartbeat(v, 'fuzz', 1, 'fz-member')]);
  for (let v = 0; v <= 5; v++) bodies.push([13, v, req.leave(v, 'fuzz', [['fz-member', null]])]);
  for (let v = 0; v <= 9; v++) bodies.push([8, v, req.commit(v, 'fuzz', 1, 'fz-member', [[0, 1]])]);
  for (let v = 0; v <= 9; v++) bodies.push([9, v, req.fetchOffsets(v, [['fuzz', [['gv', [0]]]]])]);
  for (let v = 0; v <= 5; v++) bodies.push([15, v, req.describe(v, ['fuzz'])]);
  for (let v = 3; v <= 5; v++) bodies.push([16, v, req.list(v, ['Stable'], v >= 5 ? ['classic'] : [])]);
  for (let v = 0; v <= 5; v++) bodies.push([22, v, req.initProducerId(v, null)]);

  const bystander = await RawConnection.open(broker.port);
  const rand = prng(22);
  let cases = 0;
  for (const [key, v, full] of bodies) {
    const f = flexible(key, v);
    const variants: [string, Buffer][] = [];
    // Every prefix is a request cut short: a field, a length or a tagged-field count is missing.
    const cuts = new Set<number>([0, 1, full.length - 1]);
    while (cuts.size < Math.min(full.length, 8)) cuts.add(Math.floor(rand() * full.length));
    for (const n of cuts) variants.push([`cut at ${n} of ${full.length}`, full.subarray(0, n)]);
    // The first field (a string, or FindCoordinator v4+'s key array after key_type) claims more than the frame holds.
    const at = key === 10 && v >= 1 ? (v >= 4 ? 1 : 0) : 0;
    const claim = new Writer();
    if (f) claim.uvarint(0x0fff_ffff);
    else if (key === 10 && v >= 4) claim.int32(0x7fff_ffff);
    else claim.int16(0x7fff);
    variants.push([
      'first length overclaimed',
      Buffer.concat([full.subarray(0, at), claim.toBuffer(), full.subarray(at + (f ? 1 : key === 10 && v >= 4 ? 4 : 2))]),
    ]);
    // Unknown tagged fields whose size runs past the end.
    // (every generated body ends with one unknown tagged field of 6 bytes: replaced by one whose size overclaims)
    if (f) variants.push(['tagged field past the end', Buffer.concat([full.subarray(0, full.length - 6), Buffer.from([1, 9, 0x7f, 0])])]);
    for (const [what, b] of variants) {
      cases++;
      const answer = await exchange(broker.port, frame(key, v, 7, b, f));
      assert.equal(answer, 'closed', `api ${key} v${v}: ${what} must close the connection`);
    }
  }
  assert.ok(cases > 400, `${cases} malformed frames`);
  // The connection open through all of it still gets answers.
  const listed = readList(3, await request(bystander, 16, 3, req.list(3)));
  assert.equal(listed.error, 0);
  bystander.close();
});

test('kafkajs (its own versions) still forms a group, consumes and commits', async () => {
  const kafka = new Kafka({ brokers: [broker.address], clientId: 'kjs', logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'gv', messages: Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: `v${i}` })) });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'kjs-group', sessionTimeout: 10_000, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'gv', fromBeginning: true });
  const seen = new Set<string>();
  await consumer.run({ eachMessage: async ({ message }) => void seen.add(message.value!.toString()) });
  while (seen.size < 20) await new Promise((r) => setTimeout(r, 20));
  await consumer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  const offsets = (await admin.fetchOffsets({ groupId: 'kjs-group', topics: ['gv'] }))[0]!.partitions;
  assert.deepEqual(offsets.map((p) => p.offset).sort(), ['10', '10']);
  const described = (await admin.describeGroups(['kjs-group'])).groups[0]!;
  assert.equal(described.state, 'Empty');
  assert.ok((await admin.listGroups()).groups.some((g) => g.groupId === 'kjs-group'));
  await admin.disconnect();
});
