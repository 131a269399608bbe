import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { TOPICS } from '@jwt-audit/events';
import type { Kafka } from '@jwt-audit/kafka';
import { createKafkaClient, createAuditProducer, explainKafkaError, isConnectionError } from '@jwt-audit/kafka';
import { pseudonym } from '@jwt-audit/masking';
import { createVerifier, remoteJwksStore, staticKeyStore, type KeySetChange, type KeyStore, type StaticKey, type Verifier } from '@jwt-audit/jwt';
import {
  ConfigError,
  createMetrics,
  dependencyLog,
  kafkajsRetry,
  retryDelay,
  RETRY_POLICIES,
  SETTINGS_REFUSED,
  startOpsServer,
  type Logger,
  type Metrics,
  type OpsServer,
} from '@jwt-audit/runtime';
import { baseEvent, createRouter, EMPTY_ACTOR, trustedProxies, type Router } from '@jwt-audit/edge';
import { ApprovalBook } from '@jwt-audit/edge';
import { approvalCallbackHandler } from './approval-callback.js';
import { approvalFollower as createApprovalFollower, ApprovalGate, type ApprovalFollower } from './approvals.js';
import { createClientErrorHandler } from './client-errors.js';
import { limitConnections } from './connection-limits.js';
import { DEFAULT_SPOOL_MIN_FREE_BYTES, type InterceptorConfig } from './config.js';
import { interceptorConfigProblems } from './config-problems.js';
import { INTERCEPTOR_ERRORS } from './errors.js';
import { Engine } from './engine.js';
import { fingerprintKey } from './fingerprint-key.js';
import { ingestHandler } from './ingest.js';
import { interceptorMetrics, type InterceptorMetrics } from './metrics.js';
import { createProxyHandler } from './proxy.js';
import { Publisher, type RecordSink } from './publisher.js';
import { revocationFollower, RevocationState, type RevocationFollower } from './revocations.js';
import { Spool, type SpoolFs } from './spool.js';
import { ThreadSink } from './thread-sink.js';

export interface InterceptorDeps {
  logger: Logger;
  metrics?: Metrics;
  /** A kafkajs client; default: one from config.kafka. */
  kafka?: Kafka;
  /** Where records go instead of a Kafka producer (tests of the spool use a failing sink). */
  sink?: RecordSink;
  /** The spool's file operations (tests inject ENOSPC / EIO); default the real ones. */
  spoolFs?: SpoolFs;
  /** false: no proxy listener (middleware only). Default true. */
  serve?: boolean;
  /** false: no /metrics + /healthz listener. Default: when config.ops.port is set. */
  ops?: boolean;
}

export interface Interceptor {
  start(): Promise<{ url: string; opsUrl: string | null }>;
  stop(): Promise<void>;
  /** Available after start(): for the middleware factories. */
  readonly engine: Engine;
  readonly router: Router;
  readonly revocations: RevocationState;
  /** Available after start(): the approval state and the edge's side of it. */
  readonly approvals: ApprovalGate;
  readonly publisher: Publisher;
  readonly metrics: Metrics;
}

export function createInterceptor(config: InterceptorConfig, deps: InterceptorDeps): Interceptor {
  // every problem the schema could not see, at once (routes, trusted proxies, the key source)
  const problems = interceptorConfigProblems(config, { serve: deps.serve !== false });
  if (problems.length > 0) throw new ConfigError('interceptor', problems);
  const logger = deps.logger.child({ service: 'interceptor' });
  const metrics = deps.metrics ?? createMetrics();
  const m: InterceptorMetrics = interceptorMetrics(metrics);
  const revocations = new RevocationState();
  const router = createRouter(config.routes, {
    upstreams: config.upstreams,
    mode: config.mode,
    onSpoolFull: config.onSpoolFull,
    methods: config.methods,
    ambiguousPaths: config.paths.ambiguous,
    requireUpstream: deps.serve !== false,
  });
  const trusted = trustedProxies(config.trustedProxies);
  // short retries: a failed send is spooled and retried by the publisher, not held in kafkajs
  const clientOverrides = { retry: kafkajsRetry(RETRY_POLICIES.interceptorKafkaClient), connectionTimeout: RETRY_POLICIES.interceptorKafkaClient.timeoutMs };
  const kafka = deps.kafka ?? createKafkaClient(config.kafka, logger, clientOverrides);
  // the producer on its own thread, unless a client or sink was handed in
  const sink =
    deps.sink ??
    (deps.kafka
      ? createAuditProducer(deps.kafka, { logger })
      : new ThreadSink(
          {
            kafka: config.kafka,
            client: config.queue.client ?? 'platformatic',
            retry: RETRY_POLICIES.interceptorKafkaClient,
            clientOverrides,
            loggerName: 'interceptor',
            logLevel: deps.logger.level,
          },
          logger,
        ));
  const spool = new Spool(config.spool.dir, config.spool.maxBytes, config.spool.fsync, {
    minFreeBytes: config.spool.minFreeBytes ?? DEFAULT_SPOOL_MIN_FREE_BYTES,
    ...(deps.spoolFs ? { fs: deps.spoolFs } : {}),
  });
  const publisher = new Publisher({
    sink,
    spool,
    logger,
    maxQueue: config.queue.maxEvents,
    batchSize: config.queue.batchSize,
    lingerMs: config.queue.lingerMs,
    metrics: m.publisher,
    sendTimeoutMs: config.queue.sendTimeoutMs ?? RETRY_POLICIES.publisherSend.timeoutMs,
  });
  let engine: Engine | undefined;
  let verifier: Verifier | undefined;
  let server: Server | undefined;
  let closeUpstreams: (() => Promise<void>) | undefined;
  let ops: OpsServer | undefined;
  let follower: RevocationFollower | undefined;
  let approvals: ApprovalGate | undefined;
  let approvalFollower: ApprovalFollower | undefined;
  let approvalRetry: NodeJS.Timeout | undefined;
  const needsApprovals = router.routes.some((r) => r.approvals.length > 0) || config.approvals.callback.hmacKeys.length > 0;
  let followerRetry: NodeJS.Timeout | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let started: Promise<{ url: string; opsUrl: string | null }> | undefined;
  let stopping: Promise<void> | undefined;

  const onKeyChange = (c: KeySetChange) => {
    verifier?.clearCache();
    m.keyRotation();
    logger.info({ added: c.added, removed: c.removed }, 'signing key set changed');
    const e = baseEvent('key.rotated', config.source, Date.now(), Date.now(), 'success', EMPTY_ACTOR);
    e.key = c;
    engine?.publish([e]);
  };

  const keyStore = async (): Promise<KeyStore> => {
    if (config.jwt.jwksUrl) {
      return remoteJwksStore({
        url: config.jwt.jwksUrl,
        cacheMaxAgeMs: config.jwt.jwksCacheMaxAgeMs,
        cooldownMs: config.jwt.jwksCooldownMs,
        onChange: onKeyChange,
        onError: (err) => logger.warn({ err: err.message }, 'JWKS fetch failed'),
      });
    }
    if (config.jwt.keys && config.jwt.keys.length > 0) return staticKeyStore(config.jwt.keys as unknown as StaticKey[]);
    throw new ConfigError('interceptor', ['jwt: set jwksUrl or keys']);
  };

  const startFollower = async (): Promise<void> => {
    follower = revocationFollower(kafka, revocations, logger, {
      startupTimeoutMs: config.revocations.startupTimeoutMs,
      groupPrefix: `interceptor-revocations-${config.source.instance}`,
      onApplied: (n) => m.revocationsApplied(n),
    });
    try {
      await follower.start();
    } catch (err) {
      // The edge keeps serving (events spool) whatever Kafka says; a refused setting is named, every retry.
      const refused = await explainKafkaError(err, config.kafka).catch(() => undefined);
      if (refused && refused.code === SETTINGS_REFUSED)
        logger.error(
          { err: { code: refused.code, message: refused.message } },
          `cannot follow revocations: ${refused.message}; events are spooled; retrying in 5 s`,
        );
      else if (!refused && isConnectionError(err)) {
        // the outage's line is the kafka dependency state's (once down, a count per interval, once back)
        dependencyLog(logger, 'kafka').failed(err, { component: 'revocations' });
        logger.debug({ err: (err as Error).message }, 'cannot follow revocations yet (Kafka unreachable); retrying in 5 s');
      } else logger.warn({ err: (refused ?? (err as Error)).message }, 'cannot follow revocations yet (Kafka unreachable?); retrying in 5 s');
      await follower.stop();
      follower = undefined;
      followerRetry = setTimeout(() => void startFollower(), retryDelay(RETRY_POLICIES.follower, 0));
    }
  };

  const startApprovalFollower = async (gate: ApprovalGate): Promise<void> => {
    approvalFollower = createApprovalFollower(kafka, gate, logger, {
      startupTimeoutMs: config.approvals.startupTimeoutMs,
      groupPrefix: `interceptor-approvals-${config.source.instance}`,
    });
    try {
      await approvalFollower.start();
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'cannot follow approvals yet (Kafka unreachable?); retrying in 5 s');
      await approvalFollower.stop();
      approvalFollower = undefined;
      approvalRetry = setTimeout(() => void startApprovalFollower(gate), retryDelay(RETRY_POLICIES.follower, 0));
    }
  };

  const doStart = async () => {
    const keys = await keyStore();
    verifier = createVerifier({
      keys,
      algorithms: config.jwt.algorithms,
      ...(config.jwt.issuer !== undefined ? { issuer: config.jwt.issuer } : {}),
      ...(config.jwt.audience !== undefined ? { audience: config.jwt.audience } : {}),
      clockToleranceSec: config.jwt.clockToleranceSec,
      requiredClaims: config.jwt.requiredClaims,
      maxTokenBytes: config.jwt.maxTokenBytes,
      maxLifetimeSec: config.jwt.maxLifetimeSec,
      claimsPolicy: config.jwt.claimsPolicy,
    });
    const fpKey = fingerprintKey(config.fingerprint, logger);
    engine = new Engine({
      secretFingerprint: (value) => pseudonym(value, fpKey),
      verifier,
      revocations,
      sink: publisher,
      source: config.source,
      mode: config.mode,
      capture: { ...config.capture },
      trusted,
      forwardSubjectHeader: config.forwardSubjectHeader,
      metrics: m,
      logger,
    });
    await publisher.start();
    // the first JWKS load off the first request's path (a failure is retried on demand)
    await keys.refresh().catch((err: Error) => logger.warn({ err: err.message }, 'JWKS not loaded at start'));
    if (config.revocations.enabled) await startFollower();
    const gate = new ApprovalGate({ book: new ApprovalBook(), sink: publisher, source: config.source, logger, onStep: (step) => m.approvalStep(step) });
    approvals = gate;
    if (config.approvals.enabled && needsApprovals) await startApprovalFollower(gate);
    sweep = setInterval(() => {
      revocations.sweep();
      // settled approvals kept 1 h past their horizon, then tombstoned on the compacted topic (every
      // instance writes the same tombstones: idempotent, and compaction keeps one per key at most)
      const forgotten = gate.book.sweep(Date.now(), 3_600_000);
      if (forgotten.length > 0 && config.approvals.enabled && needsApprovals)
        publisher.enqueue(forgotten.map((key) => ({ topic: TOPICS.approvals, key, value: null, headers: {} })));
    }, 60_000);
    sweep.unref();

    let url = '';
    if (deps.serve !== false) {
      const ingestVerifier = config.ingest.jwtAudience
        ? createVerifier({
            keys,
            algorithms: config.jwt.algorithms,
            audience: config.ingest.jwtAudience,
            ...(config.jwt.issuer !== undefined ? { issuer: config.jwt.issuer } : {}),
            clockToleranceSec: config.jwt.clockToleranceSec,
            maxLifetimeSec: config.jwt.maxLifetimeSec,
            claimsPolicy: config.jwt.claimsPolicy,
          })
        : undefined;
      const eng = engine;
      const handler = createProxyHandler({
        engine: eng,
        router,
        verifier,
        logger,
        upstreamTimeoutMs: config.upstreamTimeoutMs,
        maxRequestBodyBytes: config.maxRequestBodyBytes,
        ...(config.ingest.enabled
          ? {
              ingest: {
                path: config.ingest.path,
                handler: ingestHandler({
                  hmacKeys: config.ingest.hmacKeys,
                  ...(ingestVerifier ? { verifier: ingestVerifier } : {}),
                  maxBodyBytes: config.ingest.maxBodyBytes,
                  maxSkewSec: config.ingest.maxSkewSec,
                  ...(config.ingest.replayCacheSize !== undefined ? { replayCacheSize: config.ingest.replayCacheSize } : {}),
                  source: config.source,
                  publish: (events, revs) => eng.publish(events, revs),
                  canAccept: () => publisher.canAccept(),
                  onResult: (status, n) => m.ingest(status, n),
                }),
              },
            }
          : {}),
        ...(config.approvals.enabled && needsApprovals ? { approvals: gate } : {}),
        ...(config.approvals.callback.hmacKeys.length > 0
          ? {
              approvalCallback: {
                path: config.approvals.callback.path,
                handler: approvalCallbackHandler({
                  gate,
                  hmacKeys: config.approvals.callback.hmacKeys,
                  maxSkewSec: config.approvals.callback.maxSkewSec,
                  maxBodyBytes: config.approvals.callback.maxBodyBytes,
                  onResult: (status) => m.approvalCallback(status),
                }),
              },
            }
          : {}),
      });
      const tls = config.listen.tls;
      // node checks the timeouts below every connectionsCheckingInterval (default 30 s): check often enough to matter;
      // a request without Host is the handler's to refuse (node's own 400 for it is not audited)
      const serverOptions = { connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs), requireHostHeader: false };
      let refused: (s: Socket) => boolean = () => false;
      const serve = (req: IncomingMessage, res: ServerResponse) => (refused(req.socket) ? res.destroy() : handler(req, res));
      const srv = tls
        ? https.createServer({ ...serverOptions, cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, serve)
        : http.createServer(serverOptions, serve);
      refused = limitConnections(srv, { maxConnections: config.connections.max, maxConnectionsPerIp: config.connections.maxPerIp }, m, tls !== undefined);
      // a CONNECT never reaches `serve`: node emits 'connect' (without a listener it drops the connection unaudited)
      srv.on('connect', (req: IncomingMessage, socket: Socket) => (refused(socket) ? socket.destroy() : handler.connect(req, socket)));
      closeUpstreams = handler.close;
      // slowloris: the whole request must arrive in time; headers sooner
      srv.requestTimeout = config.requestTimeoutMs;
      srv.headersTimeout = Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
      srv.keepAliveTimeout = config.keepAliveTimeoutMs ?? 5_000;
      // malformed request lines / headers, oversized headers, timeouts, resets mid-head: answered
      // as node would (400 / 431 / 413 / 408) and audited, rate-limited (client-errors.ts)
      srv.on(
        'clientError',
        createClientErrorHandler({
          source: config.source,
          sink: publisher,
          logger,
          eventsPerSec: config.clientErrorEvents.perSecond,
          burst: config.clientErrorEvents.burst,
          metrics: m,
          inFlight: handler.clientError,
        }),
      );
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(config.listen.port, config.listen.host, () => resolve());
      });
      server = srv;
      const { port, address } = srv.address() as AddressInfo;
      url = `${tls ? 'https' : 'http'}://${address.includes(':') ? `[${address}]` : address}:${port}`;
      logger.info({ url, mode: config.mode, routes: router.routes.length }, 'interceptor listening');
    }
    let opsUrl: string | null = null;
    if (deps.ops ?? config.ops.port !== undefined) {
      ops = await startOpsServer({
        port: config.ops.port ?? 0,
        host: config.ops.host ?? '127.0.0.1',
        registry: metrics.registry,
        logger,
        health: () => {
          // healthy while no event is being lost or would be (publisher.ts health()): Kafka down but the spool has room is degraded, not down
          return {
            ...publisher.health(),
            revocationsReady: follower?.ready ?? false,
            revocations: revocations.size(),
            ...(needsApprovals ? { approvalsReady: approvalFollower?.ready ?? false, approvals: approvals?.book.size() ?? 0 } : {}),
          };
        },
      });
      opsUrl = ops.url;
    }
    return { url, opsUrl };
  };

  return {
    get engine() {
      if (!engine) throw INTERCEPTOR_ERRORS.AUDIT_ERR_INTERCEPTOR_NOT_STARTED.create();
      return engine;
    },
    router,
    revocations,
    get approvals() {
      if (!approvals) throw INTERCEPTOR_ERRORS.AUDIT_ERR_INTERCEPTOR_NOT_STARTED.create();
      return approvals;
    },
    publisher,
    metrics,
    start() {
      started ??= doStart();
      return started;
    },
    stop() {
      // concurrent calls share one stop (a signal during another stop); a stop during start waits for it
      return (stopping ??= (async () => {
        if (!started) return;
        await started.catch(() => {});
        started = undefined;
        if (server) {
          const s = server;
          server = undefined;
          await new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections();
            setTimeout(() => s.closeAllConnections(), 2_000).unref();
          });
          await closeUpstreams?.();
          closeUpstreams = undefined;
        }
        clearTimeout(followerRetry);
        clearTimeout(approvalRetry);
        await approvalFollower?.stop();
        approvalFollower = undefined;
        clearInterval(sweep);
        await follower?.stop();
        follower = undefined;
        await publisher.stop();
        await ops?.close();
        ops = undefined;
      })().finally(() => (stopping = undefined)));
    },
  };
}
