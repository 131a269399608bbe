import type { EachBatchPayload, Kafka } from 'kafkajs';
import { newId, TOPICS } from '@jwt-audit/events';
import { type AuditError, dependencyLog, retryDelay, retryPolicy, RETRY_POLICIES, sleep, toAuditError, type Logger, type Metrics } from '@jwt-audit/runtime';
import { DEAD_LETTER_RATE_RULE, deadLetterAlertRecord, deadLetterRecord, DLQ_TOPIC } from './dead-letter.js';

const ALERTS_TOPIC = TOPICS.alerts;
import { failureClass, fromKafkaError, isConnectionError, KAFKA_ERRORS, kafkaCause } from './errors.js';
import type { AuditProducer } from './producer.js';
import { toInputRecord, type InputRecord } from './record.js';
import { superviseConsumer, type RestartPolicy } from './supervised-consumer.js';

export interface DeadLetterRequest {
  record: InputRecord;
  error: AuditError;
}

export interface BatchContext {
  topic: string;
  partition: number;
  logger: Logger;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
}

/**
 * Processes one partition's batch and makes its output durable before resolving (a sink accepted
 * it, or a producer send was acknowledged). Records it cannot process are returned as dead letters.
 * Throw a retriable AuditError to have the same batch retried after a backoff.
 */
export type BatchHandler = (records: InputRecord[], ctx: BatchContext) => Promise<{ deadLetters?: DeadLetterRequest[] } | void>;

export interface ConsumerRunnerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  /** Stage name: DLQ records, metric labels and log lines carry it. */
  stage: string;
  logger: Logger;
  /** Used for the DLQ. */
  producer: AuditProducer;
  handler: BatchHandler;
  fromBeginning?: boolean;
  metrics?: Metrics;
  retry?: { initialMs?: number; maxMs?: number };
  /** Partitions processed in parallel (each still one batch at a time, in order). Default 1. */
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxBytesPerPartition?: number;
  /** Longest a fetch waits on the broker for data; also bounds how long stop() waits for it. Default 500 ms. */
  maxWaitTimeMs?: number;
  /**
   * A consumer that kafkajs stopped without restarting it is re-created and rejoins, after a
   * backoff from initialMs to maxMs; after maxAttempts re-creations in a row that never joined
   * the group, or an error of the fatal class, the runner gives up and calls onFailure.
   * Defaults: 1 s, 30 s, 10 attempts.
   */
  restart?: RestartPolicy;
  /**
   * Called once when the consumer stopped for good. Services exit with EXIT_TEMPFAIL (75) there,
   * so that a supervisor, systemd or Kubernetes restarts the process: never a live process
   * without a consumer.
   */
  onFailure?: (err: AuditError) => void;
  /**
   * Health turns unhealthy while more than `ratio` of the records of the last `windowMs` were
   * dead-lettered (and at least `minCount` of them). Defaults: 0.01, 60 s, 10. Each time it turns
   * so, an alert (rule pipeline-dead-letter-rate, severity high) goes to audit.alerts.v1.
   */
  deadLetterAlert?: { ratio?: number; windowMs?: number; minCount?: number };
}

export interface ConsumerRunner {
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): { ok: boolean; state: string; lastError?: string };
}

const ABORTED = Symbol('aborted');

/** Thrown out of eachBatch so that kafkajs sees its own error and rejoins the group. */
class Rejoin extends Error {
  constructor(readonly kafkaError: unknown) {
    super('rejoin');
  }
}

/** Records and dead letters per second over a sliding window: the dead-letter rate alert. */
export class DeadLetterRate {
  private readonly buckets: Array<{ second: number; total: number; dead: number }> = [];
  constructor(
    private readonly windowMs: number,
    private readonly ratio: number,
    private readonly minCount: number,
  ) {}

  add(total: number, dead: number, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const last = this.buckets[this.buckets.length - 1];
    if (last?.second === second) {
      last.total += total;
      last.dead += dead;
    } else this.buckets.push({ second, total, dead });
    this.trim(now);
  }

  /** Records and dead letters in the window, and whether the dead letters are above the threshold. */
  read(now = Date.now()): { total: number; dead: number; above: boolean } {
    this.trim(now);
    let total = 0;
    let dead = 0;
    for (const b of this.buckets) {
      total += b.total;
      dead += b.dead;
    }
    return { total, dead, above: dead >= this.minCount && dead > this.ratio * total };
  }

  private trim(now: number): void {
    const oldest = Math.floor((now - this.windowMs) / 1000);
    while (this.buckets.length > 0 && this.buckets[0]!.second <= oldest) this.buckets.shift();
  }
}

/**
 * The consumer loop every stage shares. Delivery is at-least-once: a batch's offsets are committed
 * only after its handler resolved (output durable) and its dead letters were acknowledged. The
 * visible result is exactly-once because every sink is idempotent.
 *
 * Failure policy, in one place (the classes are errors.ts'):
 * - record (the handler's verdict, a record too large or invalid for Kafka): split the batch and
 *   handle each record alone; a record that still fails so goes to the DLQ with its reason and
 *   origin, and the partition moves on. The only way to the DLQ;
 * - rebalance (unknown member, rebalance in progress, coordinator moved), from a commit or a
 *   heartbeat: the batch is abandoned uncommitted and kafkajs' own error is handed back to it,
 *   which rejoins the group; the batch comes back to whoever owns the partition;
 * - anything else (a sink or Kafka unreachable, a produce that failed, a producer re-created, an
 *   authentication failure): back off with jitter and retry the same batch, however long,
 *   heartbeating meanwhile, so the partition waits and nothing is skipped or dead-lettered;
 * - a consumer kafkajs stopped without restarting it is re-created (restart option); if that
 *   fails for good, onFailure.
 */
export function createConsumerRunner(opts: ConsumerRunnerOptions): ConsumerRunner {
  const log = opts.logger.child({ component: 'consumer', stage: opts.stage, groupId: opts.groupId });
  const kafkaState = dependencyLog(opts.logger, 'kafka');
  const retry = retryPolicy(RETRY_POLICIES.consumerBatch, { initialMs: opts.retry?.initialMs, maxMs: opts.retry?.maxMs });
  const retryMax = retry.maxMs;
  const m = opts.metrics;
  const stageLabel = opts.stage.replace(/[^a-zA-Z0-9_]/g, '_');
  const recordsTotal = m?.counter(`audit_${stageLabel}_records_total`, 'Records consumed, by outcome', ['outcome'] as const);
  const retriesTotal = m?.counter(`audit_${stageLabel}_retries_total`, 'Batch attempts that failed with a retriable error');
  const batchSeconds = m?.histogram(`audit_${stageLabel}_batch_duration_seconds`, 'Time to process and commit one batch');
  const rejoinsTotal = m?.counter(
    `audit_${stageLabel}_rejoins_total`,
    'Batches abandoned uncommitted because the group moved on (rebalance, unknown member, coordinator moved)',
  );
  const dlqAlert = m?.gauge(`audit_${stageLabel}_dead_letter_alert`, '1 while the dead-letter rate is above its threshold (health unhealthy)');
  const dlRatio = opts.deadLetterAlert?.ratio ?? 0.01;
  const dlWindowMs = opts.deadLetterAlert?.windowMs ?? 60_000;
  const dlRate = new DeadLetterRate(dlWindowMs, dlRatio, opts.deadLetterAlert?.minCount ?? 10);
  const alertsRaised = m?.counter(
    `audit_${stageLabel}_dead_letter_alerts_total`,
    `Alerts (rule ${DEAD_LETTER_RATE_RULE}) produced to audit.alerts.v1 when the dead-letter rate passed its threshold`,
  );
  let alerting = false;
  let lastLetters: { topic: string; partition: number; ids: string[] } | undefined;

  let lastError: string | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const abort = new AbortController();

  /**
   * Runs fn until it succeeds, backing off between attempts. A record-class failure is thrown when
   * `recordFails` (the caller splits or dead-letters); a rebalance-class one is thrown as Rejoin.
   */
  async function withRetry<T>(what: string, payload: EachBatchPayload, fn: () => Promise<T>, recordFails = false): Promise<T | typeof ABORTED> {
    for (let attempt = 0; ; attempt++) {
      // A rebalance took the partition: another member redoes the batch. A stop lets a batch in
      // flight finish and commit, but does not keep retrying a failing one.
      if (payload.isStale()) return ABORTED;
      if (attempt > 0 && (abort.signal.aborted || !payload.isRunning())) return ABORTED;
      try {
        return await fn();
      } catch (err) {
        if (err instanceof Rejoin) throw err;
        const e = toAuditError(err);
        const cls = failureClass(e);
        if (cls === 'record' && recordFails) throw e;
        if (cls === 'rebalance') throw new Rejoin(kafkaCause(e));
        lastError = e.message;
        retriesTotal?.inc();
        // an authentication or configuration failure is not fixed by hammering: the longest wait
        const delay = cls === 'fatal' ? retryMax : retryDelay(retry, attempt);
        const line = { err: { code: e.code, message: e.message }, class: cls, attempt, delayMs: delay, what };
        // Kafka unreachable: the outage's line (dependency state), not one per attempt and partition
        if (e.code.startsWith(KAFKA_ERRORS.AUDIT_ERR_KAFKA.code) && isConnectionError(e)) {
          kafkaState.failed(e, { stage: opts.stage });
          log.debug(line, 'failure: backing off, the partition waits');
        } else log.warn(line, 'failure: backing off, the partition waits');
        // Wait in slices so the group keeps our membership and a stop() is seen promptly; a
        // heartbeat that says the group moved on ends the batch (kafkajs rejoins).
        const until = Date.now() + delay;
        while (Date.now() < until && payload.isRunning() && !abort.signal.aborted) {
          await sleep(Math.min(1_000, until - Date.now()), abort.signal);
          try {
            await payload.heartbeat();
          } catch (hb) {
            if (failureClass(hb) === 'rebalance') throw new Rejoin(hb);
          }
        }
      }
    }
  }

  async function handleSplit(records: InputRecord[], ctx: BatchContext, payload: EachBatchPayload): Promise<DeadLetterRequest[] | typeof ABORTED> {
    const dead: DeadLetterRequest[] = [];
    for (const record of records) {
      const result = await withRetry('record', payload, async () => {
        try {
          return (await opts.handler([record], ctx))?.deadLetters ?? [];
        } catch (err) {
          const e = toAuditError(err, KAFKA_ERRORS.AUDIT_ERR_PROCESSING);
          if (failureClass(e) !== 'record') throw e;
          return [{ record, error: e }];
        }
      });
      if (result === ABORTED) return ABORTED;
      dead.push(...result);
    }
    return dead;
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    try {
      await processBatch(payload);
    } catch (err) {
      if (!(err instanceof Rejoin)) throw err;
      rejoinsTotal?.inc();
      log.warn(
        { topic: payload.batch.topic, partition: payload.batch.partition, err: (err.kafkaError as Error)?.message },
        'the group moved on: batch left uncommitted, rejoining',
      );
      throw err.kafkaError;
    }
  }

  async function processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const started = process.hrtime.bigint();
    const records = batch.messages.map((msg) => toInputRecord(batch.topic, batch.partition, msg));
    const first = records[0]!.offset;
    const last = records[records.length - 1]!.offset;
    const batchLog = log.child({ topic: batch.topic, partition: batch.partition, first, last });
    const ctx: BatchContext = {
      topic: batch.topic,
      partition: batch.partition,
      logger: batchLog,
      heartbeat: () => payload.heartbeat(),
      isRunning: () => payload.isRunning() && !payload.isStale(),
    };
    if (opts.producer.transaction) return processInTransaction(payload, records, ctx, batchLog, started);

    let dead: DeadLetterRequest[] | typeof ABORTED;
    try {
      const result = await withRetry('batch', payload, () => opts.handler(records, ctx), true);
      dead = result === ABORTED ? ABORTED : (result?.deadLetters ?? []);
    } catch (err) {
      if (err instanceof Rejoin) throw err;
      batchLog.warn({ err: { code: toAuditError(err).code, message: (err as Error).message } }, 'batch failed for a record: handling its records one by one');
      dead = await handleSplit(records, ctx, payload);
    }
    if (dead === ABORTED) return; // stopping or rebalanced: not committed, redelivered later

    if (dead.length > 0) {
      const ids = dead.map(() => newId());
      const letters = dead.map((d, i) => deadLetterRecord(opts.stage, d.record, d.error, Date.now(), ids[i]));
      const sent = await withRetry('dlq', payload, () => opts.producer.send(DLQ_TOPIC, letters));
      if (sent === ABORTED) return;
      lastLetters = { topic: batch.topic, partition: batch.partition, ids };
      for (const d of dead) {
        batchLog.warn({ offset: d.record.offset, code: d.error.code, reason: d.error.message }, 'record dead-lettered');
      }
      recordsTotal?.inc({ outcome: 'dead_lettered' }, dead.length);
    }
    recordsTotal?.inc({ outcome: 'processed' }, records.length - dead.length);
    const raised = noteDeadLetters(records.length, dead.length);
    if (raised) {
      // raised by this batch: on audit.alerts.v1 before the batch commits, so it is never lost
      const alert = deadLetterRateAlert(batch, raised, lastLetters?.ids ?? []);
      const sentAlert = await withRetry('alert', payload, () => opts.producer.send(ALERTS_TOPIC, [alert]));
      if (sentAlert === ABORTED) return;
      alertsRaised?.inc();
    }

    payload.resolveOffset(last);
    const next = (BigInt(last) + 1n).toString();
    const committed = await withRetry('commit', payload, async () => {
      try {
        await payload.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
      } catch (err) {
        throw fromKafkaError(err, 'committing offsets');
      }
    });
    if (committed === ABORTED) return;
    lastError = undefined;
    batchSeconds?.observe(Number(process.hrtime.bigint() - started) / 1e9);
    batchLog.debug({ records: records.length, deadLettered: dead.length }, 'batch committed');
  }

  /**
   * Exactly-once (a transactional producer): per batch one transaction holds the outputs, the dead
   * letters, an alert the batch raised and the input offset (sendOffsets), and commits them
   * together. On any failure the transaction aborts (read_committed readers never see its records)
   * and the batch is redone from its first record, which is the group's committed offset. A batch
   * that fails for one of its records is redone record by record in a new transaction, so nothing
   * written by the failed attempt stays.
   */
  async function processInTransaction(payload: EachBatchPayload, records: InputRecord[], ctx: BatchContext, batchLog: Logger, started: bigint): Promise<void> {
    const { batch } = payload;
    const last = records[records.length - 1]!.offset;
    const next = (BigInt(last) + 1n).toString();
    const attempt = (split: boolean) =>
      withRetry(
        'transaction',
        payload,
        () =>
          opts.producer.transaction!(async (tx) => {
            const dead = split ? await handleEachInTransaction(records, ctx) : ((await opts.handler(records, ctx))?.deadLetters ?? []);
            let ids: string[] = [];
            if (dead.length > 0) {
              ids = dead.map(() => newId());
              await opts.producer.send(
                DLQ_TOPIC,
                dead.map((d, i) => deadLetterRecord(opts.stage, d.record, d.error, Date.now(), ids[i])),
              );
            }
            // counted once per attempt: an aborted attempt that dead-lettered counts its letters again
            const raised = noteDeadLetters(records.length, dead.length);
            if (raised) {
              const alert = deadLetterRateAlert(batch, raised, ids.length > 0 ? ids : (lastLetters?.ids ?? []));
              await opts.producer.send(ALERTS_TOPIC, [alert]);
            }
            // The group moved the partition to another member, which reads from the committed offset: abort, do not commit twice.
            if (payload.isStale()) throw new Rejoin(KAFKA_ERRORS.AUDIT_ERR_KAFKA_REBALANCE.create('partition reassigned during the transaction'));
            await tx.sendOffsets(opts.groupId, batch.topic, batch.partition, next);
            return { dead, ids, raised: raised !== undefined };
          }),
        !split,
      );
    let result: Awaited<ReturnType<typeof attempt>>;
    try {
      result = await attempt(false);
    } catch (err) {
      if (err instanceof Rejoin) throw err;
      batchLog.warn(
        { err: { code: toAuditError(err).code, message: (err as Error).message } },
        'batch failed for a record: transaction aborted, redoing its records one by one',
      );
      result = await attempt(true);
    }
    if (result === ABORTED) return; // stopping or rebalanced: aborted, redelivered from the committed offset
    if (result.dead.length > 0) {
      lastLetters = { topic: batch.topic, partition: batch.partition, ids: result.ids };
      for (const d of result.dead) batchLog.warn({ offset: d.record.offset, code: d.error.code, reason: d.error.message }, 'record dead-lettered');
      recordsTotal?.inc({ outcome: 'dead_lettered' }, result.dead.length);
    }
    if (result.raised) alertsRaised?.inc();
    recordsTotal?.inc({ outcome: 'processed' }, records.length - result.dead.length);
    // the offset is committed (with the transaction): kafkajs only moves its position
    payload.resolveOffset(last);
    lastError = undefined;
    batchSeconds?.observe(Number(process.hrtime.bigint() - started) / 1e9);
    batchLog.debug({ records: records.length, deadLettered: result.dead.length }, 'batch committed in a transaction');
  }

  /** Each record alone, inside the transaction: a record-class failure is that record's dead letter, anything else aborts it. */
  async function handleEachInTransaction(records: InputRecord[], ctx: BatchContext): Promise<DeadLetterRequest[]> {
    const dead: DeadLetterRequest[] = [];
    for (const record of records) {
      try {
        dead.push(...((await opts.handler([record], ctx))?.deadLetters ?? []));
      } catch (err) {
        const e = toAuditError(err, KAFKA_ERRORS.AUDIT_ERR_PROCESSING);
        if (failureClass(e) !== 'record') throw e;
        dead.push({ record, error: e });
      }
    }
    return dead;
  }

  /** The dead-letter-rate alert a batch raised, naming the letters that are its evidence. */
  function deadLetterRateAlert(batch: { topic: string; partition: number }, raised: { total: number; dead: number }, evidence: string[]) {
    return deadLetterAlertRecord({
      stage: opts.stage,
      groupId: opts.groupId,
      topic: batch.topic,
      partition: batch.partition,
      deadLettered: raised.dead,
      records: raised.total,
      ratio: dlRatio,
      windowMs: dlWindowMs,
      evidence,
    });
  }

  /** The window's counts when this batch raised the alert (the rate passed the threshold with it), else undefined. */
  function noteDeadLetters(total: number, dead: number): { total: number; dead: number } | undefined {
    dlRate.add(total, dead);
    const was = alerting;
    checkDeadLetterRate();
    return !was && alerting ? dlRate.read() : undefined;
  }

  /** Raises or clears the alert (log line and gauge once per change); read by health() too, as the window slides. */
  function checkDeadLetterRate(): boolean {
    const now = dlRate.read();
    if (now.above && !alerting) {
      alerting = true;
      dlqAlert?.set(1);
      log.error({ deadLettered: now.dead, records: now.total, threshold: dlRatio }, 'dead-letter rate above its threshold: unhealthy until it falls');
    } else if (!now.above && alerting) {
      alerting = false;
      dlqAlert?.set(0);
      log.warn({ deadLettered: now.dead, records: now.total, threshold: dlRatio }, 'dead-letter rate back under its threshold');
    }
    return alerting;
  }

  const supervised = superviseConsumer({
    kafka: opts.kafka,
    stage: opts.stage,
    logger: opts.logger,
    ...(m ? { metrics: m } : {}),
    ...(opts.restart ? { restart: opts.restart } : {}),
    ...(opts.onFailure ? { onFailure: opts.onFailure } : {}),
    config: {
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 3_000,
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 500,
      ...(opts.maxBytesPerPartition ? { maxBytesPerPartition: opts.maxBytesPerPartition } : {}),
    },
    async run(c) {
      await c.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 1,
        eachBatch,
      });
    },
  });

  return {
    start() {
      return (starting ??= (async () => {
        await opts.producer.connect();
        await supervised.start();
        log.info({ topics: opts.topics }, 'consuming');
      })());
    },
    stop() {
      return (stopping ??= (async () => {
        abort.abort();
        await starting?.catch(() => undefined);
        await supervised.stop();
        log.info('stopped');
      })());
    },
    health: () => {
      checkDeadLetterRate();
      const state = starting && supervised.state === 'idle' ? 'starting' : supervised.state;
      const why = supervised.lastCrash ?? lastError ?? (alerting ? `dead-letter rate above ${dlRatio}` : undefined);
      const ok = state === 'running' && why === undefined;
      return { ok, state, ...(why ? { lastError: why } : {}) };
    },
  };
}
