import type { Logger, Metrics } from '@jwt-audit/runtime';
import type { Kafka } from 'kafkajs';
import type { AuditProducer, OutRecord } from './producer.js';
import { createConsumerRunner, type ConsumerRunner, type ConsumerRunnerOptions, type DeadLetterRequest } from './runner.js';
import { TransformPool, type OffloadSpec } from './transform-pool.js';
import { isPromise, transformRecord, type Transform } from './transform-record.js';

export interface TransformStageOptions {
  kafka: Kafka;
  groupId: string;
  stage: string;
  inputTopic: string;
  outputTopic: string;
  logger: Logger;
  producer: AuditProducer;
  metrics?: Metrics;
  fromBeginning?: boolean;
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** The runner's: a consumer that stopped for good (the service exits with EXIT_TEMPFAIL there). */
  onFailure?: ConsumerRunnerOptions['onFailure'];
  deadLetterAlert?: ConsumerRunnerOptions['deadLetterAlert'];
  /** Pure work on one event. Throw a non-retriable error to dead-letter the record. */
  transform: Transform;
  /**
   * Decode, transform and encode on worker threads instead (transform-pool.ts): the module's
   * createTransform(data) builds the same transform there. `transform` above is then unused.
   * `onNotes` receives, on this thread, what the module's notes(out) said of each output.
   */
  offload?: OffloadSpec & { onNotes?: (notes: unknown) => void };
}

function runnerOptions(opts: TransformStageOptions): Omit<ConsumerRunnerOptions, 'handler'> {
  return {
    kafka: opts.kafka,
    groupId: opts.groupId,
    topics: [opts.inputTopic],
    stage: opts.stage,
    logger: opts.logger,
    producer: opts.producer,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.fromBeginning !== undefined ? { fromBeginning: opts.fromBeginning } : {}),
    ...(opts.partitionsConsumedConcurrently ? { partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently } : {}),
    ...(opts.sessionTimeoutMs ? { sessionTimeoutMs: opts.sessionTimeoutMs } : {}),
    ...(opts.heartbeatIntervalMs ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
    ...(opts.onFailure ? { onFailure: opts.onFailure } : {}),
    ...(opts.deadLetterAlert ? { deadLetterAlert: opts.deadLetterAlert } : {}),
  };
}

/**
 * topic -> decode -> transform -> encode -> topic. The output batch is acknowledged by Kafka
 * before the input offsets are committed; a record that cannot be decoded, transformed or
 * re-encoded goes to the DLQ with the reason, and the rest of its batch carries on.
 */
export function createTransformStage(opts: TransformStageOptions): ConsumerRunner {
  if (opts.offload) return offloadedStage(opts, opts.offload);
  return createConsumerRunner({
    ...runnerOptions(opts),
    async handler(records) {
      const out: OutRecord[] = [];
      const deadLetters: DeadLetterRequest[] = [];
      for (const record of records) {
        const pending = transformRecord(opts.transform, record);
        const r = isPromise(pending) ? await pending : pending;
        if (!r.ok) {
          if (r.error.retriable) throw r.error;
          deadLetters.push({ record, error: r.error });
          continue;
        }
        out.push({ key: r.key, value: r.value, headers: r.headers, timestamp: record.timestamp });
      }
      await opts.producer.send(opts.outputTopic, out);
      return { deadLetters };
    },
  });
}

/** The same stage with decode -> transform -> encode on a TransformPool's threads. */
function offloadedStage(opts: TransformStageOptions, offload: NonNullable<TransformStageOptions['offload']>): ConsumerRunner {
  const pool = new TransformPool(offload, opts.logger.child({ component: 'transform-pool' }));
  const runner = createConsumerRunner({
    ...runnerOptions(opts),
    async handler(records) {
      const results = await pool.run(records);
      // a retriable failure retries the whole batch: before anything of it is counted or sent
      const retry = results.find((r) => !r.ok && r.error.retriable);
      if (retry && !retry.ok) throw retry.error;
      const out: OutRecord[] = [];
      const deadLetters: DeadLetterRequest[] = [];
      results.forEach((r, i) => {
        const record = records[i]!;
        if (!r.ok) {
          deadLetters.push({ record, error: r.error });
          return;
        }
        if (offload.onNotes && r.notes !== undefined) offload.onNotes(r.notes);
        out.push({ key: r.key, value: r.value, headers: r.headers, timestamp: record.timestamp });
      });
      await opts.producer.send(opts.outputTopic, out);
      return { deadLetters };
    },
  });
  return {
    async start() {
      await pool.start(); // a transform that cannot be built fails the start, not every record
      await runner.start();
    },
    async stop() {
      await runner.stop();
      await pool.close();
    },
    health: () => runner.health(),
  };
}
