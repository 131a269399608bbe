import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAuditProducer, createKafkaClient, type AuditProducer } from '@jwt-audit/kafka';
import { ConfigError, createMetrics, startOpsServer, type Logger, type OpsServer } from '@jwt-audit/runtime';
import { createAccessLog, type AccessLog } from './access-event.js';
import { createApprovals } from './approvals.js';
import { createAuth } from './auth.js';
import { configProblems, type ConsoleConfig } from './config.js';
import { createIntegrity } from './integrity.js';
import { createReader, type Reader } from './reader.js';
import { createReplayer, replayConfigProblems } from './replay.js';
import { createConsoleServer } from './server.js';

export interface ConsoleService {
  /** Resolves with the console's URL once it listens and its access-event producer is connected. */
  start(): Promise<{ url: string; opsUrl: string | null }>;
  stop(): Promise<void>;
  readonly accessLog: AccessLog;
}

/** Thin wiring: reader (Elasticsearch), archive, sign-in, access-event producer, HTTP server. */
export function createConsoleService(config: ConsoleConfig, deps: { logger: Logger; ops?: boolean; now?: () => number }): ConsoleService {
  const problems = [...configProblems(config), ...replayConfigProblems(config.replay, process.env)];
  if (problems.length > 0) throw new ConfigError('console', problems);
  const logger = deps.logger;
  const reader: Reader = createReader(config.elasticsearch, config.indices);
  const kafka = createKafkaClient(config.kafka, logger);
  const producer: AuditProducer = createAuditProducer(kafka, { logger });
  const accessLog = createAccessLog(producer, logger);
  const auth = createAuth(config.auth, logger, deps.now);
  const integrity = createIntegrity(config.archive.dir, config.archive.jwks);
  const replayer = createReplayer(config.replay, reader.es, config.indices.events);
  const approvals = createApprovals(kafka, config.source.instance, logger);
  const server: Server = createConsoleServer({
    reader,
    auth,
    integrity,
    accessLog,
    source: config.source,
    logger,
    readRole: config.auth.readRole,
    approveRole: config.auth.approveRole,
    approvals,
    replayer,
    ...(deps.now ? { now: deps.now } : {}),
  });
  let ops: OpsServer | undefined;
  let started: Promise<{ url: string; opsUrl: string | null }> | undefined;
  let stopped: Promise<void> | undefined;
  return {
    accessLog,
    start() {
      started ??= (async () => {
        // a replay target that is a production upstream is a configuration error: refuse to start
        await replayer.check();
        await producer.connect();
        await new Promise<void>((ok, fail) => {
          server.once('error', fail);
          server.listen(config.listen.port, config.listen.host, () => ok());
        });
        const a = server.address() as AddressInfo;
        const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        if (deps.ops !== false && config.ops.port !== undefined) {
          const metrics = createMetrics();
          ops = await startOpsServer({
            port: config.ops.port,
            host: config.ops.host ?? '127.0.0.1',
            registry: metrics.registry,
            health: () => ({ ok: true, accessEventsSent: accessLog.sent, accessEventsDropped: accessLog.dropped }),
            logger,
          });
        }
        return { url: `http://${host}:${a.port}`, opsUrl: ops?.url ?? null };
      })();
      return started;
    },
    stop() {
      stopped ??= (async () => {
        await new Promise<void>((ok) => {
          server.close(() => ok());
          server.closeAllConnections();
        });
        await accessLog.stop();
        await approvals.stop();
        await producer.disconnect().catch(() => undefined);
        await reader.close().catch(() => undefined);
        await ops?.close();
      })();
      return stopped;
    },
  };
}
