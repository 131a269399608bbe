import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Logger, Metrics } from '@jwt-audit/runtime';
import { failureClass, fromKafkaError } from './errors.js';

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
  /**
   * Resolves once every record is acknowledged by all in-sync replicas. Rejects with an
   * AuditError classed by errors.ts; after a producer-state error the producer has already been
   * re-created, so retrying the same send is all a caller does.
   */
  send(topic: string, records: OutRecord[]): Promise<void>;
  /** The kafkajs producer in use now (a new one after each re-creation). */
  readonly raw: Producer;
}

/**
 * An idempotent producer (acks=all, one request in flight per broker, so retries neither
 * duplicate nor reorder a partition's records).
 *
 * When the broker stops accepting its sequence numbers or epoch (OUT_OF_ORDER_SEQUENCE_NUMBER
 * after a torn segment tail was cut, UNKNOWN_PRODUCER_ID after the producer state expired, a
 * fenced epoch), no retry of the same producer can succeed: it is replaced by a new one, which
 * gets a new producer id from the broker, and the failed send is reported retriable.
 */
export function createAuditProducer(kafka: Kafka, opts: { logger: Logger; compression?: 'none' | 'gzip'; metrics?: Metrics }): AuditProducer {
  // Keys are always set (partitionKey), so the partitioner is murmur2 of the key as in Java clients.
  const make = () => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const log = opts.logger.child({ component: 'producer' });
  const recreated = opts.metrics?.counter('audit_kafka_producer_recreated_total', 'Idempotent producers replaced after a producer-state error (sequence, producer id, epoch)');
  let producer = make();
  let connected: Promise<void> | undefined;
  let closed = false;
  const connect = () =>
    (connected ??= producer.connect().catch((err: unknown) => {
      connected = undefined;
      throw fromKafkaError(err, 'connecting the producer');
    }));

  /** Replaces `failed` unless a concurrent send already did (one error, one new producer). */
  async function replace(failed: Producer, reason: string): Promise<void> {
    if (failed !== producer) return;
    producer = make();
    connected = undefined;
    recreated?.inc();
    log.warn({ reason }, 'idempotent producer re-created after a producer-state error; the batch is retried');
    await failed.disconnect().catch(() => undefined);
  }

  return {
    get raw() {
      return producer;
    },
    connect: () => {
      closed = false;
      return connect();
    },
    async disconnect() {
      closed = true;
      if (!connected) return;
      connected = undefined;
      await producer.disconnect();
    },
    async send(topic, records) {
      if (records.length === 0) return;
      let p = producer;
      try {
        // connected again after a re-creation; a no-op otherwise (the promise is kept)
        if (!closed) await connect();
        p = producer;
        await p.send({
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
        const e = fromKafkaError(err, `producing ${records.length} records to ${topic}`);
        if (failureClass(e) === 'producer-state') await replace(p, e.message);
        throw e;
      }
    },
  };
}
