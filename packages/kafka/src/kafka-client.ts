/**
 * The Kafka client library, named in this one file (issue #21 item 3): every workspace takes the
 * client's classes, types and constants from `@jwt-audit/kafka`, never from `kafkajs` itself, so
 * the client can be swapped (or wrapped) in this package alone. The embedded broker's own tests
 * are the exception: they check the broker against kafkajs, the client ordinary users run.
 */
import kafkajs from 'kafkajs';

export { Kafka, logLevel, CompressionTypes, Partitioners } from 'kafkajs';
export type {
  Admin,
  Consumer,
  ConsumerConfig,
  EachBatchPayload,
  EachMessagePayload,
  IHeaders,
  ITopicConfig,
  KafkaConfig,
  KafkaMessage,
  Message,
  Producer,
  ProducerRecord,
  RecordMetadata,
  SASLOptions,
  logCreator,
} from 'kafkajs';

/**
 * The client's error classes, for code and tests that must build or recognise what it throws
 * (an unreachable broker, retries exhausted). kafkajs is CommonJS and exports them as properties
 * of its module object, so they are read from there.
 */
export const KafkaClientErrors = {
  KafkaJSError: kafkajs.KafkaJSError,
  KafkaJSConnectionError: kafkajs.KafkaJSConnectionError,
  KafkaJSNonRetriableError: kafkajs.KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded: kafkajs.KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError: kafkajs.KafkaJSProtocolError,
  KafkaJSRequestTimeoutError: kafkajs.KafkaJSRequestTimeoutError,
} as const;
