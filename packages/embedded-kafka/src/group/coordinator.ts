/**
 * The group coordinator: Kafka's classic consumer group protocol (JoinGroup / SyncGroup /
 * Heartbeat / LeaveGroup) and committed offsets, for one broker.
 *
 * States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable (-> PreparingRebalance ...).
 * A rebalance completes as soon as every known member has rejoined, or when the rebalance timeout
 * expires (members that did not rejoin are removed). Members that miss their session timeout are
 * removed and trigger a rebalance. Generation ids fence stale members: their heartbeats and
 * commits get ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID.
 * As Kafka 3.9's GroupCoordinator: a dynamic member joining with JoinGroup v4+ and no member id
 * gets MEMBER_ID_REQUIRED with an id to rejoin with (a pending member until then, for one session
 * timeout); a static member (group_instance_id, KIP-345) gets its id at once, and one that joins
 * again without its member id replaces the old one, whose requests then get FENCED_INSTANCE_ID.
 * Unlike Kafka, that replacement always rebalances (Kafka hands a Stable group's static member its
 * old assignment without one).
 * Persisted (groups.json): committed offsets and each group's generation, so a restarted broker
 * never hands out an old generation again. Membership is not persisted: members rejoin.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ErrorCode } from '../errors.js';
import { readJson, writeFileAtomic } from '../storage/durable-file.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  /** The group's protocol type (JoinGroup v7+), '' on an error. */
  protocolType: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  assignment: Buffer;
  protocolType: string | null;
  protocolName: string | null;
}

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
}

interface Member {
  id: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeout: number;
  rebalanceTimeout: number;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  lastHeartbeat: number;
  join?: (r: JoinResult) => void;
  sync?: (r: SyncResult) => void;
}

interface Group {
  id: string;
  state: GroupState;
  generation: number;
  protocolType: string;
  protocol: string;
  leader: string;
  members: Map<string, Member>;
  /** Member ids handed out with MEMBER_ID_REQUIRED, with the time they expire. */
  pending: Map<string, number>;
  /** group_instance_id -> member id of the static members. */
  statics: Map<string, string>;
  timer?: NodeJS.Timeout;
  offsets: Map<string, CommittedOffset>;
}

interface Persisted {
  [group: string]: { generation: number; protocolType: string; offsets: Record<string, { offset: number; leaderEpoch?: number; metadata: string | null }> };
}

export interface CoordinatorOptions {
  dir: string;
  fsync: boolean;
  /** Wait this long for more members when a group forms (Kafka: group.initial.rebalance.delay.ms). */
  initialRebalanceDelayMs: number;
  /** JoinGroup's session timeout must be within these (Kafka: group.min/max.session.timeout.ms), else INVALID_SESSION_TIMEOUT. */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  now?: () => number;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly file: string;
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly opts: CoordinatorOptions) {
    this.file = path.join(opts.dir, 'groups.json');
    this.now = opts.now ?? Date.now;
    const saved = readJson<Persisted>(this.file, {});
    for (const [id, g] of Object.entries(saved)) {
      const group = this.group(id);
      group.generation = g.generation;
      group.protocolType = g.protocolType;
      for (const [k, v] of Object.entries(g.offsets)) group.offsets.set(k, { offset: v.offset, leaderEpoch: v.leaderEpoch ?? -1, metadata: v.metadata });
    }
    this.sweeper = setInterval(() => this.expireSessions(), 250);
    this.sweeper.unref();
  }

  private group(id: string): Group {
    let g = this.groups.get(id);
    if (!g) {
      g = {
        id,
        state: 'Empty',
        generation: 0,
        protocolType: '',
        protocol: '',
        leader: '',
        members: new Map(),
        pending: new Map(),
        statics: new Map(),
        offsets: new Map(),
      };
      this.groups.set(id, g);
    }
    return g;
  }

  private persist(): void {
    const out: Persisted = {};
    for (const g of this.groups.values()) {
      if (g.offsets.size === 0 && g.generation === 0) continue;
      out[g.id] = { generation: g.generation, protocolType: g.protocolType, offsets: Object.fromEntries(g.offsets) };
    }
    writeFileAtomic(this.file, JSON.stringify(out), this.opts.fsync);
  }

  join(req: {
    groupId: string;
    memberId: string;
    groupInstanceId: string | null;
    /** JoinGroup v4+: a dynamic member without an id is asked to rejoin with one (MEMBER_ID_REQUIRED). */
    requireKnownMemberId: boolean;
    clientId: string;
    clientHost: string;
    sessionTimeout: number;
    rebalanceTimeout: number;
    protocolType: string;
    protocols: { name: string; metadata: Buffer }[];
  }): Promise<JoinResult> {
    const fail = (errorCode: number, memberId = req.memberId): Promise<JoinResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolName: '', leader: '', memberId, protocolType: '', members: [] });
    if (!req.groupId) return fail(ErrorCode.INVALID_GROUP_ID);
    if (req.sessionTimeout < this.opts.minSessionTimeoutMs || req.sessionTimeout > this.opts.maxSessionTimeoutMs)
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    // Kafka creates a group only for a join without a member id.
    if (req.memberId && !this.groups.has(req.groupId)) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    const g = this.group(req.groupId);
    if (g.members.size > 0 && g.protocolType !== req.protocolType) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (req.protocols.length === 0) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (g.members.size > 0 && !req.protocols.some((p) => [...g.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)))) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    let member: Member | undefined;
    const newMember = (id: string): Member => {
      const m: Member = {
        id,
        groupInstanceId: req.groupInstanceId,
        clientId: req.clientId,
        clientHost: req.clientHost,
        sessionTimeout: 0,
        rebalanceTimeout: 0,
        protocols: [],
        assignment: Buffer.alloc(0),
        lastHeartbeat: 0,
      };
      g.members.set(id, m);
      return m;
    };
    if (!req.memberId) {
      const id = `${req.groupInstanceId ?? req.clientId}-${randomUUID()}`;
      if (req.groupInstanceId !== null) {
        const oldId = g.statics.get(req.groupInstanceId);
        const old = oldId === undefined ? undefined : g.members.get(oldId);
        member = newMember(id);
        if (old) {
          // The new instance takes the old one's place; the old member id is fenced from now on.
          g.members.delete(old.id);
          member.assignment = old.assignment;
          if (g.leader === old.id) g.leader = id;
          old.join?.(this.joinError(ErrorCode.FENCED_INSTANCE_ID, old.id));
          old.join = undefined;
          old.sync?.({ errorCode: ErrorCode.FENCED_INSTANCE_ID, assignment: Buffer.alloc(0), protocolType: null, protocolName: null });
          old.sync = undefined;
        }
        g.statics.set(req.groupInstanceId, id);
      } else if (req.requireKnownMemberId) {
        g.pending.set(id, this.now() + req.sessionTimeout);
        return fail(ErrorCode.MEMBER_ID_REQUIRED, id);
      } else member = newMember(id);
    } else if (g.pending.has(req.memberId) && req.groupInstanceId === null) {
      g.pending.delete(req.memberId);
      member = newMember(req.memberId);
    } else {
      const error = this.validateMember(g, req.memberId, req.groupInstanceId);
      if (error !== ErrorCode.NONE) return fail(error);
      member = g.members.get(req.memberId)!;
    }
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    member.sessionTimeout = req.sessionTimeout;
    member.rebalanceTimeout = req.rebalanceTimeout;
    member.protocols = req.protocols;
    member.lastHeartbeat = this.now();
    g.protocolType = req.protocolType;
    const m = member;
    const result = new Promise<JoinResult>((resolve) => {
      m.join?.(this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, m.id));
      m.join = resolve;
    });
    if (g.state !== 'PreparingRebalance') this.prepareRebalance(g);
    else this.maybeCompleteJoin(g);
    return result;
  }

  private joinError(errorCode: number, memberId: string): JoinResult {
    return { errorCode, generationId: -1, protocolName: '', leader: '', memberId, protocolType: '', members: [] };
  }

  /** Kafka's validateCurrentMember: a static member's instance id must map to this member id; the member must exist. */
  private validateMember(g: Group, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = g.statics.get(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    return g.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private prepareRebalance(g: Group): void {
    const wasEmpty = g.state === 'Empty';
    g.state = 'PreparingRebalance';
    for (const m of g.members.values()) {
      m.sync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: Buffer.alloc(0), protocolType: null, protocolName: null });
      m.sync = undefined;
    }
    clearTimeout(g.timer);
    const timeout = Math.max(0, ...[...g.members.values()].map((m) => m.rebalanceTimeout));
    g.timer = setTimeout(() => this.completeJoin(g, true), timeout);
    g.timer.unref();
    if (wasEmpty) {
      // A forming group waits a moment for its other members before the first generation.
      const t = setTimeout(() => this.maybeCompleteJoin(g), this.opts.initialRebalanceDelayMs);
      t.unref?.();
    } else this.maybeCompleteJoin(g);
  }

  private maybeCompleteJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance') return;
    if ([...g.members.values()].every((m) => m.join)) this.completeJoin(g, false);
  }

  private completeJoin(g: Group, timedOut: boolean): void {
    if (g.state !== 'PreparingRebalance') return;
    clearTimeout(g.timer);
    g.timer = undefined;
    if (timedOut) for (const m of [...g.members.values()]) if (!m.join) g.members.delete(m.id);
    g.generation++;
    if (g.members.size === 0) {
      g.state = 'Empty';
      g.protocol = '';
      g.leader = '';
      this.persist();
      return;
    }
    const members = [...g.members.values()];
    if (!g.members.has(g.leader)) g.leader = members[0]!.id;
    const leader = g.members.get(g.leader)!;
    g.protocol = leader.protocols.find((p) => members.every((m) => m.protocols.some((q) => q.name === p.name)))?.name ?? leader.protocols[0]?.name ?? '';
    g.state = 'CompletingRebalance';
    const now = this.now();
    for (const m of members) {
      m.lastHeartbeat = now;
      m.assignment = Buffer.alloc(0);
      const resolve = m.join!;
      m.join = undefined;
      resolve({
        errorCode: ErrorCode.NONE,
        generationId: g.generation,
        protocolName: g.protocol,
        leader: g.leader,
        memberId: m.id,
        protocolType: g.protocolType,
        members:
          m.id === g.leader
            ? members.map((x) => ({
                memberId: x.id,
                groupInstanceId: x.groupInstanceId,
                metadata: x.protocols.find((p) => p.name === g.protocol)?.metadata ?? Buffer.alloc(0),
              }))
            : [],
      });
    }
    this.persist();
  }

  sync(req: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId: string | null;
    /** SyncGroup v5+: checked against the group's when given (KIP-559). */
    protocolType: string | null;
    protocolName: string | null;
    assignments: { memberId: string; assignment: Buffer }[];
  }): Promise<SyncResult> {
    const g = this.groups.get(req.groupId);
    const fail = (errorCode: number): Promise<SyncResult> =>
      Promise.resolve({ errorCode, assignment: Buffer.alloc(0), protocolType: null, protocolName: null });
    if (!g) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    const error = this.validateMember(g, req.memberId, req.groupInstanceId);
    if (error !== ErrorCode.NONE) return fail(error);
    const m = g.members.get(req.memberId)!;
    if (req.generationId !== g.generation) return fail(ErrorCode.ILLEGAL_GENERATION);
    if (req.protocolType !== null && req.protocolType !== g.protocolType) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (req.protocolName !== null && req.protocolName !== g.protocol) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (g.state === 'PreparingRebalance') return fail(ErrorCode.REBALANCE_IN_PROGRESS);
    m.lastHeartbeat = this.now();
    const ok = (x: Member): SyncResult => ({ errorCode: ErrorCode.NONE, assignment: x.assignment, protocolType: g.protocolType, protocolName: g.protocol });
    if (g.state === 'Stable') return Promise.resolve(ok(m));
    const result = new Promise<SyncResult>((resolve) => {
      m.sync = resolve;
    });
    if (m.id === g.leader) {
      for (const a of req.assignments) {
        const target = g.members.get(a.memberId);
        if (target) target.assignment = a.assignment;
      }
      g.state = 'Stable';
      for (const x of g.members.values()) {
        x.sync?.(ok(x));
        x.sync = undefined;
      }
    }
    return result;
  }

  heartbeat(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null = null): number {
    const g = this.groups.get(groupId);
    if (!g) return ErrorCode.UNKNOWN_MEMBER_ID;
    const error = this.validateMember(g, memberId, groupInstanceId);
    if (error !== ErrorCode.NONE) return error;
    const m = g.members.get(memberId)!;
    m.lastHeartbeat = this.now();
    if (generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
    if (g.state === 'PreparingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /**
   * LeaveGroup (v3+ batches members), as Kafka's handleLeaveGroup: each member by id, or a static
   * member by instance id alone (an administrative removal); an unknown group answers every member
   * UNKNOWN_MEMBER_ID.
   */
  leave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[]): number[] {
    const g = this.groups.get(groupId);
    return members.map(({ memberId, groupInstanceId }) => {
      if (!g) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (!memberId) {
        const current = groupInstanceId === null ? undefined : g.statics.get(groupInstanceId);
        const m = current === undefined ? undefined : g.members.get(current);
        if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
        this.removeMember(g, m);
        return ErrorCode.NONE;
      }
      if (g.pending.delete(memberId)) return ErrorCode.NONE;
      const error = this.validateMember(g, memberId, groupInstanceId);
      if (error !== ErrorCode.NONE) return error;
      this.removeMember(g, g.members.get(memberId)!);
      return ErrorCode.NONE;
    });
  }

  private removeMember(g: Group, m: Member): void {
    g.members.delete(m.id);
    if (m.groupInstanceId !== null && g.statics.get(m.groupInstanceId) === m.id) g.statics.delete(m.groupInstanceId);
    m.join?.(this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, m.id));
    m.sync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: Buffer.alloc(0), protocolType: null, protocolName: null });
    if (g.state === 'PreparingRebalance') {
      this.maybeCompleteJoin(g);
      if (g.members.size === 0) this.completeJoin(g, true);
    } else if (g.members.size === 0) {
      clearTimeout(g.timer);
      g.state = 'Empty';
      g.generation++;
      g.leader = '';
      g.protocol = '';
      this.persist();
    } else this.prepareRebalance(g);
  }

  private expireSessions(): void {
    const now = this.now();
    for (const g of this.groups.values()) {
      for (const [id, deadline] of [...g.pending]) if (now > deadline) g.pending.delete(id);
      for (const m of [...g.members.values()]) {
        // A member waiting in JoinGroup is alive; the rebalance timeout bounds that wait.
        if (!m.join && now - m.lastHeartbeat > m.sessionTimeout) this.removeMember(g, m);
      }
    }
  }

  /** Kafka's validateOffsetCommit: generation -1 into an empty group is an admin commit; else the member must be current. */
  commit(req: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId?: string | null;
    offsets: { topic: string; partition: number; offset: number; leaderEpoch?: number; metadata: string | null }[];
  }): number {
    const g = this.group(req.groupId);
    const instanceId = req.groupInstanceId ?? null;
    if (req.generationId < 0 && g.state === 'Empty') {
      // Nothing to check: admin tools and consumers that assign partitions themselves.
    } else if (req.generationId >= 0 || req.memberId || instanceId !== null) {
      const error = this.validateMember(g, req.memberId, instanceId);
      if (error !== ErrorCode.NONE) return error;
      const m = g.members.get(req.memberId)!;
      if (req.generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
      if (g.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
      m.lastHeartbeat = this.now();
    } else {
      // A commit without membership (admin tools) into a group with live members.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    for (const o of req.offsets) g.offsets.set(key(o.topic, o.partition), { offset: o.offset, leaderEpoch: o.leaderEpoch ?? -1, metadata: o.metadata });
    this.persist();
    return ErrorCode.NONE;
  }

  /**
   * TxnOffsetCommit v3+ (KIP-447): a member id or generation given must be the group's current
   * one (GroupCoordinator.validateTxnOffsetCommit); an admin-style request (-1, "") is not checked.
   */
  validateTxnMember(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number {
    if (generationId < 0 && !memberId && groupInstanceId === null) return ErrorCode.NONE;
    const g = this.groups.get(groupId);
    if (!g) return ErrorCode.ILLEGAL_GENERATION;
    const error = this.validateMember(g, memberId, groupInstanceId);
    if (error !== ErrorCode.NONE) return error;
    return generationId === g.generation ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
  }

  /** Offsets of a committed transaction, visible to the group from now on (no membership check: the commit is the coordinator's). */
  applyTxnOffsets(groupId: string, offsets: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }[]): void {
    if (offsets.length === 0) return;
    const g = this.group(groupId);
    for (const o of offsets) g.offsets.set(key(o.topic, o.partition), { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata });
    this.persist();
  }

  fetchOffset(groupId: string, topic: string, partition: number): CommittedOffset {
    return this.groups.get(groupId)?.offsets.get(key(topic, partition)) ?? { offset: -1, leaderEpoch: -1, metadata: null };
  }

  /** Every committed (topic, partition) of a group (OffsetFetch with a null topic list). */
  committedPartitions(groupId: string): { topic: string; partition: number }[] {
    const g = this.groups.get(groupId);
    return [...(g?.offsets.keys() ?? [])].map((k) => {
      const [topic, p] = k.split('\u0000');
      return { topic: topic!, partition: Number(p) };
    });
  }

  /**
   * DescribeGroups, as Kafka's GroupMetadata.summary: an unknown group is 'Dead'; the protocol and
   * each member's metadata and assignment only in the Stable state (empty otherwise).
   */
  describe(groupId: string) {
    const g = this.groups.get(groupId);
    type Described = { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer };
    if (!g) return { errorCode: ErrorCode.NONE, groupId, state: 'Dead', protocolType: '', protocol: '', members: [] as Described[] };
    const stable = g.state === 'Stable';
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: g.state,
      protocolType: g.protocolType,
      protocol: stable ? g.protocol : '',
      members: [...g.members.values()].map(
        (m): Described => ({
          memberId: m.id,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          metadata: stable ? (m.protocols.find((p) => p.name === g.protocol)?.metadata ?? Buffer.alloc(0)) : Buffer.alloc(0),
          assignment: stable ? m.assignment : Buffer.alloc(0),
        }),
      ),
    };
  }

  list(): { groupId: string; protocolType: string; state: GroupState }[] {
    return [...this.groups.values()]
      .filter((g) => g.members.size > 0 || g.offsets.size > 0)
      .map((g) => ({ groupId: g.id, protocolType: g.protocolType, state: g.state }));
  }

  /** Drops offsets of a deleted topic. */
  /** DeleteGroups: only a group without members (GroupCoordinator: NON_EMPTY_GROUP); unknown ids GROUP_ID_NOT_FOUND. */
  deleteGroup(groupId: string): number {
    const g = this.groups.get(groupId);
    if (!g || (g.members.size === 0 && g.offsets.size === 0 && g.generation === 0)) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (g.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    if (g.timer) clearTimeout(g.timer);
    this.groups.delete(groupId);
    this.persist();
    return ErrorCode.NONE;
  }

  forgetTopic(topic: string): void {
    let changed = false;
    for (const g of this.groups.values()) {
      for (const k of [...g.offsets.keys()]) {
        if (k.startsWith(`${topic}\u0000`)) {
          g.offsets.delete(k);
          changed = true;
        }
      }
    }
    if (changed) this.persist();
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const g of this.groups.values()) {
      clearTimeout(g.timer);
      for (const m of g.members.values()) {
        m.join?.(this.joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, m.id));
        m.sync?.({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, assignment: Buffer.alloc(0), protocolType: null, protocolName: null });
      }
    }
  }
}
