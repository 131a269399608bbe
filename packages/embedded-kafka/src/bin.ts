#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { closeOnSignals, createLogger, nonNegativeInteger, readFlagFile, readSecretTable } from '@jwt-audit/runtime';
import { startBroker, type BrokerOptions } from './broker.js';

const int = (flag: string) => (v: string) => {
  const n = nonNegativeInteger(flag, v);
  if (typeof n === 'string') throw new InvalidArgumentError(n);
  return n;
};

const program = new Command('embedded-kafka')
  .description('A Kafka wire-protocol broker for one machine (the subset kafkajs and the audit pipeline use), persisted to --dir')
  .option('--dir <path>', 'data directory', './.data/kafka')
  .option('--port <n>', 'listen port (0 = any free port)', int('--port'), 9092)
  .option('--host <addr>', 'listen address', '127.0.0.1')
  .option('--advertised-host <host>', 'host clients are told to connect to (default: --host)')
  .option('--advertised-port <n>', 'port clients are told to connect to (default: the listen port)', int('--advertised-port'))
  .option('--auto-create-topics', 'create unknown topics on first metadata request', false)
  .option('--default-partitions <n>', 'partitions of auto-created topics', int('--default-partitions'), 1)
  .option('--fsync <policy>', 'always | interval | never', 'interval')
  .option('--fsync-interval-ms <n>', 'fsync period with --fsync interval', int('--fsync-interval-ms'), 1000)
  .option('--socket-request-max-bytes <n>', 'largest request frame (socket.request.max.bytes)', int('--socket-request-max-bytes'))
  .option('--queued-max-requests <n>', 'requests in flight, all connections (queued.max.requests)', int('--queued-max-requests'))
  .option('--queued-max-request-bytes <n>', 'bytes of requests in flight (queued.max.request.bytes)', int('--queued-max-request-bytes'))
  .option('--connections-max-idle-ms <n>', 'close idle connections after (connections.max.idle.ms)', int('--connections-max-idle-ms'))
  .option('--fetch-max-bytes <n>', 'largest Fetch response (fetch.max.bytes)', int('--fetch-max-bytes'))
  .option(
    '--max-incremental-fetch-session-cache-slots <n>',
    'fetch sessions kept, KIP-227 (max.incremental.fetch.session.cache.slots)',
    int('--max-incremental-fetch-session-cache-slots'),
  )
  .option('--message-max-bytes <n>', 'largest record batch, default of max.message.bytes (message.max.bytes)', int('--message-max-bytes'))
  .option('--group-min-session-timeout-ms <n>', 'shortest JoinGroup session timeout (group.min.session.timeout.ms)', int('--group-min-session-timeout-ms'))
  .option('--group-max-session-timeout-ms <n>', 'longest JoinGroup session timeout (group.max.session.timeout.ms)', int('--group-max-session-timeout-ms'))
  .option(
    '--transaction-max-timeout-ms <n>',
    'longest transaction.timeout.ms a producer may ask for (transaction.max.timeout.ms)',
    int('--transaction-max-timeout-ms'),
  )
  .option(
    '--transaction-abort-timed-out-interval-ms <n>',
    'how often open transactions are checked against their timeout (transaction.abort.timed.out.transaction.cleanup.interval.ms)',
    int('--transaction-abort-timed-out-interval-ms'),
  )
  .option('--sasl-users-file <path>', 'require SASL (PLAIN, SCRAM-SHA-256/512): a JSON file {"user": "password", ...}')
  .option('--sasl-mechanisms <list>', 'comma-separated mechanisms offered with --sasl-users-file', 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512')
  .option('--tls-cert-file <path>', 'serve TLS: PEM certificate (chain), with --tls-key-file')
  .option('--tls-key-file <path>', 'PEM private key of --tls-cert-file')
  .option('--tls-client-ca-file <path>', 'require client certificates signed by this CA (mutual TLS)')
  .option('--log-level <level>', 'pino level', 'info')
  .showHelpAfterError();
program.parse();
// Limits given on the command line; the others keep startBroker's (Kafka's) defaults.
const LIMITS = [
  'socketRequestMaxBytes',
  'queuedMaxRequests',
  'queuedMaxRequestBytes',
  'connectionsMaxIdleMs',
  'fetchMaxBytes',
  'maxIncrementalFetchSessionCacheSlots',
  'messageMaxBytes',
  'groupMinSessionTimeoutMs',
  'groupMaxSessionTimeoutMs',
  'transactionMaxTimeoutMs',
  'transactionAbortTimedOutIntervalMs',
] as const satisfies readonly (keyof BrokerOptions)[];
const o = program.opts<
  Pick<BrokerOptions, 'dir' | 'advertisedHost' | 'advertisedPort' | (typeof LIMITS)[number]> &
    Required<Pick<BrokerOptions, 'port' | 'host' | 'autoCreateTopics' | 'defaultPartitions' | 'fsyncIntervalMs'>> & {
      fsync: string;
      logLevel: string;
      saslUsersFile?: string;
      saslMechanisms: string;
      tlsCertFile?: string;
      tlsKeyFile?: string;
      tlsClientCaFile?: string;
    }
>();
const limits = Object.fromEntries(LIMITS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
if (!['always', 'interval', 'never'].includes(o.fsync)) program.error(`--fsync must be always, interval or never (got ${o.fsync})`, { exitCode: 2 });

const fail = (message: string): never => program.error(message, { exitCode: 2 });
const read = (flag: string, file: string) => readFlagFile(flag, file, fail);
let sasl: { users: Record<string, string>; mechanisms: ('PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512')[] } | undefined;
if (o.saslUsersFile) {
  const users = readSecretTable('--sasl-users-file', o.saslUsersFile, fail, 'user names to password strings');
  const mechanisms = o.saslMechanisms.split(',').map((m) => m.trim().toUpperCase());
  const unknown = mechanisms.filter((m) => !['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'].includes(m));
  if (unknown.length > 0 || mechanisms.length === 0)
    program.error(`--sasl-mechanisms: unknown ${unknown.join(', ')} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`, { exitCode: 2 });
  sasl = { users, mechanisms: mechanisms as ('PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512')[] };
}
if (Boolean(o.tlsCertFile) !== Boolean(o.tlsKeyFile)) program.error('--tls-cert-file and --tls-key-file go together', { exitCode: 2 });
if (o.tlsClientCaFile && !o.tlsCertFile) program.error('--tls-client-ca-file needs --tls-cert-file and --tls-key-file', { exitCode: 2 });
const tlsOpts = o.tlsCertFile
  ? {
      cert: read('--tls-cert-file', o.tlsCertFile),
      key: read('--tls-key-file', o.tlsKeyFile!),
      ...(o.tlsClientCaFile ? { ca: read('--tls-client-ca-file', o.tlsClientCaFile), requestClientCert: true } : {}),
    }
  : undefined;

const logger = createLogger({ name: 'embedded-kafka', level: o.logLevel });
try {
  const broker = await startBroker({
    dir: o.dir,
    port: o.port,
    host: o.host,
    ...(o.advertisedHost ? { advertisedHost: o.advertisedHost } : {}),
    ...(o.advertisedPort !== undefined ? { advertisedPort: o.advertisedPort } : {}),
    autoCreateTopics: o.autoCreateTopics,
    defaultPartitions: o.defaultPartitions,
    fsync: o.fsync as 'always' | 'interval' | 'never',
    fsyncIntervalMs: o.fsyncIntervalMs,
    ...limits,
    ...(sasl ? { sasl } : {}),
    ...(tlsOpts ? { tls: tlsOpts } : {}),
    logger,
  });
  closeOnSignals(() => broker.close());
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'cannot start the broker');
  process.exit(3);
}
