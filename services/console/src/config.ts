import { ALERTS_INDEX_PATTERN, EVENTS_INDEX_PATTERN } from '@jwt-audit/ecs';
import {
  ES_ENV,
  esConfigSchema,
  KAFKA_ENV,
  kafkaConfigSchema,
  OPS_ENV,
  opsConfigSchema,
  type EsConnectionConfig,
  type KafkaConnectionConfig,
  type OpsConfig,
} from '@jwt-audit/runtime';

/**
 * The console's settings. Sign-in is by a JWT verified exactly as the interceptor verifies one
 * (packages/jwt, the configured JWKS, issuer and audience); the role claim (`roles`, Keycloak's
 * `realm_access.roles` or `groups`) or the `scope` claim must grant `audit:read`. `demoLogin`
 * offers a name-only sign-in for `npm start`, and says so on every page.
 */
export interface ConsoleConfig {
  listen: { host: string; port: number };
  elasticsearch: EsConnectionConfig;
  kafka: KafkaConnectionConfig;
  ops: OpsConfig;
  /** Index patterns read: the indexer's data streams. */
  indices: { events: string; alerts: string; sessions: string };
  /** The archiver's directory and the public keys that verify it; '' = no archive (Integrity says so). */
  archive: { dir: string; jwks: string };
  auth: {
    jwksUrl: string;
    issuer: string;
    audience: string;
    algorithms: string[];
    /** The permission that lets a user read; `audit:approve` is reserved for approvals. */
    readRole: string;
    approveRole: string;
    /** Name-only sign-in without an identity provider: `npm start` only. */
    demoLogin: boolean;
    sessionTtlMs: number; // 8 h
  };
  /**
   * Replay from a session's timeline (as `audit replay`): the test instance the requests go to
   * ('' = no Replay button), the production upstreams refused as target (besides the
   * interceptor's AUDIT_INTERCEPTOR_UPSTREAMS in the console's environment), and who may replay.
   */
  replay: {
    target: string;
    productionUpstreams: string[];
    /** Replay sends traffic with an operator's token: an action, not a read (`audit:approve` by default). */
    role: string;
    rate: number; // requests per second
    limit: number; // requests per replay
    timeoutMs: number; // 30 s
  };
  /** Who publishes the console's audit.access events (the event's source). */
  source: { service: string; instance: string; environment: string };
}

export const defaults: ConsoleConfig = {
  listen: { host: '127.0.0.1', port: 9400 },
  elasticsearch: { url: 'http://127.0.0.1:9200' },
  kafka: { brokers: ['127.0.0.1:9092'], clientId: 'jwt-audit-console' },
  ops: { port: 0, host: '127.0.0.1' },
  indices: { events: EVENTS_INDEX_PATTERN, alerts: ALERTS_INDEX_PATTERN, sessions: 'audit-sessions-*' },
  archive: { dir: '', jwks: '' },
  auth: {
    jwksUrl: '',
    issuer: '',
    audience: 'jwt-audit-console',
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    readRole: 'audit:read',
    approveRole: 'audit:approve',
    demoLogin: false,
    sessionTtlMs: 8 * 3_600_000,
  },
  replay: { target: '', productionUpstreams: [], role: 'audit:approve', rate: 5, limit: 1000, timeoutMs: 30_000 },
  source: { service: 'console', instance: 'console-1', environment: 'production' },
};

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...ES_ENV,
  ...OPS_ENV,
  AUDIT_CONSOLE_HOST: 'listen.host',
  AUDIT_CONSOLE_PORT: 'listen.port',
  AUDIT_CONSOLE_EVENTS_INDEX: 'indices.events',
  AUDIT_CONSOLE_ALERTS_INDEX: 'indices.alerts',
  AUDIT_CONSOLE_SESSIONS_INDEX: 'indices.sessions',
  AUDIT_ARCHIVE_DIR: 'archive.dir',
  AUDIT_ARCHIVE_JWKS: 'archive.jwks',
  AUDIT_CONSOLE_JWT_JWKS_URL: 'auth.jwksUrl',
  AUDIT_CONSOLE_JWT_ISSUER: 'auth.issuer',
  AUDIT_CONSOLE_JWT_AUDIENCE: 'auth.audience',
  AUDIT_CONSOLE_JWT_ALGORITHMS: 'auth.algorithms',
  AUDIT_CONSOLE_DEMO_LOGIN: 'auth.demoLogin',
  AUDIT_CONSOLE_REPLAY_TARGET: 'replay.target',
  AUDIT_CONSOLE_REPLAY_PRODUCTION_UPSTREAMS: 'replay.productionUpstreams',
  AUDIT_CONSOLE_REPLAY_ROLE: 'replay.role',
  AUDIT_CONSOLE_REPLAY_RATE: 'replay.rate',
  AUDIT_ENVIRONMENT: 'source.environment',
  AUDIT_INSTANCE: 'source.instance',
};

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['listen', 'elasticsearch', 'kafka', 'indices', 'archive', 'auth', 'source'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 0, maximum: 65535 } },
    },
    elasticsearch: esConfigSchema,
    kafka: kafkaConfigSchema,
    ops: opsConfigSchema,
    indices: {
      type: 'object',
      additionalProperties: false,
      required: ['events', 'alerts'],
      properties: { events: { type: 'string', minLength: 1 }, alerts: { type: 'string', minLength: 1 }, sessions: { type: 'string', minLength: 1 } },
    },
    archive: {
      type: 'object',
      additionalProperties: false,
      properties: { dir: { type: 'string' }, jwks: { type: 'string' } },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        jwksUrl: { type: 'string', pattern: '^(https?://.+)?$' },
        issuer: { type: 'string' },
        audience: { type: 'string' },
        algorithms: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        readRole: { type: 'string', minLength: 1 },
        approveRole: { type: 'string', minLength: 1 },
        demoLogin: { type: 'boolean' },
        sessionTtlMs: { type: 'integer', minimum: 60_000 },
      },
    },
    replay: {
      type: 'object',
      additionalProperties: false,
      properties: {
        target: { type: 'string', pattern: '^(https?://[^\\s?#@]+)?$' },
        productionUpstreams: { type: 'array', items: { type: 'string', pattern: '^https?://\\S+$' } },
        role: { type: 'string', minLength: 1 },
        rate: { type: 'number', exclusiveMinimum: 0, maximum: 1000 },
        limit: { type: 'integer', minimum: 1, maximum: 10_000 },
        timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
      },
    },
    source: {
      type: 'object',
      additionalProperties: false,
      required: ['service', 'instance', 'environment'],
      properties: { service: { type: 'string', minLength: 1 }, instance: { type: 'string', minLength: 1 }, environment: { type: 'string', minLength: 1 } },
    },
  },
} as const;

/** What ajv cannot say: a console must have a way to sign in. */
export function configProblems(c: ConsoleConfig): string[] {
  const p: string[] = [];
  if (!c.auth.jwksUrl && !c.auth.demoLogin)
    p.push(
      'auth.jwksUrl: required (AUDIT_CONSOLE_JWT_JWKS_URL), or auth.demoLogin (AUDIT_CONSOLE_DEMO_LOGIN=true, npm start only): otherwise no one can sign in',
    );
  if (c.auth.jwksUrl && !c.auth.issuer) p.push('auth.issuer: required with auth.jwksUrl (AUDIT_CONSOLE_JWT_ISSUER)');
  if (c.archive.dir && !c.archive.jwks) p.push('archive.jwks: required with archive.dir (AUDIT_ARCHIVE_JWKS)');
  return p;
}

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'console', configSchema, defaults, env, check: configProblems };
