import { TOPICS } from '@jwt-audit/events';
import { consumerServiceSchema, consumerServiceDefaults, KAFKA_ENV, OPS_ENV, type ConsumerServiceConfig } from '@jwt-audit/runtime';
import { DEFAULT_RULES, type SessionizerRules } from './sessionize.js';

export interface SessionizerConfig extends ConsumerServiceConfig {
  topics: {
    /** Enriched events (keyed by subject). */
    input: string;
    /** Alerts (keyed by subject like the input): counted on their session. */
    alerts: string;
    /** Where derived session.started / session.ended go: the raw topic, so they are masked, enriched, indexed and archived like any event. */
    events: string;
    /** Session summaries, compacted by session id. */
    sessions: string;
  };
  /** Snapshots and journals, one folder per partition number. Shared by the instances of the group. */
  stateDir: string;
  snapshotAfterBytes: number; // 8 MiB
  fsync: boolean;
  /** How often idle and expired sessions are ended without waiting for traffic (ms). */
  tickMs: number; // 5 s
  /** The instance name on derived events (source.instance). */
  instance: string;
  rules: SessionizerRules;
}

export const defaults: SessionizerConfig = {
  ...consumerServiceDefaults('sessionizer', 0),
  topics: { input: TOPICS.enriched, alerts: TOPICS.alerts, events: TOPICS.raw, sessions: TOPICS.sessions },
  stateDir: './.data/sessions',
  snapshotAfterBytes: 8 * 1024 * 1024, // 8 MiB
  fsync: true,
  tickMs: 5_000, // 5 s
  instance: 'sessionizer',
  rules: DEFAULT_RULES,
};

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...OPS_ENV,
  AUDIT_SESSIONIZER_GROUP_ID: 'groupId',
  AUDIT_SESSIONIZER_STATE_DIR: 'stateDir',
  AUDIT_SESSIONIZER_FSYNC: 'fsync',
  AUDIT_SESSIONIZER_TICK_MS: 'tickMs',
  AUDIT_SESSIONIZER_INSTANCE: 'instance',
  AUDIT_SESSIONIZER_IDLE_MS: 'rules.idleMs',
  AUDIT_SESSIONIZER_EXPIRY_GRACE_MS: 'rules.expiryGraceMs',
  AUDIT_SESSIONIZER_RETAIN_ENDED_MS: 'rules.retainEndedMs',
  AUDIT_SESSIONIZER_MAX_SESSIONS: 'rules.maxSessions',
};

const positive = { type: 'integer', minimum: 1 } as const;

export const configSchema = consumerServiceSchema(['topics', 'stateDir'], {
  topics: {
    type: 'object',
    additionalProperties: false,
    required: ['input', 'alerts', 'events', 'sessions'],
    properties: {
      input: { type: 'string', minLength: 1 },
      alerts: { type: 'string', minLength: 1 },
      events: { type: 'string', minLength: 1 },
      sessions: { type: 'string', minLength: 1 },
    },
  },
  stateDir: { type: 'string', minLength: 1 },
  snapshotAfterBytes: { type: 'integer', minimum: 0 },
  fsync: { type: 'boolean' },
  tickMs: { type: 'integer', minimum: 10, maximum: 3_600_000 },
  instance: { type: 'string', minLength: 1, maxLength: 200 },
  rules: {
    type: 'object',
    additionalProperties: false,
    properties: {
      idleMs: { type: 'integer', minimum: 1000 },
      expiryGraceMs: { type: 'integer', minimum: 0 },
      retainEndedMs: { type: 'integer', minimum: 0 },
      maxSessions: positive,
      maxIps: positive,
      maxRoutes: positive,
      maxGeos: positive,
      maxAlertRules: positive,
      maxTokenIds: positive,
      maxSkewMs: { type: 'integer', minimum: 0 },
      maxRecentIds: { type: 'integer', minimum: 0 },
    },
  },
});

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'sessionizer', configSchema, defaults, env };
