import { TOPICS } from '@jwt-audit/events';
import { enrich, openMaxmind, type Lookups } from '@jwt-audit/enrichment';
import { createAuditProducer, createKafkaClient, createTransformStage, type AuditProducer, type ConsumerRunner } from '@jwt-audit/kafka';
import { createMetrics, startOpsServer, type Logger, type Metrics, type OpsServer } from '@jwt-audit/runtime';
import type { EnricherConfig } from './config.js';

export interface EnricherService {
  start(): Promise<{ metricsUrl: string | undefined }>;
  stop(): Promise<void>;
}

/** audit.masked.v1 -> enrich -> audit.enriched.v1. */
export function createEnricherService(config: EnricherConfig, deps: { logger: Logger; metrics?: Metrics; producer?: AuditProducer; sessionTimeoutMs?: number; now?: () => number }): EnricherService {
  const logger = deps.logger.child({ component: 'enricher' });
  const metrics = deps.metrics ?? createMetrics();
  const now = deps.now ?? Date.now;
  const mismatches = metrics.counter('audit_enricher_authorization_mismatch_total', 'Requests granted without the route\'s required scopes');
  const kafka = createKafkaClient(config.kafka, logger);
  const producer = deps.producer ?? createAuditProducer(kafka, { logger });
  let stage: ConsumerRunner | undefined;
  let ops: OpsServer | undefined;
  let started: Promise<{ metricsUrl: string | undefined }> | undefined;
  let stopped: Promise<void> | undefined;
  return {
    start: () =>
      (started ??= (async () => {
        const lookups: Lookups = await openMaxmind({ ...(config.geoip.cityDb ? { city: config.geoip.cityDb } : {}), ...(config.geoip.asnDb ? { asn: config.geoip.asnDb } : {}) });
        if (config.ops.port !== undefined) {
          ops = await startOpsServer({ port: config.ops.port, ...(config.ops.host ? { host: config.ops.host } : {}), registry: metrics.registry, logger, health: () => stage?.health() ?? { ok: false, state: 'starting' } });
        }
        stage = createTransformStage({
          kafka,
          groupId: config.groupId,
          stage: 'enricher',
          inputTopic: TOPICS.masked,
          outputTopic: TOPICS.enriched,
          logger,
          producer,
          metrics,
          partitionsConsumedConcurrently: config.concurrency,
          ...(deps.sessionTimeoutMs ? { sessionTimeoutMs: deps.sessionTimeoutMs, heartbeatIntervalMs: Math.floor(deps.sessionTimeoutMs / 5) } : {}),
          transform: (event) => {
            const out = enrich(event, lookups, config.policy, now());
            if (out.enrichment?.authorization?.mismatch) mismatches.inc();
            return out;
          },
        });
        await stage.start();
        logger.info({ geo: Boolean(lookups.geo), asn: Boolean(lookups.asn) }, 'enricher started');
        return { metricsUrl: ops?.url };
      })()),
    stop: () =>
      (stopped ??= (async () => {
        await started?.catch(() => undefined);
        await stage?.stop();
        await producer.disconnect().catch(() => undefined);
        await ops?.close();
      })()),
  };
}
