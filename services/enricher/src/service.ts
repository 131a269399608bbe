import { TOPICS } from '@jwt-audit/events';
import { createSessionIndex, createUserAgentCache, enrich, openGeoDatabases, parseEnrichmentPolicy, type EnrichmentLookups } from '@jwt-audit/enrichment';
import { createAuditProducer, createKafkaClient, createTransformStage, type AuditProducer, type ConsumerRunner } from '@jwt-audit/kafka';
import { AuditError, createMetrics, startOpsServer, type Logger, type Metrics, type OpsServer } from '@jwt-audit/runtime';
import type { EnricherConfig } from './config.js';
import { ENRICHER_ERRORS } from './errors.js';

export interface EnricherService {
  start(): Promise<{ metricsUrl: string | undefined }>;
  stop(): Promise<void>;
}

export interface EnricherDeps {
  /** A consumer that stopped for good; main.ts exits with EXIT_TEMPFAIL (75) there. */
  onFailure?: (err: AuditError) => void;
  logger: Logger;
  metrics?: Metrics;
  /** Tests: a producer that fails on purpose. */
  producer?: AuditProducer;
  /** Tests of take-over after a crash. */
  sessionTimeoutMs?: number;
  /** Clock for enrichment.enrichedAt (epoch ms). */
  now?: () => number;
}

/** audit.masked.v1 -> enrich -> audit.enriched.v1; undecodable or invalid records go to the DLQ. */
export function createEnricherService(config: EnricherConfig, deps: EnricherDeps): EnricherService {
  const logger = deps.logger.child({ component: 'enricher' });
  const metrics = deps.metrics ?? createMetrics();
  // the config schema already checked the shape; this also fills defaults a partial policy left out
  const policy = parseEnrichmentPolicy(config.policy);
  const mismatches = metrics.counter('audit_enricher_authorization_mismatch_total', 'Events whose token lacked a scope the route requires');
  const overLifetime = metrics.counter('audit_enricher_lifetime_exceeds_policy_total', 'Events whose token lifetime exceeds the policy for its type');
  const geoHits = metrics.counter('audit_enricher_geo_lookups_total', 'Geo lookups of public addresses, by result', ['result'] as const);
  const kafka = createKafkaClient(config.kafka, logger);
  const producer = deps.producer ?? createAuditProducer(kafka, { logger });
  let stage: ConsumerRunner | undefined;
  let ops: OpsServer | undefined;
  let started: Promise<{ metricsUrl: string | undefined }> | undefined;
  let stopped: Promise<void> | undefined;
  return {
    start: () =>
      (started ??= (async () => {
        let dbs: Awaited<ReturnType<typeof openGeoDatabases>>;
        try {
          dbs = await openGeoDatabases({ geo: config.geoip.cityDb ?? null, asn: config.geoip.asnDb ?? null }, { watch: config.geoip.watch ?? false });
        } catch (err) {
          throw ENRICHER_ERRORS.AUDIT_ERR_GEOIP.wrap(err, (err as Error).message);
        }
        const lookups: EnrichmentLookups = {
          geo: dbs.geo,
          asn: dbs.asn,
          userAgent: createUserAgentCache(),
          sessions: createSessionIndex(config.sessionCacheSize),
          now: deps.now ?? Date.now,
        };
        if (config.ops.port !== undefined) {
          ops = await startOpsServer({ port: config.ops.port, ...(config.ops.host ? { host: config.ops.host } : {}), registry: metrics.registry, logger, health: () => stage?.health() ?? { ok: false, state: 'starting' } });
        }
        stage = createTransformStage({
          ...(deps.onFailure ? { onFailure: deps.onFailure } : {}),
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
            const out = enrich(event, lookups, policy);
            const x = out.enrichment!;
            if (x.authorization?.mismatch) mismatches.inc();
            if (x.lifetimeExceedsPolicy) overLifetime.inc();
            if (x.ipClass === 'public' && dbs.geo) geoHits.inc({ result: x.geo ? 'found' : 'not_found' });
            return out;
          },
        });
        await stage.start();
        logger.info({ geo: Boolean(dbs.geo), asn: Boolean(dbs.asn), routes: policy.routes.length }, 'enricher started');
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
