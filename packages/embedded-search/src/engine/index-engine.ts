/**
 * One index's documents and the structures that answer queries without scanning documents, per
 * field in columns.ts: postings (term -> doc numbers; keyword, text tokens, boolean, ip, numbers
 * as terms, flattened), keyword/boolean doc values as term ordinals, numeric doc values with a
 * sorted run for ranges, ip doc values (IPv4 as numbers, IPv6 as 32 hex digits, values.ts
 * ipSortKey: a JS number cannot hold one), and presence bits for `exists`.
 * Doc numbers only grow: a replaced document gets a new number and the old one is marked dead, so
 * no structure is recomputed on replace or delete (dead numbers are skipped through the live
 * bitmap). A document's _source is its JSON text, held until the store has written it to the log
 * and read back from there afterwards (sourceStored). Mappings follow Elasticsearch's default
 * dynamic mapping for fields not mapped explicitly.
 */
import { EsError } from '../errors.js';
import { dateFormat } from './date-format.js';
import { Bits, FieldData, type Posting } from './columns.js';
import { TermDict } from './term-dict.js';
import { formatIp, ipSortKey, looksLikeDate, parseDate, tokenize } from './values.js';
import { RUNTIME_ERRORS } from '@jwt-audit/runtime';

export type FieldMapping = {
  type?: string;
  properties?: Record<string, FieldMapping>;
  fields?: Record<string, FieldMapping>;
  format?: string;
  ignore_above?: number;
  index?: boolean;
  [k: string]: unknown;
};
export type Mappings = { dynamic?: boolean | 'true' | 'false' | 'strict' | 'runtime'; properties?: Record<string, FieldMapping>; [k: string]: unknown };

export const SUPPORTED_TYPES = new Set([
  'keyword',
  'text',
  'date',
  'long',
  'integer',
  'short',
  'byte',
  'float',
  'double',
  'half_float',
  'scaled_float',
  'boolean',
  'ip',
  'object',
  'flattened',
  'constant_keyword',
  'match_only_text',
  'wildcard',
  'geo_point',
]);
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
  if (type === 'date')
    return {
      type: 'illegal_argument_exception',
      reason: `failed to parse date field [${json}] with format [${format ?? 'strict_date_optional_time||epoch_millis'}]`,
      caused_by: { type: 'date_time_parse_exception', reason: 'Failed to parse with all enclosed parsers' },
    };
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

/** A node of the cache of dotted paths (documents repeat the same keys). */
interface PathNode {
  path: string;
  prefix: string;
  /** A metadata field's name (`_id`, `_index`, `_source`): refused inside a document. */
  reserved: boolean;
  /** The keys of the last object seen here and their nodes, by position (walk()). */
  order?: string[];
  orderKids?: PathNode[];
  kids?: Map<string, PathNode>;
  /** objectMapping(path) as of structureVersion objVersion. */
  obj?: FieldMapping | undefined;
  objVersion?: number;
  /** The leaf's mapping (flat.get(path)) and its FieldInfo as of structureVersion leafVersion: one lookup per path and mapping change, not per document. */
  leaf?: FieldMapping | undefined;
  leafInfo?: FieldInfo | undefined;
  leafVersion?: number;
}

interface FieldInfo {
  path: string;
  type: string;
  kind: ReturnType<typeof kindOf>;
  searchable: boolean;
  subs?: [string, FieldMapping][];
  subInfos?: FieldInfo[];
  /** The field's columns once it has any (a FieldData is never replaced, so it is cached here). */
  col?: FieldData;
  /** Text fields: value -> tokens, for values that repeat (user agents, paths); switched off for a field whose values rarely repeat. */
  tokens?: Map<string, string[]> | undefined;
  tokenHits?: number;
  tokenMisses?: number;
}

/** Token cache bounds: entries per field before it is cleared, and misses before a field whose values rarely repeat stops caching. */
const TOKEN_CACHE_MAX = 4096;
const TOKEN_CACHE_TRIAL = 2048;
/** Key positions per object remembered by walk(): objects with more keys look the rest up. */
const MAX_ORDER = 256;

/** A stored document as callers see it; `source` is parsed from its JSON text when read. */
export interface StoredDoc {
  id: string;
  seqNo: number;
  version: number;
  readonly source: Record<string, unknown>;
}

/** Where a document's JSON text lives once written elsewhere (the store's log): read back on demand. */
export type SourceReader = (pos: number, len: number) => string;

function preview(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return (s ?? '').slice(0, 60);
}

export class IndexEngine {
  /** Doc numbers are never reused: a replaced document gets a new one (see columns.ts). */
  private maxDoc = 0;
  private live = new Uint8Array(1024);
  private liveCount = 0;
  /** doc number -> ordinal of its id in `idDict` (the id of a dead doc is not read). */
  private docIdOrd = new Int32Array(1024);
  private seqNos = new Float64Array(1024);
  private versions = new Float64Array(1024);
  /** JSON text of each document's _source while held in memory; undefined once stored elsewhere. */
  private readonly texts = new Map<number, string>();
  /** Byte position and length of the text in the reader's file, for documents not held in memory. */
  private textPos = new Float64Array(1024);
  private textLen = new Int32Array(1024);
  private reader: SourceReader | undefined;
  /**
   * The ids: a term dictionary (term-dict.ts: a byte arena once past a few thousand, where a Map entry
   * and a string per document were ~70 bytes of it), id ordinal -> live doc number (-1: none).
   */
  private readonly idDict: TermDict;
  private idDoc = new Int32Array(1024);
  private readonly fields = new Map<string, FieldData>();
  private readonly paths: PathNode = { path: '', prefix: '', reserved: false };
  private pathCount = 0;
  /** Bumped on every change of the mappings, so cached object mappings are looked up again. */
  private structureVersion = 0;
  private infos = new WeakMap<FieldMapping, FieldInfo>();
  private mapping: Mappings;
  /** dotted path -> mapping, multi-fields included (`message.keyword`). */
  private flat = new Map<string, FieldMapping>();
  /** Bumped whenever the mappings change (dynamic additions included), so callers persist only then. */
  mappingVersion = 0;
  // ---- scratch of analyze() for one document: its index entries as parallel arrays (reused, eCount of them) and what dynamic mapping adds
  private readonly eField: (FieldInfo | string)[] = [];
  private readonly eTerm: (string | undefined)[] = [];
  private readonly eNum: (number | undefined)[] = [];
  private readonly eIp: (string | undefined)[] = [];
  private readonly eDv: boolean[] = [];
  private eCount = 0;
  private readonly added = new Map<string, FieldMapping>();
  /** constant_keyword fields without a `value` yet: the first document's value becomes the mapping's. */
  private readonly constants = new Map<string, string>();
  private curId = '';
  /** Every document through the uncached path (no path, mapping, column or token caches): the reference tests hold the caches to. */
  private readonly uncached: boolean;

  /** When a field's term dictionary leaves its Map for the byte arena (term-dict.ts); tests set it low, or Infinity for the Map alone. */
  private readonly arenaAfter: number | undefined;

  constructor(mappings: Mappings = {}, options: { uncached?: boolean; arenaAfter?: number } = {}) {
    this.uncached = options.uncached === true;
    this.arenaAfter = options.arenaAfter;
    this.idDict = new TermDict(options.arenaAfter);
    this.mapping = { ...structuredClone(mappings), properties: structuredClone(mappings.properties ?? {}) };
    this.validateMappings(this.mapping.properties!, '');
    this.reflatten();
  }

  get size(): number {
    return this.liveCount;
  }

  /** One more than the highest doc number given out: a point in time sees the docs below it. */
  get docLimit(): number {
    return this.maxDoc;
  }

  mappings(): Mappings {
    return structuredClone(this.mapping);
  }

  /** The ids of the live documents, in doc-number order (persistence snapshots: a restart keeps the `_doc` order). */
  *ids(): IterableIterator<string> {
    const live = this.live;
    for (let n = 0; n < this.maxDoc; n++) if (live[n] === 1) yield this.idDict.term(this.docIdOrd[n]!);
  }

  /** The live doc number of an id. */
  private docOf(id: string): number | undefined {
    const ord = this.idDict.find(id);
    if (ord < 0) return undefined;
    const n = this.idDoc[ord]!;
    return n < 0 ? undefined : n;
  }

  private validateMappings(props: Record<string, FieldMapping>, prefix: string): void {
    for (const [name, m] of Object.entries(props)) {
      const type = m.type ?? (m.properties ? 'object' : undefined);
      if (type === 'nested')
        throw new EsError(400, 'illegal_argument_exception', `unsupported by the embedded search node: mapping type [nested] for field [${prefix}${name}]`);
      if (type && !SUPPORTED_TYPES.has(type))
        throw new EsError(400, 'mapper_parsing_exception', `No handler for type [${type}] declared on field [${prefix}${name}]`);
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
    this.structureVersion++;
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
    return this.docOf(id) !== undefined;
  }

  get(id: string): StoredDoc | undefined {
    const n = this.docOf(id);
    return n === undefined ? undefined : this.doc(n);
  }

  /** Internal doc number -> document (search uses numbers). */
  doc(n: number): StoredDoc | undefined {
    if (n >= this.maxDoc || this.live[n] !== 1) return undefined;
    const engine = this;
    let parsed: Record<string, unknown> | undefined;
    return {
      id: this.idDict.term(this.docIdOrd[n]!),
      seqNo: this.seqNos[n]!,
      version: this.versions[n]!,
      get source() {
        return (parsed ??= JSON.parse(engine.sourceText(n)) as Record<string, unknown>);
      },
    };
  }

  /** The JSON text of a live document's _source. */
  sourceText(n: number): string {
    const t = this.texts.get(n);
    if (t !== undefined) return t;
    if (!this.reader) throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create(`document ${n} has no source`);
    return this.reader(this.textPos[n]!, this.textLen[n]!);
  }

  /** The document's text now lives at pos/len of what `reader` reads: the copy in memory is dropped. */
  sourceStored(n: number, pos: number, len: number, reader: SourceReader): void {
    if (n >= this.maxDoc || this.live[n] !== 1) return;
    this.reader = reader;
    this.textPos[n] = pos;
    this.textLen[n] = len;
    this.texts.delete(n);
  }

  /** Doc number of an id (the `ids` query). */
  numOf(id: string): number | undefined {
    return this.docOf(id);
  }

  isLive(n: number): boolean {
    return this.live[n] === 1;
  }

  allDocs(): number[] {
    const out: number[] = [];
    const live = this.live;
    for (let n = 0; n < this.maxDoc; n++) if (live[n] === 1) out.push(n);
    return out;
  }

  private liveOf(p: Posting | undefined): number[] {
    if (p === undefined) return [];
    if (typeof p === 'number') return this.live[p] === 1 ? [p] : [];
    const out: number[] = [];
    if (p instanceof Bits) {
      const live = this.live;
      p.forEach((d) => {
        if (live[d] === 1) out.push(d);
      });
      return out;
    }
    const a = p.a;
    const live = this.live;
    for (let i = 0; i < p.n; i++) if (live[a[i]!] === 1) out.push(a[i]!);
    return out;
  }

  /** Live docs holding `term` in `field`, ascending. */
  termDocs(field: string, term: string): number[] | undefined {
    const f = this.fields.get(field);
    const p = f?.postingOf(term);
    return p === undefined ? undefined : this.liveOf(p);
  }

  /** A membership test for the live docs holding `term`: bits, a binary search, or one number. */
  termProbe(field: string, term: string): (d: number) => boolean {
    const p = this.fields.get(field)?.postingOf(term);
    if (p === undefined) return () => false;
    if (typeof p === 'number') return (d) => d === p;
    if (p instanceof Bits) return (d) => p.has(d);
    return (d) => {
      let a = 0;
      let b = p.n;
      while (a < b) {
        const m = (a + b) >>> 1;
        if (p.a[m]! < d) a = m + 1;
        else b = m;
      }
      return a < p.n && p.a[a] === d;
    };
  }

  /** Every term the field has held (a term whose documents are all gone yields no docs). */
  termList(field: string): readonly string[] | undefined {
    return this.fields.get(field)?.terms();
  }

  hasTerms(field: string): boolean {
    return (this.fields.get(field)?.termCount ?? 0) > 0;
  }

  hasNumbers(field: string): boolean {
    return this.fields.get(field)?.hasNumbers ?? false;
  }

  /** Numeric doc values of one doc (numbers and dates). */
  numbersOf(field: string, doc: number): number[] {
    return this.fields.get(field)?.numbers(doc) ?? [];
  }

  /** Live docs with a value in [lo, hi] (inclusive), each once, ascending. */
  numberRange(field: string, lo: number, hi: number): number[] {
    const f = this.fields.get(field);
    if (!f || !f.hasNumbers || lo > hi) return [];
    const out: number[] = [];
    const live = this.live;
    let multi = false;
    f.numberRange(lo, hi, (d) => {
      if (live[d] === 1) out.push(d);
    });
    for (let i = 1; i < out.length && !multi; i++) if (out[i]! <= out[i - 1]!) multi = true;
    if (!multi) return out;
    return [...new Set(out)].sort((x, y) => x - y);
  }

  /** ip doc values of one doc: sortable keys (values.ts ipSortKey). */
  ipsOf(field: string, doc: number): string[] {
    return this.fields.get(field)?.ips(doc) ?? [];
  }

  /** Live docs with an ip key in [lo, hi] (string order = address order). */
  ipMatching(field: string, test: (key: string) => boolean): number[] {
    const out: number[] = [];
    const live = this.live;
    this.fields.get(field)?.forEachIp((d, keys) => {
      if (live[d] === 1 && keys.some(test)) out.push(d);
    });
    return out;
  }

  /** Keyword / boolean doc values of one doc (the terms indexed for it), without reading its source. */
  termValuesOf(field: string, doc: number): string[] {
    return this.fields.get(field)?.termValues(doc) ?? [];
  }

  /** The columns of a field, for aggregations that walk doc values directly. */
  column(field: string): FieldData | undefined {
    return this.fields.get(field);
  }

  docsWithField(field: string): number[] | undefined {
    const f = this.fields.get(field);
    if (!f) return undefined;
    const out: number[] = [];
    const live = this.live;
    f.present.forEach((d) => {
      if (live[d] === 1) out.push(d);
    });
    return out;
  }

  /**
   * Walks a source into the entry buffers (eField/eTerm/eNum/eIp/eDv, eCount of them) and collects
   * the mappings dynamic mapping would add (this.added) and first constant_keyword values
   * (this.constants). Throws document_parsing_exception / strict_dynamic_mapping_exception without
   * side effects on the index. Written as methods over reused buffers, not closures over fresh
   * arrays: this runs once per document, and the per-document allocations were a tenth of the
   * indexing time (see README "Where the CPU goes").
   */
  private analyze(id: string, source: Record<string, unknown>): void {
    this.eCount = 0;
    this.added.clear();
    this.constants.clear();
    this.curId = id;
    const dynamic = String(this.mapping.dynamic ?? 'true');
    this.walk(source, this.paths, dynamic === 'false' ? 'false' : dynamic);
  }

  private fail(path: string, type: string, value: unknown): never {
    throw new EsError(
      400,
      'document_parsing_exception',
      `[1:2] failed to parse field [${path}] of type [${type}] in document with id '${this.curId}'. Preview of field's value: '${preview(value)}'`,
      { caused_by: parseCause(type, value, this.field(path)?.format) },
    );
  }

  /** Elasticsearch's constant_keyword: one value per index, set by the mapping or by the first document that has the field. */
  private constantValue(path: string, m: FieldMapping, s: string): void {
    const fixed = typeof m.value === 'string' ? m.value : this.constants.get(path);
    if (fixed === undefined) return void this.constants.set(path, s);
    if (s === fixed) return;
    // two values in the first document: a mapping update that conflicts with itself
    if (typeof m.value !== 'string')
      throw new EsError(
        400,
        'illegal_argument_exception',
        `Mapper for [${path}] conflicts with existing mapper:\n\tCannot update parameter [value] from [${fixed}] to [${s}]`,
      );
    throw new EsError(
      400,
      'document_parsing_exception',
      `[1:2] failed to parse field [${path}] of type [constant_keyword] in document with id '${this.curId}'. Preview of field's value: '${preview(s)}'`,
      {
        caused_by: {
          type: 'illegal_argument_exception',
          reason: `[constant_keyword] field [${path}] only accepts values that are equal to the value defined in the mappings [${fixed}], but got [${s}]`,
        },
      },
    );
  }

  private emit(field: FieldInfo | string, term: string | undefined, num: number | undefined, ip: string | undefined, dv: boolean): void {
    const i = this.eCount++;
    this.eField[i] = field;
    this.eTerm[i] = term;
    this.eNum[i] = num;
    this.eIp[i] = ip;
    this.eDv[i] = dv;
  }

  /** The tokens of a text value, from the field's cache when its values repeat (the array is shared: never modified). */
  private tokensOf(info: FieldInfo, s: string): string[] {
    const cache = info.tokens;
    if (cache === undefined || this.uncached) return tokenize(s);
    const hit = cache.get(s);
    if (hit !== undefined) {
      info.tokenHits!++;
      return hit;
    }
    const tokens = tokenize(s);
    // values unique to a document (ids, fingerprints) would only fill the cache: stop trying for this field
    if (++info.tokenMisses! >= TOKEN_CACHE_TRIAL && info.tokenMisses! > info.tokenHits!) {
      info.tokens = undefined;
      return tokens;
    }
    if (cache.size >= TOKEN_CACHE_MAX) cache.clear();
    cache.set(s, tokens);
    return tokens;
  }

  private leaf(info: FieldInfo, m: FieldMapping, value: unknown): void {
    if (value === null || value === undefined) return;
    const type = info.type;
    const path = info.path;
    // kept in our structures whenever Elasticsearch could still query it (doc-value-only fields)
    if (!info.searchable) return;
    switch (info.kind) {
      case 'stored':
        break;
      case 'text': {
        if (typeof value === 'object') this.fail(path, type, value);
        const tokens = this.tokensOf(info, String(value));
        for (let i = 0; i < tokens.length; i++) this.emit(info, tokens[i], undefined, undefined, false);
        break;
      }
      case 'keyword': {
        if (typeof value === 'object') this.fail(path, type, value);
        const s = String(value);
        if (type === 'constant_keyword') this.constantValue(path, m, s);
        if (m.ignore_above === undefined || s.length <= m.ignore_above) this.emit(info, s, undefined, undefined, true);
        break;
      }
      case 'number': {
        const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
        if (!Number.isFinite(n)) this.fail(path, type, value);
        if (typeof value === 'number' && INTEGER_RANGE[type] !== undefined && Math.abs(value) > INTEGER_RANGE[type]!) this.fail(path, type, value);
        const v = type === 'long' || type === 'integer' || type === 'short' || type === 'byte' ? Math.trunc(n) : n;
        this.emit(info, String(v), v, undefined, false);
        break;
      }
      case 'date': {
        const ms = parseDate(value, m.format);
        if (ms === undefined) this.fail(path, type, value);
        this.emit(info, undefined, ms, undefined, false);
        break;
      }
      case 'boolean': {
        const b = value === true || value === 'true' ? 'true' : value === false || value === 'false' || value === '' ? 'false' : undefined;
        if (!b) this.fail(path, type, value);
        this.emit(info, b, undefined, undefined, true);
        break;
      }
      case 'ip': {
        const k = typeof value === 'string' ? ipSortKey(value.trim()) : undefined;
        if (k === undefined) this.fail(path, type, value);
        this.emit(info, formatIp(k), undefined, k, false);
        break;
      }
      case 'flattened':
        this.flattened(info, value, '');
        break;
    }
    if (info.subs) {
      const subs = (info.subInfos ??= info.subs.map(([subPath, sm]) => this.infoOf(subPath, sm)));
      for (let i = 0; i < subs.length; i++) this.leaf(subs[i]!, info.subs[i]![1], value);
    }
  }

  private flattened(info: FieldInfo, v: unknown, sub: string): void {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) return v.forEach((x) => this.flattened(info, x, sub));
    if (typeof v === 'object') return Object.entries(v as Record<string, unknown>).forEach(([k, x]) => this.flattened(info, x, sub ? `${sub}.${k}` : k));
    this.emit(info, String(v), undefined, undefined, false);
    if (sub) this.emit(`${info.path}.${sub}`, String(v), undefined, undefined, false);
  }

  /** The mapping of a leaf path and its FieldInfo, from the path node while the mappings have not changed. */
  private leafOf(node: PathNode): FieldInfo | undefined {
    if (node.leafVersion === this.structureVersion && !this.uncached) return node.leafInfo;
    const m = this.flat.get(node.path);
    node.leaf = m;
    node.leafInfo = m ? this.infoOf(node.path, m) : undefined;
    node.leafVersion = this.structureVersion;
    return node.leafInfo;
  }

  private walk(obj: Record<string, unknown>, node: PathNode, dynamicHere: string): void {
    const prefix = node.prefix;
    const added = this.added;
    const keys = Object.keys(obj);
    // the keys of the last object at this path, by position: documents of one shape find each child
    // without a Map lookup (JSON.parse interns keys, so the comparison is by reference)
    const order = this.uncached ? undefined : (node.order ??= []);
    const orderKids = this.uncached ? undefined : (node.orderKids ??= []);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const value = obj[k];
      let child: PathNode;
      if (order !== undefined && order[i] === k) child = orderKids![i]!;
      else {
        child = (this.uncached ? undefined : node.kids?.get(k)) ?? this.pathNode(node, k);
        if (order !== undefined && i < MAX_ORDER) {
          order[i] = k;
          orderKids![i] = child;
        }
      }
      const path = child.path;
      if (child.reserved)
        throw new EsError(400, 'document_parsing_exception', `[1:2] Field [${path}] is a metadata field and cannot be added inside a document.`);
      let info = this.leafOf(child);
      let m = child.leaf;
      if (m === undefined && added.size > 0) {
        m = added.get(path);
        info = m ? this.infoOf(path, m) : undefined;
      }
      const many = Array.isArray(value);
      if (m && !many) {
        this.leaf(info!, m, value);
        continue;
      }
      // a single value (most objects) needs no array around it
      const values = many ? value.flat(Infinity) : undefined;
      if (m) {
        for (const v of values!) this.leaf(info!, m, v);
        continue;
      }
      if (child.objVersion !== this.structureVersion || this.uncached) {
        child.obj = this.objectMapping(path);
        child.objVersion = this.structureVersion;
      }
      const objectMapping = child.obj;
      const firstPlain = values ? values.find((v) => v !== null && v !== undefined) : (value ?? undefined);
      if (firstPlain !== null && typeof firstPlain === 'object' && !Array.isArray(firstPlain)) {
        if (objectMapping && objectMapping.enabled === false) continue;
        const childDynamic = objectMapping?.dynamic !== undefined ? String(objectMapping.dynamic) : dynamicHere;
        if (!objectMapping && dynamicHere === 'strict')
          throw new EsError(
            400,
            'strict_dynamic_mapping_exception',
            `[1:2] mapping set to strict, dynamic introduction of [${k}] within [${prefix.slice(0, -1) || '_doc'}] is not allowed`,
          );
        if (!objectMapping && dynamicHere !== 'false') added.set(path, { type: 'object', __object: true });
        if (!objectMapping && dynamicHere === 'false') continue;
        if (!values) this.walk(value as Record<string, unknown>, child, childDynamic);
        else for (const v of values) if (v && typeof v === 'object') this.walk(v as Record<string, unknown>, child, childDynamic);
        continue;
      }
      if (firstPlain === undefined) continue;
      if (dynamicHere === 'strict')
        throw new EsError(
          400,
          'strict_dynamic_mapping_exception',
          `[1:2] mapping set to strict, dynamic introduction of [${k}] within [${prefix.slice(0, -1) || '_doc'}] is not allowed`,
        );
      if (dynamicHere === 'false' || dynamicHere === 'runtime') continue;
      let dm: FieldMapping;
      if (typeof firstPlain === 'boolean') dm = { type: 'boolean' };
      else if (typeof firstPlain === 'number') dm = Number.isInteger(firstPlain) ? { type: 'long' } : { type: 'float' };
      else if (typeof firstPlain === 'string' && looksLikeDate(firstPlain)) dm = { type: 'date' };
      else dm = { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
      added.set(path, dm);
      const dinfo = this.infoOf(path, dm);
      if (!values) this.leaf(dinfo, dm, value);
      else for (const v of values) this.leaf(dinfo, dm, v);
    }
  }

  /** The cached node of `parent.key`: its dotted path is built and hashed once, not per document. */
  private pathNode(parent: PathNode, key: string): PathNode {
    const path = parent.prefix + key;
    const node: PathNode = { path, prefix: `${path}.`, reserved: path === '_id' || path === '_index' || path === '_source' };
    // bounded: documents with ever-new keys (dynamic: false) must not grow the cache without end
    if (this.pathCount < 100_000 && !this.uncached) {
      (parent.kids ??= new Map()).set(key, node);
      this.pathCount++;
    }
    return node;
  }

  /** Type, kind and multi-fields of a leaf mapping, computed once per mapping object. */
  private infoOf(path: string, m: FieldMapping): FieldInfo {
    let info = this.infos.get(m);
    if (info && info.path === path && !this.uncached) return info;
    const type = m.type ?? 'object';
    const kind = kindOf(type);
    info = {
      path,
      type,
      kind,
      searchable: isSearchable(m),
      ...(m.fields ? { subs: Object.entries(m.fields).map(([sub, sm]): [string, FieldMapping] => [`${path}.${sub}`, sm]) } : {}),
      ...(kind === 'text' ? { tokens: new Map<string, string[]>(), tokenHits: 0, tokenMisses: 0 } : {}),
    };
    this.infos.set(m, info);
    return info;
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

  /** The first value of a constant_keyword field becomes its mapping's `value`, as GET _mapping then shows it. */
  private fixConstants(constants: Map<string, string>): void {
    if (constants.size === 0) return;
    for (const [path, v] of constants) {
      const m = this.flat.get(path);
      if (m && m.__parent === undefined) m.value = v;
    }
    this.mappingVersion++;
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

  /**
   * Indexes a document. `text` is its JSON as received (a bulk line), kept as the stored _source
   * instead of serialising the parsed object again; without it the object is serialised.
   */
  index(id: string, source: Record<string, unknown>, meta: { seqNo: number; version: number; primaryTerm?: number }, text?: string): void {
    if (source === null || typeof source !== 'object' || Array.isArray(source))
      throw new EsError(400, 'document_parsing_exception', `[1:1] failed to parse: the document must be an object`);
    this.analyze(id, source);
    // validated: from here on nothing throws
    this.addDynamic(this.added);
    this.fixConstants(this.constants);
    const ids = this.idDict.size;
    const ord = this.idDict.intern(id);
    if (ord === ids) {
      if (ord >= this.idDoc.length) {
        const next = new Int32Array(ord < 65_536 ? ord * 2 : ord + (ord >> 2)).fill(-1);
        next.set(this.idDoc);
        this.idDoc = next;
      }
    } else if (this.idDoc[ord]! >= 0) this.kill(this.idDoc[ord]!);
    const n = this.maxDoc++;
    this.grow(n);
    this.live[n] = 1;
    this.liveCount++;
    this.docIdOrd[n] = ord;
    this.idDoc[ord] = n;
    this.seqNos[n] = meta.seqNo;
    this.versions[n] = meta.version;
    this.texts.set(n, text ?? JSON.stringify(source));
    const { eField, eTerm, eNum, eIp, eDv } = this;
    for (let i = 0; i < this.eCount; i++) {
      const field = eField[i]!;
      const f = typeof field === 'string' ? this.columnFor(field) : this.uncached ? this.columnFor(field.path) : (field.col ??= this.columnFor(field.path));
      f.markPresent(n);
      const term = eTerm[i];
      if (term !== undefined) f.addTerm(n, term, eDv[i]!);
      const num = eNum[i];
      if (num !== undefined) f.addNumber(n, num);
      const ip = eIp[i];
      if (ip !== undefined) f.addIp(n, ip);
    }
  }

  private columnFor(path: string): FieldData {
    let f = this.fields.get(path);
    if (!f) this.fields.set(path, (f = new FieldData(!this.uncached, this.arenaAfter)));
    return f;
  }

  private grow(n: number): void {
    if (n < this.live.length) return;
    const len = this.live.length * 2;
    const live = new Uint8Array(len);
    live.set(this.live);
    this.live = live;
    for (const k of ['seqNos', 'versions', 'textPos'] as const) {
      const next = new Float64Array(len);
      next.set(this[k]);
      this[k] = next;
    }
    const lens = new Int32Array(len);
    lens.set(this.textLen);
    this.textLen = lens;
    const ords = new Int32Array(len);
    ords.set(this.docIdOrd);
    this.docIdOrd = ords;
  }

  private kill(n: number): void {
    this.live[n] = 0;
    this.liveCount--;
    this.texts.delete(n);
  }

  delete(id: string): boolean {
    const n = this.docOf(id);
    if (n === undefined) return false;
    this.kill(n);
    this.idDoc[this.docIdOrd[n]!] = -1;
    return true;
  }

  /** The version of a live document, without a document view (a bulk item asks this once). */
  versionOf(id: string): number | undefined {
    const n = this.docOf(id);
    return n === undefined ? undefined : this.versions[n];
  }
}
