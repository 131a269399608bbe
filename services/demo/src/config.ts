/**
 * The demo side of `npm start`: authorization server, upstream API and alert webhook receiver.
 * `keyFile` keeps the IdP's signing keys across restarts (npm start puts it in the data directory);
 * `issuer` is the URL clients reach the token endpoint at (through the interceptor).
 */
export interface DemoConfig {
  host: string;
  ports: { auth: number; upstream: number; webhook: number };
  issuer?: string;
  keyFile?: string;
  /** The secret the receiver checks alert signatures with (the alert webhook's). */
  webhookSecret?: string;
}

export const defaults: DemoConfig = {
  host: '127.0.0.1',
  ports: { auth: 9000, upstream: 9100, webhook: 9300 },
};

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'ports'],
  properties: {
    host: { type: 'string', minLength: 1 },
    ports: {
      type: 'object',
      additionalProperties: false,
      required: ['auth', 'upstream', 'webhook'],
      properties: { auth: port, upstream: port, webhook: port },
    },
    issuer: { type: 'string', format: 'uri', pattern: '^https?://' },
    keyFile: { type: 'string', minLength: 1 },
    webhookSecret: { type: 'string', minLength: 16 },
  },
};

export const env: Record<string, string> = {
  AUDIT_DEMO_HOST: 'host',
  AUDIT_DEMO_AUTH_PORT: 'ports.auth',
  AUDIT_DEMO_UPSTREAM_PORT: 'ports.upstream',
  AUDIT_DEMO_WEBHOOK_PORT: 'ports.webhook',
  AUDIT_DEMO_ISSUER: 'issuer',
  AUDIT_DEMO_KEY_FILE: 'keyFile',
  AUDIT_DEMO_WEBHOOK_SECRET: 'webhookSecret',
};

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'demo', configSchema, defaults, env };
