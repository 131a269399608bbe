import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import { CompressionTypes, Partitioners, type Kafka, type Producer, type Transaction } from 'kafkajs';
import type { Logger, Metrics } from '@jwt-audit/runtime';
import { failureClass, fromKafkaError } from './errors.js';

export interface OutRecord {
  key: string | Buffer | null;
  value: Buffer | null;
  headers?: Record<string, string>;
  /** epoch ms; the broker's time when absent */
  timestamp?: number;
}

/**
 * What one send may put in a request by default: under Kafka's message.max.bytes (1,048,588, the
 * broker's and a topic's default), which caps each partition's record batch. A batch over it is
 * refused whole with MESSAGE_TOO_LARGE, which names no record, so a stage's runner would retry the
 * batch record by record (slow, and a lone record over it is the only one that is really too large).
 */
export const DEFAULT_MAX_REQUEST_BYTES = 1_000_000;

/** Counts and logs one idempotent producer replaced after a producer-state error (both clients' producers report it alike). */
export function producerRecreations(metrics: Metrics | undefined, log: Logger): (reason: string) => void {
  const recreated = metrics?.counter(
    'audit_kafka_producer_recreated_total',
    'Idempotent producers replaced after a producer-state error (sequence, producer id, epoch)',
  );
  return (reason) => {
    recreated?.inc();
    log.warn({ reason }, 'idempotent producer re-created after a producer-state error; the batch is retried');
  };
}
/** A record's share of a batch beyond its key, value and headers (varint lengths, deltas, attributes). */
const RECORD_OVERHEAD = 24;

/** Bytes a record takes in an uncompressed v2 record batch, from above. */
export function recordSize(r: OutRecord): number {
  let n = RECORD_OVERHEAD + (r.key?.length ?? 0) * (typeof r.key === 'string' ? 3 : 1) + (r.value?.length ?? 0);
  if (r.headers) for (const [k, v] of Object.entries(r.headers)) n += 10 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/**
 * Splits records, in order, into runs of at most maxBytes (by recordSize); a record larger than
 * maxBytes alone is a run of its own (the broker decides whether it is too large).
 */
export function chunkRecords<R extends OutRecord>(records: R[], maxBytes: number): R[][] {
  const chunks: R[][] = [];
  let chunk: R[] = [];
  let bytes = 0;
  for (const r of records) {
    const n = recordSize(r);
    if (chunk.length > 0 && bytes + n > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(r);
    bytes += n;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

export interface AuditProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Resolves once every record is acknowledged by all in-sync replicas. Rejects with an
   * AuditError classed by errors.ts; after a producer-state error the producer has already been
   * re-created, so retrying the same send is all a caller does. Records are sent in requests of at
   * most maxRequestBytes, one after the other (so a partition's order is kept); after a failure
   * the requests before it are already written, and a retry writes them again (at least once).
   */
  send(topic: string, records: OutRecord[]): Promise<void>;
  /** The client's producer in use now (a new one after each re-creation): kafkajs's, or @platformatic/kafka's (platformatic-producer.ts). */
  readonly raw: object;
  /**
   * Only on a transactional producer (createAuditProducer with `transactionalId`): runs `fn` in one
   * Kafka transaction, one at a time per producer. Every send() made from inside `fn` (however
   * deep) goes into it, and `tx.sendOffsets` puts a consumer group's offset into it; the
   * transaction commits when `fn` resolves and aborts when it rejects (then rejects with the
   * AuditError, classed). Nothing of an aborted transaction is ever read by read_committed consumers.
   */
  transaction?<T>(fn: (tx: TransactionScope) => Promise<T>): Promise<T>;
}

export interface TransactionScope {
  /** Commits `offset` (the next to read) for the group's partition with the transaction (TxnOffsetCommit). */
  sendOffsets(groupId: string, topic: string, partition: number, offset: string): Promise<void>;
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
export interface AuditProducerOptions {
  logger: Logger;
  compression?: 'none' | 'gzip';
  metrics?: Metrics;
  maxRequestBytes?: number;
  /**
   * Makes the producer transactional (exactly-once stages): one id per stage instance, stable
   * across its restarts, so a restarted instance fences the one that crashed and aborts what it
   * left open. Two live instances must never share it (the later fences the earlier).
   */
  transactionalId?: string;
  /** Kafka's transaction.timeout.ms: the broker aborts a transaction open longer. Default 60,000 (1 min). */
  transactionTimeoutMs?: number;
}

/**
 * The transactional id of a stage instance: the configured one, else `<groupId>-<hostname>`
 * (a container's or pod's hostname is its own, and stays across restarts of the process).
 */
export function stageTransactionalId(groupId: string, configured?: string): string {
  return configured ?? `${groupId}-${hostname()}`;
}

export function createAuditProducer(kafka: Kafka, opts: AuditProducerOptions): AuditProducer {
  // Keys are always set (partitionKey), so the partitioner is murmur2 of the key as in Java clients.
  const make = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(opts.transactionalId ? { transactionalId: opts.transactionalId, transactionTimeout: opts.transactionTimeoutMs ?? 60_000 } : {}),
    });
  const compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const log = opts.logger.child({ component: 'producer' });
  const maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const recreated = producerRecreations(opts.metrics, log);
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
    recreated(reason);
    await failed.disconnect().catch(() => undefined);
  }

  // The transaction of the batch being handled, found by every send() made inside it.
  const current = new AsyncLocalStorage<Transaction>();
  let queue: Promise<unknown> = Promise.resolve();

  async function inTransaction<T>(fn: (tx: TransactionScope) => Promise<T>): Promise<T> {
    if (!closed) await connect();
    const p = producer;
    let tx: Transaction;
    try {
      tx = await p.transaction();
    } catch (err) {
      const e = fromKafkaError(err, 'beginning a transaction');
      // kafkajs refuses a new transaction while its last one is in an unknown state: a new producer (InitProducerId aborts it broker-side)
      await replace(p, e.message);
      throw e;
    }
    const scope: TransactionScope = {
      async sendOffsets(groupId, topic, partition, offset) {
        await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition, offset }] }] });
      },
    };
    try {
      const result = await current.run(tx, () => fn(scope));
      await tx.commit();
      return result;
    } catch (err) {
      const e = fromKafkaError(err, 'a transaction');
      try {
        await tx.abort();
      } catch (abortErr) {
        // a transaction that cannot be aborted from here is aborted by the next producer's InitProducerId
        await replace(p, `abort failed: ${(abortErr as Error).message}`);
        throw e;
      }
      if (failureClass(e) === 'producer-state') await replace(p, e.message);
      throw e;
    }
  }

  const self: AuditProducer = {
    get raw() {
      return producer;
    },
    ...(opts.transactionalId
      ? {
          transaction<T>(fn: (tx: TransactionScope) => Promise<T>): Promise<T> {
            // One transaction at a time: a kafkajs producer holds one.
            const run = queue.then(() => inTransaction(fn));
            queue = run.catch(() => undefined);
            return run;
          },
        }
      : {}),
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
      const tx = current.getStore();
      if (opts.transactionalId && !tx) {
        // a transactional producer writes only in transactions: a send of its own is one
        await self.transaction!(() => self.send(topic, records));
        return;
      }
      let p = producer;
      try {
        // connected again after a re-creation; a no-op otherwise (the promise is kept)
        if (!closed) await connect();
        for (const chunk of chunkRecords(records, maxRequestBytes)) {
          p = producer;
          await (tx ?? p).send({
            topic,
            acks: -1,
            compression,
            messages: chunk.map((r) => ({
              key: r.key,
              value: r.value,
              ...(r.headers ? { headers: r.headers } : {}),
              ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
            })),
          });
        }
      } catch (err) {
        const e = fromKafkaError(err, `producing ${records.length} records to ${topic}`);
        if (failureClass(e) === 'producer-state') await replace(p, e.message);
        throw e;
      }
    },
  };
  return self;
}
