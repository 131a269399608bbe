import {
  consumerServiceSchema,
  consumerServiceDefaults,
  ES_ENV,
  esConfigSchema,
  KAFKA_ENV,
  OPS_ENV,
  type EsConnectionConfig,
  type ConsumerServiceConfig,
} from '@jwt-audit/runtime';
import { BULK_DOCUMENTS } from './sink.js';

export interface IndexerConfig extends ConsumerServiceConfig {
  /** One Elasticsearch request's time limit (ms); a timed-out bulk is retried by the runner. */
  requestTimeoutMs?: number;
  elasticsearch: EsConnectionConfig;
  /** Data stream namespace: logs-jwt_audit.events-<namespace>, logs-jwt_audit.alerts-<namespace> (also data_stream.namespace). */
  namespace: string;
  /** Install index templates and the ILM policy at start. */
  installTemplates: boolean;
  /** Partitions indexed in parallel (each in order). */
  concurrency: number;
  /** Documents per `_bulk` request: a batch is sent as several, each as soon as it is built. */
  bulkDocuments: number;
}

export const defaults: IndexerConfig = {
  ...consumerServiceDefaults('jwt-audit-indexer', 9466),
  elasticsearch: { url: 'http://127.0.0.1:9200' },
  namespace: 'default',
  installTemplates: true,
  concurrency: 3,
  bulkDocuments: BULK_DOCUMENTS, // 200: a batch in several requests, sent as each is built
  requestTimeoutMs: 30_000, // 30 s
};

export const schema = consumerServiceSchema(['elasticsearch', 'namespace'], {
  elasticsearch: esConfigSchema,
  namespace: { type: 'string', pattern: '^[a-z0-9_]{1,100}$' },
  installTemplates: { type: 'boolean' },
  concurrency: { type: 'integer', minimum: 1, maximum: 64 },
  bulkDocuments: { type: 'integer', minimum: 1, maximum: 100_000 },
  requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
});

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...ES_ENV,
  ...OPS_ENV,
  AUDIT_INDEXER_GROUP_ID: 'groupId',
  AUDIT_INDEXER_NAMESPACE: 'namespace',
  AUDIT_INDEXER_INSTALL_TEMPLATES: 'installTemplates',
  AUDIT_INDEXER_CONCURRENCY: 'concurrency',
  AUDIT_INDEXER_BULK_DOCUMENTS: 'bulkDocuments',
  AUDIT_INDEXER_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
};

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'indexer', configSchema: schema, defaults, env };
