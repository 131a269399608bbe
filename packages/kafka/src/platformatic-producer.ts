/**
 * The AuditProducer on @platformatic/kafka (issue #21 item 3): the same contract as the kafkajs
 * one in producer.ts (idempotent, acks all, one request in flight, requests of at most
 * maxRequestBytes in order, errors classed by errors.ts, a new producer after a producer-state
 * error), at about a third of kafkajs's CPU per record (packages/kafka/README.md, the publishing
 * floor). Not transactional: the exactly-once stages keep kafkajs (createAuditProducer).
 *
 * Partitions: the Java client's (and kafkajs's DefaultPartitioner's) rule, murmur2 of the key
 * with the sign bit cleared, modulo the partition count, so one subject's events land on the
 * partition they always did whichever client wrote them; a record without a key goes round robin
 * as with kafkajs (its own default, `murmur2 >>> 0`, differs for half the keys).
 */
import type { TLSSocketOptions } from 'node:tls';
import { compatibilityPartitioner, ProduceAcks, Producer, type MessageToProduce, type SASLOptions } from '@platformatic/kafka';
import {
  dependencyLog,
  kafkaTlsOption,
  RETRY_POLICIES,
  retryDelay,
  type DependencyLog,
  type KafkaConnectionConfig,
  type RetryPolicy,
} from '@jwt-audit/runtime';
import { failureClass, fromKafkaError, isConnectionError } from './errors.js';
import { chunkRecords, DEFAULT_MAX_REQUEST_BYTES, producerRecreations, type AuditProducer, type AuditProducerOptions, type OutRecord } from './producer.js';

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

const SASL_MECHANISM = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

export interface PlatformaticProducerOptions extends Omit<AuditProducerOptions, 'transactionalId' | 'transactionTimeoutMs'> {
  /** The client's own request retries (a failed send is then the caller's to retry); default RETRY_POLICIES.kafkaClient. */
  retry?: RetryPolicy;
  /** Where completed requests and failures are reported; default the `kafka` dependency of the logger's destination. */
  dependency?: DependencyLog;
}

/** The partition of a keyed record (kafkajs DefaultPartitioner, Java's): murmur2(key) & 0x7fffffff, modulo the count (applied by the client). */
export function javaCompatiblePartitioner(): (message: Message, key: Buffer | undefined) => number {
  let next = 0;
  return (message, key) => (key === undefined ? next++ & 0x7fffffff : compatibilityPartitioner(message, key));
}

/** The connection options of a platformatic client from the common configuration (TLS, SASL as for kafkajs). */
export function platformaticConnection(config: KafkaConnectionConfig): { tls?: TLSSocketOptions; sasl?: SASLOptions } {
  const tls = kafkaTlsOption(config);
  return {
    ...(tls === false ? {} : { tls: tls === true ? {} : tls }),
    ...(config.sasl ? { sasl: { mechanism: SASL_MECHANISM[config.sasl.mechanism], username: config.sasl.username, password: config.sasl.password } } : {}),
  };
}

const EMPTY_HEADERS = new Map<Buffer, Buffer>();

/** Closes a producer, failing whatever it still has in flight (the caller retries or spools it). */
function closeNow(p: Producer<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
  return new Promise((resolve, reject) => p.close(true, (err) => (err ? reject(err) : resolve())));
}

export function createPlatformaticProducer(config: KafkaConnectionConfig, opts: PlatformaticProducerOptions): AuditProducer {
  const log = opts.logger.child({ component: 'producer' });
  const dependency = opts.dependency ?? dependencyLog(opts.logger, 'kafka');
  const policy = opts.retry ?? RETRY_POLICIES.kafkaClient;
  const maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const connection = platformaticConnection(config);
  const recreated = producerRecreations(opts.metrics, log);
  const make = () =>
    new Producer<Buffer, Buffer, Buffer, Buffer>({
      clientId: config.clientId,
      bootstrapBrokers: config.brokers,
      ...connection,
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: opts.compression === 'gzip' ? 'gzip' : 'none',
      partitioner: javaCompatiblePartitioner(),
      autocreateTopics: false,
      // a failed send is the caller's to retry (spool, runner): a bounded count. The client makes an
      // idempotent producer's 0 or 1 retries endless, so 2 at least.
      retries: Math.max(2, Number.isFinite(policy.attempts) ? policy.attempts - 1 : 1_000_000),
      retryDelay: (_client, _op, attempt) => retryDelay({ ...policy, jitter: 'full' }, attempt - 1),
      ...(policy.timeoutMs > 0 ? { connectTimeout: policy.timeoutMs } : {}),
    });

  // Header names and values repeat (a schema version, a fingerprint): their bytes are made once.
  const headerBytes = new Map<string, Buffer>();
  const bytes = (s: string): Buffer => {
    let b = headerBytes.get(s);
    if (b === undefined) {
      if (headerBytes.size >= 1024) headerBytes.clear();
      b = Buffer.from(s);
      headerBytes.set(s, b);
    }
    return b;
  };
  // Records of a batch usually share one header object (the interceptor's header table): one Map each.
  let lastHeaders: Record<string, string> | undefined;
  let lastMap = EMPTY_HEADERS;
  const headersOf = (h: Record<string, string> | undefined): Map<Buffer, Buffer> => {
    if (h === undefined) return EMPTY_HEADERS;
    if (h === lastHeaders) return lastMap;
    const m = new Map<Buffer, Buffer>();
    for (const k in h) m.set(bytes(k), bytes(h[k]!));
    lastHeaders = h;
    lastMap = m;
    return m;
  };
  const message = (topic: string, r: OutRecord): Message => ({
    topic,
    ...(r.key !== null ? { key: typeof r.key === 'string' ? Buffer.from(r.key) : r.key } : {}),
    ...(r.value !== null ? { value: r.value } : {}),
    headers: headersOf(r.headers),
    ...(r.timestamp !== undefined ? { timestamp: BigInt(r.timestamp) } : {}),
  });

  let producer = make();
  let connected: Promise<void> | undefined;
  let closed = false;
  /** A failure reported to the dependency state when it says the broker could not be reached. */
  const failed = (err: unknown) => {
    if (isConnectionError(err)) dependency.failed(err);
  };
  const connect = () =>
    (connected ??= producer.initIdempotentProducer({}).then(
      () => dependency.ok(),
      (err: unknown) => {
        connected = undefined;
        failed(err);
        throw fromKafkaError(err, 'connecting the producer', config);
      },
    ));

  /** Replaces `old` unless a concurrent send already did (one error, one new producer). */
  async function replace(old: Producer<Buffer, Buffer, Buffer, Buffer>, reason: string): Promise<void> {
    if (old !== producer) return;
    producer = make();
    connected = undefined;
    recreated(reason);
    await closeNow(old).catch(() => undefined);
  }

  return {
    get raw() {
      return producer;
    },
    connect: () => {
      // a closed client cannot be opened again: a new one (a new producer id, as kafkajs gets on reconnecting)
      if (closed && producer.closed) producer = make();
      closed = false;
      return connect();
    },
    async disconnect() {
      closed = true;
      if (!connected) return;
      connected = undefined;
      await closeNow(producer);
    },
    async send(topic, records) {
      if (records.length === 0) return;
      let p = producer;
      try {
        if (!closed) await connect();
        for (const chunk of chunkRecords(records, maxRequestBytes)) {
          p = producer;
          await p.send({ messages: chunk.map((r) => message(topic, r)) });
        }
        dependency.ok();
      } catch (err) {
        failed(err);
        const e = fromKafkaError(err, `producing ${records.length} records to ${topic}`, config);
        if (failureClass(e) === 'producer-state') await replace(p, e.message);
        throw e;
      }
    },
  };
}
