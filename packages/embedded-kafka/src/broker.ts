import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@jwt-audit/runtime';
import { ErrorCode } from './errors.js';
import { GroupCoordinator } from './group/coordinator.js';
import { serveConnection, type NetworkStats } from './network/connection.js';
import { RequestBudget } from './network/request-budget.js';
import { apiVersionsApi } from './protocol/api-versions.js';
import type { ApiDefinition, BrokerContext } from './protocol/context.js';
import { fetchApi } from './protocol/fetch.js';
import {
  describeGroupsApi,
  findCoordinatorApi,
  heartbeatApi,
  joinGroupApi,
  leaveGroupApi,
  listGroupsApi,
  deleteGroupsApi,
  offsetCommitApi,
  offsetFetchApi,
  syncGroupApi,
} from './protocol/groups.js';
import { listOffsetsApi } from './protocol/list-offsets.js';
import { offsetForLeaderEpochApi } from './protocol/offset-for-leader-epoch.js';
import { alterConfigsApi, describeConfigsApi, incrementalAlterConfigsApi } from './protocol/configs-admin.js';
import { createPartitionsApi, deleteRecordsApi } from './protocol/partitions-admin.js';
import { metadataApi } from './protocol/metadata.js';
import { produceApi } from './protocol/produce.js';
import { saslAuthenticateApi, saslHandshakeApi, SaslUsers, type SaslOptions } from './protocol/sasl.js';
import { FetchSessionCache } from './protocol/fetch-sessions.js';
import { createTopicsApi, deleteTopicsApi, initProducerIdApi } from './protocol/topics-admin.js';
import { addOffsetsToTxnApi, addPartitionsToTxnApi, endTxnApi, TransactionCoordinator, txnOffsetCommitApi } from './protocol/transactions.js';
import { readJson, writeFileAtomic } from './storage/durable-file.js';
import type { FsyncPolicy } from './storage/partition-log.js';
import { TopicStore } from './storage/topic-store.js';

export interface BrokerOptions {
  /** Data directory (created if missing). */
  dir: string;
  /** 0 = ephemeral; default 9092. */
  port?: number;
  /** Bind address; default 127.0.0.1. */
  host?: string;
  advertisedHost?: string;
  advertisedPort?: number;
  /** Create unknown topics on metadata requests; default false. */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics and of CreateTopics with -1; default 1. */
  defaultPartitions?: number;
  /** 'always': fsync every appended batch and offset commit; 'interval' (default): every fsyncIntervalMs; 'never'. */
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  /** Largest request frame accepted (Kafka: socket.request.max.bytes); default 104,857,600 (100 MiB). */
  socketRequestMaxBytes?: number;
  /** Requests received and not yet answered, all connections together (Kafka: queued.max.requests); default 500. */
  queuedMaxRequests?: number;
  /** Bytes of those requests (Kafka: queued.max.request.bytes, unbounded by default there); default 268,435,456 (256 MiB). */
  queuedMaxRequestBytes?: number;
  /** Close connections idle this long (Kafka: connections.max.idle.ms); default 600,000 (10 min). */
  connectionsMaxIdleMs?: number;
  /** Largest Fetch response (Kafka: fetch.max.bytes); default 57,671,680 (55 MiB). */
  fetchMaxBytes?: number;
  /** Incremental fetch sessions kept (Kafka: max.incremental.fetch.session.cache.slots); default 1,000; 0 creates none. */
  maxIncrementalFetchSessionCacheSlots?: number;
  /** Largest record batch, the default of every topic's max.message.bytes (Kafka: message.max.bytes); default 1,048,588. */
  messageMaxBytes?: number;
  /** Session timeouts a JoinGroup may ask for (Kafka: group.min/max.session.timeout.ms); default 6,000 / 1,800,000. */
  groupMinSessionTimeoutMs?: number;
  groupMaxSessionTimeoutMs?: number;
  /** Longest transaction.timeout.ms a producer may ask for (Kafka: transaction.max.timeout.ms); default 900,000 (15 min). */
  transactionMaxTimeoutMs?: number;
  /** How often open transactions are checked against their timeout (Kafka: transaction.abort.timed.out.transaction.cleanup.interval.ms); default 10,000. */
  transactionAbortTimedOutIntervalMs?: number;
  /** Wait for more members when a group forms; default 200 ms. */
  initialRebalanceDelayMs?: number;
  /** Retention and compaction run this often; default 30 s. */
  maintenanceIntervalMs?: number;
  /** Require SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) on the listener: Kafka's SASL_PLAINTEXT, or SASL_SSL with `tls`. */
  sasl?: SaslOptions;
  /** Serve TLS on the listener (Kafka's SSL / SASL_SSL): PEM key and certificate; `ca` + `requestClientCert` for mutual TLS. */
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer; requestClientCert?: boolean };
  logger?: Logger;
}

export interface Broker {
  /** "host:port" for kafkajs `brokers`. */
  address: string;
  host: string;
  port: number;
  /** Runs retention and compaction now (they also run on a timer). */
  maintain(): { deletedSegments: number; compactedRecords: number };
  /** What the broker holds right now: connections, requests in flight, responses waiting for a reader. */
  stats(): BrokerStats;
  close(): Promise<void>;
}

export interface BrokerStats extends NetworkStats {
  reservedBytes: number;
  inFlightRequests: number;
  waitingConnections: number;
}

const silent = () => createLogger({ name: 'embedded-kafka', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

export async function startBroker(opts: BrokerOptions): Promise<Broker> {
  const logger = (opts.logger ?? silent()).child({ component: 'embedded-kafka' });
  const fsync = opts.fsync ?? 'interval';
  fs.mkdirSync(opts.dir, { recursive: true });
  const metaFile = path.join(opts.dir, 'broker.json');
  const meta = readJson<{ clusterId: string; nextProducerId: number }>(metaFile, { clusterId: randomBytes(16).toString('base64url'), nextProducerId: 1000 });
  writeFileAtomic(metaFile, JSON.stringify(meta), fsync !== 'never');

  // Kafka logs the same fact ("Truncating ... to ... due to corrupt or incomplete record batch"): the records cut are lost
  const topics = new TopicStore(opts.dir, fsync, { 'max.message.bytes': String(opts.messageMaxBytes ?? 1_048_588) }, (cut) =>
    logger.warn({ ...cut, segment: path.relative(opts.dir, cut.segment) }, 'torn segment tail cut at start: the bytes after the last whole batch are dropped'),
  );
  const groups = new GroupCoordinator({
    dir: opts.dir,
    fsync: fsync !== 'never',
    initialRebalanceDelayMs: opts.initialRebalanceDelayMs ?? 200,
    minSessionTimeoutMs: opts.groupMinSessionTimeoutMs ?? 6_000,
    maxSessionTimeoutMs: opts.groupMaxSessionTimeoutMs ?? 1_800_000,
  });
  const waiters = new Set<() => void>();
  const notifyAppend = () => {
    for (const w of [...waiters]) w();
  };
  const nextProducerId = () => {
    const id = meta.nextProducerId++;
    writeFileAtomic(metaFile, JSON.stringify(meta), fsync !== 'never');
    return id;
  };
  const txns = new TransactionCoordinator({
    dir: opts.dir,
    fsync: fsync !== 'never',
    topics,
    groups,
    nextProducerId,
    notifyAppend,
    logger,
    maxTimeoutMs: opts.transactionMaxTimeoutMs ?? 900_000,
    abortTimedOutIntervalMs: opts.transactionAbortTimedOutIntervalMs ?? 10_000,
  });

  const users = opts.sasl ? new SaslUsers(opts.sasl) : undefined;
  const server = opts.tls
    ? tls.createServer({
        key: opts.tls.key,
        cert: opts.tls.cert,
        ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
        requestCert: opts.tls.requestClientCert ?? false,
        rejectUnauthorized: opts.tls.requestClientCert ?? false,
        minVersion: 'TLSv1.2',
      })
    : net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 9092, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = opts.host ?? address;

  const ctx: BrokerContext = {
    nodeId: 1,
    advertisedHost: opts.advertisedHost ?? host,
    advertisedPort: opts.advertisedPort ?? port,
    clusterId: meta.clusterId,
    topics,
    groups,
    txns,
    autoCreateTopics: opts.autoCreateTopics ?? false,
    defaultPartitions: opts.defaultPartitions ?? 1,
    fetchMaxBytes: opts.fetchMaxBytes ?? 57_671_680,
    fetchSessions: new FetchSessionCache(opts.maxIncrementalFetchSessionCacheSlots ?? 1000),
    logger,
    createTopic(name, partitions, configs) {
      if (topics.topics.has(name)) return { error: ErrorCode.TOPIC_ALREADY_EXISTS, message: `Topic '${name}' already exists.` };
      try {
        topics.create(name, partitions, configs);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        logger.error({ topic: name, partitions, err: e.message }, 'topic not created: nothing of it was kept');
        return { error: ErrorCode.UNKNOWN_SERVER_ERROR, message: `cannot create ${partitions} partitions: ${e.code ?? e.message} (nothing was created)` };
      }
      logger.info({ topic: name, partitions, configs }, 'topic created');
      return { error: ErrorCode.NONE, message: null };
    },
    addPartitions(name, count) {
      try {
        topics.addPartitions(name, count);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        logger.error({ topic: name, count, err: e.message }, 'partitions not added: nothing of them was kept');
        return { error: ErrorCode.UNKNOWN_SERVER_ERROR, message: `cannot add partitions: ${e.code ?? e.message} (nothing was added)` };
      }
      logger.info({ topic: name, partitions: count }, 'partitions added');
      return { error: ErrorCode.NONE, message: null };
    },
    brokerConfigs: {
      'message.max.bytes': String(opts.messageMaxBytes ?? 1_048_588),
      'fetch.max.bytes': String(opts.fetchMaxBytes ?? 57_671_680),
      'socket.request.max.bytes': String(opts.socketRequestMaxBytes ?? 104_857_600),
      'connections.max.idle.ms': String(opts.connectionsMaxIdleMs ?? 600_000),
      'queued.max.requests': String(opts.queuedMaxRequests ?? 500),
      'queued.max.request.bytes': String(opts.queuedMaxRequestBytes ?? 256 * 1024 * 1024),
      'group.min.session.timeout.ms': String(opts.groupMinSessionTimeoutMs ?? 6_000),
      'group.max.session.timeout.ms': String(opts.groupMaxSessionTimeoutMs ?? 1_800_000),
      'auto.create.topics.enable': String(opts.autoCreateTopics ?? false),
      'num.partitions': String(opts.defaultPartitions ?? 1),
      'transaction.max.timeout.ms': String(opts.transactionMaxTimeoutMs ?? 900_000),
    },
    deleteTopic(name) {
      if (!topics.delete(name)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      groups.forgetTopic(name);
      logger.info({ topic: name }, 'topic deleted');
      return ErrorCode.NONE;
    },
    waitForAppend(ms, signal) {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        waiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    },
    notifyAppend,
    nextProducerId,
  };

  const apiList: ApiDefinition[] = [
    produceApi,
    fetchApi,
    listOffsetsApi,
    offsetForLeaderEpochApi,
    metadataApi,
    offsetCommitApi,
    offsetFetchApi,
    findCoordinatorApi,
    joinGroupApi,
    heartbeatApi,
    leaveGroupApi,
    syncGroupApi,
    describeGroupsApi,
    listGroupsApi,
    createTopicsApi,
    deleteTopicsApi,
    initProducerIdApi,
    createPartitionsApi,
    deleteRecordsApi,
    describeConfigsApi,
    alterConfigsApi,
    incrementalAlterConfigsApi,
    deleteGroupsApi,
    addPartitionsToTxnApi,
    addOffsetsToTxnApi,
    endTxnApi,
    txnOffsetCommitApi,
  ];
  if (users) apiList.push(saslHandshakeApi(users), saslAuthenticateApi(users));
  apiList.push(apiVersionsApi(() => apiList));
  const apis = new Map(apiList.map((a) => [a.key, a]));

  const limits = {
    socketRequestMaxBytes: opts.socketRequestMaxBytes ?? 104_857_600,
    connectionsMaxIdleMs: opts.connectionsMaxIdleMs ?? 600_000,
    saslRequired: users !== undefined,
  };
  const budget = new RequestBudget(opts.queuedMaxRequestBytes ?? 256 * 1024 * 1024, opts.queuedMaxRequests ?? 500);
  const netStats: NetworkStats = { connections: 0, blockedResponses: 0, blockedResponseBytes: 0, requestsHandled: 0 };
  const sockets = new Set<net.Socket>();
  // A TLS listener hands over the socket once the handshake is done; a failed handshake is logged only.
  server.on(opts.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, apis, ctx, limits, budget, netStats);
  });
  // At the descriptor limit accept() fails; the server keeps listening and serves again once descriptors are free.
  server.on('error', (err) => logger.error({ err: err.message }, 'listener error'));
  server.on('tlsClientError', (err: Error, socket: net.Socket) => {
    logger.warn({ client: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message }, 'TLS handshake failed');
    socket.destroy();
  });

  const timers: NodeJS.Timeout[] = [];
  if (fsync === 'interval') timers.push(setInterval(() => topics.syncAll(), opts.fsyncIntervalMs ?? 1000));
  const maintain = () => {
    const r = topics.maintain();
    if (r.deletedSegments || r.compactedRecords) logger.info(r, 'retention / compaction');
    return r;
  };
  timers.push(setInterval(maintain, opts.maintenanceIntervalMs ?? 30_000));
  for (const t of timers) t.unref();

  const protocol = `${users ? 'SASL_' : ''}${opts.tls ? 'SSL' : 'PLAINTEXT'}`;
  logger.info(
    { address: `${host}:${port}`, dir: opts.dir, topics: topics.topics.size, protocol, ...(users ? { mechanisms: users.mechanisms } : {}) },
    'embedded Kafka broker listening',
  );
  let closing: Promise<void> | undefined;
  return {
    address: `${ctx.advertisedHost}:${ctx.advertisedPort}`,
    host,
    port,
    maintain,
    stats: () => ({ ...netStats, ...budget.stats }),
    close: () =>
      (closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        ctx.notifyAppend();
        txns.close();
        groups.close();
        topics.close();
        logger.info('embedded Kafka broker stopped');
      })()),
  };
}
