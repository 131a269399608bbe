import { Client } from '@elastic/elasticsearch';
import { TOPICS } from '@jwt-audit/events';
import { createAuditProducer, createConsumerRunner, createKafkaClient, type ConsumerRunner } from '@jwt-audit/kafka';
import {
  createMetrics,
  retryDelay,
  RETRY_POLICIES,
  esClientOptions,
  explainEsError,
  sleep,
  startOpsServer,
  type EsConnectionConfig,
  type AuditError,
  type Logger,
  type Metrics,
  type OpsServer,
} from '@jwt-audit/runtime';
import type { IndexerConfig } from './config.js';
import { indexBatch } from './sink.js';
import { installTemplates } from './templates.js';

export function createEsClient(c: EsConnectionConfig, requestTimeoutMs = 30_000): Client {
  return new Client({
    ...esClientOptions(c, 'indexer'),
    // the runner owns retries (with backoff and jitter), so the client does not retry on its own
    maxRetries: 0,
    requestTimeout: requestTimeoutMs,
  });
}

export interface IndexerService {
  start(): Promise<{ metricsUrl: string | undefined }>;
  stop(): Promise<void>;
}

/** audit.enriched.v1 + audit.alerts.v1 -> Elasticsearch (ECS, data streams), audit.sessions.v1 -> the sessions index; commit after the bulk succeeded. */
export function createIndexerService(
  config: IndexerConfig,
  deps: { logger: Logger; metrics?: Metrics; onFailure?: (err: AuditError) => void },
): IndexerService {
  const logger = deps.logger.child({ component: 'indexer' });
  const metrics = deps.metrics ?? createMetrics();
  const kafka = createKafkaClient(config.kafka, logger);
  const producer = createAuditProducer(kafka, { logger });
  const es = createEsClient(config.elasticsearch, config.requestTimeoutMs);
  const indexed = metrics.counter('audit_indexer_documents_total', 'Documents by outcome', ['outcome'] as const);
  let runner: ConsumerRunner | undefined;
  let ops: OpsServer | undefined;
  let started: Promise<{ metricsUrl: string | undefined }> | undefined;
  let stopped: Promise<void> | undefined;
  const abort = new AbortController();

  return {
    start: () =>
      (started ??= (async () => {
        if (config.ops.port !== undefined) {
          ops = await startOpsServer({
            port: config.ops.port,
            ...(config.ops.host ? { host: config.ops.host } : {}),
            registry: metrics.registry,
            logger,
            health: () => runner?.health() ?? { ok: false, state: 'starting' },
          });
        }
        if (config.installTemplates) {
          // Elasticsearch may still be starting: wait for it rather than crash-looping.
          for (let attempt = 0; ; attempt++) {
            try {
              await installTemplates(es, logger);
              break;
            } catch (err) {
              if (abort.signal.aborted) throw err;
              // refused credentials or an untrusted certificate do not heal by waiting: fail the start naming the setting
              const refused = await explainEsError(err, config.elasticsearch);
              if (refused) throw refused;
              logger.warn({ err: (err as Error).message, attempt }, 'Elasticsearch not ready: retrying');
              await sleep(retryDelay(RETRY_POLICIES.indexerTemplates, attempt), abort.signal);
            }
          }
        }
        runner = createConsumerRunner({
          ...(deps.onFailure ? { onFailure: deps.onFailure } : {}),
          kafka,
          groupId: config.groupId,
          topics: [TOPICS.enriched, TOPICS.alerts, TOPICS.sessions],
          stage: 'indexer',
          logger,
          producer,
          metrics,
          partitionsConsumedConcurrently: config.concurrency,
          handler: async (records, ctx) => {
            const out = await indexBatch(es, records, config.namespace, metrics, config.bulkDocuments);
            indexed.inc({ outcome: 'written' }, out.written);
            indexed.inc({ outcome: 'duplicate' }, out.duplicates);
            indexed.inc({ outcome: 'dead_lettered' }, out.deadLetters.length);
            ctx.logger.debug({ written: out.written, duplicates: out.duplicates, deadLettered: out.deadLetters.length }, 'bulk indexed');
            return { deadLetters: out.deadLetters };
          },
        });
        await runner.start();
        logger.info({ namespace: config.namespace, es: config.elasticsearch.url }, 'indexer started');
        return { metricsUrl: ops?.url };
      })()),
    stop: () =>
      (stopped ??= (async () => {
        abort.abort();
        await started?.catch(() => undefined);
        await runner?.stop();
        await producer.disconnect().catch(() => undefined);
        await es.close().catch(() => undefined);
        await ops?.close();
      })()),
  };
}
