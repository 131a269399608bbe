import { backoffDelay, toAuditError, type Logger } from '@jwt-audit/runtime';
import type { OutRecord } from '@jwt-audit/kafka';
import { Spool, type SpoolRecord } from './spool.js';

/** The part of @jwt-audit/kafka's AuditProducer the publisher needs. */
export interface RecordSink {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(topic: string, records: OutRecord[]): Promise<void>;
  /** Releases what the sink holds (a thread); called once by Publisher.stop(). */
  close?(): Promise<void>;
}

export interface PublisherMetrics {
  published(topic: string, n: number): void;
  spooled(n: number): void;
  lost(reason: 'queue_full' | 'spool_full' | 'spool_error', n: number): void;
  publishSeconds(s: number): void;
  queueDepth(n: number): void;
  spoolBytes(n: number): void;
}

export interface PublisherOptions {
  sink: RecordSink;
  spool: Spool;
  logger: Logger;
  maxQueue: number;
  batchSize: number;
  /**
   * How long a partial batch waits for more records before it is sent (Kafka's linger.ms). Fewer,
   * larger sends cost less per record on both sides; 0 sends whatever is queued at once.
   */
  lingerMs?: number;
  /** A send that takes longer counts as failed and its records go to the spool. */
  sendTimeoutMs?: number;
  metrics?: PublisherMetrics;
}

const NOOP_METRICS: PublisherMetrics = { published() {}, spooled() {}, lost() {}, publishSeconds() {}, queueDepth() {}, spoolBytes() {} };

/**
 * Off the request path: a bounded in-memory queue feeding the producer. While Kafka answers,
 * batches go straight to it. When a send fails, the batch and everything after it go to the disk
 * spool, in order, until the spool has been drained (oldest first, retried with backoff); only
 * then do batches go straight to Kafka again. So order is kept, and nothing is lost while the
 * spool has room. What does not fit is counted and logged as lost; `canAccept()` lets
 * fail-closed routes refuse requests before that happens.
 */
export class Publisher {
  private queue: SpoolRecord[] = [];
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private drainFailures = 0;
  private nextDrainAt = 0;
  private kafkaUp = true;
  private lastLossLog = 0;
  private readonly metrics: PublisherMetrics;
  private readonly log: Logger;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly o: PublisherOptions) {
    this.metrics = o.metrics ?? NOOP_METRICS;
    this.log = o.logger.child({ component: 'publisher' });
  }

  async start(): Promise<void> {
    if (this.loop) return;
    await this.o.spool.open();
    if (this.o.spool.droppedTailBytes > 0) this.log.warn({ bytes: this.o.spool.droppedTailBytes }, 'spool had a torn or corrupt tail (crash while writing); cut it');
    const s = this.o.spool.stats();
    if (s.pendingRecords > 0) this.log.info({ records: s.pendingRecords, bytes: s.pendingBytes }, 'spool holds undelivered events from an earlier run; draining');
    this.metrics.spoolBytes(s.pendingBytes);
    await this.o.sink.connect().catch((err: unknown) => {
      this.kafkaUp = false;
      this.log.warn({ err: toAuditError(err).message }, 'Kafka unreachable at start; events will spool');
    });
    this.stopping = false;
    this.loop = this.run().catch((err: unknown) => this.log.error({ err }, 'publisher loop failed'));
  }

  /** Queues records (in order). Returns false when the queue is full: they are lost (counted). */
  enqueue(records: SpoolRecord[]): boolean {
    if (this.queue.length + records.length > this.o.maxQueue) {
      this.loss('queue_full', records.length);
      return false;
    }
    for (const r of records) this.queue.push(r);
    this.metrics.queueDepth(this.queue.length);
    this.wake?.();
    return true;
  }

  /** False when an event would be lost now: queue full, or Kafka away and the spool full. */
  canAccept(): boolean {
    if (this.queue.length >= this.o.maxQueue) return false;
    return this.kafkaUp && !this.o.spool.pending ? true : this.o.spool.hasRoom(64 * 1024);
  }

  health(): { kafka: boolean; queued: number; spooledRecords: number; spooledBytes: number } {
    const s = this.o.spool.stats();
    return { kafka: this.kafkaUp, queued: this.queue.length, spooledRecords: s.pendingRecords, spooledBytes: s.pendingBytes };
  }

  /** Resolves when the queue and the spool are both empty (everything acknowledged by Kafka). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.o.spool.pending && !this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends or spools what is queued, then closes the spool. Idempotent. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    await this.o.spool.close();
    await this.o.sink.disconnect().catch(() => {});
    await this.o.sink.close?.().catch(() => {});
  }

  private busy = false;

  private async run(): Promise<void> {
    for (;;) {
      const drainDue = this.o.spool.pending && Date.now() >= this.nextDrainAt && !this.stopping;
      if (this.queue.length === 0 && !drainDue) {
        if (this.stopping) return;
        this.notifyIdle();
        await this.waitForWork();
        continue;
      }
      this.busy = true;
      try {
        const linger = this.o.lingerMs ?? 0;
        if (linger > 0 && this.queue.length < this.o.batchSize && !this.stopping && !this.o.spool.pending) await new Promise((r) => setTimeout(r, linger));
        const batch = this.queue.splice(0, this.o.batchSize);
        this.metrics.queueDepth(this.queue.length);
        if (batch.length > 0) {
          // straight to Kafka only when nothing older waits in the spool (order)
          const rest = this.o.spool.pending ? batch : await this.trySend(batch);
          if (rest.length > 0) await this.toSpool(rest);
        }
        if (this.o.spool.pending && Date.now() >= this.nextDrainAt && !this.stopping) await this.drainOnce();
      } finally {
        this.busy = false;
      }
    }
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.o.spool.pending) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      if (this.o.spool.pending) timer = setTimeout(done, Math.max(0, this.nextDrainAt - Date.now()));
    });
  }

  /** Sends records grouped by topic (order within a topic kept); returns those not sent. */
  private async trySend(records: SpoolRecord[]): Promise<SpoolRecord[]> {
    const topics = [...new Set(records.map((r) => r.topic))];
    const sent = new Set<string>();
    const started = process.hrtime.bigint();
    try {
      await this.o.sink.connect();
      for (const topic of topics) {
        const out: OutRecord[] = records.filter((r) => r.topic === topic).map((r) => ({ key: r.key, value: r.value, headers: r.headers }));
        await this.withTimeout(this.o.sink.send(topic, out));
        sent.add(topic);
        this.metrics.published(topic, out.length);
      }
      this.metrics.publishSeconds(Number(process.hrtime.bigint() - started) / 1e9);
      if (!this.kafkaUp) this.log.info('Kafka reachable again');
      this.kafkaUp = true;
      return [];
    } catch (err) {
      if (this.kafkaUp) this.log.warn({ err: toAuditError(err).message }, 'Kafka send failed; spooling events to disk');
      this.kafkaUp = false;
      // the producer may be wedged on a dead connection: reconnect on the next attempt
      await this.o.sink.disconnect().catch(() => {});
      return sent.size === 0 ? records : records.filter((r) => !sent.has(r.topic));
    }
  }

  private async withTimeout(p: Promise<void>): Promise<void> {
    const ms = this.o.sendTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`send timed out after ${ms} ms`)), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async toSpool(records: SpoolRecord[]): Promise<void> {
    try {
      const n = await this.o.spool.append(records);
      if (n > 0) this.metrics.spooled(n);
      if (n < records.length) this.loss('spool_full', records.length - n);
    } catch (err) {
      this.loss('spool_error', records.length, err);
    }
    this.metrics.spoolBytes(this.o.spool.stats().pendingBytes);
  }

  private async drainOnce(): Promise<void> {
    const entries = await this.o.spool.peek(this.o.batchSize);
    if (entries.length === 0) return;
    const rest = await this.trySend(entries.map((e) => e.record));
    if (rest.length === 0) {
      await this.o.spool.ack(entries[entries.length - 1]!.end, entries.length);
      this.drainFailures = 0;
      this.nextDrainAt = 0;
      this.metrics.spoolBytes(this.o.spool.stats().pendingBytes);
      if (!this.o.spool.pending) this.log.info('spool drained');
    } else {
      // not acknowledged: re-sent from the same place next time (at-least-once; sinks dedupe by event id)
      this.drainFailures++;
      this.nextDrainAt = Date.now() + Math.max(100, backoffDelay(this.drainFailures, 200, 5_000));
    }
  }

  private loss(reason: 'queue_full' | 'spool_full' | 'spool_error', n: number, err?: unknown): void {
    this.metrics.lost(reason, n);
    const now = Date.now();
    if (now - this.lastLossLog > 5_000) {
      this.lastLossLog = now;
      this.log.error({ reason, events: n, ...(err ? { err: toAuditError(err).message } : {}) }, 'audit events lost');
    }
  }
}
