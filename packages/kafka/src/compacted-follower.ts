import { randomUUID } from 'node:crypto';
import { toAuditError, type Logger } from '@jwt-audit/runtime';
import type { Consumer, IHeaders, Kafka } from './kafka-client.js';

/**
 * Follows a compacted state topic (revocations, approvals) from the beginning, forever, as every
 * instance that folds it needs: a consumer group of its own per follower (each instance reads every
 * partition), nothing committed. Each batch's records are decoded and handed over in log order,
 * tombstones as null values; a record that does not decode is logged and skipped, never fatal.
 * start() resolves once the fold has caught up with the end offsets measured at start, or after
 * `startupTimeoutMs` (then it serves while it catches up, and says so).
 */
export interface CompactedTopicFollowerOptions<T> {
  topic: string;
  /** Names the follower in logs ('revocations', 'approvals'). */
  component: string;
  decode: (value: Buffer, headers: IHeaders) => T;
  /** The records of one fetched batch, in log order; a tombstone's value is null. */
  onBatch: (records: Array<{ key: string; value: T | null }>) => void;
  groupPrefix: string;
  startupTimeoutMs: number;
  /** What the fold holds, logged once it has caught up at start ("<component> state rebuilt"). */
  describeState?: () => Record<string, unknown>;
}

export class CompactedTopicFollower<T> {
  private consumer: Consumer | undefined;
  ready = false;
  private readonly log: Logger;

  constructor(
    private readonly kafka: Kafka,
    logger: Logger,
    private readonly opts: CompactedTopicFollowerOptions<T>,
  ) {
    this.log = logger.child({ component: opts.component });
  }

  async start(): Promise<void> {
    if (this.consumer) return;
    const { topic } = this.opts;
    const consumer = this.kafka.consumer({ groupId: `${this.opts.groupPrefix}-${randomUUID()}`, maxWaitTimeInMs: 100, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    this.consumer = consumer;
    const admin = this.kafka.admin();
    let targets = new Map<number, bigint>();
    try {
      await admin.connect();
      targets = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
    } finally {
      await admin.disconnect().catch(() => {});
    }
    const caughtUp = new Map<number, boolean>([...targets].map(([p, high]) => [p, high === 0n]));
    let markReady: () => void = () => {};
    const readyPromise = new Promise<void>((resolve) => (markReady = resolve));
    const check = () => {
      if (!this.ready && [...caughtUp.values()].every(Boolean)) {
        this.ready = true;
        markReady();
      }
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
            this.log.warn({ partition: batch.partition, offset: m.offset, err: toAuditError(err).message }, `undecodable ${this.opts.component} record skipped`);
          }
        }
        this.opts.onBatch(records);
        const target = targets.get(batch.partition);
        if (target !== undefined && BigInt(batch.lastOffset()) + 1n >= target) caughtUp.set(batch.partition, true);
        check();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([readyPromise, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.startupTimeoutMs)))]);
    clearTimeout(timer);
    if (!this.ready) this.log.warn({ timeoutMs: this.opts.startupTimeoutMs }, `${this.opts.component} state not caught up at start; serving while it catches up`);
    else this.log.info(this.opts.describeState?.() ?? {}, `${this.opts.component} state rebuilt`);
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    await c?.disconnect().catch(() => {});
  }
}
