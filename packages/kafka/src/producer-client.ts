/**
 * Which Kafka client a producer is built on, chosen by configuration: `platformatic`
 * (@platformatic/kafka, platformatic-producer.ts: about a third of kafkajs's CPU per record) or
 * `kafkajs` (producer.ts: the fallback, and the only one with transactions). Both are the same
 * AuditProducer: idempotent, acks all, the same partitions for the same keys, errors classed by
 * errors.ts.
 */
import type { KafkaConfig } from 'kafkajs';
import { dependencyLog, type KafkaConnectionConfig, type RetryPolicy } from '@jwt-audit/runtime';
import { createKafkaClient } from './client.js';
import { createPlatformaticProducer, type PlatformaticProducerOptions } from './platformatic-producer.js';
import { createAuditProducer, type AuditProducer } from './producer.js';

export const PRODUCER_CLIENTS = ['platformatic', 'kafkajs'] as const;
export type ProducerClient = (typeof PRODUCER_CLIENTS)[number];

export interface ProducerClientOptions extends PlatformaticProducerOptions {
  client: ProducerClient;
  /** kafkajs client settings (retry, timeouts) when `client` is kafkajs. */
  kafkajs?: Partial<KafkaConfig>;
  retry?: RetryPolicy;
}

/** An idempotent AuditProducer on the chosen client, from the common connection configuration (TLS, SASL alike). */
export function createProducerClient(config: KafkaConnectionConfig, opts: ProducerClientOptions): AuditProducer {
  const { client, kafkajs, retry, dependency, ...common } = opts;
  if (client === 'platformatic') return createPlatformaticProducer(config, { ...common, ...(retry ? { retry } : {}), ...(dependency ? { dependency } : {}) });
  const kafka = createKafkaClient(config, opts.logger, kafkajs ?? {}, { dependency: dependency ?? dependencyLog(opts.logger, 'kafka') });
  return createAuditProducer(kafka, common);
}
