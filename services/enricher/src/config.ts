import { consumerServiceSchema, consumerServiceDefaults, KAFKA_ENV, OPS_ENV, problemsOf, type ConsumerServiceConfig } from '@jwt-audit/runtime';
import { DEFAULT_ENRICHMENT_POLICY, enrichmentPolicySchema, parseEnrichmentPolicy, type EnrichmentPolicy } from '@jwt-audit/enrichment';

export interface EnricherConfig extends ConsumerServiceConfig {
  /** MaxMind-format databases (GeoLite2/GeoIP2 City or Country, and ASN); geo/ASN stay null without them. */
  geoip: { cityDb?: string; asnDb?: string; watch?: boolean };
  /** Token lifetime limits by type (seconds) and route -> required scopes (first match wins). */
  policy: EnrichmentPolicy;
  /** Refresh-token families remembered for session correlation (per instance). */
  sessionCacheSize: number;
  /** Partitions processed in parallel (each in order). */
  concurrency: number;
}

export const defaults: EnricherConfig = {
  ...consumerServiceDefaults('jwt-audit-enricher', 9467),
  geoip: {},
  policy: DEFAULT_ENRICHMENT_POLICY,
  sessionCacheSize: 100_000,
  concurrency: 3,
};

export const schema = consumerServiceSchema(['policy'], {
  geoip: {
    type: 'object',
    additionalProperties: false,
    properties: { cityDb: { type: 'string', minLength: 1 }, asnDb: { type: 'string', minLength: 1 }, watch: { type: 'boolean' } },
  },
  policy: enrichmentPolicySchema,
  sessionCacheSize: { type: 'integer', minimum: 0 },
  concurrency: { type: 'integer', minimum: 1, maximum: 64 },
});

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...OPS_ENV,
  AUDIT_ENRICHER_GROUP_ID: 'groupId',
  AUDIT_GEOIP_CITY_DB: 'geoip.cityDb',
  AUDIT_GEOIP_ASN_DB: 'geoip.asnDb',
  AUDIT_GEOIP_WATCH: 'geoip.watch',
  AUDIT_ENRICHER_ROUTES: 'policy.routes',
  AUDIT_ENRICHER_MAX_ACCESS_LIFETIME_SEC: 'policy.maxLifetimeSec.access',
  AUDIT_ENRICHER_MAX_REFRESH_LIFETIME_SEC: 'policy.maxLifetimeSec.refresh',
  AUDIT_ENRICHER_MAX_ID_LIFETIME_SEC: 'policy.maxLifetimeSec.id',
  AUDIT_ENRICHER_SESSION_CACHE_SIZE: 'sessionCacheSize',
  AUDIT_ENRICHER_CONCURRENCY: 'concurrency',
};

/** The check the schema cannot express: the enrichment policy parses (route patterns compile). */
export function checkConfig(config: EnricherConfig): string[] {
  return problemsOf('policy', () => parseEnrichmentPolicy(config.policy));
}

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'enricher', configSchema: schema, defaults, env, check: checkConfig };
