/**
 * The field table: what every indexed field is, read from the index templates in
 * schemas/elasticsearch (the one source of truth for the mapping), and a checker that walks a
 * document leaf by leaf and says what Elasticsearch would do with each value:
 *   - `unmapped`: the templates are `dynamic: false`, so the value is kept in _source but is not
 *     searchable (a typo in the mapper, or a field the template forgot);
 *   - `rejected`: the mapped type refuses the value and Elasticsearch fails the whole document
 *     (mapper_parsing_exception / document_parsing_exception): the event would go to the DLQ;
 *   - `unsearchable`: accepted but not indexed (a keyword longer than its ignore_above).
 * The mapper (ecs.ts), the CLI columns and the Kibana saved searches are checked against this
 * table by tests, so the four places that name fields cannot drift apart.
 */
import net from 'node:net';
import { readSchemaFile } from '@jwt-audit/events';

export interface FieldSpec {
  type: string;
  ignore_above?: number;
  format?: string;
}

export type FieldTable = ReadonlyMap<string, FieldSpec>;

interface MappingNode {
  type?: string;
  properties?: Record<string, MappingNode>;
  fields?: Record<string, MappingNode>;
  ignore_above?: number;
  format?: string;
}

/** Flattens a template's (or a mappings object's) properties to dotted paths, multi-fields included (`user_agent.original.text`). */
export function fieldTable(template: unknown): FieldTable {
  const t = template as { template?: { mappings?: MappingNode }; mappings?: MappingNode; properties?: Record<string, MappingNode> };
  const root = t.template?.mappings ?? t.mappings ?? (t as MappingNode);
  const out = new Map<string, FieldSpec>();
  const walk = (props: Record<string, MappingNode>, prefix: string) => {
    for (const [name, m] of Object.entries(props)) {
      const path = prefix + name;
      if (m.properties && (m.type === undefined || m.type === 'object')) {
        walk(m.properties, `${path}.`);
        continue;
      }
      const spec = (n: MappingNode): FieldSpec => ({
        type: n.type ?? 'object',
        ...(n.ignore_above !== undefined ? { ignore_above: n.ignore_above } : {}),
        ...(n.format !== undefined ? { format: n.format } : {}),
      });
      out.set(path, spec(m));
      for (const [sub, sm] of Object.entries(m.fields ?? {})) out.set(`${path}.${sub}`, spec(sm));
    }
  };
  walk(root.properties ?? {}, '');
  return out;
}

/** The events data streams' fields (logs-jwt_audit.events-*). */
export const EVENT_FIELDS: FieldTable = fieldTable(readSchemaFile('elasticsearch/template-logs-jwt_audit.events.json'));
/** The alerts data streams' fields (logs-jwt_audit.alerts-*). */
export const ALERT_FIELDS: FieldTable = fieldTable(readSchemaFile('elasticsearch/template-logs-jwt_audit.alerts.json'));
/** The sessions index's fields (audit-sessions-*). */
export const SESSION_FIELDS: FieldTable = fieldTable(readSchemaFile('elasticsearch/template-audit-sessions.json'));

export interface FieldProblem {
  path: string;
  kind: 'unmapped' | 'rejected' | 'unsearchable';
  reason: string;
}

/** Lucene refuses a term longer than this many UTF-8 bytes: the document fails ("immense term"). */
export const MAX_TERM_BYTES = 32_766;
const INT_RANGE: Record<string, [number, number]> = {
  byte: [-128, 127],
  short: [-32_768, 32_767],
  integer: [-2_147_483_648, 2_147_483_647],
  long: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
/** ISO 8601 as Elasticsearch's default date format reads it (4-digit years only). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Whether a string is a date Elasticsearch's default `strict_date_optional_time||epoch_millis` accepts. */
export function isIndexableDate(v: unknown): boolean {
  if (typeof v === 'number') return Number.isSafeInteger(v);
  return typeof v === 'string' && ISO_DATE.test(v) && !Number.isNaN(Date.parse(v));
}

function checkValue(path: string, spec: FieldSpec, v: unknown, out: FieldProblem[]): void {
  const reject = (reason: string): void => void out.push({ path, kind: 'rejected', reason: `${spec.type} ${reason}: ${JSON.stringify(v)?.slice(0, 80)}` });
  switch (spec.type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard': {
      if (typeof v !== 'string') return reject('expects a string');
      if (spec.ignore_above !== undefined && v.length > spec.ignore_above) {
        out.push({ path, kind: 'unsearchable', reason: `${v.length} characters, above ignore_above ${spec.ignore_above}` });
      } else if (spec.type !== 'wildcard' && Buffer.byteLength(v) > MAX_TERM_BYTES) {
        reject(`term of ${Buffer.byteLength(v)} bytes is above Lucene's ${MAX_TERM_BYTES} (no ignore_above)`);
      }
      return;
    }
    case 'text':
    case 'match_only_text':
      if (typeof v !== 'string') reject('expects a string');
      return;
    case 'long':
    case 'integer':
    case 'short':
    case 'byte': {
      const [lo, hi] = INT_RANGE[spec.type]!;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) reject(`expects an integer in ${lo}..${hi}`);
      return;
    }
    case 'double':
    case 'float':
    case 'half_float':
    case 'scaled_float':
      if (typeof v !== 'number' || !Number.isFinite(v) || (spec.type === 'float' && Math.abs(v) > 3.4028235e38)) reject('expects a finite number');
      return;
    case 'date':
      if (!isIndexableDate(v)) reject('expects ISO 8601 (years 0000-9999) or epoch millis');
      return;
    case 'boolean':
      if (typeof v !== 'boolean') reject('expects true or false');
      return;
    case 'ip':
      if (typeof v !== 'string' || net.isIP(v) === 0) reject('expects an IPv4 or IPv6 address');
      return;
    case 'geo_point': {
      const p = v as { lat?: unknown; lon?: unknown };
      const ok =
        p !== null && typeof p === 'object' && typeof p.lat === 'number' && typeof p.lon === 'number' && Math.abs(p.lat) <= 90 && Math.abs(p.lon) <= 180;
      if (!ok) reject('expects { lat: -90..90, lon: -180..180 }');
      return;
    }
    case 'flattened': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return reject('expects an object');
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (typeof x !== 'string')
          out.push({ path: `${path}.${k}`, kind: 'rejected', reason: `flattened leaf expects a string: ${JSON.stringify(x)?.slice(0, 80)}` });
        else if (spec.ignore_above !== undefined && x.length > spec.ignore_above)
          out.push({ path: `${path}.${k}`, kind: 'unsearchable', reason: `${x.length} characters, above ignore_above ${spec.ignore_above}` });
        else if (Buffer.byteLength(x) > MAX_TERM_BYTES)
          out.push({
            path: `${path}.${k}`,
            kind: 'rejected',
            reason: `flattened term of ${Buffer.byteLength(x)} bytes is above Lucene's ${MAX_TERM_BYTES} (no ignore_above)`,
          });
      }
      return;
    }
    default:
      reject('is a type this checker does not know');
  }
}

/**
 * Every leaf of `doc` against `table`. Arrays are checked element by element (Elasticsearch has no
 * array type); an object where the table has a leaf type other than geo_point/flattened is rejected,
 * as Elasticsearch rejects it.
 */
export function checkDocument(doc: Record<string, unknown>, table: FieldTable): FieldProblem[] {
  const out: FieldProblem[] = [];
  const visit = (v: unknown, path: string) => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) {
      for (const x of v) visit(x, path);
      return;
    }
    const spec = table.get(path);
    if (spec) {
      checkValue(path, spec, v, out);
      return;
    }
    if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) visit(x, path ? `${path}.${k}` : k);
      return;
    }
    out.push({ path, kind: 'unmapped', reason: 'no mapping for this field (dynamic: false keeps it out of the index)' });
  };
  visit(doc, '');
  return out;
}

/** Every leaf path of a document, arrays flattened (`jwt_audit.token.aud`, not `jwt_audit.token.aud.0`); flattened fields are one leaf. */
export function leafPaths(doc: Record<string, unknown>, table: FieldTable): string[] {
  const out = new Set<string>();
  const visit = (v: unknown, path: string) => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) return v.forEach((x) => visit(x, path));
    if (typeof v === 'object' && !table.has(path)) return Object.entries(v as Record<string, unknown>).forEach(([k, x]) => visit(x, path ? `${path}.${k}` : k));
    out.add(path);
  };
  visit(doc, '');
  return [...out];
}
