/**
 * The config APIs, for topics (resource type 2) and this broker (type 4, read-only here).
 * DescribeConfigs (key 32), versions 0-4 (flexible from 4)
 *   Request:  [resources: resource_type INT8, resource_name STRING, configuration_keys [STRING] (nullable = all)],
 *             v1+ include_synonyms BOOLEAN, v3+ include_documentation BOOLEAN
 *   Response: throttle_time_ms INT32, [results: error_code INT16, error_message NULLABLE_STRING,
 *             resource_type INT8, resource_name STRING, [configs: name STRING, value NULLABLE_STRING,
 *             read_only BOOLEAN, v0 is_default BOOLEAN, v1+ config_source INT8, is_sensitive BOOLEAN,
 *             v1+ [synonyms: name STRING, value NULLABLE_STRING, source INT8], v3+ config_type INT8,
 *             v3+ documentation NULLABLE_STRING]]
 * AlterConfigs (key 33), versions 0-2 (flexible from 2): replaces a topic's whole config set.
 *   Request:  [resources: resource_type INT8, resource_name STRING, [configs: name STRING, value NULLABLE_STRING]], validate_only BOOLEAN
 *   Response: throttle_time_ms INT32, [responses: error_code INT16, error_message NULLABLE_STRING, resource_type INT8, resource_name STRING]
 * IncrementalAlterConfigs (key 44), versions 0-1 (flexible from 1): per config SET (0), DELETE (1),
 *   APPEND (2) or SUBTRACT (3, list configs only), as KIP-339.
 *   Request:  [resources: resource_type INT8, resource_name STRING, [configs: name STRING, config_operation INT8, value NULLABLE_STRING]], validate_only BOOLEAN
 *   Response: as AlterConfigs.
 * Config sources (DescribeConfigsResponse): 1 DYNAMIC_TOPIC_CONFIG for what the topic sets, 5
 * DEFAULT_CONFIG otherwise; 4 STATIC_BROKER_CONFIG for the broker's own settings.
 */
import { ErrorCode } from '../errors.js';
import { TOPIC_CONFIGS, validateTopicConfigs } from '../storage/topic-config.js';
import type { ApiDefinition, BrokerContext } from './context.js';
import type { Reader } from './primitives.js';

const TOPIC = 2;
const BROKER = 4;
const LIST_CONFIGS = new Set(['cleanup.policy', 'follower.replication.throttled.replicas', 'leader.replication.throttled.replicas']);

interface Described {
  name: string;
  value: string | null;
  source: number;
  readOnly: boolean;
}

/** Every topic config with its value and source (1 = the topic's own, 5 = the default): DescribeConfigs and CreateTopics v5+ (KIP-525). */
export function topicConfigEntries(ctx: BrokerContext, own: Record<string, string>): Described[] {
  return Object.keys(TOPIC_CONFIGS)
    .sort()
    .map((k) => ({ name: k, value: own[k] ?? (ctx.topics.defaults[k] || null), source: own[k] !== undefined ? 1 : 5, readOnly: false }));
}

function describe(ctx: BrokerContext, type: number, name: string): { error: number; message: string | null; configs: Described[] } {
  if (type === TOPIC) {
    const t = ctx.topics.topics.get(name);
    if (!t) return { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `Topic '${name}' does not exist.`, configs: [] };
    return { error: ErrorCode.NONE, message: null, configs: topicConfigEntries(ctx, t.meta.configs) };
  }
  if (type === BROKER) {
    if (name !== '' && name !== String(ctx.nodeId))
      return { error: ErrorCode.INVALID_REQUEST, message: `Unexpected broker id, expected ${ctx.nodeId} or empty string, but received ${name}`, configs: [] };
    return {
      error: ErrorCode.NONE,
      message: null,
      configs: Object.entries(ctx.brokerConfigs).map(([k, value]) => ({ name: k, value, source: 4, readOnly: true })),
    };
  }
  return { error: ErrorCode.INVALID_REQUEST, message: `unsupported resource type ${type}`, configs: [] };
}

export const describeConfigsApi: ApiDefinition = {
  key: 32,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  flexibleVersion: 4,
  handle(r, w, { apiVersion: v, flexible: f }, ctx) {
    const resources = r.arr(f, (x) => {
      const res = { type: x.int8(), name: x.str(f), keys: x.narr(f, (y) => y.str(f)) };
      x.tags(f);
      return res;
    });
    const synonyms = v >= 1 ? r.bool() : false;
    if (v >= 3) r.bool();
    r.tags(f);
    w.int32(0);
    w.arr(f, resources, (x, res) => {
      const d = describe(ctx, res.type, res.name);
      const wanted = res.keys ? d.configs.filter((c) => res.keys!.includes(c.name)) : d.configs;
      x.int16(d.error).str(f, d.message).int8(res.type).str(f, res.name);
      x.arr(f, wanted, (y, c) => {
        y.str(f, c.name).str(f, c.value).bool(c.readOnly);
        if (v === 0) y.bool(c.source === 5);
        else y.int8(c.source);
        y.bool(false);
        if (v >= 1) y.arr(f, synonyms ? [c] : [], (z, s) => z.str(f, s.name).str(f, s.value).int8(s.source).tags(f));
        if (v >= 3) y.int8(0).str(f, null);
        y.tags(f);
      });
      x.tags(f);
    });
    w.tags(f);
  },
};

type Change = { name: string; op: number; value: string | null };

/** Applies changes to a topic's config set; an error message names the first bad one. */
function apply(
  current: Record<string, string>,
  changes: Change[],
  incremental: boolean,
): { configs: Record<string, string> } | { error: number; message: string } {
  const next: Record<string, string> = incremental ? { ...current } : {};
  for (const c of changes) {
    if (!(c.name in TOPIC_CONFIGS)) return { error: ErrorCode.INVALID_CONFIG, message: `Unknown topic config name: ${c.name}` };
    const list = (s: string | undefined) =>
      (s ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0);
    switch (c.op) {
      case 0:
        if (c.value === null) return { error: ErrorCode.INVALID_REQUEST, message: `Null value not supported for ${c.name}` };
        next[c.name] = c.value;
        break;
      case 1:
        delete next[c.name];
        break;
      case 2:
      case 3:
        if (!LIST_CONFIGS.has(c.name)) return { error: ErrorCode.INVALID_CONFIG, message: `Config value append is not allowed for config key: ${c.name}` };
        next[c.name] =
          c.op === 2
            ? [...new Set([...list(next[c.name]), ...list(c.value ?? '')])].join(',')
            : list(next[c.name])
                .filter((x) => !list(c.value ?? '').includes(x))
                .join(',');
        break;
      default:
        return { error: ErrorCode.INVALID_REQUEST, message: `Unknown config operation ${c.op}` };
    }
  }
  const bad = validateTopicConfigs(next);
  return bad ? { error: ErrorCode.INVALID_CONFIG, message: bad } : { configs: next };
}

function alterHandler(incremental: boolean) {
  return (r: Reader, w: import('./primitives.js').Writer, { flexible: f }: { flexible: boolean }, ctx: BrokerContext) => {
    const resources = r.arr(f, (x) => {
      const type = x.int8();
      const name = x.str(f);
      const changes = x.arr(f, (y): Change => {
        const cname = y.str(f);
        const op = incremental ? y.int8() : 0;
        const value = y.nstr(f);
        y.tags(f);
        return { name: cname, op: !incremental && value === null ? 1 : op, value };
      });
      x.tags(f);
      return { type, name, changes };
    });
    const validateOnly = r.bool();
    r.tags(f);
    w.int32(0);
    w.arr(f, resources, (x, res) => {
      let error: number = ErrorCode.NONE;
      let message: string | null = null;
      const t = res.type === TOPIC ? ctx.topics.topics.get(res.name) : undefined;
      if (res.type === BROKER) [error, message] = [ErrorCode.INVALID_REQUEST, 'broker configs are static on this broker'];
      else if (res.type !== TOPIC) [error, message] = [ErrorCode.INVALID_REQUEST, `unsupported resource type ${res.type}`];
      else if (!t) [error, message] = [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${res.name}' does not exist.`];
      else {
        const out = apply(t.meta.configs, res.changes, incremental);
        if ('error' in out) [error, message] = [out.error, out.message];
        else if (!validateOnly) ctx.topics.setConfigs(res.name, out.configs);
      }
      x.int16(error).str(f, message).int8(res.type).str(f, res.name).tags(f);
    });
    w.tags(f);
  };
}

export const alterConfigsApi: ApiDefinition = { key: 33, name: 'AlterConfigs', minVersion: 0, maxVersion: 2, flexibleVersion: 2, handle: alterHandler(false) };
export const incrementalAlterConfigsApi: ApiDefinition = {
  key: 44,
  name: 'IncrementalAlterConfigs',
  minVersion: 0,
  maxVersion: 1,
  flexibleVersion: 1,
  handle: alterHandler(true),
};
