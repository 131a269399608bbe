import { Ajv } from 'ajv';
import type { TokenType } from '@jwt-audit/events';
import { ENRICHMENT_ERRORS } from './errors.js';

export interface RouteScopeRule {
  /** HTTP method, or absent for any. */
  method?: string;
  /** Route template: `/orders/:id`, `/admin/*` (the rest of the path). */
  route: string;
  /** Every one of these scopes is required. */
  scopes: string[];
}

export interface EnrichmentPolicy {
  /** Longest acceptable token lifetime (exp - iat), seconds, by token type. */
  maxLifetimeSec: Record<TokenType, number>;
  /** First matching rule wins. */
  routes: RouteScopeRule[];
}

export const DEFAULT_ENRICHMENT_POLICY: EnrichmentPolicy = {
  maxLifetimeSec: {
    access: 3_600, // 1 h
    id: 3_600, // 1 h
    refresh: 2_592_000, // 30 d
    unknown: 86_400, // 1 d
  },
  routes: [],
};

export const enrichmentPolicySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxLifetimeSec: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(['access', 'refresh', 'id', 'unknown'].map((k) => [k, { type: 'integer', minimum: 1 }])),
    },
    routes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['route', 'scopes'],
        properties: {
          method: { type: 'string', pattern: '^[A-Za-z]+$' },
          route: { type: 'string', pattern: '^/' },
          scopes: { type: 'array', items: { type: 'string', minLength: 1 } },
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true }).compile(enrichmentPolicySchema);

/** Validates a policy document over the defaults; every problem at once. */
export function parseEnrichmentPolicy(doc: unknown): EnrichmentPolicy {
  if (!validate(doc)) {
    throw ENRICHMENT_ERRORS.AUDIT_ERR_ENRICHMENT_POLICY.create((validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`).join('; '));
  }
  const d = doc as Partial<EnrichmentPolicy>;
  return { maxLifetimeSec: { ...DEFAULT_ENRICHMENT_POLICY.maxLifetimeSec, ...d.maxLifetimeSec }, routes: d.routes ?? [] };
}
