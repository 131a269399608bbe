import { TOPICS, type Severity } from '@jwt-audit/events';
import { consumerServiceSchema, consumerServiceDefaults, KAFKA_ENV, OPS_ENV, RETRY_POLICIES, type ConsumerServiceConfig } from '@jwt-audit/runtime';

export interface AlertWebhookConfig extends ConsumerServiceConfig {
  topic: string;
  webhook: {
    url: string;
    /** HMAC-SHA256 key; from the environment (AUDIT_WEBHOOK_SECRET or AUDIT_WEBHOOK_SECRET_FILE). */
    secret: string;
    timeoutMs: number; // 5 s
  };
  /** Alerts below this severity are not forwarded (committed and skipped). */
  minSeverity: Severity;
  /** Attempts per alert before it is dead-lettered. */
  maxAttempts: number;
  retry: { initialMs: number; maxMs: number }; // 500 ms .. 30 s
}

export const defaults: AlertWebhookConfig = {
  ...consumerServiceDefaults('alert-webhook', 0),
  topic: TOPICS.alerts,
  // the retry defaults are the webhookDelivery policy's (packages/runtime/src/backoff.ts)
  webhook: { url: 'http://127.0.0.1:9300/alerts', secret: '', timeoutMs: RETRY_POLICIES.webhookDelivery.timeoutMs }, // 5 s per attempt
  minSeverity: 'low',
  maxAttempts: RETRY_POLICIES.webhookDelivery.attempts, // 8
  retry: { initialMs: RETRY_POLICIES.webhookDelivery.initialMs, maxMs: RETRY_POLICIES.webhookDelivery.maxMs }, // 0.5 s doubling to 30 s, full jitter
};

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...OPS_ENV,
  AUDIT_WEBHOOK_URL: 'webhook.url',
  AUDIT_WEBHOOK_SECRET: 'webhook.secret',
  AUDIT_WEBHOOK_TIMEOUT_MS: 'webhook.timeoutMs',
  AUDIT_WEBHOOK_GROUP_ID: 'groupId',
  AUDIT_WEBHOOK_MIN_SEVERITY: 'minSeverity',
  AUDIT_WEBHOOK_MAX_ATTEMPTS: 'maxAttempts',
  AUDIT_WEBHOOK_RETRY_INITIAL_MS: 'retry.initialMs',
  AUDIT_WEBHOOK_RETRY_MAX_MS: 'retry.maxMs',
};

export const configSchema = consumerServiceSchema(['topic', 'webhook'], {
  topic: { type: 'string', minLength: 1 },
  webhook: {
    type: 'object',
    additionalProperties: false,
    required: ['url', 'secret'],
    properties: {
      url: { type: 'string', format: 'uri', pattern: '^https?://' },
      secret: { type: 'string', minLength: 16 },
      timeoutMs: { type: 'integer', minimum: 1 },
    },
  },
  minSeverity: { enum: ['low', 'medium', 'high', 'critical'] },
  maxAttempts: { type: 'integer', minimum: 1 },
  retry: {
    type: 'object',
    additionalProperties: false,
    properties: { initialMs: { type: 'integer', minimum: 0 }, maxMs: { type: 'integer', minimum: 0 } },
  },
});

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'alert-webhook', configSchema, defaults, env };
