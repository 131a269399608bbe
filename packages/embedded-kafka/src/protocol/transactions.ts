/**
 * Transactions (KIP-98), as Kafka 3.9's TransactionCoordinator serves them on one broker.
 *
 * InitProducerId (22) with a transactional id: see topics-admin.ts, which hands it to initTransactional() below.
 * AddPartitionsToTxn (24) v0-3, flexible 3+ (v4-5 are broker-to-broker batches: not served)
 *   Request:  transactional_id STRING, producer_id INT64, producer_epoch INT16, [topics: name STRING, [partitions INT32]]
 *   Response: throttle_time_ms INT32, [results: name STRING, [partition_index INT32, partition_error_code INT16]]
 * AddOffsetsToTxn (25) v0-4, flexible 3+
 *   Request:  transactional_id STRING, producer_id INT64, producer_epoch INT16, group_id STRING
 *   Response: throttle_time_ms INT32, error_code INT16
 * EndTxn (26) v0-4, flexible 3+
 *   Request:  transactional_id STRING, producer_id INT64, producer_epoch INT16, committed BOOL
 *   Response: throttle_time_ms INT32, error_code INT16
 * TxnOffsetCommit (28) v0-4, flexible 3+
 *   Request:  transactional_id STRING, group_id STRING, producer_id INT64, producer_epoch INT16,
 *             v3+ generation_id INT32, member_id STRING, group_instance_id NULLABLE_STRING,
 *             [topics: name STRING, [partitions: partition_index INT32, committed_offset INT64,
 *              v2+ committed_leader_epoch INT32, committed_metadata NULLABLE_STRING]]
 *   Response: throttle_time_ms INT32, [topics: name STRING, [partitions: partition_index INT32, error_code INT16]]
 *
 * The state machine (TransactionMetadata): Empty -> Ongoing (first AddPartitions / AddOffsets) ->
 * PrepareCommit | PrepareAbort -> CompleteCommit | CompleteAbort -> Ongoing ... Markers are written
 * at once (one broker: no marker channel), so Prepare* lasts only across a crash.
 * Checks, in Kafka's order: an unknown transactional id or another producer id is
 * INVALID_PRODUCER_ID_MAPPING; another epoch is PRODUCER_FENCED, answered INVALID_PRODUCER_EPOCH to
 * the request versions from before KIP-588 (AddPartitionsToTxn / AddOffsetsToTxn / EndTxn /
 * TxnOffsetCommit v0-1, InitProducerId v0-3), as KafkaApis maps it. EndTxn outside a transaction is
 * INVALID_TXN_STATE, except a retry of the decision just made (NONE). InitProducerId bumps the
 * epoch (a new producer id when it would pass 32,767) and aborts a transaction left open, fencing
 * the older producer. A transaction open longer than its transaction.timeout.ms is aborted with
 * the epoch bumped (the producer is fenced, as Kafka 2.5+), checked every
 * transactionAbortTimedOutTransactionCleanupIntervalMs (Kafka's
 * transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s). TxnOffsetCommit offsets are
 * held by the transaction and reach the group only when it commits.
 * Produce (transactional batches): the producer id and epoch must be the transactional id's and
 * the partition added to the ongoing transaction (KIP-890 part 1's verification, on by default in
 * 3.9), else INVALID_PRODUCER_EPOCH (an older epoch), INVALID_PRODUCER_ID_MAPPING or INVALID_TXN_STATE.
 */
import type { Logger } from '@jwt-audit/runtime';
import { ErrorCode } from '../errors.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import type { TopicStore } from '../storage/topic-store.js';
import { partitionKey, splitPartitionKey, TransactionLog, type TxnMetadata } from '../storage/transaction-state.js';
import type { ApiDefinition } from './context.js';

export interface TransactionOptions {
  dir: string;
  fsync: boolean;
  topics: TopicStore;
  groups: GroupCoordinator;
  nextProducerId: () => number;
  notifyAppend: () => void;
  logger: Logger;
  /** Kafka: transaction.max.timeout.ms (900,000 = 15 min). */
  maxTimeoutMs: number;
  /** Kafka: transaction.abort.timed.out.transaction.cleanup.interval.ms (10,000). */
  abortTimedOutIntervalMs: number;
  now?: () => number;
}

const MAX_EPOCH = 32_767;

export class TransactionCoordinator {
  private readonly log: TransactionLog;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly opts: TransactionOptions) {
    this.now = opts.now ?? Date.now;
    this.log = new TransactionLog(opts.dir, opts.fsync);
    // Finish what a crash interrupted between the Prepare* record and the markers.
    for (const [id, m] of this.log.txns) {
      if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort') {
        opts.logger.info({ transactionalId: id, state: m.state }, 'completing a transaction the broker stopped in');
        this.complete(id, m, m.state === 'PrepareCommit', true);
      }
    }
    this.timer = setInterval(() => this.abortTimedOut(), Math.max(10, opts.abortTimedOutIntervalMs));
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** InitProducerId with a transactional id: [error, producerId, epoch]. */
  initTransactional(
    transactionalId: string,
    timeoutMs: number,
    producerId: number,
    producerEpoch: number,
  ): { error: number; producerId: number; producerEpoch: number } {
    const fail = (error: number) => ({ error, producerId: -1, producerEpoch: -1 });
    if (!transactionalId) return fail(ErrorCode.INVALID_REQUEST);
    if (timeoutMs <= 0 || timeoutMs > this.opts.maxTimeoutMs) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    let m = this.log.txns.get(transactionalId);
    if (!m) {
      m = { producerId: this.opts.nextProducerId(), producerEpoch: 0, timeoutMs, state: 'Empty', startedAt: -1, partitions: [], groups: [], offsets: {} };
      this.log.txns.set(transactionalId, m);
      this.log.persist();
      return { error: ErrorCode.NONE, producerId: m.producerId, producerEpoch: 0 };
    }
    // KIP-360: a producer that says who it was must be the current one.
    if (producerId >= 0 && (producerId !== m.producerId || producerEpoch !== m.producerEpoch)) return fail(ErrorCode.PRODUCER_FENCED);
    this.bumpEpoch(m);
    if (m.state === 'Ongoing') {
      this.opts.logger.info({ transactionalId, producerId: m.producerId }, 'open transaction aborted: a new producer initialised the transactional id');
      this.complete(transactionalId, m, false, false);
    }
    m.timeoutMs = timeoutMs;
    m.state = 'Empty';
    this.log.persist();
    return { error: ErrorCode.NONE, producerId: m.producerId, producerEpoch: m.producerEpoch };
  }

  private bumpEpoch(m: TxnMetadata): void {
    if (m.producerEpoch >= MAX_EPOCH - 1) {
      m.producerId = this.opts.nextProducerId();
      m.producerEpoch = 0;
    } else m.producerEpoch++;
  }

  private check(transactionalId: string, producerId: number, producerEpoch: number): { error: number; m?: TxnMetadata } {
    const m = this.log.txns.get(transactionalId);
    if (!m || m.producerId !== producerId) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
    if (m.producerEpoch !== producerEpoch) return { error: ErrorCode.PRODUCER_FENCED };
    if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort') return { error: ErrorCode.CONCURRENT_TRANSACTIONS };
    return { error: ErrorCode.NONE, m };
  }

  private begin(m: TxnMetadata): void {
    if (m.state !== 'Ongoing') {
      m.state = 'Ongoing';
      m.startedAt = this.now();
      m.partitions = [];
      m.groups = [];
      m.offsets = {};
    }
  }

  addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    topics: { name: string; partitions: number[] }[],
  ): { error: number; partitions?: Map<string, number> } {
    const { error, m } = this.check(transactionalId, producerId, producerEpoch);
    if (!m) return { error };
    const results = new Map<string, number>();
    let unknown = false;
    for (const t of topics) {
      for (const p of t.partitions) {
        const known = this.opts.topics.topics.get(t.name)?.logs[p] !== undefined;
        if (!known) unknown = true;
        results.set(partitionKey(t.name, p), known ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
    }
    // AddPartitionsToTxnRequest: one bad partition and the rest are not attempted.
    if (unknown) {
      for (const [k, e] of results) if (e === ErrorCode.NONE) results.set(k, ErrorCode.OPERATION_NOT_ATTEMPTED);
      return { error: ErrorCode.NONE, partitions: results };
    }
    this.begin(m);
    const have = new Set(m.partitions);
    for (const k of results.keys()) if (!have.has(k)) m.partitions.push(k);
    this.log.persist();
    return { error: ErrorCode.NONE, partitions: results };
  }

  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): number {
    if (!groupId) return ErrorCode.INVALID_GROUP_ID;
    const { error, m } = this.check(transactionalId, producerId, producerEpoch);
    if (!m) return error;
    this.begin(m);
    if (!m.groups.includes(groupId)) m.groups.push(groupId);
    this.log.persist();
    return ErrorCode.NONE;
  }

  txnOffsetCommit(req: {
    transactionalId: string;
    groupId: string;
    producerId: number;
    producerEpoch: number;
    generationId: number;
    memberId: string;
    groupInstanceId: string | null;
    offsets: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }[];
  }): number {
    const { error, m } = this.check(req.transactionalId, req.producerId, req.producerEpoch);
    if (!m) return error === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : error;
    if (m.state !== 'Ongoing' || !m.groups.includes(req.groupId)) return ErrorCode.INVALID_TXN_STATE;
    const member = this.opts.groups.validateTxnMember(req.groupId, req.generationId, req.memberId, req.groupInstanceId);
    if (member !== ErrorCode.NONE) return member;
    const pending = (m.offsets[req.groupId] ??= {});
    for (const o of req.offsets) pending[partitionKey(o.topic, o.partition)] = { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata };
    this.log.persist();
    return ErrorCode.NONE;
  }

  endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): number {
    const { error, m } = this.check(transactionalId, producerId, producerEpoch);
    if (!m) return error;
    if (m.state === 'CompleteCommit') return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
    if (m.state === 'CompleteAbort') return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
    if (m.state !== 'Ongoing') return ErrorCode.INVALID_TXN_STATE;
    this.complete(transactionalId, m, commit, false);
    return ErrorCode.NONE;
  }

  /** Produce with a transactional id: may this producer write a transactional batch to this partition now? */
  checkProduce(transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): number {
    const m = this.log.txns.get(transactionalId);
    if (!m || m.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (producerEpoch < m.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (producerEpoch > m.producerEpoch) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (m.state !== 'Ongoing' || !m.partitions.includes(partitionKey(topic, partition))) return ErrorCode.INVALID_TXN_STATE;
    return ErrorCode.NONE;
  }

  /** True while a transaction holds an offset for this group partition (OffsetFetch require_stable). */
  hasPendingOffset(groupId: string, topic: string, partition: number): boolean {
    const k = partitionKey(topic, partition);
    for (const m of this.log.txns.values()) if (m.state === 'Ongoing' && m.offsets[groupId]?.[k]) return true;
    return false;
  }

  /** Prepare, write the markers, apply the offsets (commit), complete: each step persisted before the next. */
  private complete(transactionalId: string, m: TxnMetadata, commit: boolean, recovering: boolean): void {
    m.state = commit ? 'PrepareCommit' : 'PrepareAbort';
    this.log.persist();
    let markers = 0;
    for (const k of m.partitions) {
      const { topic, partition } = splitPartitionKey(k);
      const log = this.opts.topics.topics.get(topic)?.logs[partition];
      if (!log) continue;
      // After a crash the markers already written closed their partitions: only the open ones get one.
      if (recovering && !log.txns.ongoing.has(m.producerId)) continue;
      log.appendMarker(m.producerId, m.producerEpoch, commit, this.now());
      markers++;
    }
    if (commit)
      for (const [group, offsets] of Object.entries(m.offsets)) {
        this.opts.groups.applyTxnOffsets(
          group,
          Object.entries(offsets).map(([k, o]) => ({ ...splitPartitionKey(k), ...o })),
        );
      }
    m.state = commit ? 'CompleteCommit' : 'CompleteAbort';
    m.startedAt = -1;
    m.partitions = [];
    m.groups = [];
    m.offsets = {};
    this.log.persist();
    if (markers > 0) this.opts.notifyAppend();
    this.opts.logger.debug({ transactionalId, producerId: m.producerId, commit, markers }, 'transaction ended');
  }

  /** Aborts the transactions open past their timeout, bumping the epoch so their producer is fenced. */
  abortTimedOut(): number {
    const now = this.now();
    let aborted = 0;
    for (const [id, m] of this.log.txns) {
      if (m.state !== 'Ongoing' || now - m.startedAt <= m.timeoutMs) continue;
      this.bumpEpoch(m);
      this.opts.logger.warn(
        { transactionalId: id, producerId: m.producerId, timeoutMs: m.timeoutMs },
        'transaction timed out: aborted and its producer fenced',
      );
      this.complete(id, m, false, false);
      aborted++;
    }
    return aborted;
  }
}

/** PRODUCER_FENCED (KIP-588) is answered INVALID_PRODUCER_EPOCH to the versions that predate it. */
const fenced = (error: number, v: number, first: number) => (error === ErrorCode.PRODUCER_FENCED && v < first ? ErrorCode.INVALID_PRODUCER_EPOCH : error);

export const addPartitionsToTxnApi: ApiDefinition = {
  key: 24,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleVersion: 3,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const transactionalId = r.str(f);
    const producerId = r.int64n();
    const producerEpoch = r.int16();
    const topics = r.arr(f, (x) => {
      const name = x.str(f);
      const partitions = x.arr(f, (y) => y.int32());
      x.tags(f);
      return { name, partitions };
    });
    r.tags(f);
    const res = ctx.txns.addPartitions(transactionalId, producerId, producerEpoch, topics);
    const error = fenced(res.error, v, 2);
    w.int32(0);
    w.arr(f, topics, (x, t) => {
      x.str(f, t.name);
      x.arr(f, t.partitions, (y, p) =>
        y
          .int32(p)
          .int16(res.partitions?.get(partitionKey(t.name, p)) ?? error)
          .tags(f),
      );
      x.tags(f);
    });
    w.tags(f);
  },
};

export const addOffsetsToTxnApi: ApiDefinition = {
  key: 25,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersion: 3,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const transactionalId = r.str(f);
    const producerId = r.int64n();
    const producerEpoch = r.int16();
    const groupId = r.str(f);
    r.tags(f);
    w.int32(0).int16(fenced(ctx.txns.addOffsets(transactionalId, producerId, producerEpoch, groupId), v, 2));
    w.tags(f);
  },
};

export const endTxnApi: ApiDefinition = {
  key: 26,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersion: 3,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const transactionalId = r.str(f);
    const producerId = r.int64n();
    const producerEpoch = r.int16();
    const committed = r.bool();
    r.tags(f);
    w.int32(0).int16(fenced(ctx.txns.endTxn(transactionalId, producerId, producerEpoch, committed), v, 2));
    w.tags(f);
  },
};

export const txnOffsetCommitApi: ApiDefinition = {
  key: 28,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersion: 3,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const transactionalId = r.str(f);
    const groupId = r.str(f);
    const producerId = r.int64n();
    const producerEpoch = r.int16();
    const generationId = v >= 3 ? r.int32() : -1;
    const memberId = v >= 3 ? r.str(f) : '';
    const groupInstanceId = v >= 3 ? r.nstr(f) : null;
    const topics = r.arr(f, (x) => {
      const name = x.str(f);
      const partitions = x.arr(f, (y) => {
        const partition = y.int32();
        const offset = y.int64n();
        const leaderEpoch = v >= 2 ? y.int32() : -1;
        const metadata = y.nstr(f);
        y.tags(f);
        return { partition, offset, leaderEpoch, metadata };
      });
      x.tags(f);
      return { name, partitions };
    });
    r.tags(f);
    const unknown = topics.some((t) => t.partitions.some((p) => ctx.topics.topics.get(t.name)?.logs[p.partition] === undefined));
    const error = unknown
      ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      : ctx.txns.txnOffsetCommit({
          transactionalId,
          groupId,
          producerId,
          producerEpoch,
          generationId,
          memberId,
          groupInstanceId,
          offsets: topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, ...p }))),
        });
    w.int32(0);
    w.arr(f, topics, (x, t) => {
      x.str(f, t.name);
      x.arr(f, t.partitions, (y, p) =>
        y
          .int32(p.partition)
          .int16(unknown && ctx.topics.topics.get(t.name)?.logs[p.partition] !== undefined ? ErrorCode.OPERATION_NOT_ATTEMPTED : error)
          .tags(f),
      );
      x.tags(f);
    });
    w.tags(f);
  },
};
