import { KAFKA_ENV, kafkaConfigSchema, OPS_ENV, opsConfigSchema, type KafkaConnectionConfig, type OpsConfig } from '@jwt-audit/runtime';
import { DEFAULT_ENRICHMENT_POLICY, type EnrichmentPolicy } from '@jwt-audit/enrichment';

export interface EnricherConfig {
  kafka: KafkaConnectionConfig;
  ops: OpsConfig;
  groupId: string;
  /** MaxMind-format databases (GeoLite2/GeoIP2 City and ASN); geo/ASN stay empty without them. */
  geoip: { cityDb?: string; asnDb?: string };
  policy: EnrichmentPolicy;
  concurrency: number;
}

export const defaults: EnricherConfig = {
  kafka: { brokers: ['127.0.0.1:9092'], clientId: 'jwt-audit-enricher' },
  ops: { port: 9467, host: '127.0.0.1' },
  groupId: 'jwt-audit-enricher',
  geoip: {},
  policy: DEFAULT_ENRICHMENT_POLICY,
  concurrency: 3,
};

const seconds = { type: 'integer', minimum: 1 };
export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['kafka', 'groupId', 'policy'],
  properties: {
    kafka: kafkaConfigSchema,
    ops: opsConfigSchema,
    groupId: { type: 'string', minLength: 1 },
    geoip: { type: 'object', additionalProperties: false, properties: { cityDb: { type: 'string' }, asnDb: { type: 'string' } } },
    policy: {
      type: 'object',
      additionalProperties: false,
      required: ['maxLifetimeSec', 'routeScopes'],
      properties: {
        maxLifetimeSec: { type: 'object', additionalProperties: false, required: ['access', 'refresh', 'id', 'unknown'], properties: { access: seconds, refresh: seconds, id: seconds, unknown: seconds } },
        routeScopes: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      },
    },
    concurrency: { type: 'integer', minimum: 1, maximum: 64 },
  },
};

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...OPS_ENV,
  AUDIT_ENRICHER_GROUP_ID: 'groupId',
  AUDIT_GEOIP_CITY_DB: 'geoip.cityDb',
  AUDIT_GEOIP_ASN_DB: 'geoip.asnDb',
  AUDIT_ENRICHER_ROUTE_SCOPES: 'policy.routeScopes',
  AUDIT_ENRICHER_CONCURRENCY: 'concurrency',
};
