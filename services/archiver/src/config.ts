import { consumerServiceSchema, consumerServiceDefaults, KAFKA_ENV, OPS_ENV, type ConsumerServiceConfig } from '@jwt-audit/runtime';

export interface ArchiverConfig extends ConsumerServiceConfig {
  /** A member silent this long is dropped from the group and its partitions move on. */
  sessionTimeoutMs: number;
  topic: string;
  /** Archive root (local filesystem backend). */
  dir: string;
  keys: {
    /** Holds the signing key(s) and archive-public.jwks.json. */
    dir: string;
    /** A specific private JWK; default: the newest in `dir`, generated on first start when `generate`. */
    privateKeyFile?: string;
    generate: boolean;
  };
  /** A segment is sealed when any limit is reached. */
  seal: { maxRecords: number; maxBytes: number; maxAgeMs: number };
  /**
   * Segment files: Avro container codec and deflate level. 'deflate' files are ~9x smaller and
   * verify about as many events per second; 'null' verifies at a higher multiple of sha256sum's
   * MB/s (the files are larger). Figures in README.md.
   */
  segment: { codec: 'deflate' | 'null'; deflateLevel: number };
  /** Segments whose newest record is older than this are deleted, each deletion recorded in the chain; 0 = keep forever. */
  retention: { maxAgeMs: number; intervalMs: number };
  /**
   * Signed checkpoints of every partition's chain (README: "Checkpoints"): written within
   * `minIntervalMs` of a seal and every `intervalMs` while idle (a verifier warns when the newest
   * is older than 3 intervals), and published to `topic` keyed by `archiveId`
   * (default `<groupId>/<topic>`) unless `publish` is false.
   */
  checkpoint: { intervalMs: number; minIntervalMs: number; archiveId?: string; topic: string; publish: boolean };
}

export const defaults: ArchiverConfig = {
  ...consumerServiceDefaults('jwt-audit-archiver', 9468),
  sessionTimeoutMs: 30_000, // 30 s
  topic: 'audit.enriched.v1',
  dir: './.data/archive',
  keys: { dir: './.data/keys', generate: true },
  seal: { maxRecords: 10_000, maxBytes: 8 * 1024 * 1024, maxAgeMs: 10_000 }, // 8 MiB, 10 s
  segment: { codec: 'deflate', deflateLevel: 6 },
  retention: { maxAgeMs: 0, intervalMs: 3_600_000 }, // keep forever; check hourly
  checkpoint: { intervalMs: 10_000, minIntervalMs: 1_000, topic: 'audit.archive-checkpoints.v1', publish: true }, // 10 s idle, 1 s after a seal
};

const positive = { type: 'integer', minimum: 1 };
export const schema = consumerServiceSchema(['topic', 'dir', 'keys', 'seal', 'segment', 'retention', 'checkpoint'], {
  sessionTimeoutMs: { type: 'integer', minimum: 1000 },
  topic: { type: 'string', minLength: 1 },
  dir: { type: 'string', minLength: 1 },
  keys: {
    type: 'object',
    additionalProperties: false,
    required: ['dir', 'generate'],
    properties: { dir: { type: 'string' }, privateKeyFile: { type: 'string' }, generate: { type: 'boolean' } },
  },
  seal: {
    type: 'object',
    additionalProperties: false,
    required: ['maxRecords', 'maxBytes', 'maxAgeMs'],
    properties: { maxRecords: positive, maxBytes: positive, maxAgeMs: positive },
  },
  segment: {
    type: 'object',
    additionalProperties: false,
    required: ['codec', 'deflateLevel'],
    properties: { codec: { enum: ['deflate', 'null'] }, deflateLevel: { type: 'integer', minimum: 1, maximum: 9 } },
  },
  retention: {
    type: 'object',
    additionalProperties: false,
    required: ['maxAgeMs', 'intervalMs'],
    properties: { maxAgeMs: { type: 'integer', minimum: 0 }, intervalMs: positive },
  },
  checkpoint: {
    type: 'object',
    additionalProperties: false,
    required: ['intervalMs', 'minIntervalMs', 'topic', 'publish'],
    properties: {
      intervalMs: { type: 'integer', minimum: 100 },
      minIntervalMs: { type: 'integer', minimum: 0 },
      archiveId: { type: 'string', minLength: 1, maxLength: 200 },
      topic: { type: 'string', minLength: 1 },
      publish: { type: 'boolean' },
    },
  },
});

export const env: Record<string, string> = {
  ...KAFKA_ENV,
  ...OPS_ENV,
  AUDIT_ARCHIVER_GROUP_ID: 'groupId',
  AUDIT_ARCHIVER_SESSION_TIMEOUT_MS: 'sessionTimeoutMs',
  AUDIT_ARCHIVE_DIR: 'dir',
  AUDIT_ARCHIVE_KEY_DIR: 'keys.dir',
  AUDIT_ARCHIVE_PRIVATE_KEY_FILE: 'keys.privateKeyFile',
  AUDIT_ARCHIVE_SEAL_MAX_RECORDS: 'seal.maxRecords',
  AUDIT_ARCHIVE_SEAL_MAX_BYTES: 'seal.maxBytes',
  AUDIT_ARCHIVE_SEAL_MAX_AGE_MS: 'seal.maxAgeMs',
  AUDIT_ARCHIVE_SEGMENT_CODEC: 'segment.codec',
  AUDIT_ARCHIVE_DEFLATE_LEVEL: 'segment.deflateLevel',
  AUDIT_ARCHIVE_RETENTION_MS: 'retention.maxAgeMs',
  AUDIT_ARCHIVE_CHECKPOINT_INTERVAL_MS: 'checkpoint.intervalMs',
  AUDIT_ARCHIVE_CHECKPOINT_MIN_INTERVAL_MS: 'checkpoint.minIntervalMs',
  AUDIT_ARCHIVE_ID: 'checkpoint.archiveId',
  AUDIT_ARCHIVE_CHECKPOINT_TOPIC: 'checkpoint.topic',
  AUDIT_ARCHIVE_CHECKPOINT_PUBLISH: 'checkpoint.publish',
};

/** What runService needs to load and check this service's configuration (main.ts). */
export const serviceConfig = { name: 'archiver', configSchema: schema, defaults, env };
