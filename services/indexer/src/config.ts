import { ES_ENV, esConfigSchema, KAFKA_ENV, kafkaConfigSchema, OPS_ENV, opsConfigSchema, type EsConnectionConfig, type KafkaConnectionConfig, type OpsConfig } from '@jwt-audit/runtime';

export interface IndexerConfig {
  kafka: KafkaConnectionConfig;
  elasticsearch: EsConnectionConfig;
  ops: OpsConfig;
  groupId: string;
  /** Data stream namespace: logs-jwt_audit.events-<namespace>, logs-jwt_audit.alerts-<namespace> (also data_stream.namespace). */
  namespace: string;
  /** Install index templates and the ILM policy at start. */
  installTemplates: boolean;
  /** Partitions indexed in parallel (each in order). */
  concurrency: number;
}

export const defaults: IndexerConfig = {
  kafka: { brokers: ['127.0.0.1:9092'], clientId: 'jwt-audit-indexer' },
  elasticsearch: { url: 'http://127.0.0.1:9200' },
  ops: { port: 9466, host: '127.0.0.1' },
  groupId: 'jwt-audit-indexer',
  namespace: 'default',
  installTemplates: true,
  concurrency: 3,
};

export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['kafka', 'elasticsearch', 'groupId', 'namespace'],
  properties: {
    kafka: kafkaConfigSchema,
    elasticsearch: esConfigSchema,
    ops: opsConfigSchema,
    groupId: { type: 'string', minLength: 1 },
    namespace: { type: 'string', pattern: '^[a-z0-9_]{1,100}$' },
    installTemplates: { type: 'boolean' },
    concurrency: { type: 'integer', minimum: 1, maximum: 64 },
  },
};

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...ES_ENV,
  ...OPS_ENV,
  AUDIT_INDEXER_GROUP_ID: 'groupId',
  AUDIT_INDEXER_NAMESPACE: 'namespace',
  AUDIT_INDEXER_INSTALL_TEMPLATES: 'installTemplates',
  AUDIT_INDEXER_CONCURRENCY: 'concurrency',
};
