import { randomUUID } from 'node:crypto';
import { toAuditError, type Logger } from '@jwt-audit/runtime';
import { KAFKA_ERRORS } from './errors.js';
import type { Admin, Consumer, IHeaders, Kafka } from './kafka-client.js';

/**
 * Follows a compacted state topic (revocations, approvals) from the beginning for as long as the
 * process runs, as every instance that folds it needs: a consumer group of its own per follower
 * (each instance reads every partition), nothing committed. Each batch's records are decoded and
 * handed over in log order, tombstones as null values; a record that does not decode is logged and
 * skipped, never fatal. One follower replaces a fresh consumer group per read (a group join and a
 * read of the whole topic each time).
 *
 * start() resolves once the fold has caught up with the end offsets measured at start, or after
 * `startupTimeoutMs` (then it serves while it catches up, and says so). caughtUp() resolves once
 * every record written before the call has been handed over (the high watermarks read at the
 * call), which gives a reader its own writes: decide, then list, and the list has the decision.
 */
export interface CompactedTopicFollowerOptions<T> {
  topic: string;
  /** Names the follower in logs ('revocations', 'approvals'). */
  component: string;
  decode: (value: Buffer, headers: IHeaders) => T;
  /** The records of one fetched batch, in log order; a tombstone's value is null. */
  onBatch: (records: Array<{ key: string; value: T | null }>) => void;
  groupPrefix: string;
  /** How long start() waits to catch up; 0: not at all (readers call caughtUp()). */
  startupTimeoutMs: number;
  /** What the fold holds, logged once it has caught up at start ("<component> state rebuilt"). */
  describeState?: () => Record<string, unknown>;
}

export class CompactedTopicFollower<T> {
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private started: Promise<void> | undefined;
  /** partition -> the next offset not yet handed over (compaction leaves gaps: set from each batch's last offset). */
  private readonly next = new Map<number, bigint>();
  private readonly waiters = new Set<() => void>();
  private stopping = false;
  ready = false;
  private readonly log: Logger;

  constructor(
    private readonly kafka: Kafka,
    logger: Logger,
    private readonly opts: CompactedTopicFollowerOptions<T>,
  ) {
    this.log = logger.child({ component: opts.component });
  }

  /** Joins and reads until caught up with the end at start (or the startup timeout); idempotent. A start that failed is tried again by the next call. */
  start(): Promise<void> {
    this.stopping = false;
    this.started ??= this.run().catch(async (err: unknown) => {
      this.started = undefined;
      const c = this.consumer;
      this.consumer = undefined;
      await c?.disconnect().catch(() => {});
      throw err;
    });
    return this.started;
  }

  private async run(): Promise<void> {
    const { topic } = this.opts;
    const consumer = this.kafka.consumer({
      groupId: `${this.opts.groupPrefix}-${randomUUID()}`,
      maxWaitTimeInMs: 100,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    this.consumer = consumer;
    const targets = await this.ends();
    const caughtUp = () => targets.every(([p, high]) => (this.next.get(p) ?? 0n) >= high);
    const check = () => {
      if (!this.ready && caughtUp()) this.ready = true;
    };
    check();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const records: Array<{ key: string; value: T | null }> = [];
        for (const m of batch.messages) {
          try {
            records.push({ key: m.key?.toString() ?? '', value: m.value === null ? null : this.opts.decode(m.value, m.headers ?? {}) });
          } catch (err) {
            this.log.warn(
              { partition: batch.partition, offset: m.offset, err: toAuditError(err).message },
              `undecodable ${this.opts.component} record skipped`,
            );
          }
        }
        this.opts.onBatch(records);
        this.next.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
        check();
        for (const w of this.waiters) w();
      },
    });
    // 0: start() does not wait; the reader waits in caughtUp() instead
    if (this.opts.startupTimeoutMs <= 0) return;
    if (!this.ready) {
      await this.waitFor(targets, this.opts.startupTimeoutMs).catch(() => undefined);
      check();
    }
    if (this.stopping) return;
    if (!this.ready)
      this.log.warn({ timeoutMs: this.opts.startupTimeoutMs }, `${this.opts.component} state not caught up at start; serving while it catches up`);
    else this.log.info(this.opts.describeState?.() ?? {}, `${this.opts.component} state rebuilt`);
  }

  /** Resolves when every record up to the topic's current end has been handed over (starting the follower if needed). */
  async caughtUp(timeoutMs = 15_000): Promise<void> {
    await this.start();
    await this.waitFor(await this.ends(), timeoutMs);
  }

  private async ends(): Promise<Array<readonly [number, bigint]>> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return (await this.admin.fetchTopicOffsets(this.opts.topic)).map((o) => [o.partition, BigInt(o.high)] as const);
  }

  private async waitFor(ends: Array<readonly [number, bigint]>, timeoutMs: number): Promise<void> {
    const done = () => ends.every(([p, high]) => (this.next.get(p) ?? 0n) >= high);
    if (done()) return;
    let timer: NodeJS.Timeout | undefined;
    let waiter: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        waiter = () => {
          if (done()) resolve();
          else if (this.stopping) reject(KAFKA_ERRORS.AUDIT_ERR_KAFKA.create(`${this.opts.topic}: the follower stopped`));
        };
        this.waiters.add(waiter);
        timer = setTimeout(() => reject(KAFKA_ERRORS.AUDIT_ERR_KAFKA.create(`${this.opts.topic} not read to its end within ${timeoutMs / 1000} s`)), timeoutMs);
      });
    } finally {
      clearTimeout(timer);
      if (waiter) this.waiters.delete(waiter);
    }
  }

  /** Idempotent; safe before start. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.waiters) w();
    const c = this.consumer;
    const a = this.admin;
    this.consumer = undefined;
    this.admin = undefined;
    this.started = undefined;
    await c?.disconnect().catch(() => {});
    await a?.disconnect().catch(() => {});
  }
}
