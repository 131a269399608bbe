/**
 * The group coordinator: Kafka's classic consumer group protocol (JoinGroup / SyncGroup /
 * Heartbeat / LeaveGroup) and committed offsets, for one broker.
 *
 * States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable (-> PreparingRebalance ...).
 * A rebalance completes as soon as every known member has rejoined, or when the rebalance timeout
 * expires (members that did not rejoin are removed). Members that miss their session timeout are
 * removed and trigger a rebalance. Generation ids fence stale members: their heartbeats and
 * commits get ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID.
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
  members: { memberId: string; metadata: Buffer }[];
}

interface Member {
  id: string;
  clientId: string;
  clientHost: string;
  sessionTimeout: number;
  rebalanceTimeout: number;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  lastHeartbeat: number;
  join?: (r: JoinResult) => void;
  sync?: (r: { errorCode: number; assignment: Buffer }) => void;
}

interface Group {
  id: string;
  state: GroupState;
  generation: number;
  protocolType: string;
  protocol: string;
  leader: string;
  members: Map<string, Member>;
  timer?: NodeJS.Timeout;
  offsets: Map<string, { offset: number; metadata: string | null }>;
}

interface Persisted {
  [group: string]: { generation: number; protocolType: string; offsets: Record<string, { offset: number; metadata: string | null }> };
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
      for (const [k, v] of Object.entries(g.offsets)) group.offsets.set(k, v);
    }
    this.sweeper = setInterval(() => this.expireSessions(), 250);
    this.sweeper.unref();
  }

  private group(id: string): Group {
    let g = this.groups.get(id);
    if (!g) {
      g = { id, state: 'Empty', generation: 0, protocolType: '', protocol: '', leader: '', members: new Map(), offsets: new Map() };
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
    clientId: string;
    clientHost: string;
    sessionTimeout: number;
    rebalanceTimeout: number;
    protocolType: string;
    protocols: { name: string; metadata: Buffer }[];
  }): Promise<JoinResult> {
    const fail = (errorCode: number): Promise<JoinResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolName: '', leader: '', memberId: req.memberId, members: [] });
    if (!req.groupId) return fail(ErrorCode.INVALID_GROUP_ID);
    if (req.sessionTimeout < this.opts.minSessionTimeoutMs || req.sessionTimeout > this.opts.maxSessionTimeoutMs) return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    const g = this.group(req.groupId);
    if (g.members.size > 0 && g.protocolType !== req.protocolType) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (g.members.size > 0 && !req.protocols.some((p) => [...g.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)))) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    let member: Member | undefined;
    if (req.memberId) {
      member = g.members.get(req.memberId);
      if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    } else {
      member = { id: `${req.clientId}-${randomUUID()}`, clientId: req.clientId, clientHost: req.clientHost, sessionTimeout: 0, rebalanceTimeout: 0, protocols: [], assignment: Buffer.alloc(0), lastHeartbeat: 0 };
      g.members.set(member.id, member);
    }
    member.sessionTimeout = req.sessionTimeout;
    member.rebalanceTimeout = req.rebalanceTimeout;
    member.protocols = req.protocols;
    member.lastHeartbeat = this.now();
    g.protocolType = req.protocolType;
    const m = member;
    const result = new Promise<JoinResult>((resolve) => {
      m.join?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, generationId: -1, protocolName: '', leader: '', memberId: m.id, members: [] });
      m.join = resolve;
    });
    if (g.state !== 'PreparingRebalance') this.prepareRebalance(g);
    else this.maybeCompleteJoin(g);
    return result;
  }

  private prepareRebalance(g: Group): void {
    const wasEmpty = g.state === 'Empty';
    g.state = 'PreparingRebalance';
    for (const m of g.members.values()) {
      m.sync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: Buffer.alloc(0) });
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
        members: m.id === g.leader ? members.map((x) => ({ memberId: x.id, metadata: x.protocols.find((p) => p.name === g.protocol)?.metadata ?? Buffer.alloc(0) })) : [],
      });
    }
    this.persist();
  }

  sync(req: { groupId: string; generationId: number; memberId: string; assignments: { memberId: string; assignment: Buffer }[] }): Promise<{ errorCode: number; assignment: Buffer }> {
    const g = this.groups.get(req.groupId);
    const m = g?.members.get(req.memberId);
    const fail = (errorCode: number) => Promise.resolve({ errorCode, assignment: Buffer.alloc(0) });
    if (!g || !m) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (req.generationId !== g.generation) return fail(ErrorCode.ILLEGAL_GENERATION);
    if (g.state === 'PreparingRebalance') return fail(ErrorCode.REBALANCE_IN_PROGRESS);
    m.lastHeartbeat = this.now();
    if (g.state === 'Stable') return Promise.resolve({ errorCode: ErrorCode.NONE, assignment: m.assignment });
    const result = new Promise<{ errorCode: number; assignment: Buffer }>((resolve) => {
      m.sync = resolve;
    });
    if (m.id === g.leader) {
      for (const a of req.assignments) {
        const target = g.members.get(a.memberId);
        if (target) target.assignment = a.assignment;
      }
      g.state = 'Stable';
      for (const x of g.members.values()) {
        x.sync?.({ errorCode: ErrorCode.NONE, assignment: x.assignment });
        x.sync = undefined;
      }
    }
    return result;
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const g = this.groups.get(groupId);
    const m = g?.members.get(memberId);
    if (!g || !m) return ErrorCode.UNKNOWN_MEMBER_ID;
    m.lastHeartbeat = this.now();
    if (generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
    if (g.state === 'PreparingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  leave(groupId: string, memberId: string): number {
    const g = this.groups.get(groupId);
    const m = g?.members.get(memberId);
    if (!g || !m) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(g, m);
    return ErrorCode.NONE;
  }

  private removeMember(g: Group, m: Member): void {
    g.members.delete(m.id);
    m.join?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, generationId: -1, protocolName: '', leader: '', memberId: m.id, members: [] });
    m.sync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: Buffer.alloc(0) });
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
      for (const m of [...g.members.values()]) {
        // A member waiting in JoinGroup is alive; the rebalance timeout bounds that wait.
        if (!m.join && now - m.lastHeartbeat > m.sessionTimeout) this.removeMember(g, m);
      }
    }
  }

  commit(req: { groupId: string; generationId: number; memberId: string; offsets: { topic: string; partition: number; offset: number; metadata: string | null }[] }): number {
    const g = this.group(req.groupId);
    if (req.generationId >= 0 || req.memberId) {
      const m = g.members.get(req.memberId);
      if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (req.generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
      if (g.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
      m.lastHeartbeat = this.now();
    } else if (g.members.size > 0) {
      // A commit without membership (admin tools) into a group with live members.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    for (const o of req.offsets) g.offsets.set(key(o.topic, o.partition), { offset: o.offset, metadata: o.metadata });
    this.persist();
    return ErrorCode.NONE;
  }

  fetchOffset(groupId: string, topic: string, partition: number): { offset: number; metadata: string | null } {
    return this.groups.get(groupId)?.offsets.get(key(topic, partition)) ?? { offset: -1, metadata: null };
  }

  /** Every committed (topic, partition) of a group (OffsetFetch with a null topic list). */
  committedPartitions(groupId: string): { topic: string; partition: number }[] {
    const g = this.groups.get(groupId);
    return [...(g?.offsets.keys() ?? [])].map((k) => {
      const [topic, p] = k.split('\u0000');
      return { topic: topic!, partition: Number(p) };
    });
  }

  describe(groupId: string) {
    const g = this.groups.get(groupId);
    if (!g) return { errorCode: ErrorCode.NONE, groupId, state: 'Dead', protocolType: '', protocol: '', members: [] as { memberId: string; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }[] };
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: g.state,
      protocolType: g.protocolType,
      protocol: g.protocol,
      members: [...g.members.values()].map((m) => ({
        memberId: m.id,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: m.protocols.find((p) => p.name === g.protocol)?.metadata ?? Buffer.alloc(0),
        assignment: m.assignment,
      })),
    };
  }

  list(): { groupId: string; protocolType: string }[] {
    return [...this.groups.values()].filter((g) => g.members.size > 0 || g.offsets.size > 0).map((g) => ({ groupId: g.id, protocolType: g.protocolType || 'consumer' }));
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
        m.join?.({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, generationId: -1, protocolName: '', leader: '', memberId: m.id, members: [] });
        m.sync?.({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, assignment: Buffer.alloc(0) });
      }
    }
  }
}
