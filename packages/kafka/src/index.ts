export { createKafkaClient, type KafkaClientOptions } from './client.js';
export { ensureTopics, defaultTopics, type TopicSpec } from './topics.js';
export {
  createAuditProducer,
  chunkRecords,
  recordSize,
  stageTransactionalId,
  DEFAULT_MAX_REQUEST_BYTES,
  type AuditProducer,
  type AuditProducerOptions,
  type OutRecord,
  type TransactionScope,
} from './producer.js';
export { createProducerClient, PRODUCER_CLIENTS, type ProducerClient, type ProducerClientOptions } from './producer-client.js';
export { createPlatformaticProducer, type PlatformaticProducerOptions } from './platformatic-producer.js';
export {
  createConsumerRunner,
  type ConsumerRunner,
  type ConsumerRunnerOptions,
  type BatchHandler,
  type BatchContext,
  type DeadLetterRequest,
} from './runner.js';
export {
  createConsumerService,
  createTransformService,
  type ConsumerService,
  type ConsumerServiceDeps,
  type ConsumerServiceOptions,
  type MeteredConsumerService,
  type TransformService,
  type TransformServiceDeps,
  type TransformServiceOptions,
  type TransformWiring,
} from './consumer-service.js';
export { createTransformStage, type TransformStageOptions } from './transform-stage.js';
export type { OffloadedTransform, OffloadSpec } from './transform-pool.js';
/** Moving records between threads cheaply (one transferred buffer, a table of header sets). */
export { pack as packBuffers, unpack as unpackBuffer, headerTable } from './transform-pool.js';
export { deadLetterRecord, deadLetterAlertRecord, DEAD_LETTER_RATE_RULE, DLQ_TOPIC } from './dead-letter.js';
export { toInputRecord, type InputRecord } from './record.js';
export {
  KAFKA_ERRORS,
  fromKafkaError,
  failureClass,
  kafkaCause,
  kafkaSettingsRefused,
  explainKafkaError,
  isConnectionError,
  type FailureClass,
} from './errors.js';
export { superviseConsumer, type SupervisedConsumer, type SupervisedConsumerOptions, type RestartPolicy } from './supervised-consumer.js';
export { explainStartFailure, startFailure } from './start-failure.js';
export { CompactedTopicFollower, type CompactedTopicFollowerOptions } from './compacted-follower.js';
/** The client library's classes, types and constants: the only way other workspaces reach it. */
export * from './kafka-client.js';
