import { consumerServiceSchema, consumerServiceDefaults, KAFKA_ENV, OPS_ENV, problemsOf, type ConsumerServiceConfig } from '@jwt-audit/runtime';
import { loadPolicy } from './transform.js';

export interface MaskerConfig extends ConsumerServiceConfig {
  /** A masking policy JSON file (merged over the default policy); none = the default policy. */
  policyFile?: string;
  /** HMAC key for pseudonyms and its id (recorded on each event); rotate by changing both. From the environment or a file, never the config file. */
  hmac: { keyId: string; key: string };
  concurrency: number;
  /**
   * Worker threads that decode, mask and encode, beside the thread running the Kafka client (0:
   * all in one thread). Masking is CPU-bound; one thread lets it overlap the client's work.
   */
  threads?: number;
  /**
   * What a dead letter keeps of the raw record: the raw bytes and headers (default: replayable
   * with `audit dlq replay`, so audit.dlq.v1 is restricted like audit.raw.v1), masked text
   * (readable, not replayable), or nothing.
   */
  dlqPayload?: 'masked' | 'drop' | 'raw';
}

export const defaults: MaskerConfig = {
  ...consumerServiceDefaults('jwt-audit-masker', 9465),
  hmac: { keyId: 'k1', key: '' },
  concurrency: 3,
  threads: 1,
  dlqPayload: 'raw',
};

export const schema = consumerServiceSchema(['hmac'], {
  policyFile: { type: 'string' },
  hmac: {
    type: 'object',
    additionalProperties: false,
    required: ['keyId', 'key'],
    properties: { keyId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' }, key: { type: 'string', minLength: 16 } },
  },
  concurrency: { type: 'integer', minimum: 1, maximum: 64 },
  threads: { type: 'integer', minimum: 0, maximum: 16 },
  dlqPayload: { enum: ['masked', 'drop', 'raw'] },
});

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...OPS_ENV,
  AUDIT_MASKER_GROUP_ID: 'groupId',
  AUDIT_MASKING_POLICY_FILE: 'policyFile',
  AUDIT_MASKING_HMAC_KEY: 'hmac.key',
  AUDIT_MASKING_KEY_ID: 'hmac.keyId',
  AUDIT_MASKER_CONCURRENCY: 'concurrency',
  AUDIT_MASKER_THREADS: 'threads',
  AUDIT_MASKER_DLQ_PAYLOAD: 'dlqPayload',
};

/** The check the schema cannot express: the masking policy file reads and validates (each of its problems named). */
export function checkConfig(config: MaskerConfig): string[] {
  return config.policyFile === undefined ? [] : problemsOf('policyFile', () => loadPolicy(config.policyFile));
}

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'masker', configSchema: schema, defaults, env, check: checkConfig };
