/**
 * Topic configs as Kafka 3.9 defines them (storage LogConfig: name, type, validator). Every one of
 * them is accepted with its type and range checked, so a topic created here is created the same way
 * on Kafka; the broker applies those it implements (cleanup.policy, delete.retention.ms,
 * max.message.bytes, message.timestamp.type, min.cleanable.dirty.ratio, min.compaction.lag.ms,
 * retention.bytes, retention.ms, segment.bytes, segment.ms) and stores the others. Anything else is
 * INVALID_CONFIG, as Kafka answers an unknown topic config.
 * Defaults are Kafka's except segment.bytes (64 MiB here, 1 GiB there) and segment.ms (1 day
 * here, 7 days there), so a laptop's data directory stays small; max.message.bytes defaults to the
 * broker's message.max.bytes, as in Kafka.
 */

type Check = (v: string) => string | undefined;

const LONG = /^-?\d{1,19}$/;
const int =
  (min: number, max = 2 ** 31 - 1): Check =>
  (v) =>
    !LONG.test(v) || Number(v) < min || Number(v) > max ? `must be an integer in [${min}, ${max}]` : undefined;
const long =
  (min: number): Check =>
  (v) =>
    !LONG.test(v) || Number(v) < min ? `must be a long >= ${min}` : undefined;
const anyLong: Check = (v) => (LONG.test(v) ? undefined : 'must be a long');
const bool: Check = (v) => (/^(true|false)$/i.test(v) ? undefined : 'must be true or false');
const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    allowed.includes(v) ? undefined : `must be one of ${allowed.join(', ')}`;
const list =
  (allowed?: string[]): Check =>
  (v) => {
    const items = v
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0);
    if (allowed && (items.length === 0 || items.some((x) => !allowed.includes(x)))) return `must be a list of ${allowed.join(', ')}`;
    return undefined;
  };
const ratio: Check = (v) => (/^\d*\.?\d+(e-?\d+)?$/i.test(v) && Number(v) >= 0 && Number(v) <= 1 ? undefined : 'must be a number in [0, 1]');
// Kafka's level validators: gzip -1 or 1..9, lz4 1..17, zstd -131072..22.
const level =
  (min: number, max: number, extra?: number): Check =>
  (v) =>
    LONG.test(v) && ((Number(v) >= min && Number(v) <= max) || Number(v) === extra) ? undefined : `must be in [${min}, ${max}]`;

export const TOPIC_CONFIGS: Record<string, Check> = {
  'cleanup.policy': list(['compact', 'delete']),
  'compression.type': oneOf('uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'),
  'compression.gzip.level': level(1, 9, -1),
  'compression.lz4.level': level(1, 17),
  'compression.zstd.level': level(-131072, 22),
  'delete.retention.ms': long(0),
  'file.delete.delay.ms': long(0),
  'flush.messages': long(1),
  'flush.ms': long(0),
  'follower.replication.throttled.replicas': list(),
  'index.interval.bytes': int(0),
  'leader.replication.throttled.replicas': list(),
  'local.retention.bytes': long(-2),
  'local.retention.ms': long(-2),
  'max.compaction.lag.ms': long(1),
  'max.message.bytes': int(0),
  'message.downconversion.enable': bool,
  'message.format.version': (v) => (/^\d+\.\d+/.test(v) ? undefined : 'must be a Kafka version'),
  'message.timestamp.after.max.ms': long(0),
  'message.timestamp.before.max.ms': long(0),
  'message.timestamp.difference.max.ms': long(0),
  'message.timestamp.type': oneOf('CreateTime', 'LogAppendTime'),
  'min.cleanable.dirty.ratio': ratio,
  'min.compaction.lag.ms': long(0),
  'min.insync.replicas': int(1),
  preallocate: bool,
  'remote.storage.enable': bool,
  'remote.log.copy.disable': bool,
  'remote.log.delete.on.disable': bool,
  'retention.bytes': anyLong,
  'retention.ms': long(-1),
  // LegacyRecord.RECORD_OVERHEAD_V0: Kafka 3.9's lower bound (Kafka 4.0 raises it to 1 MiB).
  'segment.bytes': int(14),
  'segment.index.bytes': int(4),
  'segment.jitter.ms': long(0),
  'segment.ms': long(1),
  'unclean.leader.election.enable': bool,
};

export const DEFAULT_CONFIGS: Record<string, string> = {
  'cleanup.policy': 'delete',
  'compression.type': 'producer',
  'delete.retention.ms': '86400000', // 1 day
  'max.compaction.lag.ms': '9223372036854775807',
  'message.timestamp.type': 'CreateTime',
  'min.cleanable.dirty.ratio': '0.5',
  'min.compaction.lag.ms': '0',
  'min.insync.replicas': '1',
  'retention.bytes': '-1',
  'retention.ms': String(7 * 24 * 3600 * 1000), // 7 days
  'segment.bytes': String(64 * 1024 * 1024), // 64 MiB
  'segment.ms': String(24 * 3600 * 1000), // 1 day
};

/** The first invalid config as Kafka words it ("Invalid value X for configuration Y: ..."), or undefined. */
export function validateTopicConfigs(configs: Record<string, string | null>): string | undefined {
  for (const [k, v] of Object.entries(configs)) {
    const check = TOPIC_CONFIGS[k];
    if (!check) return `Unknown topic config name: ${k}`;
    if (v === null) continue;
    const bad = check(v.trim());
    if (bad) return `Invalid value ${v} for configuration ${k}: ${bad}`;
  }
  return undefined;
}
