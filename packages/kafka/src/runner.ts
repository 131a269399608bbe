import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { AuditError, backoffDelay, sleep, toAuditError, type Logger, type Metrics } from '@jwt-audit/runtime';
import { deadLetterRecord, DLQ_TOPIC } from './dead-letter.js';
import { fromKafkaError } from './errors.js';
import type { AuditProducer } from './producer.js';
import { toInputRecord, type InputRecord } from './record.js';

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
}

export interface ConsumerRunner {
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): { ok: boolean; state: string; lastError?: string };
}

const ABORTED = Symbol('aborted');

/**
 * The consumer loop every stage shares. Delivery is at-least-once: a batch's offsets are committed
 * only after its handler resolved (output durable) and its dead letters were acknowledged. The
 * visible result is exactly-once because every sink is idempotent.
 *
 * Failure policy, in one place:
 * - retriable error (sink down, broker unavailable): back off with jitter and retry the same batch,
 *   heartbeating meanwhile, so the partition waits and nothing is skipped;
 * - non-retriable error for the batch: split it and handle each record alone; a record that still
 *   fails goes to the DLQ with its reason and origin, and the partition moves on.
 */
export function createConsumerRunner(opts: ConsumerRunnerOptions): ConsumerRunner {
  const log = opts.logger.child({ component: 'consumer', stage: opts.stage, groupId: opts.groupId });
  const retryInitial = opts.retry?.initialMs ?? 200;
  const retryMax = opts.retry?.maxMs ?? 10_000;
  const m = opts.metrics;
  const stageLabel = opts.stage.replace(/[^a-zA-Z0-9_]/g, '_');
  const recordsTotal = m?.counter(`audit_${stageLabel}_records_total`, 'Records consumed, by outcome', ['outcome'] as const);
  const retriesTotal = m?.counter(`audit_${stageLabel}_retries_total`, 'Batch attempts that failed with a retriable error');
  const batchSeconds = m?.histogram(`audit_${stageLabel}_batch_duration_seconds`, 'Time to process and commit one batch');

  let consumer: Consumer | undefined;
  let state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  let lastError: string | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const abort = new AbortController();

  async function withRetry<T>(what: string, payload: EachBatchPayload, fn: () => Promise<T>): Promise<T | typeof ABORTED> {
    for (let attempt = 0; ; attempt++) {
      // A rebalance took the partition: another member redoes the batch. A stop lets a batch in
      // flight finish and commit, but does not keep retrying a failing one.
      if (payload.isStale()) return ABORTED;
      if (attempt > 0 && (abort.signal.aborted || !payload.isRunning())) return ABORTED;
      try {
        return await fn();
      } catch (err) {
        const e = toAuditError(err);
        if (!e.retriable) throw e;
        lastError = e.message;
        retriesTotal?.inc();
        const delay = backoffDelay(attempt, retryInitial, retryMax);
        log.warn({ err: { code: e.code, message: e.message }, attempt, delayMs: delay, what }, 'retriable failure: backing off');
        // Wait in slices so the group keeps our membership and a stop() is seen promptly.
        const until = Date.now() + delay;
        while (Date.now() < until && payload.isRunning() && !abort.signal.aborted) {
          await sleep(Math.min(1_000, until - Date.now()), abort.signal);
          await payload.heartbeat().catch(() => undefined);
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
          const e = toAuditError(err, 'AUDIT_ERR_PROCESSING');
          if (e.retriable) throw e;
          return [{ record, error: e }];
        }
      });
      if (result === ABORTED) return ABORTED;
      dead.push(...result);
    }
    return dead;
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
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

    let dead: DeadLetterRequest[] | typeof ABORTED;
    try {
      const result = await withRetry('batch', payload, () => opts.handler(records, ctx));
      dead = result === ABORTED ? ABORTED : (result?.deadLetters ?? []);
    } catch (err) {
      batchLog.warn({ err: { code: toAuditError(err).code, message: (err as Error).message } }, 'batch failed: handling its records one by one');
      dead = await handleSplit(records, ctx, payload);
    }
    if (dead === ABORTED) return; // stopping or rebalanced: not committed, redelivered later

    if (dead.length > 0) {
      const letters = dead.map((d) => deadLetterRecord(opts.stage, d.record, d.error));
      const sent = await withRetry('dlq', payload, () => opts.producer.send(DLQ_TOPIC, letters));
      if (sent === ABORTED) return;
      for (const d of dead) {
        batchLog.warn({ offset: d.record.offset, code: d.error.code, reason: d.error.message }, 'record dead-lettered');
      }
      recordsTotal?.inc({ outcome: 'dead_lettered' }, dead.length);
    }
    recordsTotal?.inc({ outcome: 'processed' }, records.length - dead.length);

    payload.resolveOffset(last);
    const next = (BigInt(last) + 1n).toString();
    const committed = await withRetry('commit', payload, async () => {
      try {
        await consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      } catch (err) {
        throw fromKafkaError(err, 'committing offsets');
      }
    });
    if (committed === ABORTED) return;
    lastError = undefined;
    batchSeconds?.observe(Number(process.hrtime.bigint() - started) / 1e9);
    batchLog.debug({ records: records.length, deadLettered: dead.length }, 'batch committed');
  }

  return {
    start() {
      return (starting ??= (async () => {
        state = 'starting';
        consumer = opts.kafka.consumer({
          groupId: opts.groupId,
          allowAutoTopicCreation: false,
          sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
          heartbeatInterval: opts.heartbeatIntervalMs ?? 3_000,
          maxWaitTimeInMs: opts.maxWaitTimeMs ?? 500,
          ...(opts.maxBytesPerPartition ? { maxBytesPerPartition: opts.maxBytesPerPartition } : {}),
        });
        consumer.on(consumer.events.CRASH, (e) => {
          lastError = String((e.payload as { error?: Error }).error?.message ?? 'consumer crashed');
          log.error({ error: lastError, restart: (e.payload as { restart?: boolean }).restart }, 'consumer crashed');
        });
        await opts.producer.connect();
        await consumer.connect();
        await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 1,
          eachBatch,
        });
        state = 'running';
        log.info({ topics: opts.topics }, 'consuming');
      })());
    },
    stop() {
      return (stopping ??= (async () => {
        if (!starting) {
          state = 'stopped';
          return;
        }
        state = 'stopping';
        abort.abort();
        await starting.catch(() => undefined);
        // disconnect() waits for the batch in flight, which commits before returning, then leaves the group.
        await consumer?.disconnect().catch((err: unknown) => log.warn({ err }, 'consumer disconnect failed'));
        state = 'stopped';
        log.info('stopped');
      })());
    },
    health: () => ({ ok: state === 'running' && lastError === undefined, state, ...(lastError ? { lastError } : {}) }),
  };
}
