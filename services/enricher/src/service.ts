import { TOPICS } from '@jwt-audit/events';
import { createSessionIndex, createUserAgentCache, enrich, openGeoDatabases, parseEnrichmentPolicy, type EnrichmentLookups } from '@jwt-audit/enrichment';
import {
  createAuditProducer,
  createKafkaClient,
  createTransformService,
  stageTransactionalId,
  type TransformService,
  type TransformServiceDeps,
} from '@jwt-audit/kafka';
import { AuditError, createMetrics } from '@jwt-audit/runtime';
import type { EnricherConfig } from './config.js';
import { ENRICHER_ERRORS } from './errors.js';

export type EnricherService = TransformService;

export interface EnricherDeps extends TransformServiceDeps {
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
  const producer =
    deps.producer ??
    createAuditProducer(kafka, {
      logger,
      ...(config.kafka.exactlyOnce ? { transactionalId: stageTransactionalId(config.groupId, config.kafka.transactionalId) } : {}),
    });
  let dbs: Awaited<ReturnType<typeof openGeoDatabases>> | undefined;
  let lookups: EnrichmentLookups | undefined;
  return createTransformService(
    { kafka, logger, metrics, producer, ops: config.ops, deps },
    {
      beforeStart: async () => {
        try {
          dbs = await openGeoDatabases({ geo: config.geoip.cityDb ?? null, asn: config.geoip.asnDb ?? null }, { watch: config.geoip.watch ?? false });
        } catch (err) {
          throw ENRICHER_ERRORS.AUDIT_ERR_GEOIP.wrap(err, (err as Error).message);
        }
        lookups = {
          geo: dbs.geo,
          asn: dbs.asn,
          userAgent: createUserAgentCache(),
          sessions: createSessionIndex(config.sessionCacheSize),
          now: deps.now ?? Date.now,
        };
      },
      stage: () => ({
        groupId: config.groupId,
        stage: 'enricher',
        inputTopic: TOPICS.masked,
        outputTopic: TOPICS.enriched,
        partitionsConsumedConcurrently: config.concurrency,
        transform: (event) => {
          const out = enrich(event, lookups!, policy);
          const x = out.enrichment!;
          if (x.authorization?.mismatch) mismatches.inc();
          if (x.lifetimeExceedsPolicy) overLifetime.inc();
          if (x.ipClass === 'public' && dbs!.geo) geoHits.inc({ result: x.geo ? 'found' : 'not_found' });
          return out;
        },
      }),
      afterStart: () => logger.info({ geo: Boolean(dbs!.geo), asn: Boolean(dbs!.asn), routes: policy.routes.length }, 'enricher started'),
    },
  );
}
