import { DetectionConfigError } from './errors.js';
import { RULES } from './rules/index.js';
import type { AnyRule, CommonRuleConfig } from './types.js';

/**
 * Rule settings, by rule store name (`impossible-travel`, `auth-failure-burst/ip`, ...). Any
 * subset may be given; the rest are the rule's defaults (see each rule's file).
 */
export type DetectionConfig = Record<string, Partial<CommonRuleConfig> & Record<string, unknown>>;
export type ResolvedDetectionConfig = Record<string, CommonRuleConfig & Record<string, unknown>>;

const SEVERITIES = ['low', 'medium', 'high', 'critical'];

/** A JSON Schema node describing a default value (objects closed: unknown settings are errors). */
function schemaOf(value: unknown, key: string): object {
  if (key === 'severity') return { enum: SEVERITIES };
  if (typeof value === 'boolean') return { type: 'boolean' };
  if (typeof value === 'number') return Number.isInteger(value) ? { type: 'integer', minimum: 0 } : { type: 'number', minimum: 0 };
  if (typeof value === 'string') return { type: 'string' };
  if (Array.isArray(value)) return { type: 'array', items: { type: 'string' } };
  if (value && typeof value === 'object') {
    return {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, schemaOf(v, k)])),
    };
  }
  return {};
}

/** JSON Schema of a DetectionConfig, derived from the rules' defaults (for the service's config schema). */
export function detectionConfigSchema(rules: readonly AnyRule[] = RULES): object {
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(rules.map((r) => [r.name, schemaOf(r.defaults, r.name)])),
  };
}

/** The effective settings of every rule; every unknown rule or setting and every bad value is reported at once. */
export function resolveDetectionConfig(config: DetectionConfig = {}, rules: readonly AnyRule[] = RULES): ResolvedDetectionConfig {
  const problems: string[] = [];
  const byName = new Map(rules.map((r) => [r.name, r]));
  for (const name of Object.keys(config)) if (!byName.has(name)) problems.push(`${name}: unknown rule (known: ${[...byName.keys()].join(', ')})`);
  const out: ResolvedDetectionConfig = {};
  for (const rule of rules) {
    const given = config[rule.name] ?? {};
    const merged: Record<string, unknown> = structuredClone(rule.defaults) as Record<string, unknown>;
    for (const [k, v] of Object.entries(given)) {
      const d = merged[k];
      if (!(k in merged)) {
        problems.push(`${rule.name}.${k}: unknown setting`);
      } else if (k === 'severity') {
        if (!SEVERITIES.includes(v as string)) problems.push(`${rule.name}.severity: must be one of ${SEVERITIES.join(', ')}`);
        else merged[k] = v;
      } else if (typeof d === 'number') {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) problems.push(`${rule.name}.${k}: expected a number >= 0`);
        else merged[k] = v;
      } else if (typeof d === 'boolean') {
        if (typeof v !== 'boolean') problems.push(`${rule.name}.${k}: expected true or false`);
        else merged[k] = v;
      } else if (Array.isArray(d)) {
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) problems.push(`${rule.name}.${k}: expected a list of strings`);
        else merged[k] = v;
      } else if (d && typeof d === 'object') {
        if (!v || typeof v !== 'object' || Array.isArray(v)) problems.push(`${rule.name}.${k}: expected an object`);
        else {
          for (const [kk, vv] of Object.entries(v)) {
            if (!(kk in d)) problems.push(`${rule.name}.${k}.${kk}: unknown setting`);
            else if (typeof vv !== 'number' || vv < 0) problems.push(`${rule.name}.${k}.${kk}: expected a number >= 0`);
          }
          merged[k] = { ...d, ...v };
        }
      }
    }
    if ((merged.maxKeys as number) < 1) problems.push(`${rule.name}.maxKeys: must be at least 1`);
    out[rule.name] = merged as CommonRuleConfig & Record<string, unknown>;
  }
  if (problems.length > 0) throw new DetectionConfigError(problems);
  return out;
}
