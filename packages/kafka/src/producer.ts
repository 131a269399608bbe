import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from '@jwt-audit/runtime';
import { fromKafkaError } from './errors.js';

export interface OutRecord {
  key: string | Buffer | null;
  value: Buffer | null;
  headers?: Record<string, string>;
  /** epoch ms; the broker's time when absent */
  timestamp?: number;
}

export interface AuditProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Resolves once every record is acknowledged by all in-sync replicas. */
  send(topic: string, records: OutRecord[]): Promise<void>;
  readonly raw: Producer;
}

/**
 * An idempotent producer (acks=all, one request in flight per broker, so retries neither
 * duplicate nor reorder a partition's records).
 */
export function createAuditProducer(kafka: Kafka, opts: { logger: Logger; compression?: 'none' | 'gzip' }): AuditProducer {
  // Keys are always set (partitionKey), so the partitioner is murmur2 of the key as in Java clients.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  let connected: Promise<void> | undefined;
  return {
    raw: producer,
    connect: () =>
      (connected ??= producer.connect().catch((err: unknown) => {
        connected = undefined;
        throw fromKafkaError(err, 'connecting the producer');
      })),
    async disconnect() {
      if (!connected) return;
      connected = undefined;
      await producer.disconnect();
    },
    async send(topic, records) {
      if (records.length === 0) return;
      try {
        await producer.send({
          topic,
          acks: -1,
          compression,
          messages: records.map((r) => ({
            key: r.key,
            value: r.value,
            ...(r.headers ? { headers: r.headers } : {}),
            ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
          })),
        });
      } catch (err) {
        throw fromKafkaError(err, `producing ${records.length} records to ${topic}`);
      }
    },
  };
}
