import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { AuditError } from '@jwt-audit/runtime';
// kafkajs is CommonJS: its error classes are properties of the default export
const {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
} = kafkajs;
import { failureClass, fromKafkaError, isConnectionError, kafkaCause, type FailureClass } from './errors.js';

// kafkajs' own table of Kafka's error codes: every code the protocol can answer, as kafkajs raises it
const { KafkaJSNoBrokerAvailableError: NoBrokerAvailable } = createRequire(import.meta.url)('kafkajs/src/errors') as {
  KafkaJSNoBrokerAvailableError: new () => Error;
};
const { errorCodes, createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error') as {
  errorCodes: Array<{ type: string; code: number; retriable: boolean }>;
  createErrorFromCode(code: number): Error;
};

const EXPECTED: Record<string, FailureClass> = {
  UNKNOWN_MEMBER_ID: 'rebalance',
  REBALANCE_IN_PROGRESS: 'rebalance',
  ILLEGAL_GENERATION: 'rebalance',
  NOT_COORDINATOR_FOR_GROUP: 'rebalance',
  GROUP_COORDINATOR_NOT_AVAILABLE: 'rebalance',
  GROUP_LOAD_IN_PROGRESS: 'rebalance',
  MEMBER_ID_REQUIRED: 'rebalance',
  FENCED_INSTANCE_ID: 'rebalance',
  OUT_OF_ORDER_SEQUENCE_NUMBER: 'producer-state',
  UNKNOWN_PRODUCER_ID: 'producer-state',
  INVALID_PRODUCER_EPOCH: 'producer-state',
  INVALID_PRODUCER_ID_MAPPING: 'producer-state',
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

/** The ways one Kafka error reaches a stage: bare, through kafkajs' retry wrappers, in an aggregate, normalised by us. */
const WRAPPINGS: Array<[string, (e: Error) => unknown]> = [
  ['bare', (e) => e],
  // as kafkajs' retrier wraps what it gave up on (retry/index.js)
  ['retries exceeded', (e) => new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 100, cause: e } as never)],
  ['non-retriable wrapper', (e) => new (KafkaJSNonRetriableError as unknown as new (e: Error, o: object) => Error)(e, { cause: e })],
  ['aggregate with a connection error', (e) => new KafkaJSAggregateError('send failed', [new KafkaJSConnectionError('Connection error: ECONNREFUSED'), e])],
  ['normalised', (e) => fromKafkaError(e, 'producing')],
  ['normalised twice', (e) => fromKafkaError(fromKafkaError(e, 'inner'), 'outer')],
];

test('errors: every Kafka error code, bare or wrapped, has one class; only the listed ones are not transient', () => {
  assert.ok(errorCodes.length > 80, 'the whole table of Kafka error codes');
  let checked = 0;
  for (const { type, code } of errorCodes) {
    const expected = EXPECTED[type] ?? 'transient';
    for (const [how, wrap] of WRAPPINGS) {
      const err = wrap(createErrorFromCode(code));
      assert.equal(failureClass(err), expected, `${type} (${how})`);
      checked++;
    }
    const normalised = fromKafkaError(createErrorFromCode(code), 'committing offsets');
    assert.equal(normalised.retriable, expected !== 'record' && expected !== 'fatal', `${type}: retriable iff the batch is retried as it is`);
    assert.match(normalised.code, /^AUDIT_ERR_KAFKA(_[A-Z_]+)?$/);
    assert.match(normalised.message, /^committing offsets: /);
    // kafkajs rejoins on its own error types only: the original is what it must get back
    assert.equal((kafkaCause(normalised) as { type?: string }).type, type);
  }
  assert.equal(checked, errorCodes.length * WRAPPINGS.length);
  // every type named in the expectation exists in kafkajs' table (no class for a misspelt type)
  const known = new Set(errorCodes.map((e) => e.type));
  for (const type of Object.keys(EXPECTED)) assert.ok(known.has(type), type);
});

test('errors: the unknown-member commit error is a rebalance, never a reason to stop (issue #28 item 1)', () => {
  const unknownMember = new KafkaJSProtocolError(createErrorFromCode(25));
  assert.equal((unknownMember as { type?: string }).type, 'UNKNOWN_MEMBER_ID');
  assert.equal(unknownMember.retriable, false, 'kafkajs itself calls it non-retriable, which stopped the consumer for good');
  assert.equal(failureClass(unknownMember), 'rebalance');
  assert.equal(fromKafkaError(unknownMember, 'committing offsets').retriable, true);
});

test('errors: client-side kafkajs errors by class; our own errors by code, else their retriable flag', () => {
  const cases: Array<[string, unknown, FailureClass]> = [
    ['connection refused', new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), 'transient'],
    ['request timeout', new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'), 'transient'],
    [
      'coordinator not found (kafkajs calls it non-retriable)',
      new (KafkaJSGroupCoordinatorNotFound as unknown as new (m: string) => Error)('Failed to find group coordinator'),
      'transient',
    ],
    ['SASL authentication', new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)('SASL PLAIN authentication failed'), 'fatal'],
    ['a plain Error', new Error('socket hang up'), 'transient'],
    ['a string', 'something', 'transient'],
    ['null', null, 'transient'],
    ['retriable AuditError', new AuditError('AUDIT_ERR_ES_UNAVAILABLE', 'HTTP 503', { retriable: true }), 'transient'],
    ['non-retriable AuditError: the handler says the record is bad', new AuditError('AUDIT_ERR_MAPPING', 'cannot map'), 'record'],
    ['a transform module that cannot be built', new AuditError('AUDIT_ERR_TRANSFORM_THREAD', 'cannot start'), 'fatal'],
    ['Elasticsearch refused our credentials', new AuditError('AUDIT_ERR_ES_UNAUTHORIZED', 'HTTP 401', { retriable: true }), 'fatal'],
  ];
  for (const [name, err, expected] of cases) assert.equal(failureClass(err), expected, name);
  // an aggregate takes the class that asks the most of the stage
  const fenced = createErrorFromCode(47);
  assert.equal(failureClass(new KafkaJSAggregateError('x', [createErrorFromCode(10), fenced, new KafkaJSConnectionError('x')])), 'producer-state');
  assert.equal(failureClass(new KafkaJSAggregateError('x', [createErrorFromCode(10), createErrorFromCode(29)])), 'fatal');
});

test('isConnectionError: the broker unreachable, however kafkajs wraps it; never a protocol answer or a refused setting', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' });
  const connection = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', {
    broker: '127.0.0.1:9092',
    code: 'ECONNREFUSED',
  } as never);
  const wrapped = [
    connection,
    new KafkaJSConnectionError('Connection timeout', { broker: 'b:9092' } as never),
    new KafkaJSConnectionError('Closed connection', { broker: 'b:9092' } as never),
    new KafkaJSRequestTimeoutError('Request Metadata(key: 3, version: 6) timed out', {} as never),
    // every broker of the pool failed to connect: what a consumer crashes with mid-outage
    new NoBrokerAvailable(),
    new KafkaJSNonRetriableError(new NoBrokerAvailable()),
    new KafkaJSNumberOfRetriesExceeded(connection, { retryCount: 5, retryTime: 3000 }),
    new KafkaJSNonRetriableError(connection),
    new KafkaJSNonRetriableError(new KafkaJSNumberOfRetriesExceeded(connection, { retryCount: 5, retryTime: 3000 })),
    new KafkaJSAggregateError('Failed to send', [connection]),
    fromKafkaError(connection, 'producing 3 records to audit.raw.v1'),
    fromKafkaError(new KafkaJSNumberOfRetriesExceeded(connection, { retryCount: 5, retryTime: 3000 }), 'consuming'),
    refused,
  ];
  for (const e of wrapped) assert.equal(isConnectionError(e), true, `${(e as Error).name}: ${(e as Error).message}`);
  // kafkajs' log lines of the outage, as its logCreator gets them
  for (const line of [
    'Connection error: connect ECONNREFUSED 127.0.0.1:42257',
    'Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED 127.0.0.1:42257',
    'Crash: KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED 127.0.0.1:42257',
    'Crash: KafkaJSNonRetriableError: Connection error: connect ECONNREFUSED 127.0.0.1:42257',
    'Connection error: read ECONNRESET',
    'Connection timeout',
    'Request Produce(key: 0, version: 7) timed out',
  ])
    assert.equal(isConnectionError(line), true, line);
  // not the broker being down: answers of a live broker, our own verdicts, refused settings
  for (const { code, type } of errorCodes) assert.equal(isConnectionError(createErrorFromCode(code)), false, type);
  for (const e of [
    new (KafkaJSGroupCoordinatorNotFound as unknown as new (m: string) => Error)('Failed to find group coordinator'),
    new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)('SASL SCRAM SHA512 authentication failed: ...'),
    new AuditError('AUDIT_ERR_KAFKA_RECORD', 'record 3: cannot decode'),
    Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
    new KafkaJSConnectionError('Connection error: self-signed certificate in certificate chain', {
      broker: 'b:9093',
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    } as never),
    undefined,
    null,
    42,
  ])
    assert.equal(isConnectionError(e), false, String((e as Error | undefined)?.message ?? e));
  for (const line of [
    'Restarting the consumer in 300ms',
    'The group is rebalancing, re-joining',
    'Connection error: self-signed certificate in certificate chain',
    'Response Heartbeat(key: 12, version: 3)',
  ]) {
    assert.equal(isConnectionError(line), false, line);
  }
});
