import { TOPICS } from '@jwt-audit/events';
import { detectionConfigSchema, resolveDetectionConfig, type DetectionConfig } from '@jwt-audit/detection';
import { consumerServiceSchema, consumerServiceDefaults, KAFKA_ENV, OPS_ENV, problemsOf, type ConsumerServiceConfig } from '@jwt-audit/runtime';

export interface DetectorServiceConfig extends ConsumerServiceConfig {
  topics: {
    input: string;
    /** Events re-keyed by IP / OAuth client for the rules keyed that way; created by the service. */
    repartition: string;
    alerts: string;
  };
  repartitionPartitions: number;
  /** How long the repartition topic keeps records (ms), when the service creates it. */
  repartitionRetentionMs?: number;
  /** Snapshots and journals, one folder per input partition. Shared by the instances of the group. */
  stateDir: string;
  /** A partition's journal is folded into a new snapshot after this many bytes. */
  snapshotAfterBytes: number; // 8 MiB
  /** fsync each journal append (a crash then loses nothing; off: the OS decides). */
  fsync: boolean;
  /** Events further than this in the future do not advance event time (ms). */
  maxSkewMs: number; // 5 min
  /** Out-of-order tolerance of the repartitioned (IP / client) stream (ms); see the README. */
  allowedLatenessMs: number; // 10 min
  rules: DetectionConfig;
}

export const defaults: DetectorServiceConfig = {
  ...consumerServiceDefaults('anomaly-detector', 0),
  topics: { input: TOPICS.enriched, repartition: 'audit.anomaly.by-key.v1', alerts: TOPICS.alerts },
  repartitionPartitions: 6,
  repartitionRetentionMs: 86_400_000, // 1 day
  stateDir: './.data/detector',
  snapshotAfterBytes: 8 * 1024 * 1024, // 8 MiB
  fsync: true,
  maxSkewMs: 5 * 60_000, // 5 min
  allowedLatenessMs: 10 * 60_000, // 10 min
  rules: {},
};

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...OPS_ENV,
  AUDIT_DETECTOR_GROUP_ID: 'groupId',
  AUDIT_DETECTOR_STATE_DIR: 'stateDir',
  AUDIT_DETECTOR_INPUT_TOPIC: 'topics.input',
  AUDIT_DETECTOR_ALERTS_TOPIC: 'topics.alerts',
  AUDIT_DETECTOR_REPARTITION_TOPIC: 'topics.repartition',
  AUDIT_DETECTOR_REPARTITION_RETENTION_MS: 'repartitionRetentionMs',
  AUDIT_DETECTOR_FSYNC: 'fsync',
  AUDIT_DETECTOR_RULES: 'rules',
  AUDIT_DETECTOR_ALLOWED_LATENESS_MS: 'allowedLatenessMs',
};

export const configSchema = consumerServiceSchema(['topics', 'stateDir'], {
  topics: {
    type: 'object',
    additionalProperties: false,
    required: ['input', 'repartition', 'alerts'],
    properties: { input: { type: 'string', minLength: 1 }, repartition: { type: 'string', minLength: 1 }, alerts: { type: 'string', minLength: 1 } },
  },
  repartitionPartitions: { type: 'integer', minimum: 1 },
  repartitionRetentionMs: { type: 'integer', minimum: 60_000 },
  stateDir: { type: 'string', minLength: 1 },
  snapshotAfterBytes: { type: 'integer', minimum: 0 },
  fsync: { type: 'boolean' },
  maxSkewMs: { type: 'integer', minimum: 0 },
  allowedLatenessMs: { type: 'integer', minimum: 0 },
  rules: detectionConfigSchema(),
});

/** The check the schema cannot express: the detection rules resolve (known rules, consistent thresholds). */
export function checkConfig(config: DetectorServiceConfig): string[] {
  return problemsOf('rules', () => resolveDetectionConfig(config.rules));
}

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'anomaly-detector', configSchema, defaults, env, check: checkConfig };
