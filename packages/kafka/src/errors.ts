/**
 * The one table that says what a Kafka client error means for a stage. kafkajs' own `retriable`
 * flag is not enough: it marks "the coordinator is not aware of this member" and an idempotent
 * producer's sequence errors non-retriable, and a stage that believed it dead-lettered good
 * records or left a consumer crashed in a live process (issue #28).
 *
 *   class            what happened                                 what the stage does
 *   rebalance        the group moved on without us, or its          give the error back to kafkajs
 *                    coordinator moved                              (it rejoins); the batch is not
 *                                                                   committed and comes back
 *   producer-state   the broker no longer accepts this idempotent   re-create the producer (new id
 *                    producer's sequence or epoch                   and epoch), retry the batch
 *   record           this record can never be written (too large,   the only class that goes to
 *                    invalid, cannot be decoded, masked or mapped)  the DLQ
 *   fatal            authentication, authorization, configuration,  hold the partition, retry with
 *                    a broker certificate no configured CA trusts   the longest backoff, unhealthy;
 *                                                                   a consumer that stops on one
 *                                                                   exits the process (code 75)
 *   transient        connections, timeouts, leaders moving,         back off with jitter, retry
 *                    retries exhausted, anything unknown            the batch, holding the partition
 */
import { AuditError, defineErrors, SETTINGS_REFUSED, settingsRefused, speaksTls, untrustedCertificate, type KafkaConnectionConfig } from '@jwt-audit/runtime';

/** The codes this package defines (listed in its README); the first five name the classes above. */
export const KAFKA_ERRORS = defineErrors({
  /** transient: a Kafka call failed in a way that heals (connection, timeout, leader moving, anything unknown). */
  AUDIT_ERR_KAFKA: { message: '%s', retriable: true },
  /** rebalance: the group moved on without this member; kafkajs rejoins. */
  AUDIT_ERR_KAFKA_REBALANCE: { message: '%s', retriable: true },
  /** producer-state: the broker no longer accepts this idempotent producer's sequence or epoch. */
  AUDIT_ERR_KAFKA_PRODUCER_STATE: { message: '%s', retriable: true },
  /** record: this record can never be written (too large, invalid): dead-lettered. */
  AUDIT_ERR_KAFKA_RECORD: { message: '%s' },
  /** fatal: authentication, authorization, configuration, an untrusted certificate. */
  AUDIT_ERR_KAFKA_FATAL: { message: '%s' },
  /** A consumer that could not rejoin its group after its restart attempts: the process exits. */
  AUDIT_ERR_KAFKA_CONSUMER_STOPPED: { message: 'the consumer could not rejoin after %s attempts: %s' },
  /** A record with no value (a tombstone) on a topic of events: dead-lettered. */
  AUDIT_ERR_EMPTY_RECORD: { message: 'record has no value' },
  /** A transform threw on a record (what it threw is the cause): dead-lettered. */
  AUDIT_ERR_TRANSFORM: { message: '%s' },
  /** The transform threads are stopped, exited, or could not build the transform module. */
  AUDIT_ERR_TRANSFORM_THREAD: { message: '%s', retriable: true },
  /** A batch handler threw something that is not an AuditError, on a record. */
  AUDIT_ERR_PROCESSING: { message: '%s' },
});

export type FailureClass = 'rebalance' | 'producer-state' | 'record' | 'fatal' | 'transient';

/** Kafka protocol error types (kafkajs `type`) that are not transient. */
const BY_TYPE: Record<string, FailureClass> = {
  UNKNOWN_MEMBER_ID: 'rebalance',
  REBALANCE_IN_PROGRESS: 'rebalance',
  ILLEGAL_GENERATION: 'rebalance',
  NOT_COORDINATOR_FOR_GROUP: 'rebalance',
  GROUP_COORDINATOR_NOT_AVAILABLE: 'rebalance',
  GROUP_LOAD_IN_PROGRESS: 'rebalance',
  MEMBER_ID_REQUIRED: 'rebalance',
  FENCED_INSTANCE_ID: 'rebalance',
  // the protocol's own names, as @platformatic/kafka gives them (`apiId`), where kafkajs renamed them
  NOT_COORDINATOR: 'rebalance',
  COORDINATOR_NOT_AVAILABLE: 'rebalance',
  COORDINATOR_LOAD_IN_PROGRESS: 'rebalance',
  OUT_OF_ORDER_SEQUENCE_NUMBER: 'producer-state',
  UNKNOWN_PRODUCER_ID: 'producer-state',
  INVALID_PRODUCER_EPOCH: 'producer-state',
  INVALID_PRODUCER_ID_MAPPING: 'producer-state',
  PRODUCER_FENCED: 'producer-state',
  MESSAGE_TOO_LARGE: 'record',
  RECORD_LIST_TOO_LARGE: 'record',
  INVALID_RECORD: 'record',
  INVALID_TIMESTAMP: 'record',
  TOPIC_AUTHORIZATION_FAILED: 'fatal',
  GROUP_AUTHORIZATION_FAILED: 'fatal',
  CLUSTER_AUTHORIZATION_FAILED: 'fatal',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'fatal',
  SASL_AUTHENTICATION_FAILED: 'fatal',
  UNSUPPORTED_SASL_MECHANISM: 'fatal',
  ILLEGAL_SASL_STATE: 'fatal',
  INVALID_CONFIG: 'fatal',
  UNSUPPORTED_VERSION: 'fatal',
};

/** kafkajs error classes (`name`) that are not transient; every other name is. */
const BY_NAME: Record<string, FailureClass> = {
  KafkaJSSASLAuthenticationError: 'fatal',
  KafkaJSServerDoesNotSupportApiKey: 'fatal',
  KafkaJSNotImplemented: 'fatal',
  KafkaJSMemberIdRequired: 'rebalance',
  KafkaJSFetcherRebalanceError: 'rebalance',
};

/** @platformatic/kafka error codes (`code`, PLT_KFK_*) that are not transient; its protocol errors are classed by `apiId`. */
const BY_PLATFORMATIC_CODE: Record<string, FailureClass> = {
  PLT_KFK_AUTHENTICATION: 'fatal',
  PLT_KFK_UNSUPPORTED_API: 'fatal',
  PLT_KFK_UNSUPPORTED_COMPRESSION: 'fatal',
  PLT_KFK_UNSUPPORTED: 'fatal',
};

/** Codes of our own errors (AuditError) with a class other than their `retriable` flag says. */
const BY_CODE: Record<string, FailureClass> = {
  [KAFKA_ERRORS.AUDIT_ERR_KAFKA_REBALANCE.code]: 'rebalance',
  [KAFKA_ERRORS.AUDIT_ERR_KAFKA_PRODUCER_STATE.code]: 'producer-state',
  [KAFKA_ERRORS.AUDIT_ERR_KAFKA_RECORD.code]: 'record',
  [KAFKA_ERRORS.AUDIT_ERR_KAFKA_FATAL.code]: 'fatal',
  [KAFKA_ERRORS.AUDIT_ERR_KAFKA.code]: 'transient',
  // a transform module that cannot be built fails every record alike: not a record's fault
  [KAFKA_ERRORS.AUDIT_ERR_TRANSFORM_THREAD.code]: 'fatal',
  // the indexer's code (services/indexer/src/errors.ts): credentials refused heal only by a fix
  AUDIT_ERR_ES_UNAUTHORIZED: 'fatal',
};

const CODE_OF: Record<FailureClass, string> = {
  rebalance: KAFKA_ERRORS.AUDIT_ERR_KAFKA_REBALANCE.code,
  'producer-state': KAFKA_ERRORS.AUDIT_ERR_KAFKA_PRODUCER_STATE.code,
  record: KAFKA_ERRORS.AUDIT_ERR_KAFKA_RECORD.code,
  fatal: KAFKA_ERRORS.AUDIT_ERR_KAFKA_FATAL.code,
  transient: KAFKA_ERRORS.AUDIT_ERR_KAFKA.code,
};

/** Worse first: an aggregate of several errors takes the class that asks the most of the stage. */
const RANK: FailureClass[] = ['fatal', 'producer-state', 'rebalance', 'record', 'transient'];

interface KafkaLike {
  name?: string;
  type?: string;
  /** @platformatic/kafka's protocol error name (OUT_OF_ORDER_SEQUENCE_NUMBER ...) */
  apiId?: string;
  retriable?: boolean;
  cause?: unknown;
  errors?: unknown[];
  code?: string;
}

/** The class of a kafkajs or @platformatic/kafka error: its protocol type or error class, through causes and aggregates. */
function kafkaClass(err: unknown, depth = 0): FailureClass {
  if (err === null || typeof err !== 'object' || depth > 8) return 'transient';
  const e = err as KafkaLike;
  const found: FailureClass[] = [];
  // kafkajs calls an untrusted certificate a retriable connection error; it never heals by itself
  if (depth === 0 && untrustedCertificate(err)) found.push('fatal');
  if (e.type && BY_TYPE[e.type]) found.push(BY_TYPE[e.type]!);
  if (e.name && BY_NAME[e.name]) found.push(BY_NAME[e.name]!);
  if (e.apiId && BY_TYPE[e.apiId]) found.push(BY_TYPE[e.apiId]!);
  if (typeof e.code === 'string' && BY_PLATFORMATIC_CODE[e.code]) found.push(BY_PLATFORMATIC_CODE[e.code]!);
  // a retry wrapper (NumberOfRetriesExceeded, NonRetriableError) names what it wrapped as its cause
  if (e.cause !== undefined && e.cause !== err) found.push(kafkaClass(e.cause, depth + 1));
  // KafkaJSAggregateError (one send to several brokers failed in several ways), platformatic's MultipleErrors (retries, a response's errors)
  if (Array.isArray(e.errors)) for (const inner of e.errors) found.push(kafkaClass(inner, depth + 1));
  return RANK.find((c) => found.includes(c)) ?? 'transient';
}

/**
 * The class of anything a stage caught. Errors from kafkajs by the table above. Our own errors
 * by code where listed; otherwise a retriable AuditError is transient and a non-retriable one is
 * the handler's verdict on the record (the BatchHandler contract: throw a non-retriable error to
 * dead-letter).
 */
export function failureClass(err: unknown): FailureClass {
  if (err instanceof AuditError) {
    if (err.code === SETTINGS_REFUSED) return 'fatal';
    const byCode = BY_CODE[err.code];
    if (byCode) return byCode;
    return err.retriable ? 'transient' : 'record';
  }
  return kafkaClass(err);
}

/**
 * Normalises what kafkajs throws, once, where it was caught: the code names the class
 * (AUDIT_ERR_KAFKA_<CLASS>, AUDIT_ERR_KAFKA for transient), `retriable` is false only for the
 * record and fatal classes, and `cause` keeps the kafkajs error (a rebalance is handed back to
 * kafkajs as it was thrown, see kafkaCause).
 */
export function fromKafkaError(err: unknown, what: string, config?: KafkaConnectionConfig): AuditError {
  if (err instanceof AuditError) return err;
  // a refused setting keeps its class code (fatal) and says which setting in the message
  const refused = kafkaSettingsRefused(err, config);
  const e = err as { message?: string };
  const cls = kafkaClass(err);
  return new AuditError(CODE_OF[cls], `${what}: ${refused?.message ?? e?.message ?? String(err)}`, {
    retriable: cls !== 'record' && cls !== 'fatal',
    cause: err,
  });
}

function findIn(err: unknown, match: (e: KafkaLike) => boolean, depth = 0): KafkaLike | undefined {
  if (err === null || typeof err !== 'object' || depth > 8) return undefined;
  const e = err as KafkaLike;
  if (match(e)) return e;
  for (const inner of [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    if (inner !== undefined && inner !== err) {
      const found = findIn(inner, match, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

const SASL_NAME: Record<string, string> = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' };

/**
 * The settings a kafkajs error says are wrong, as one line naming the variable (code
 * AUDIT_ERR_SETTINGS_REFUSED), or undefined when it is something else. Synchronous: what the
 * error itself proves (credentials refused, mechanism not offered, certificate not trusted).
 */
export function kafkaSettingsRefused(err: unknown, config?: KafkaConnectionConfig): AuditError | undefined {
  if (err instanceof AuditError && err.code === SETTINGS_REFUSED) return err;
  const mech = config?.sasl ? SASL_NAME[config.sasl.mechanism] : undefined;
  const user = config?.sasl ? ` of user ${JSON.stringify(config.sasl.username)}` : '';
  const saslRefused = (e: KafkaLike) =>
    e.name === 'KafkaJSSASLAuthenticationError' ||
    e.type === 'SASL_AUTHENTICATION_FAILED' ||
    e.apiId === 'SASL_AUTHENTICATION_FAILED' ||
    (e.code === 'PLT_KFK_AUTHENTICATION' && /SASL authentication failed/.test(String((e as { message?: unknown }).message)));
  if (findIn(err, (e) => e.type === 'UNSUPPORTED_SASL_MECHANISM' || e.apiId === 'UNSUPPORTED_SASL_MECHANISM')) {
    return settingsRefused(`the Kafka broker does not offer SASL mechanism ${mech ?? '(the configured one)'}: check AUDIT_KAFKA_SASL_MECHANISM`, err);
  }
  if (findIn(err, saslRefused)) {
    return settingsRefused(
      `Kafka refused the SASL credentials${user}${mech ? ` (${mech})` : ''}: check AUDIT_KAFKA_SASL_USERNAME and AUDIT_KAFKA_SASL_PASSWORD`,
      err,
    );
  }
  if (findIn(err, (e) => e.type === 'ILLEGAL_SASL_STATE' || e.apiId === 'ILLEGAL_SASL_STATE')) {
    return settingsRefused('the Kafka broker does not expect SASL on this listener: unset AUDIT_KAFKA_SASL_MECHANISM, or use its SASL listener', err);
  }
  const untrusted = untrustedCertificate(err);
  if (untrusted) {
    const ca = config?.tls?.caFile;
    return settingsRefused(
      `the Kafka broker's TLS certificate is not trusted (${untrusted}): set AUDIT_KAFKA_SSL_CA_FILE to the CA that signed it${ca ? ` (now ${ca})` : ''}`,
      err,
    );
  }
  return undefined;
}

/**
 * What a connection failure means for the settings, for a client that is about to give up (a
 * service that could not start, a CLI command): kafkaSettingsRefused, and for a connection the
 * broker closed without answering, a TLS handshake to tell a TLS listener (AUDIT_KAFKA_SSL unset)
 * from a broker that is going away. Undefined: not a settings problem as far as can be told.
 */
export async function explainKafkaError(err: unknown, config: KafkaConnectionConfig): Promise<AuditError | undefined> {
  const refused = kafkaSettingsRefused(err, config);
  if (refused) return refused;
  const closed = findIn(
    err,
    (e) => e.name === 'KafkaJSConnectionClosedError' || /closed connection|connection closed/i.test(String((e as { message?: unknown }).message ?? '')),
  );
  if (!closed) return undefined;
  const tlsOn = config.ssl === true || Boolean(config.tls?.caFile || config.tls?.certFile);
  if (!tlsOn) {
    const first = config.brokers[0] ?? '';
    const colon = first.lastIndexOf(':');
    if (colon > 0 && (await speaksTls(first.slice(0, colon), Number(first.slice(colon + 1))))) {
      return settingsRefused(
        `the Kafka broker at ${first} speaks TLS: set AUDIT_KAFKA_SSL=true, or AUDIT_KAFKA_SSL_CA_FILE to the CA that signed its certificate`,
        err,
      );
    }
  }
  if (!config.sasl) {
    return KAFKA_ERRORS.AUDIT_ERR_KAFKA.wrap(
      err,
      'the Kafka broker closed the connection without answering: if its listener requires SASL, set AUDIT_KAFKA_SASL_MECHANISM, AUDIT_KAFKA_SASL_USERNAME and AUDIT_KAFKA_SASL_PASSWORD',
    );
  }
  return undefined;
}

/** The kafkajs error under an AuditError made by fromKafkaError (kafkajs rejoins on its own types only). */
export function kafkaCause(err: unknown): unknown {
  return err instanceof AuditError && err.cause !== undefined && err.code.startsWith(KAFKA_ERRORS.AUDIT_ERR_KAFKA.code) ? err.cause : err;
}

/** kafkajs error classes that mean "the broker could not be reached", whatever it was asked. */
const CONNECTION_NAMES = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSNoBrokerAvailableError']);
/** @platformatic/kafka's: NetworkError and TimeoutError both carry PLT_KFK_NETWORK. */
const CONNECTION_CODES = new Set(['PLT_KFK_NETWORK']);
/** The same in words: kafkajs' log lines carry a message, and its wrappers quote the cause in theirs. */
const CONNECTION_TEXT =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Connection error|Connection timeout|Closed connection|connection (?:was )?closed|Failed to connect|not connected|Broker not connected|Request .* timed out|Kafka unreachable|No broker available/i;

/**
 * Whether an error (or a kafkajs log line's message) says the broker could not be reached: a
 * dependency being down, reported by DependencyLog, not a failure of its own. A refused setting
 * (credentials, certificate) is not one: it never heals and is named on its own line.
 */
export function isConnectionError(err: unknown): boolean {
  if (typeof err === 'string') return CONNECTION_TEXT.test(err) && !untrustedCertificate({ message: err });
  if (kafkaSettingsRefused(err)) return false;
  return (
    findIn(
      err,
      (e) =>
        (e.name !== undefined && CONNECTION_NAMES.has(e.name)) ||
        (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) ||
        CONNECTION_TEXT.test(String((e as { message?: unknown }).message ?? '')),
    ) !== undefined
  );
}
