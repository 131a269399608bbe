import { Ajv, type ErrorObject } from 'ajv';
import * as addFormatsModule from 'ajv-formats';
import type { FieldError } from './errors.js';
import { readSchemaFile } from './schemas.js';

// ajv-formats is CommonJS with a default export; under NodeNext its default import is the module object.
const addFormats = addFormatsModule.default as unknown as typeof addFormatsModule.default.default;

export interface LifecycleEventInput {
  type: 'token.issued' | 'token.refreshed' | 'token.revoked' | 'session.started' | 'session.ended' | 'key.rotated' | 'subject.deprovisioned';
  id?: string;
  occurredAt: string;
  subject?: string;
  clientId?: string;
  tenant?: string;
  roles?: string[];
  scopes?: string[];
  token?: {
    jti?: string;
    sid?: string;
    iss?: string;
    aud?: string | string[];
    kid?: string;
    alg?: string;
    iat?: number;
    nbf?: number;
    exp?: number;
    typ?: 'access' | 'refresh' | 'id';
    familyId?: string;
    fingerprint: string;
    previousFingerprint?: string;
  };
  session?: { id: string; reason?: string };
  key?: { jwksUrl?: string; added?: string[]; removed?: string[]; current?: string[] };
  reason?: string;
  source?: { service?: string; instance?: string; environment?: string };
  attributes?: Record<string, string>;
}

// Compiled once at load, never per request.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
// RFC 3339 admits what a Date cannot hold: a leap second (23:59:60) and, as ajv-formats reads it, an
// hour-only offset (+01). Both pass the format but Date.parse gives NaN, so the event could not be
// encoded; the format is narrowed to what parses.
const rfc3339 = ajv.formats['date-time'] as { validate: (s: string) => boolean; compare: (a: string, b: string) => number | undefined };
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => rfc3339.validate(s) && Number.isFinite(Date.parse(s)), compare: rfc3339.compare });
ajv.addSchema(readSchemaFile('json/shapes.json') as object);
ajv.addSchema(readSchemaFile('json/lifecycle-event.json') as object, 'lifecycle-event.json');
const validateRequest = ajv.compile(readSchemaFile('json/ingest-request.json') as object);
const validateOne = ajv.getSchema('lifecycle-event.json')!;

function toFieldErrors(errors: ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    if (e.keyword === 'if' || e.keyword === 'oneOf') continue; // the specific errors beside them say more
    let field = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    if (e.keyword === 'required') field = field ? `${field}.${e.params.missingProperty}` : String(e.params.missingProperty);
    if (e.keyword === 'additionalProperties') field = field ? `${field}.${e.params.additionalProperty}` : String(e.params.additionalProperty);
    field = prefix + (field || '(root)');
    const message = e.keyword === 'additionalProperties' ? 'unknown field' : (e.message ?? e.keyword);
    const key = `${field}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ field, message });
    }
  }
  return out;
}

export type IngestValidation = { ok: true; events: LifecycleEventInput[] } | { ok: false; errors: FieldError[] };

/**
 * Validates a POST /audit/v1/events body (one event or `{ events: [...] }`). Errors name each
 * field by its dotted path (`events.3.token.fingerprint`), all at once.
 */
export function validateIngestRequest(body: unknown): IngestValidation {
  if (validateRequest(body)) {
    const b = body as LifecycleEventInput | { events: LifecycleEventInput[] };
    return { ok: true, events: 'events' in b ? b.events : [b] };
  }
  // oneOf errors mix both branches; re-validate against the branch the body is shaped like.
  if (body !== null && typeof body === 'object' && Array.isArray((body as { events?: unknown }).events)) {
    const events = (body as { events: unknown[] }).events;
    const errors: FieldError[] = [];
    if (events.length === 0) errors.push({ field: 'events', message: 'must NOT have fewer than 1 items' });
    if (events.length > 1000) errors.push({ field: 'events', message: 'must NOT have more than 1000 items' });
    const extra = Object.keys(body).filter((k) => k !== 'events');
    for (const k of extra) errors.push({ field: k, message: 'unknown field' });
    events.slice(0, 1000).forEach((e, i) => {
      if (!validateOne(e)) errors.push(...toFieldErrors(validateOne.errors, `events.${i}.`));
    });
    return { ok: false, errors };
  }
  validateOne(body);
  return { ok: false, errors: toFieldErrors(validateOne.errors) };
}
