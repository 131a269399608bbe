/**
 * One index's documents and the structures that answer queries without scanning documents:
 *   - an inverted index per field (term -> doc numbers) for keyword, text tokens, boolean, ip, flattened;
 *   - numeric doc values per field (doc number -> numbers) for long/integer/float/double/date,
 *     used by range queries, sorting and aggregations;
 *   - ip doc values per field (doc number -> 128-bit keys as 32 hex digits, see values.ts ipSortKey)
 *     for ip CIDR and range queries and sorting: a JS number cannot hold an IPv6 address;
 *   - a presence set per field for `exists`.
 * Documents keep their _source; a replaced or deleted document's entries are recomputed from its
 * source and removed, so structures stay exact. Mappings follow Elasticsearch's default dynamic
 * mapping for fields not mapped explicitly.
 */
import { EsError } from '../errors.js';
import { dateFormat } from './date-format.js';
import { formatIp, ipSortKey, looksLikeDate, parseDate, tokenize } from './values.js';

export type FieldMapping = { type?: string; properties?: Record<string, FieldMapping>; fields?: Record<string, FieldMapping>; format?: string; ignore_above?: number; index?: boolean; [k: string]: unknown };
export type Mappings = { dynamic?: boolean | 'true' | 'false' | 'strict' | 'runtime'; properties?: Record<string, FieldMapping>; [k: string]: unknown };

export const SUPPORTED_TYPES = new Set(['keyword', 'text', 'date', 'long', 'integer', 'short', 'byte', 'float', 'double', 'half_float', 'scaled_float', 'boolean', 'ip', 'object', 'flattened', 'constant_keyword', 'match_only_text', 'wildcard', 'geo_point']);
/** Largest magnitude a JSON number may have for each integer type (Jackson's coercion check). */
const INTEGER_RANGE: Record<string, number> = { long: 2 ** 63, integer: 2 ** 31, short: 2 ** 15, byte: 2 ** 7 };

/** The caused_by Elasticsearch gives under a document_parsing_exception, by field type and value. */
function parseCause(type: string, value: unknown, format: string | undefined): Record<string, unknown> {
  const json = typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  if (typeof value === 'object' && value !== null) return { type: 'illegal_state_exception', reason: `Can't get text on a START_OBJECT` };
  if (NUMERIC.has(type)) {
    if (typeof value === 'boolean') {
      const reason = `Current token (VALUE_${String(value).toUpperCase()}) not numeric, can not use numeric value accessors`;
      return { type: 'x_content_parse_exception', reason, caused_by: { type: 'json_parse_exception', reason } };
    }
    if (typeof value === 'number') {
      const reason = `Numeric value (${json}) out of range of ${type}`;
      return { type: 'x_content_parse_exception', reason, caused_by: { type: 'input_coercion_exception', reason } };
    }
    return { type: 'illegal_argument_exception', reason: `For input string: "${json}"` };
  }
  if (type === 'date') return { type: 'illegal_argument_exception', reason: `failed to parse date field [${json}] with format [${format ?? 'strict_date_optional_time||epoch_millis'}]`, caused_by: { type: 'date_time_parse_exception', reason: 'Failed to parse with all enclosed parsers' } };
  if (type === 'boolean') return { type: 'illegal_argument_exception', reason: `Failed to parse value [${json}] as only [true] or [false] are allowed.` };
  if (type === 'ip') return { type: 'illegal_argument_exception', reason: `'${json}' is not an IP string literal.` };
  return { type: 'illegal_argument_exception', reason: `failed to parse [${json}]` };
}

const NUMERIC = new Set(['long', 'integer', 'short', 'byte', 'float', 'double', 'half_float', 'scaled_float']);

/**
 * Whether a field can be queried. Elasticsearch 8 queries a field with `index: false` through its
 * doc values (slower) when it has them: numbers, dates, boolean, ip, keyword; text and flattened
 * with `index: false`, or anything without doc values either, answer a 400.
 */
export function isSearchable(m: FieldMapping | undefined): boolean {
  if (!m || m.index !== false) return true;
  const kind = kindOf(m.type ?? 'keyword');
  return m.doc_values !== false && kind !== 'text' && kind !== 'flattened' && kind !== 'stored';
}

export function isNumericType(t: string | undefined): boolean {
  return t !== undefined && NUMERIC.has(t);
}

/** How a type is indexed: terms (exact strings), tokens (text), numbers (doc values), or both. */
export function kindOf(type: string): 'keyword' | 'text' | 'number' | 'date' | 'boolean' | 'ip' | 'flattened' | 'stored' {
  if (type === 'text' || type === 'match_only_text') return 'text';
  // geo_point is accepted and kept in _source; geo queries are not supported
  if (type === 'geo_point') return 'stored';
  if (NUMERIC.has(type)) return 'number';
  if (type === 'date') return 'date';
  if (type === 'boolean') return 'boolean';
  if (type === 'ip') return 'ip';
  if (type === 'flattened') return 'flattened';
  return 'keyword';
}

interface Doc {
  id: string;
  source: Record<string, unknown>;
  seqNo: number;
  version: number;
}

interface Entry {
  field: string;
  term?: string;
  num?: number;
  ip?: string;
}

function preview(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return (s ?? '').slice(0, 60);
}

export class IndexEngine {
  private docs: (Doc | undefined)[] = [];
  private readonly idMap = new Map<string, number>();
  private readonly terms = new Map<string, Map<string, Set<number>>>();
  private readonly numbers = new Map<string, Map<number, number[]>>();
  private readonly ips = new Map<string, Map<number, string[]>>();
  private readonly present = new Map<string, Set<number>>();
  private mapping: Mappings;
  /** dotted path -> mapping, multi-fields included (`message.keyword`). */
  private flat = new Map<string, FieldMapping>();
  private freeSlots: number[] = [];
  /** Bumped whenever the mappings change (dynamic additions included), so callers persist only then. */
  mappingVersion = 0;

  constructor(mappings: Mappings = {}) {
    this.mapping = { ...structuredClone(mappings), properties: structuredClone(mappings.properties ?? {}) };
    this.validateMappings(this.mapping.properties!, '');
    this.reflatten();
  }

  get size(): number {
    return this.idMap.size;
  }

  mappings(): Mappings {
    return structuredClone(this.mapping);
  }

  /** All ids (persistence snapshots). */
  ids(): IterableIterator<string> {
    return this.idMap.keys();
  }

  private validateMappings(props: Record<string, FieldMapping>, prefix: string): void {
    for (const [name, m] of Object.entries(props)) {
      const type = m.type ?? (m.properties ? 'object' : undefined);
      if (type === 'nested') throw new EsError(400, 'illegal_argument_exception', `unsupported by the embedded search node: mapping type [nested] for field [${prefix}${name}]`);
      if (type && !SUPPORTED_TYPES.has(type)) throw new EsError(400, 'mapper_parsing_exception', `No handler for type [${type}] declared on field [${prefix}${name}]`);
      // an unusable date format fails at mapping time, as in Elasticsearch, not on the first document
      if (type === 'date' && m.format !== undefined) dateFormat(String(m.format));
      if (m.properties) this.validateMappings(m.properties, `${prefix}${name}.`);
    }
  }

  private reflatten(): void {
    const flat = new Map<string, FieldMapping>();
    const walk = (props: Record<string, FieldMapping>, prefix: string) => {
      for (const [name, m] of Object.entries(props)) {
        const path = prefix + name;
        if (m.properties && (m.type === undefined || m.type === 'object')) {
          walk(m.properties, `${path}.`);
          continue;
        }
        flat.set(path, m);
        for (const [sub, sm] of Object.entries(m.fields ?? {})) flat.set(`${path}.${sub}`, { ...sm, __parent: path });
      }
    };
    walk(this.mapping.properties ?? {}, '');
    this.flat = flat;
  }

  /** Mapping of a field (a leaf or a multi-field), or undefined when unmapped. */
  field(path: string): FieldMapping | undefined {
    return this.flat.get(path);
  }

  /** Every mapped leaf path (for `*` patterns in queries). */
  fieldNames(): string[] {
    return [...this.flat.keys()];
  }

  putMappings(m: Mappings): void {
    const merged = structuredClone(this.mapping);
    const merge = (into: Record<string, FieldMapping>, from: Record<string, FieldMapping>, prefix: string) => {
      for (const [name, fm] of Object.entries(from)) {
        const existing = into[name];
        if (!existing) {
          into[name] = structuredClone(fm);
          continue;
        }
        const t1 = existing.type ?? (existing.properties ? 'object' : undefined);
        const t2 = fm.type ?? (fm.properties ? 'object' : undefined);
        if (t1 && t2 && t1 !== t2) {
          throw new EsError(400, 'illegal_argument_exception', `mapper [${prefix}${name}] cannot be changed from type [${t1}] to [${t2}]`);
        }
        if (fm.properties) merge((existing.properties ??= {}), fm.properties, `${prefix}${name}.`);
        if (fm.fields) existing.fields = { ...(existing.fields ?? {}), ...fm.fields };
      }
    };
    merge((merged.properties ??= {}), m.properties ?? {}, '');
    if (m.dynamic !== undefined) merged.dynamic = m.dynamic;
    this.validateMappings(merged.properties!, '');
    this.mapping = merged;
    this.reflatten();
    this.mappingVersion++;
  }

  has(id: string): boolean {
    return this.idMap.has(id);
  }

  get(id: string): { source: Record<string, unknown>; seqNo: number; version: number } | undefined {
    const n = this.idMap.get(id);
    const d = n === undefined ? undefined : this.docs[n];
    return d ? { source: d.source, seqNo: d.seqNo, version: d.version } : undefined;
  }

  /** Internal doc number -> document (search uses numbers). */
  doc(n: number): { id: string; source: Record<string, unknown>; seqNo: number; version: number } | undefined {
    return this.docs[n];
  }

  /** Doc number of an id (the `ids` query). */
  numOf(id: string): number | undefined {
    return this.idMap.get(id);
  }

  allDocs(): number[] {
    return [...this.idMap.values()];
  }

  termDocs(field: string, term: string): Set<number> | undefined {
    return this.terms.get(field)?.get(term);
  }

  termDictionary(field: string): Map<string, Set<number>> | undefined {
    return this.terms.get(field);
  }

  numericValues(field: string): Map<number, number[]> | undefined {
    return this.numbers.get(field);
  }

  /** ip doc values: doc number -> sortable keys (values.ts ipSortKey). */
  ipValues(field: string): Map<number, string[]> | undefined {
    return this.ips.get(field);
  }

  docsWithField(field: string): Set<number> | undefined {
    return this.present.get(field);
  }

  /**
   * Walks a source and returns the index entries plus the mappings dynamic mapping would add.
   * Throws document_parsing_exception / strict_dynamic_mapping_exception without side effects.
   */
  private analyze(id: string, source: Record<string, unknown>): { entries: Entry[]; added: Map<string, FieldMapping> } {
    const entries: Entry[] = [];
    const added = new Map<string, FieldMapping>();
    const dynamic = String(this.mapping.dynamic ?? 'true');
    const fail = (path: string, type: string, value: unknown) => {
      throw new EsError(400, 'document_parsing_exception', `[1:2] failed to parse field [${path}] of type [${type}] in document with id '${id}'. Preview of field's value: '${preview(value)}'`, { caused_by: parseCause(type, value, formatOf(path)) });
    };
    const formatOf = (path: string) => this.field(path)?.format;
    const leaf = (path: string, m: FieldMapping, value: unknown) => {
      if (value === null || value === undefined) return;
      const type = m.type ?? 'object';
      // kept in our structures whenever Elasticsearch could still query it (doc-value-only fields)
      if (!isSearchable(m)) return;
      const kind = kindOf(type);
      switch (kind) {
        case 'stored':
          break;
        case 'text': {
          if (typeof value === 'object') fail(path, type, value);
          for (const t of tokenize(String(value))) entries.push({ field: path, term: t });
          break;
        }
        case 'keyword': {
          if (typeof value === 'object') fail(path, type, value);
          const s = String(value);
          if (m.ignore_above === undefined || s.length <= m.ignore_above) entries.push({ field: path, term: s });
          break;
        }
        case 'number': {
          const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
          if (!Number.isFinite(n)) fail(path, type, value);
          if (typeof value === 'number' && INTEGER_RANGE[type] !== undefined && Math.abs(value) > INTEGER_RANGE[type]!) fail(path, type, value);
          const v = type === 'long' || type === 'integer' || type === 'short' || type === 'byte' ? Math.trunc(n) : n;
          entries.push({ field: path, num: v, term: String(v) });
          break;
        }
        case 'date': {
          const ms = parseDate(value, m.format);
          if (ms === undefined) fail(path, type, value);
          entries.push({ field: path, num: ms });
          break;
        }
        case 'boolean': {
          const b = value === true || value === 'true' ? 'true' : value === false || value === 'false' || value === '' ? 'false' : undefined;
          if (!b) fail(path, type, value);
          entries.push({ field: path, term: b });
          break;
        }
        case 'ip': {
          const k = typeof value === 'string' ? ipSortKey(value.trim()) : undefined;
          if (k === undefined) fail(path, type, value);
          entries.push({ field: path, term: formatIp(k!), ip: k });
          break;
        }
        case 'flattened': {
          const walk = (v: unknown, sub: string) => {
            if (v === null || v === undefined) return;
            if (Array.isArray(v)) return v.forEach((x) => walk(x, sub));
            if (typeof v === 'object') return Object.entries(v as Record<string, unknown>).forEach(([k, x]) => walk(x, sub ? `${sub}.${k}` : k));
            entries.push({ field: path, term: String(v) });
            if (sub) entries.push({ field: `${path}.${sub}`, term: String(v) });
          };
          walk(value, '');
          break;
        }
      }
      for (const [sub, sm] of Object.entries(m.fields ?? {})) leaf(`${path}.${sub}`, sm, value);
    };
    const walk = (obj: Record<string, unknown>, prefix: string, dynamicHere: string) => {
      for (const [k, value] of Object.entries(obj)) {
        const path = prefix + k;
        if (path === '_id' || path === '_index' || path === '_source') throw new EsError(400, 'document_parsing_exception', `[1:2] Field [${path}] is a metadata field and cannot be added inside a document.`);
        const m = this.flat.get(path) ?? added.get(path);
        const values = Array.isArray(value) ? value.flat(Infinity) : [value];
        if (m) {
          for (const v of values) leaf(path, m, v);
          continue;
        }
        const objectMapping = this.objectMapping(path);
        const firstPlain = values.find((v) => v !== null && v !== undefined);
        if (firstPlain !== null && typeof firstPlain === 'object' && !Array.isArray(firstPlain)) {
          if (objectMapping && objectMapping.enabled === false) continue;
          const childDynamic = objectMapping?.dynamic !== undefined ? String(objectMapping.dynamic) : dynamicHere;
          if (!objectMapping && dynamicHere === 'strict') throw new EsError(400, 'strict_dynamic_mapping_exception', `[1:2] mapping set to strict, dynamic introduction of [${k}] within [${prefix.slice(0, -1) || '_doc'}] is not allowed`);
          if (!objectMapping && dynamicHere !== 'false') added.set(path, { type: 'object', __object: true });
          if (!objectMapping && dynamicHere === 'false') continue;
          for (const v of values) if (v && typeof v === 'object') walk(v as Record<string, unknown>, `${path}.`, childDynamic);
          continue;
        }
        if (firstPlain === undefined) continue;
        if (dynamicHere === 'strict') throw new EsError(400, 'strict_dynamic_mapping_exception', `[1:2] mapping set to strict, dynamic introduction of [${k}] within [${prefix.slice(0, -1) || '_doc'}] is not allowed`);
        if (dynamicHere === 'false' || dynamicHere === 'runtime') continue;
        let dm: FieldMapping;
        if (typeof firstPlain === 'boolean') dm = { type: 'boolean' };
        else if (typeof firstPlain === 'number') dm = Number.isInteger(firstPlain) ? { type: 'long' } : { type: 'float' };
        else if (typeof firstPlain === 'string' && looksLikeDate(firstPlain)) dm = { type: 'date' };
        else dm = { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
        added.set(path, dm);
        for (const v of values) leaf(path, dm, v);
      }
    };
    walk(source, '', String(this.mapping.dynamic ?? 'true') === 'false' ? 'false' : dynamic);
    return { entries, added };
  }

  private objectMapping(path: string): FieldMapping | undefined {
    let props = this.mapping.properties;
    let m: FieldMapping | undefined;
    for (const part of path.split('.')) {
      m = props?.[part];
      if (!m) return undefined;
      props = m.properties;
    }
    return m && (m.type === undefined || m.type === 'object') ? m : undefined;
  }

  private addDynamic(added: Map<string, FieldMapping>): void {
    if (added.size === 0) return;
    for (const [path, m] of added) {
      const parts = path.split('.');
      let props = (this.mapping.properties ??= {});
      for (const part of parts.slice(0, -1)) {
        const o = (props[part] ??= { properties: {} });
        props = o.properties ??= {};
      }
      const last = parts[parts.length - 1]!;
      if (m.__object) props[last] ??= { properties: {} };
      else props[last] = m;
    }
    this.reflatten();
    this.mappingVersion++;
  }

  index(id: string, source: Record<string, unknown>, meta: { seqNo: number; version: number; primaryTerm?: number }): void {
    if (source === null || typeof source !== 'object' || Array.isArray(source)) throw new EsError(400, 'document_parsing_exception', `[1:1] failed to parse: the document must be an object`);
    const { entries, added } = this.analyze(id, source);
    // validated: from here on nothing throws
    this.addDynamic(added);
    const existing = this.idMap.get(id);
    if (existing !== undefined) this.unindex(existing);
    const n = existing ?? this.freeSlots.pop() ?? this.docs.length;
    this.docs[n] = { id, source, seqNo: meta.seqNo, version: meta.version };
    this.idMap.set(id, n);
    this.apply(n, entries, true);
  }

  private apply(n: number, entries: Entry[], add: boolean): void {
    for (const e of entries) {
      let p = this.present.get(e.field);
      if (!p) this.present.set(e.field, (p = new Set()));
      if (add) p.add(n);
      else p.delete(n);
      if (e.term !== undefined) {
        let dict = this.terms.get(e.field);
        if (!dict) this.terms.set(e.field, (dict = new Map()));
        let set = dict.get(e.term);
        if (add) {
          if (!set) dict.set(e.term, (set = new Set()));
          set.add(n);
        } else if (set) {
          set.delete(n);
          if (set.size === 0) dict.delete(e.term);
        }
      }
      if (e.num !== undefined) {
        let col = this.numbers.get(e.field);
        if (!col) this.numbers.set(e.field, (col = new Map()));
        if (add) {
          const arr = col.get(n);
          if (arr) arr.push(e.num);
          else col.set(n, [e.num]);
        } else col.delete(n);
      }
      if (e.ip !== undefined) {
        let col = this.ips.get(e.field);
        if (!col) this.ips.set(e.field, (col = new Map()));
        if (add) {
          const arr = col.get(n);
          if (arr) arr.push(e.ip);
          else col.set(n, [e.ip]);
        } else col.delete(n);
      }
    }
  }

  private unindex(n: number): void {
    const d = this.docs[n];
    if (!d) return;
    const { entries } = this.analyze(d.id, d.source);
    this.apply(n, entries, false);
  }

  delete(id: string): boolean {
    const n = this.idMap.get(id);
    if (n === undefined) return false;
    this.unindex(n);
    this.docs[n] = undefined;
    this.idMap.delete(id);
    this.freeSlots.push(n);
    return true;
  }
}
