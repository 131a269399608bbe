import { retryDelay, RETRY_POLICIES, toAuditError, type Logger } from '@jwt-audit/runtime';
import type { OutRecord } from '@jwt-audit/kafka';
import { INTERCEPTOR_ERRORS } from './errors.js';
import { Spool, type SpoolRecord } from './spool.js';

/** The part of @jwt-audit/kafka's AuditProducer the publisher needs. */
export interface RecordSink {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(topic: string, records: OutRecord[]): Promise<void>;
  /** Releases what the sink holds (a thread); called once by Publisher.stop(). */
  close?(): Promise<void>;
}

/** Every way an audit record can be lost, each counted in audit_interceptor_lost_events_total{reason}. */
export type LossReason =
  /** the in-memory queue was full */
  | 'queue_full'
  /** Kafka away and the spool without room (maxBytes, or the filesystem's free space below spool.minFreeBytes) */
  | 'spool_full'
  /** a spool write failed (ENOSPC, EIO ...): the batch was cut back out of the file */
  | 'spool_error'
  /** spooled records unreadable later (the disk changed them): cut */
  | 'spool_corrupt'
  /** still in memory when the publisher stopped and neither sent nor spooled (or queued after the stop) */
  | 'stopped_in_memory';

export interface PublisherMetrics {
  published(topic: string, n: number): void;
  spooled(n: number): void;
  lost(reason: LossReason, n: number): void;
  publishSeconds(s: number): void;
  queueDepth(n: number): void;
  spoolBytes(n: number): void;
  /** free bytes on the spool's filesystem, as last measured */
  spoolFreeBytes?(n: number): void;
  /** a cursor write failed (retried) */
  cursorWriteFailed?(): void;
  /** the publisher loop failed and was restarted */
  loopRestarted?(): void;
  /** bytes of a torn or corrupt tail cut when the spool was opened */
  spoolTailCut?(bytes: number): void;
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
  /** How long after the last lost event health() stays unhealthy (ms). Default 10 000. */
  unhealthyAfterLossMs?: number;
  metrics?: PublisherMetrics;
}

const NOOP_METRICS: PublisherMetrics = { published() {}, spooled() {}, lost() {}, publishSeconds() {}, queueDepth() {}, spoolBytes() {} };
const LOSS_LOG_MS = 5_000;
/** Room the spool must have for a fail-closed request to be let through: a few batches of events. */
const HEADROOM_BYTES = 64 * 1024;

export interface PublisherHealth {
  ok: boolean;
  kafka: boolean;
  queued: number;
  spooledRecords: number;
  spooledBytes: number;
  /** free bytes on the spool's filesystem (null: unknown) */
  spoolFreeBytes: number | null;
  /** the spool could take 64 KiB more now (maxBytes, and the free-space reserve kept) */
  spoolRoom: boolean;
  /** events were lost within unhealthyAfterLossMs */
  losing: boolean;
  lostEvents: number;
  /** the cursor on disk is behind (a cursor write failing): a restart would re-send records */
  cursorBehind: boolean;
  /** the publisher loop failed and waits to restart */
  loopFailing: boolean;
}

/**
 * Off the request path: a bounded in-memory queue feeding the producer. While Kafka answers,
 * batches go straight to it. When a send fails, the batch and everything after it go to the disk
 * spool, in order, until the spool has been drained (oldest first, retried with backoff); only
 * then do batches go straight to Kafka again. So order is kept, and nothing is lost while the
 * spool has room. `canAccept()` lets fail-closed routes refuse requests before a loss happens.
 *
 * Every loss (LossReason) is counted, logged with its count (one line per reason at most every
 * 5 s, the counts summed in between) and turns health() unhealthy for `unhealthyAfterLossMs`.
 * The loop is supervised: after any error it restarts itself with backoff. A failed cursor write
 * is retried with backoff while draining goes on (the cursor in memory is the truth; only a
 * restart before the retry succeeds would re-send records). At stop, what is queued is sent or
 * spooled, and what is neither is counted as lost.
 */
export class Publisher {
  private queue: SpoolRecord[] = [];
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private stopped = false;
  private drainFailures = 0;
  private nextDrainAt = 0;
  private cursorFailures = 0;
  private nextCursorAt = 0;
  private lastCursorLog = 0;
  private loopFailures = 0;
  private loopFailing = false;
  private kafkaUp = true;
  private lastLossLog = 0;
  private lastLossAt = 0;
  private lostTotal = 0;
  private readonly lossLog = new Map<LossReason, { events: number; err?: string }>();
  private lossTimer: NodeJS.Timeout | undefined;
  private readonly metrics: PublisherMetrics;
  private readonly log: Logger;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly o: PublisherOptions) {
    this.metrics = o.metrics ?? NOOP_METRICS;
    this.log = o.logger.child({ component: 'publisher' });
  }

  async start(): Promise<void> {
    if (this.loop) return;
    const spool = this.o.spool;
    await spool.open();
    if (spool.droppedTailBytes > 0) {
      this.metrics.spoolTailCut?.(spool.droppedTailBytes);
      this.log.warn({ bytes: spool.droppedTailBytes }, 'spool had a torn or corrupt tail (crash while writing); cut it');
    }
    if (spool.cursorRewound)
      this.log.warn('spool cursor did not match the spool file; records after the last good boundary are sent again (duplicates, not losses)');
    if (spool.cursorDirty) this.log.warn({ err: errMessage(spool.lastError) }, 'spool cursor could not be written at start; retrying');
    const s = spool.stats();
    if (s.pendingRecords > 0)
      this.log.info({ records: s.pendingRecords, bytes: s.pendingBytes }, 'spool holds undelivered events from an earlier run; draining');
    this.spoolGauges();
    await this.o.sink.connect().catch((err: unknown) => {
      this.kafkaUp = false;
      this.log.warn({ err: toAuditError(err).message }, 'Kafka unreachable at start; events will spool');
    });
    this.stopping = false;
    this.stopped = false;
    this.loop = this.supervise();
  }

  /** Queues records (in order). Returns false when they are lost (counted): queue full, or stopped. */
  enqueue(records: SpoolRecord[]): boolean {
    if (this.stopped) {
      this.loss('stopped_in_memory', records.length);
      return false;
    }
    if (this.queue.length + records.length > this.o.maxQueue) {
      this.loss('queue_full', records.length);
      return false;
    }
    for (const r of records) this.queue.push(r);
    this.metrics.queueDepth(this.queue.length);
    this.wake?.();
    return true;
  }

  /**
   * False when an event could be lost now: queue full, or Kafka away (or the spool not yet
   * drained) and the spool without room (maxBytes, or the filesystem's free space below the reserve).
   */
  canAccept(): boolean {
    if (this.stopped || this.queue.length >= this.o.maxQueue) return false;
    return this.kafkaUp && !this.o.spool.pending ? true : this.o.spool.hasRoom(HEADROOM_BYTES);
  }

  /**
   * Healthy while nothing is being lost and nothing would be if Kafka went away now: canAccept(),
   * the spool has room (free space at or above the reserve, even while Kafka answers), no loss in
   * the last unhealthyAfterLossMs, and the loop running.
   */
  health(): PublisherHealth {
    const spool = this.o.spool;
    const s = spool.stats();
    const free = spool.freeBytes();
    this.metrics.spoolFreeBytes?.(Number.isFinite(free) ? free : -1);
    const spoolRoom = spool.hasRoom(HEADROOM_BYTES);
    const losing = this.losing();
    return {
      ok: this.canAccept() && spoolRoom && !losing && !this.loopFailing,
      kafka: this.kafkaUp,
      queued: this.queue.length,
      spooledRecords: s.pendingRecords,
      spooledBytes: s.pendingBytes,
      spoolFreeBytes: Number.isFinite(free) ? free : null,
      spoolRoom,
      losing,
      lostEvents: this.lostTotal,
      cursorBehind: spool.cursorDirty,
      loopFailing: this.loopFailing,
    };
  }

  /** Resolves when the queue and the spool are both empty (everything acknowledged by Kafka). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.o.spool.pending && !this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends or spools what is queued (what cannot be is counted as lost), then closes the spool. Idempotent. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    this.stopped = true;
    if (this.queue.length > 0) {
      const n = this.queue.length;
      this.queue = [];
      this.metrics.queueDepth(0);
      this.loss('stopped_in_memory', n);
    }
    if (this.o.spool.cursorDirty) {
      await this.o.spool.flushCursor().catch((err: unknown) => {
        this.metrics.cursorWriteFailed?.();
        this.log.error(
          { err: errMessage(err) },
          'spool cursor not written at stop: the next start sends records after the last written cursor again (duplicates)',
        );
      });
    }
    this.flushLossLog();
    await this.o.spool.close();
    await this.o.sink.disconnect().catch(() => {});
    await this.o.sink.close?.().catch(() => {});
  }

  private busy = false;

  /** Runs the loop; after any error logs it, counts it and runs it again with backoff. */
  private async supervise(): Promise<void> {
    for (;;) {
      try {
        await this.run();
        return;
      } catch (err) {
        this.busy = false;
        this.loopFailures++;
        this.loopFailing = true;
        this.metrics.loopRestarted?.();
        const delayMs = retryDelay(RETRY_POLICIES.publisherLoop, this.loopFailures);
        if (this.stopping && this.loopFailures >= 3) {
          this.log.error({ err: errMessage(err), failures: this.loopFailures }, 'publisher loop failed while stopping; giving up');
          return;
        }
        this.log.error({ err: errMessage(err), failures: this.loopFailures, restartInMs: delayMs }, 'publisher loop failed; restarting');
        await new Promise((r) => setTimeout(r, this.stopping ? 50 : delayMs));
      }
    }
  }

  private async run(): Promise<void> {
    const spool = this.o.spool;
    for (;;) {
      const drainDue = spool.pending && Date.now() >= this.nextDrainAt && !this.stopping;
      const cursorDue = spool.cursorDirty && Date.now() >= this.nextCursorAt;
      if (this.queue.length === 0 && !drainDue && !cursorDue) {
        this.iterationDone();
        if (this.stopping) return;
        this.notifyIdle();
        await this.waitForWork();
        continue;
      }
      this.busy = true;
      try {
        if (cursorDue) await this.syncCursor();
        const linger = this.o.lingerMs ?? 0;
        if (linger > 0 && this.queue.length > 0 && this.queue.length < this.o.batchSize && !this.stopping && !spool.pending)
          await new Promise((r) => setTimeout(r, linger));
        const batch = this.queue.splice(0, this.o.batchSize);
        this.metrics.queueDepth(this.queue.length);
        if (batch.length > 0) {
          // straight to Kafka only when nothing older waits in the spool (order); while stopping
          // with Kafka away, straight to the spool (a stop does not wait for send timeouts)
          const direct = !spool.pending && (this.kafkaUp || !this.stopping);
          const rest = direct ? await this.trySend(batch) : batch;
          if (rest.length > 0) await this.toSpool(rest);
        }
        if (spool.pending && Date.now() >= this.nextDrainAt && !this.stopping) await this.drainOnce();
        this.iterationDone();
      } finally {
        this.busy = false;
      }
    }
  }

  private iterationDone(): void {
    if (!this.loopFailing) return;
    this.loopFailing = false;
    this.loopFailures = 0;
    this.log.info('publisher loop running again');
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
      let at = Infinity;
      if (this.o.spool.pending) at = this.nextDrainAt;
      if (this.o.spool.cursorDirty) at = Math.min(at, this.nextCursorAt);
      if (at !== Infinity) timer = setTimeout(done, Math.max(0, at - Date.now()));
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
    const ms = this.o.sendTimeoutMs ?? RETRY_POLICIES.publisherSend.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(INTERCEPTOR_ERRORS.AUDIT_ERR_SEND_TIMEOUT.create(ms)), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Appends to the spool; what does not fit or fails is counted and logged as lost, never thrown. */
  private async toSpool(records: SpoolRecord[]): Promise<void> {
    try {
      const r = await this.o.spool.append(records);
      if (r.appended > 0) this.metrics.spooled(r.appended);
      if (r.full > 0) this.loss('spool_full', r.full);
      if (r.failed > 0) this.loss('spool_error', r.failed, r.error);
    } catch (err) {
      this.loss('spool_error', records.length, err);
    }
    this.spoolGauges();
  }

  private async drainOnce(): Promise<void> {
    const { entries, cut } = await this.o.spool.peek(this.o.batchSize);
    if (cut) {
      this.loss('spool_corrupt', cut.records);
      this.log.error({ records: cut.records, bytes: cut.bytes }, 'spooled records unreadable (changed on disk); cut them');
      this.spoolGauges();
    }
    if (entries.length === 0) return;
    const rest = await this.trySend(entries.map((e) => e.record));
    if (rest.length === 0) {
      try {
        await this.o.spool.ack(entries[entries.length - 1]!.end, entries.length);
        if (this.cursorFailures > 0) this.cursorWritten();
      } catch (err) {
        // delivered; the cursor in memory moved on and the one on disk is retried
        this.cursorFailed(err);
      }
      this.drainFailures = 0;
      this.nextDrainAt = 0;
      this.spoolGauges();
      if (!this.o.spool.pending) this.log.info('spool drained');
    } else {
      // not acknowledged: re-sent from the same place next time (at-least-once; sinks dedupe by event id)
      this.drainFailures++;
      this.nextDrainAt = Date.now() + retryDelay(RETRY_POLICIES.spoolDrain, this.drainFailures);
    }
  }

  private async syncCursor(): Promise<void> {
    try {
      await this.o.spool.flushCursor();
      this.cursorWritten();
    } catch (err) {
      this.cursorFailed(err);
    }
  }

  private cursorWritten(): void {
    if (this.cursorFailures > 0) this.log.info({ failures: this.cursorFailures }, 'spool cursor written again');
    this.cursorFailures = 0;
    this.nextCursorAt = 0;
  }

  private cursorFailed(err: unknown): void {
    this.cursorFailures++;
    this.metrics.cursorWriteFailed?.();
    this.nextCursorAt = Date.now() + retryDelay(RETRY_POLICIES.spoolCursor, this.cursorFailures);
    const now = Date.now();
    if (this.cursorFailures === 1 || now - this.lastCursorLog >= LOSS_LOG_MS) {
      this.lastCursorLog = now;
      this.log.warn(
        { err: errMessage(err), failures: this.cursorFailures },
        'spool cursor write failed; retrying (a restart now would send delivered records again)',
      );
    }
  }

  private spoolGauges(): void {
    this.metrics.spoolBytes(this.o.spool.stats().pendingBytes);
    const free = this.o.spool.freeBytes();
    this.metrics.spoolFreeBytes?.(Number.isFinite(free) ? free : -1);
  }

  private losing(): boolean {
    return this.lastLossAt > 0 && Date.now() - this.lastLossAt < (this.o.unhealthyAfterLossMs ?? 10_000);
  }

  private loss(reason: LossReason, n: number, err?: unknown): void {
    if (n <= 0) return;
    this.metrics.lost(reason, n);
    const now = Date.now();
    this.lastLossAt = now;
    this.lostTotal += n;
    const e = this.lossLog.get(reason) ?? { events: 0 };
    e.events += n;
    if (err !== undefined) e.err = errMessage(err);
    this.lossLog.set(reason, e);
    // after the stop no timer may be left to log it: the process is about to exit
    if (this.stopped) return this.flushLossLog();
    if (this.lossTimer) return;
    const wait = this.lastLossLog + LOSS_LOG_MS - now;
    if (wait <= 0) this.flushLossLog();
    else {
      this.lossTimer = setTimeout(() => this.flushLossLog(), wait);
      this.lossTimer.unref();
    }
  }

  /** One error line per reason with the events lost since the last line. */
  private flushLossLog(): void {
    clearTimeout(this.lossTimer);
    this.lossTimer = undefined;
    if (this.lossLog.size === 0) return;
    this.lastLossLog = Date.now();
    for (const [reason, e] of this.lossLog)
      this.log.error({ reason, events: e.events, lostTotal: this.lostTotal, ...(e.err ? { err: e.err } : {}) }, 'audit events lost');
    this.lossLog.clear();
  }
}

function errMessage(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  const e = err as { code?: unknown; message?: unknown };
  const msg = typeof e.message === 'string' ? e.message : String(err);
  return typeof e.code === 'string' && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}
