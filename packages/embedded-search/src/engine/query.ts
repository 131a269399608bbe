/**
 * Query DSL evaluation over one IndexEngine. A query evaluates to the matching doc numbers with a
 * score each (Map<doc, score>). Scoring is deliberately simple and documented: full-text clauses
 * (match, multi_match, match_phrase, query_string terms) score by the number of query terms they
 * match weighted by inverse document frequency; term-level clauses score 1 (times boost); filter
 * and must_not clauses do not score.
 */
import { EsError, parsingError, unsupported } from '../errors.js';
import { resolveDate } from './date-math.js';
import { isSearchable, kindOf, type IndexEngine } from './index-engine.js';
import { parseQueryString, type QsNode } from './query-string.js';
import { parseSimpleQueryString, type SqsNode } from './simple-query-string.js';
import { cidrRange, formatIp, ipSortKey, tokenize, zoneOffset } from './values.js';
import { lowerBound } from './sort-candidates.js';
import { andInto, andNotInto, countBits, type DocBits, docsToBits, emptyBits, forEachBit, liveBits, orInto, postingToBits, setBit } from './doc-bits.js';

export type Scores = Map<number, number>;
type Q = Record<string, unknown>;

export interface EvalContext {
  engine: IndexEngine;
  now: number;
}

const obj = (v: unknown, what: string): Q => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw parsingError(`[${what}] query malformed, no start_object after query name`);
  return v as Q;
};

/** `{ field: value }` or `{ field: { value|query: ..., ...opts } }`. */
function fieldAndParams(q: Q, valueKey: string, name: string): { field: string; value: unknown; params: Q } {
  const keys = Object.keys(q).filter((k) => k !== 'boost' && k !== '_name');
  if (keys.length !== 1) throw parsingError(`[${name}] query doesn't support multiple fields, found [${keys.join('] and [')}]`);
  const field = keys[0]!;
  const raw = q[field];
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const params = raw as Q;
    return { field, value: params[valueKey], params };
  }
  return { field, value: raw, params: {} };
}

function boostOf(params: Q): number {
  return typeof params.boost === 'number' ? params.boost : 1;
}

function fromSet(set: Iterable<number> | undefined, score = 1): Scores {
  const out: Scores = new Map();
  if (set) for (const d of set) out.set(d, score);
  return out;
}

function all(ctx: EvalContext, score = 1): Scores {
  return fromSet(ctx.engine.allDocs(), score);
}

function union(parts: Scores[]): Scores {
  const out: Scores = new Map();
  for (const p of parts) for (const [d, s] of p) out.set(d, (out.get(d) ?? 0) + s);
  return out;
}

function intersect(a: Scores, b: Scores, scoreB = true): Scores {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  const out: Scores = new Map();
  for (const [d] of small) if (large.has(d)) out.set(d, (a.get(d) ?? 0) + (scoreB ? (b.get(d) ?? 0) : 0));
  return out;
}

function idf(ctx: EvalContext, docFreq: number): number {
  const n = Math.max(1, ctx.engine.size);
  return Math.log(1 + (n - docFreq + 0.5) / (docFreq + 0.5));
}

function searchable(ctx: EvalContext, field: string) {
  const m = ctx.engine.field(field);
  if (!isSearchable(m))
    throw new EsError(
      400,
      'query_shard_exception',
      `failed to create query: Cannot search on field [${field}] since it is not indexed${m?.doc_values === false ? ' nor has doc values' : ''}.`,
    );
  return m;
}

/** Exact-value matching for a field according to its mapping (term / terms / match on non-text). */
function termDocs(ctx: EvalContext, field: string, value: unknown, caseInsensitive = false): number[] {
  const m = searchable(ctx, field);
  const type = m?.type ?? 'keyword';
  const kind = kindOf(type);
  if (value === null || value === undefined) throw parsingError(`[term] query does not support null values for field [${field}]`);
  if (kind === 'date') {
    // Elasticsearch runs a date term as the range [value rounded down, value rounded up]:
    // `2026-11-20` matches that whole day, `now/h` the current hour.
    const lo = resolveDate(value, ctx.now, false, m?.format);
    const hi = resolveDate(value, ctx.now, true, m?.format);
    return ctx.engine.numberRange(field, lo, hi);
  }
  if (kind === 'number') {
    const target = Number(value);
    if (!Number.isFinite(target)) throw new EsError(400, 'query_shard_exception', `failed to create query: For input string: "${String(value)}"`);
    return ctx.engine.numberRange(field, target, target);
  }
  if (kind === 'ip') {
    const s = String(value).trim();
    if (s.includes('/')) {
      const range = cidrRange(s);
      if (!range) throw new EsError(400, 'query_shard_exception', `failed to create query: Expected [ip/prefix] but was [${s}]`);
      const [lo, hi] = range;
      return ctx.engine.ipMatching(field, (v) => v >= lo && v <= hi);
    }
    // an address is a term on its canonical form (2001:0DB8::0001 and 2001:db8::1 are one address)
    const k = ipSortKey(s);
    if (k === undefined) throw notAnIp(s);
    return ctx.engine.termDocs(field, formatIp(k)) ?? [];
  }
  if (kind === 'boolean' && value !== true && value !== false && value !== 'true' && value !== 'false') {
    // Elasticsearch parses a boolean term strictly: only true and false (so free text skips the field)
    const reason = `Can't parse boolean value [${String(value)}], expected [true] or [false]`;
    throw new EsError(400, 'query_shard_exception', `failed to create query: ${reason}`, { caused_by: { type: 'illegal_argument_exception', reason } });
  }
  const term = kind === 'boolean' ? String(value === true || value === 'true') : String(value);
  if (!caseInsensitive) return ctx.engine.termDocs(field, term) ?? [];
  const lower = term.toLowerCase();
  const out = new Set<number>();
  for (const t of ctx.engine.termList(field) ?? []) if (t.toLowerCase() === lower) for (const d of ctx.engine.termDocs(field, t)!) out.add(d);
  return [...out].sort((a, b) => a - b);
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);

/** The smallest double greater than x (Math.nextUp). */
function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x === Infinity ? NaN : x;
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  i64[0] = i64[0]! + (x > 0 ? 1n : -1n);
  return f64[0]!;
}

function nextDown(x: number): number {
  return -nextUp(-x);
}

const notAnIp = (s: string) => new EsError(400, 'query_shard_exception', `failed to create query: '${s}' is not an IP string literal.`);

/** A range query's bounds, parsed and checked (every error it can give is given here), not yet run. */
type RangeSpec =
  | { type: 'numbers'; field: string; lo: number; hi: number }
  | { type: 'ips'; field: string; test: (key: string) => boolean }
  | { type: 'terms'; field: string; test: (term: string) => boolean };

function rangeSpec(ctx: EvalContext, field: string, p: Q): RangeSpec {
  const m = searchable(ctx, field);
  const kind = kindOf(m?.type ?? 'keyword');
  const bounds = {
    gt: p.gt ?? (p.include_lower === false ? p.from : undefined),
    gte: p.gte ?? (p.include_lower !== false ? p.from : undefined),
    lt: p.lt ?? (p.include_upper === false ? p.to : undefined),
    lte: p.lte ?? (p.include_upper !== false ? p.to : undefined),
  };
  if (kind === 'ip') {
    const conv = (v: unknown): string | undefined => {
      if (v === undefined || v === null) return undefined;
      const k = ipSortKey(String(v).trim());
      if (k === undefined) throw notAnIp(String(v));
      return k;
    };
    const [gt, gte, lt, lte] = [conv(bounds.gt), conv(bounds.gte), conv(bounds.lt), conv(bounds.lte)];
    return {
      type: 'ips',
      field,
      test: (v) => (gt === undefined || v > gt) && (gte === undefined || v >= gte) && (lt === undefined || v < lt) && (lte === undefined || v <= lte),
    };
  }
  if (kind === 'number' || kind === 'date') {
    const conv = (v: unknown, roundUp: boolean): number | undefined => {
      if (v === undefined || v === null) return undefined;
      if (kind === 'date') {
        const ms = resolveDate(v, ctx.now, roundUp, (p.format as string | undefined) ?? m?.format);
        // time_zone: a date written without an offset is local time there; an explicit offset, epoch millis and now are instants already
        if (p.time_zone === undefined || typeof v !== 'string') return ms;
        const text = v.split('||')[0]!.trim();
        if (text.startsWith('now') || /^\d+$/.test(text) || /T[\d:.,]*(Z|[+-]\d{2}(:?\d{2})?)$/i.test(text)) return ms;
        const off = zoneOffset(String(p.time_zone), 'range');
        return ms - off(ms - off(ms));
      }
      const n = Number(v);
      if (!Number.isFinite(n)) throw new EsError(400, 'query_shard_exception', `failed to create query: For input string: "${String(v)}"`);
      return n;
    };
    const gt = conv(bounds.gt, true);
    const gte = conv(bounds.gte, false);
    const lt = conv(bounds.lt, false);
    const lte = conv(bounds.lte, true);
    // strict bounds become the next representable double inside them: the sorted doc values answer [lo, hi]
    let lo = -Infinity;
    let hi = Infinity;
    if (gt !== undefined) lo = Math.max(lo, nextUp(gt));
    if (gte !== undefined) lo = Math.max(lo, gte);
    if (lt !== undefined) hi = Math.min(hi, nextDown(lt));
    if (lte !== undefined) hi = Math.min(hi, lte);
    return { type: 'numbers', field, lo, hi };
  }
  const s = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const [gt, gte, lt, lte] = [s(bounds.gt), s(bounds.gte), s(bounds.lt), s(bounds.lte)];
  return {
    type: 'terms',
    field,
    test: (t) => (gt === undefined || t > gt) && (gte === undefined || t >= gte) && (lt === undefined || t < lt) && (lte === undefined || t <= lte),
  };
}

/** The live documents a range matches, ascending (numbers and dates from the sorted doc values). */
function rangeList(ctx: EvalContext, r: RangeSpec): Iterable<number> {
  if (r.type === 'ips') return ctx.engine.ipMatching(r.field, r.test);
  if (r.type === 'numbers') return Number.isNaN(r.lo) || Number.isNaN(r.hi) ? [] : ctx.engine.numberRange(r.field, r.lo, r.hi);
  const out = new Set<number>();
  for (const t of ctx.engine.termList(r.field) ?? []) if (r.test(t)) for (const d of ctx.engine.termDocs(r.field, t)!) out.add(d);
  return out;
}

function rangeDocs(ctx: EvalContext, field: string, p: Q): Scores {
  return fromSet(rangeList(ctx, rangeSpec(ctx, field, p)), boostOf(p));
}

function patternDocs(ctx: EvalContext, field: string, re: RegExp, boost: number): Scores {
  const out: Scores = new Map();
  for (const t of ctx.engine.termList(field) ?? []) if (re.test(t)) for (const d of ctx.engine.termDocs(field, t)!) out.set(d, boost);
  return out;
}

export function wildcardRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, caseInsensitive ? 'i' : '');
}

/**
 * A Lucene regular expression (RegExp with the default flags) as a JavaScript one over a whole
 * term: `.`, `*`, `+`, `?`, `{n,m}`, `[...]`, `|`, `(...)`, `"literal"`, `\x` (any character
 * escaped is itself: Lucene has no \d or \w). The operators JavaScript has no form for (`~`
 * complement, `&` intersection, `<n-m>` intervals, `@` any string, `#` empty) are a 400 naming them.
 */
export function luceneRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[++i];
      if (n === undefined) throw new EsError(400, 'query_shard_exception', `failed to create query: expected character after '\\' at position ${i}`);
      out += n.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c === '\\' ? '\\\\' : c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') out += pattern[++i];
      continue;
    }
    if (c === '"') {
      const end = pattern.indexOf('"', i + 1);
      if (end < 0) throw new EsError(400, 'query_shard_exception', `failed to create query: expected '"' at position ${pattern.length}`);
      out += pattern.slice(i + 1, end).replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
      i = end;
      continue;
    }
    if ('~&<@#'.includes(c)) throw unsupported(`regexp operator [${c}]`);
    if (c === '.') out += '[\\s\\S]';
    else if (c === '^' || c === '$' || c === '/') out += `\\${c}`;
    else out += c;
  }
  try {
    return new RegExp(`^(?:${out})$`, `u${caseInsensitive ? 'i' : ''}`);
  } catch (err) {
    throw new EsError(400, 'query_shard_exception', `failed to create query: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}

function regexpDocs(ctx: EvalContext, field: string, pattern: string, params: Q, lenient: boolean): Scores {
  const m = ctx.engine.field(field);
  const kind = kindOf(m?.type ?? 'keyword');
  if (m && kind !== 'keyword' && kind !== 'text') {
    if (lenient) return new Map();
    throw new EsError(400, 'query_shard_exception', `Can only use regexp queries on keyword and text fields - not on [${field}] which is of type [${m.type}]`);
  }
  return patternDocs(ctx, field, luceneRegExp(pattern, params.case_insensitive === true), boostOf(params));
}

/** Damerau-Levenshtein distance (optimal string alignment, as Lucene's automata count transpositions), or max+1 once past max. */
function editDistance(a: string[], b: string[], max: number, transpositions: boolean): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (transpositions && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur.push(d);
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/** Elasticsearch's fuzziness: AUTO is 0 edits up to 2 characters, 1 up to 5, 2 beyond; numbers at most 2. */
function maxEdits(fuzziness: unknown, term: string): number {
  const len = [...term].length;
  const s = String(fuzziness ?? 'AUTO').toUpperCase();
  const auto = /^AUTO(?::(\d+),(\d+))?$/.exec(s);
  if (auto) {
    const lo = Number(auto[1] ?? 3);
    const hi = Number(auto[2] ?? 6);
    return len < lo ? 0 : len < hi ? 1 : 2;
  }
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw parsingError(`failed to parse fuzziness [${String(fuzziness)}]`);
  return Math.min(2, Math.floor(n));
}

function fuzzyDocs(ctx: EvalContext, field: string, value: string, params: Q, lenient: boolean): Scores {
  const m = ctx.engine.field(field);
  const kind = kindOf(m?.type ?? 'keyword');
  if (m && kind !== 'keyword' && kind !== 'text') {
    if (lenient) return new Map();
    throw new EsError(
      400,
      'query_shard_exception',
      `failed to create query: Can only use fuzzy queries on keyword and text fields - not on [${field}] which is of type [${m.type}]`,
    );
  }
  const max = maxEdits(params.fuzziness, value);
  const prefixLen = Number(params.prefix_length ?? 0);
  const transpositions = params.transpositions !== false;
  const q = [...value];
  const prefix = q.slice(0, prefixLen).join('');
  const out: Scores = new Map();
  for (const t of ctx.engine.termList(field) ?? []) {
    if (prefixLen > 0 && !t.startsWith(prefix)) continue;
    if (editDistance(q, [...t], max, transpositions) <= max) for (const d of ctx.engine.termDocs(field, t)!) out.set(d, boostOf(params));
  }
  return out;
}

/**
 * Full-text match on a field: analyses the query for text fields, exact for the others. A value the
 * field cannot hold (a word against a number) is a 400 unless `lenient`, as in Elasticsearch.
 */
function matchDocs(
  ctx: EvalContext,
  field: string,
  query: unknown,
  operator: string,
  boost: number,
  minimumShouldMatch?: unknown,
  lenient = false,
  fuzziness?: unknown,
): Scores {
  const m = lenient ? ctx.engine.field(field) : searchable(ctx, field);
  if (lenient && !isSearchable(m)) return new Map();
  if (!m && !ctx.engine.hasTerms(field) && !ctx.engine.hasNumbers(field)) return new Map();
  const kind = kindOf(m?.type ?? 'keyword');
  if (fuzziness !== undefined && (kind === 'keyword' || kind === 'text')) {
    // fuzziness in a match: each analysed term (the whole value on a keyword) matched within its edits
    const terms = kind === 'text' ? tokenize(String(query ?? '')) : [String(query ?? '')];
    const parts = terms.map((t) => fuzzyDocs(ctx, field, t, { fuzziness, boost }, true));
    if (parts.length === 0) return new Map();
    return operator.toLowerCase() === 'and' ? parts.reduce((a, b) => intersect(a, b)) : union(parts);
  }
  if (kind !== 'text') {
    try {
      return fromSet(termDocs(ctx, field, query), boost);
    } catch (err) {
      if (lenient && err instanceof EsError && (err.type === 'query_shard_exception' || err.type === 'parse_exception')) return new Map();
      throw err;
    }
  }
  const tokens = tokenize(String(query ?? ''));
  if (tokens.length === 0) return new Map();
  const perToken = tokens.map((t) => {
    const docs = ctx.engine.termDocs(field, t);
    return fromSet(docs, boost * idf(ctx, docs?.length ?? 0));
  });
  if (operator.toLowerCase() === 'and') return perToken.reduce((a, b) => intersect(a, b));
  const u = union(perToken);
  const msm = minimumShouldMatch === undefined ? 1 : resolveMsm(minimumShouldMatch, tokens.length);
  if (msm <= 1) return u;
  const counts = new Map<number, number>();
  for (const p of perToken) for (const [d] of p) counts.set(d, (counts.get(d) ?? 0) + 1);
  for (const [d] of u) if ((counts.get(d) ?? 0) < msm) u.delete(d);
  return u;
}

function sourceValues(source: Record<string, unknown>, path: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown, parts: string[]) => {
    if (v === undefined || v === null) return;
    if (Array.isArray(v)) return v.forEach((x) => walk(x, parts));
    if (parts.length === 0) return void out.push(v);
    if (typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    // a key may itself contain dots ("user.id": x) at any level
    for (let i = parts.length; i >= 1; i--) {
      const key = parts.slice(0, i).join('.');
      if (key in o) walk(o[key], parts.slice(i));
    }
  };
  walk(source, path.split('.'));
  return out;
}

/** Values of a field for one document, from its source (multi-fields read their parent). */
export function fieldValues(engine: IndexEngine, doc: number, field: string): unknown[] {
  const d = engine.doc(doc);
  if (!d) return [];
  const m = engine.field(field);
  const path = (m?.__parent as string | undefined) ?? field;
  return sourceValues(d.source, path);
}

function phraseDocs(ctx: EvalContext, field: string, query: unknown, boost: number): Scores {
  const tokens = tokenize(String(query ?? ''));
  if (tokens.length === 0) return new Map();
  const candidates = tokens.map((t) => fromSet(ctx.engine.termDocs(field, t))).reduce((a, b) => intersect(a, b, false));
  const out: Scores = new Map();
  for (const [d] of candidates) {
    for (const v of fieldValues(ctx.engine, d, field)) {
      const words = tokenize(String(v));
      let hit = false;
      for (let i = 0; i + tokens.length <= words.length && !hit; i++) hit = tokens.every((t, j) => words[i + j] === t);
      if (hit) {
        out.set(d, boost * tokens.length);
        break;
      }
    }
  }
  return out;
}

function resolveMsm(v: unknown, optional: number): number {
  if (typeof v === 'number') return v < 0 ? Math.max(0, optional + v) : v;
  const s = String(v).trim();
  const pct = /^(-?\d+)%$/.exec(s);
  if (pct) {
    const p = Number(pct[1]);
    const n = Math.floor((optional * Math.abs(p)) / 100);
    return p < 0 ? optional - n : n;
  }
  if (/^-?\d+$/.test(s)) return resolveMsm(Number(s), optional);
  throw unsupported(`minimum_should_match [${s}]`);
}

function expandFields(ctx: EvalContext, fields: string[]): string[] {
  const out: string[] = [];
  for (const f of fields) {
    const name = f.replace(/\^[\d.]+$/, '');
    if (name.includes('*')) {
      const re = wildcardRegExp(name, false);
      out.push(...ctx.engine.fieldNames().filter((n) => re.test(n)));
    } else out.push(name);
  }
  return out;
}

/** Query names of Elasticsearch 8 (the ones this node does not implement answer as unsupported). */
const ES_QUERIES = new Set([
  'match_bool_prefix',
  'match_phrase_prefix',
  'combined_fields',
  'intervals',
  'nested',
  'has_child',
  'has_parent',
  'parent_id',
  'geo_bounding_box',
  'geo_distance',
  'geo_grid',
  'geo_polygon',
  'geo_shape',
  'shape',
  'more_like_this',
  'script',
  'script_score',
  'function_score',
  'percolate',
  'rank_feature',
  'wrapper',
  'pinned',
  'distance_feature',
  'dis_max',
  'boosting',
  'span_term',
  'span_near',
  'span_or',
  'span_not',
  'span_first',
  'span_multi',
  'span_containing',
  'span_within',
  'field_masking_span',
  'terms_set',
  'type',
  'knn',
  'text_expansion',
  'sparse_vector',
  'semantic',
]);

/** Elasticsearch's indices.query.bool.max_nested_depth (30): a query nested deeper is refused when parsed. */
const MAX_NESTED_DEPTH = 30;
const NESTED_TOO_DEEP = 'The nested depth of the query exceeds the maximum nested depth for queries set in [indices.query.bool.max_nested_depth]';
let depth = 0;

export function evaluate(query: unknown, ctx: EvalContext): Scores {
  if (depth >= MAX_NESTED_DEPTH) throw new EsError(400, 'illegal_argument_exception', NESTED_TOO_DEEP);
  depth++;
  try {
    return evaluateOne(query, ctx);
  } finally {
    depth--;
  }
}

function termsQuery(body: unknown, name: string): { b: Q; field: string; values: unknown[] } {
  const b = obj(body, name);
  const fields = Object.keys(b).filter((k) => k !== 'boost' && k !== '_name');
  if (fields.length !== 1) throw parsingError('[terms] query does not support multiple fields');
  const values = b[fields[0]!];
  if (!Array.isArray(values)) throw unsupported('terms lookup (terms query with an object instead of an array)');
  return { b, field: fields[0]!, values };
}

function rangeQuery(body: unknown, ctx: EvalContext): { spec: RangeSpec; boost: number } {
  const b = obj(body, 'range');
  const fields = Object.keys(b);
  if (fields.length !== 1) throw parsingError('[range] query does not support more than one field');
  const p = obj(b[fields[0]!], 'range');
  return { spec: rangeSpec(ctx, fields[0]!, p), boost: boostOf(p) };
}

/** The fields an `exists` query looks at: the field (or pattern) and, for an object field, every sub-field. */
function existsQuery(body: unknown, ctx: EvalContext): { b: Q; fields: string[] } {
  const b = obj(body, 'exists');
  if (typeof b.field !== 'string') throw parsingError('[exists] must be provided with a [field]');
  const prefix = `${b.field}.`;
  return { b, fields: [...expandFields(ctx, [b.field]), ...ctx.engine.fieldNames().filter((f) => f.startsWith(prefix))] };
}

function queryStringQuery(body: unknown): { tree: QsNode; defaults: string[]; op: 'and' | 'or' } {
  const b = obj(body, 'query_string');
  if (typeof b.query !== 'string') throw parsingError('[query_string] requires query');
  const defaults = (b.fields as string[] | undefined) ?? (b.default_field ? [String(b.default_field)] : ['*']);
  const op = String(b.default_operator ?? 'or').toLowerCase() === 'and' ? 'and' : 'or';
  return { tree: parseQueryString(b.query, op), defaults, op };
}

function evaluateOne(query: unknown, ctx: EvalContext): Scores {
  if (query === undefined || query === null) return all(ctx);
  const q = obj(query, 'query');
  const names = Object.keys(q);
  if (names.length !== 1)
    throw parsingError(
      names.length === 0 ? 'query malformed, empty clause found' : `[${names[0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]`,
    );
  const name = names[0]!;
  const body = q[name];
  switch (name) {
    case 'match_all':
      return all(ctx, boostOf(obj(body ?? {}, name)));
    case 'match_none':
      return new Map();
    case 'term': {
      const { field, value, params } = fieldAndParams(obj(body, name), 'value', name);
      return fromSet(termDocs(ctx, field, value, params.case_insensitive === true), boostOf(params));
    }
    case 'terms': {
      const { b, field, values } = termsQuery(body, name);
      const out = new Set<number>();
      for (const v of values) for (const d of termDocs(ctx, field, v)) out.add(d);
      return fromSet(out, boostOf(b));
    }
    case 'ids': {
      const b = obj(body, name);
      const out: Scores = new Map();
      for (const id of (b.values as unknown[]) ?? []) {
        const n = ctx.engine.numOf(String(id));
        if (n !== undefined) out.set(n, boostOf(b));
      }
      return out;
    }
    case 'range': {
      const { spec, boost } = rangeQuery(body, ctx);
      return fromSet(rangeList(ctx, spec), boost);
    }
    case 'exists': {
      const { b, fields } = existsQuery(body, ctx);
      const out = new Set<number>();
      for (const f of fields) for (const d of ctx.engine.docsWithField(f) ?? []) out.add(d);
      return fromSet(out, boostOf(b));
    }
    case 'prefix': {
      const { field, value, params } = fieldAndParams(obj(body, name), 'value', name);
      const ci = params.case_insensitive === true;
      const p = ci ? String(value).toLowerCase() : String(value);
      const out: Scores = new Map();
      for (const t of ctx.engine.termList(field) ?? [])
        if ((ci ? t.toLowerCase() : t).startsWith(p)) for (const d of ctx.engine.termDocs(field, t)!) out.set(d, boostOf(params));
      return out;
    }
    case 'wildcard': {
      const { field, value, params } = fieldAndParams(obj(body, name), 'value', name);
      const v = value ?? params.wildcard;
      return patternDocs(ctx, field, wildcardRegExp(String(v), params.case_insensitive === true), boostOf(params));
    }
    case 'regexp': {
      const { field, value, params } = fieldAndParams(obj(body, name), 'value', name);
      if (typeof value !== 'string') throw parsingError('[regexp] query requires a string value');
      return regexpDocs(ctx, field, value, params, false);
    }
    case 'match': {
      const { field, value, params } = fieldAndParams(obj(body, name), 'query', name);
      return matchDocs(
        ctx,
        field,
        value,
        String(params.operator ?? 'or'),
        boostOf(params),
        params.minimum_should_match,
        params.lenient === true,
        params.fuzziness,
      );
    }
    case 'fuzzy': {
      const { field, value, params } = fieldAndParams(obj(body, name), 'value', name);
      if (value === undefined || value === null || typeof value === 'object') throw parsingError('[fuzzy] query requires a value');
      return fuzzyDocs(ctx, field, String(value), params, false);
    }
    case 'simple_query_string': {
      const b = obj(body, name);
      if (typeof b.query !== 'string') throw parsingError('[simple_query_string] query text missing');
      const op = String(b.default_operator ?? 'or').toLowerCase() === 'and' ? 'and' : 'or';
      const tree = parseSimpleQueryString(b.query, op);
      if (!tree) return new Map();
      const fields = expandFields(ctx, (b.fields as string[] | undefined) ?? ['*']);
      return evalSqs(tree, ctx, fields, op);
    }
    case 'match_phrase': {
      const { field, value, params } = fieldAndParams(obj(body, name), 'query', name);
      // a phrase on a field that is not text is one term (what Kibana's filter pills send on keywords)
      const m = ctx.engine.field(field);
      if (m && kindOf(m.type ?? 'keyword') !== 'text') return matchDocs(ctx, field, value, 'or', boostOf(params), undefined, params.lenient === true);
      return phraseDocs(ctx, field, value, boostOf(params));
    }
    case 'multi_match': {
      const b = obj(body, name);
      const type = String(b.type ?? 'best_fields');
      if (!['best_fields', 'most_fields', 'phrase'].includes(type)) throw unsupported(`multi_match type [${type}]`);
      const fields = expandFields(ctx, (b.fields as string[] | undefined) ?? ctx.engine.fieldNames());
      const parts = fields.map((f) =>
        type === 'phrase'
          ? phraseDocs(ctx, f, b.query, boostOf(b))
          : matchDocs(ctx, f, b.query, String(b.operator ?? 'or'), boostOf(b), undefined, b.lenient !== false),
      );
      if (type === 'most_fields') return union(parts);
      const out: Scores = new Map();
      for (const p of parts) for (const [d, s] of p) out.set(d, Math.max(out.get(d) ?? 0, s));
      return out;
    }
    case 'bool':
      return evalBool(obj(body, name), ctx);
    case 'constant_score': {
      const b = obj(body, name);
      return fromSet(evaluate(b.filter, ctx).keys(), boostOf(b));
    }
    case 'query_string': {
      const { tree, defaults, op } = queryStringQuery(body);
      return evalQs(tree, ctx, defaults, op);
    }
    default:
      // a query Elasticsearch has but this node lacks is named as unsupported; any other name is
      // Elasticsearch's parse error for an unknown query
      if (ES_QUERIES.has(name)) throw unsupported(`query [${name}]`);
      throw parsingError(`unknown query [${name}]`, { caused_by: { type: 'named_object_not_found_exception', reason: `[1:1] unknown field [${name}]` } });
  }
}

/** `{ term: { field: value } }` on a keyword field, as a membership test; undefined for anything else. */
function termProbe(c: unknown, ctx: EvalContext): ((d: number) => boolean) | undefined {
  if (!c || typeof c !== 'object' || Array.isArray(c)) return undefined;
  const q = c as Q;
  const keys = Object.keys(q);
  if (keys.length !== 1 || keys[0] !== 'term') return undefined;
  const body = q.term;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const fields = Object.keys(body as Q);
  if (fields.length !== 1) return undefined;
  const field = fields[0]!;
  const raw = (body as Q)[field];
  const value = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Q) : { value: raw };
  if (Object.keys(value).some((k) => k !== 'value' && k !== 'boost') || typeof value.value !== 'string') return undefined;
  const m = ctx.engine.field(field);
  if (!m || m.index === false || kindOf(m.type ?? 'keyword') !== 'keyword') return undefined;
  return ctx.engine.termProbe(field, value.value);
}

/**
 * A keyword term among other required clauses is checked per candidate against its posting
 * instead of listing every document it holds (event.outcome: failure is a fifth of all events).
 * Such a clause is not evaluated as a query (no nesting depth counted), in either evaluation.
 */
function splitProbes(
  mustCount: number,
  filterClauses: unknown[],
  ctx: EvalContext,
): { probes: ((d: number) => boolean)[]; rest: unknown[]; probed: unknown[] } {
  const probes: ((d: number) => boolean)[] = [];
  const probed: unknown[] = [];
  const rest = filterClauses.filter((c) => {
    if (mustCount + filterClauses.length < 2 || probes.length + 1 >= mustCount + filterClauses.length) return true;
    const probe = termProbe(c, ctx);
    if (probe) {
      probes.push(probe);
      probed.push(c);
    }
    return !probe;
  });
  return { probes, rest, probed };
}

function clauses(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function checkBoolKeys(b: Q): void {
  for (const k of Object.keys(b))
    if (!['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost', '_name'].includes(k))
      throw parsingError(`[bool] query does not support [${k}]`);
}

/** A bool's clause that is nested too deep fails as the field of the bool that holds it, as Elasticsearch's parser reports it. */
function inBoolClause<T>(key: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof EsError && (err.message === NESTED_TOO_DEEP || err.extra.nestedTooDeep === true)) {
      throw new EsError(400, 'x_content_parse_exception', `[bool] failed to parse field [${key}]`, { caused_by: err.toCause(), nestedTooDeep: true });
    }
    throw err;
  }
}

function evalBool(b: Q, ctx: EvalContext): Scores {
  checkBoolKeys(b);
  const inClause = (key: string) => (c: unknown) => inBoolClause(key, () => evaluate(c, ctx));
  const must = clauses(b.must).map(inClause('must'));
  const { probes, rest } = splitProbes(must.length, clauses(b.filter), ctx);
  const filter = rest.map(inClause('filter'));
  const should = clauses(b.should).map(inClause('should'));
  const mustNot = clauses(b.must_not).map(inClause('must_not'));
  let base: Scores | undefined;
  for (const m of must) base = base ? intersect(base, m) : m;
  for (const f of filter) base = base ? intersect(base, fromSet(f.keys(), 0)) : fromSet(f.keys(), 0);
  if (base && probes.length > 0) for (const [d] of base) if (!probes.every((p) => p(d))) base.delete(d);
  const hasRequired = must.length + filter.length > 0;
  const msm = b.minimum_should_match !== undefined ? resolveMsm(b.minimum_should_match, should.length) : hasRequired ? 0 : should.length > 0 ? 1 : 0;
  if (should.length > 0) {
    const counts = new Map<number, number>();
    const scores = new Map<number, number>();
    for (const s of should)
      for (const [d, sc] of s) {
        counts.set(d, (counts.get(d) ?? 0) + 1);
        scores.set(d, (scores.get(d) ?? 0) + sc);
      }
    if (!base) {
      base = new Map();
      for (const [d, c] of counts) if (c >= msm) base.set(d, scores.get(d)!);
    } else {
      for (const [d] of [...base]) {
        if ((counts.get(d) ?? 0) < msm) base.delete(d);
        else base.set(d, base.get(d)! + (scores.get(d) ?? 0));
      }
    }
  }
  if (!base) base = all(ctx, hasRequired || should.length > 0 ? 0 : 1);
  for (const n of mustNot) for (const [d] of n) base.delete(d);
  const boost = boostOf(b);
  if (boost !== 1) for (const [d, s] of base) base.set(d, s * boost);
  return base;
}

function evalQs(node: QsNode, ctx: EvalContext, defaults: string[], op: 'and' | 'or'): Scores {
  switch (node.type) {
    case 'and':
      return node.children.map((c) => evalQs(c, ctx, defaults, op)).reduce((a, b) => intersect(a, b));
    case 'or':
      return union(node.children.map((c) => evalQs(c, ctx, defaults, op)));
    case 'not': {
      const exclude = evalQs(node.child, ctx, defaults, op);
      const out = all(ctx, 0);
      for (const [d] of exclude) out.delete(d);
      return out;
    }
    case 'group': {
      // implicit operator between juxtaposed clauses; +required / -prohibited as Lucene does
      const required = node.children.filter((c) => c.occur === 'must');
      const prohibited = node.children.filter((c) => c.occur === 'must_not');
      const optional = node.children.filter((c) => c.occur === 'should');
      let base: Scores | undefined;
      for (const r of required) base = base ? intersect(base, evalQs(r.node, ctx, defaults, op)) : evalQs(r.node, ctx, defaults, op);
      if (optional.length > 0) {
        const parts = optional.map((o) => evalQs(o.node, ctx, defaults, op));
        // the default operator is already in each clause's occur (parseQueryString): optional
        // clauses only add to the score of required ones, or match alone when none is required
        const combined = union(parts);
        base = base ? addScores(base, combined) : combined;
      }
      if (!base) base = all(ctx, 0);
      for (const p of prohibited) for (const [d] of evalQs(p.node, ctx, defaults, op)) base.delete(d);
      return base;
    }
    case 'term': {
      const fields = node.field ? expandFields(ctx, [node.field]) : expandFields(ctx, defaults);
      return union(fields.map((f) => qsTermDocs(node, f, ctx)));
    }
    case 'range': {
      const fields = node.field ? [node.field] : defaults;
      const p: Q = {};
      if (node.from !== '*' && node.from !== undefined) p[node.includeFrom ? 'gte' : 'gt'] = node.from;
      if (node.to !== '*' && node.to !== undefined) p[node.includeTo ? 'lte' : 'lt'] = node.to;
      return union(expandFields(ctx, fields).map((f) => rangeDocs(ctx, f, p)));
    }
  }
}

const FUZZY_TERM = /^(.*[^~])~(\d+(?:\.\d+)?)?$/;

/** A query_string term without regex, fuzziness, phrase or wildcards: a plain match of its value. */
function isPlainQsTerm(node: QsNode & { type: 'term' }): boolean {
  return !node.regex && !node.phrase && !FUZZY_TERM.test(node.value) && node.value !== '*' && !/[*?]/.test(node.value);
}

/** One field's matches of a query_string term. */
function qsTermDocs(node: QsNode & { type: 'term' }, f: string, ctx: EvalContext): Scores {
  const kind = kindOf(ctx.engine.field(f)?.type ?? 'keyword');
  // an invalid regular expression in query_string matches nothing, as Elasticsearch answers it
  if (node.regex) return safe(() => regexpDocs(ctx, f, kind === 'text' ? node.value.toLowerCase() : node.value, {}, !node.field));
  const fz = node.phrase ? null : FUZZY_TERM.exec(node.value);
  if (fz) return fuzzyDocs(ctx, f, kind === 'text' ? fz[1]!.toLowerCase() : fz[1]!, fz[2] !== undefined ? { fuzziness: Math.floor(Number(fz[2])) } : {}, true);
  if (node.phrase) return kind === 'text' ? phraseDocs(ctx, f, node.value, 1) : safe(() => fromSet(termDocs(ctx, f, node.value)));
  if (node.value === '*') return fromSet(ctx.engine.docsWithField(f));
  if (/[*?]/.test(node.value)) {
    const isText = kind === 'text';
    return patternDocs(ctx, f, wildcardRegExp(isText ? node.value.toLowerCase() : node.value, false), 1);
  }
  return safe(() => matchDocs(ctx, f, node.value, 'and', 1, undefined, true));
}

function addScores(a: Scores, b: Scores): Scores {
  const out: Scores = new Map(a);
  for (const [d, s] of b) if (out.has(d)) out.set(d, out.get(d)! + s);
  return out;
}

/** A field whose type cannot hold the value (a word against a number field) matches nothing, as `lenient` would. */
function safe(fn: () => Scores): Scores {
  try {
    return fn();
  } catch (err) {
    if (err instanceof EsError && (err.type === 'query_shard_exception' || err.type === 'parse_exception')) return new Map();
    throw err;
  }
}

/** simple_query_string over its fields: every term is lenient (a field that cannot hold it matches nothing). */
function evalSqs(node: SqsNode, ctx: EvalContext, fields: string[], op: 'and' | 'or'): Scores {
  switch (node.type) {
    case 'and':
      return node.children.map((c) => evalSqs(c, ctx, fields, op)).reduce((a, b) => intersect(a, b));
    case 'or':
      return union(node.children.map((c) => evalSqs(c, ctx, fields, op)));
    case 'not': {
      const out = all(ctx, 0);
      for (const [d] of evalSqs(node.child, ctx, fields, op)) out.delete(d);
      return out;
    }
    case 'phrase':
      return union(
        fields.map((f) =>
          kindOf(ctx.engine.field(f)?.type ?? 'keyword') === 'text'
            ? phraseDocs(ctx, f, node.value, 1)
            : safe(() => matchDocs(ctx, f, node.value, op, 1, undefined, true)),
        ),
      );
    case 'term':
      return union(
        fields.map((f) => {
          const kind = kindOf(ctx.engine.field(f)?.type ?? 'keyword');
          if (node.prefix) {
            if (kind !== 'text' && kind !== 'keyword') return new Map();
            const p = kind === 'text' ? node.value.toLowerCase() : node.value;
            const out: Scores = new Map();
            for (const t of ctx.engine.termList(f) ?? []) if (t.startsWith(p)) for (const d of ctx.engine.termDocs(f, t)!) out.set(d, 1);
            return out;
          }
          if (node.fuzzy !== undefined)
            return fuzzyDocs(ctx, f, kind === 'text' ? node.value.toLowerCase() : node.value, { fuzziness: node.fuzzy === 'auto' ? 'AUTO' : node.fuzzy }, true);
          return safe(() => matchDocs(ctx, f, node.value, op, 1, undefined, true));
        }),
      );
  }
}

// ---------- evaluation without scores: sets of doc numbers as bits ----------

interface BitsContext extends EvalContext {
  /** The engine's live documents (shared: read only). */
  live: DocBits;
}

/**
 * The documents a query matches, as bits (doc-bits.ts), for a search that needs no score (sorted
 * on fields, `_count`, aggregations without top_hits): the same set as evaluate(query)'s keys, with
 * the same errors in the same order (the same parsing helpers, clauses taken in the same order,
 * the same nesting depth counted), but no Map entry per match. Query types without a form of
 * their own here run through evaluate's code and become bits.
 */
export function matchBits(query: unknown, ctx: EvalContext): DocBits {
  return bitsOf(query, { ...ctx, live: liveBits(ctx.engine) });
}

function bitsOf(query: unknown, ctx: BitsContext): DocBits {
  if (depth >= MAX_NESTED_DEPTH) throw new EsError(400, 'illegal_argument_exception', NESTED_TOO_DEEP);
  depth++;
  try {
    return bitsOne(query, ctx);
  } finally {
    depth--;
  }
}

const noBits = (ctx: BitsContext) => emptyBits(ctx.live.length);
const listBits = (docs: Iterable<number> | undefined, ctx: BitsContext) => docsToBits(docs ?? [], ctx.live.length);
const postingBits = (ctx: BitsContext, field: string, term: string) => postingToBits(ctx.engine.column(field)?.postingOf(term), ctx.live);

function bitsOne(query: unknown, ctx: BitsContext): DocBits {
  if (query === undefined || query === null) return ctx.live.slice();
  const q = obj(query, 'query');
  const names = Object.keys(q);
  if (names.length !== 1) return listBits(evaluateOne(query, ctx).keys(), ctx); // its parse error
  const name = names[0]!;
  const body = q[name];
  switch (name) {
    case 'match_all':
      obj(body ?? {}, name);
      return ctx.live.slice();
    case 'match_none':
      return noBits(ctx);
    case 'term': {
      const { field, value, params } = fieldAndParams(obj(body, name), 'value', name);
      return termBits(ctx, field, value, params.case_insensitive === true);
    }
    case 'terms': {
      const { field, values } = termsQuery(body, name);
      const out = noBits(ctx);
      for (const v of values) orInto(out, termBits(ctx, field, v));
      return out;
    }
    case 'range':
      return rangeBits(ctx, rangeQuery(body, ctx).spec);
    case 'exists': {
      const out = noBits(ctx);
      for (const f of existsQuery(body, ctx).fields) {
        const present = ctx.engine.column(f)?.present;
        if (present) orInto(out, postingToBits(present, ctx.live));
      }
      return out;
    }
    case 'bool':
      return boolBits(obj(body, name), ctx);
    case 'constant_score':
      return bitsOf(obj(body, name).filter, ctx);
    case 'query_string': {
      const { tree, defaults, op } = queryStringQuery(body);
      return qsBits(tree, ctx, defaults, op);
    }
    default:
      return listBits(evaluateOne(query, ctx).keys(), ctx);
  }
}

/** termDocs as bits: keyword and boolean terms straight from their postings. */
function termBits(ctx: BitsContext, field: string, value: unknown, caseInsensitive = false): DocBits {
  const m = searchable(ctx, field);
  const kind = kindOf(m?.type ?? 'keyword');
  if (!caseInsensitive && kind === 'keyword' && value !== null && value !== undefined) return postingBits(ctx, field, String(value));
  if (!caseInsensitive && kind === 'boolean' && (value === true || value === false || value === 'true' || value === 'false'))
    return postingBits(ctx, field, String(value === true || value === 'true'));
  return listBits(termDocs(ctx, field, value, caseInsensitive), ctx);
}

function rangeBits(ctx: BitsContext, r: RangeSpec): DocBits {
  if (r.type !== 'numbers') return listBits(rangeList(ctx, r), ctx);
  const out = noBits(ctx);
  const col = ctx.engine.column(r.field);
  if (!col?.hasNumbers || Number.isNaN(r.lo) || Number.isNaN(r.hi) || r.lo > r.hi) return out;
  // the sorted doc values between two binary searches (columns.ts numberRange, without a callback per entry)
  const { vals, docs } = col.sortedRun();
  const hi = r.hi;
  for (let i = lowerBound(vals, r.lo); i < vals.length && vals[i]! <= hi; i++) {
    const d = docs[i]!;
    out[d >>> 5] = out[d >>> 5]! | (1 << (d & 31));
  }
  return andInto(out, ctx.live);
}

type NumberRange = RangeSpec & { type: 'numbers' };

/**
 * A required clause of a bool: its bits, or for a range on numbers or dates its parsed bounds, run
 * last: as a check of each document the other required clauses left when they are fewer than the
 * range holds (the day's range of a search for one user: 2,000 checks instead of a million bits).
 * The clause is parsed where evaluate parses it, inside the same nesting depth.
 */
function requiredPart(c: unknown, ctx: BitsContext): DocBits | NumberRange {
  if (!c || typeof c !== 'object' || Array.isArray(c) || Object.keys(c).length !== 1 || Object.keys(c)[0] !== 'range') return bitsOf(c, ctx);
  if (depth >= MAX_NESTED_DEPTH) throw new EsError(400, 'illegal_argument_exception', NESTED_TOO_DEEP);
  depth++;
  try {
    const { spec } = rangeQuery((c as Q).range, ctx);
    return spec.type === 'numbers' ? spec : rangeBits(ctx, spec);
  } finally {
    depth--;
  }
}

function applyRange(base: DocBits, r: NumberRange, ctx: BitsContext): DocBits {
  const col = ctx.engine.column(r.field);
  if (!col?.hasNumbers || Number.isNaN(r.lo) || Number.isNaN(r.hi) || r.lo > r.hi) return base.fill(0);
  if (countBits(base) >= col.countInRange(r.lo, r.hi)) return andInto(base, rangeBits(ctx, r));
  const { lo, hi } = r;
  const multi = col.hasMultiNumbers();
  for (let i = 0; i < base.length; i++) {
    let x = base[i]!;
    while (x !== 0) {
      const t = x & -x;
      x ^= t;
      const d = (i << 5) + 31 - Math.clz32(t);
      const v = col.firstNumber(d);
      if (v >= lo && v <= hi) continue;
      const more = multi ? col.moreNumbers(d) : undefined;
      if (more?.some((m) => m >= lo && m <= hi)) continue;
      base[i] = base[i]! & ~t;
    }
  }
  return base;
}

function boolBits(b: Q, ctx: BitsContext): DocBits {
  checkBoolKeys(b);
  const must = clauses(b.must).map((c) => inBoolClause('must', () => requiredPart(c, ctx)));
  const { rest, probed } = splitProbes(must.length, clauses(b.filter), ctx);
  const filter = rest.map((c) => inBoolClause('filter', () => requiredPart(c, ctx)));
  const should = clauses(b.should).map((c) => inBoolClause('should', () => bitsOf(c, ctx)));
  const mustNot = clauses(b.must_not).map((c) => inBoolClause('must_not', () => bitsOf(c, ctx)));
  let base: DocBits | undefined;
  const ranges: NumberRange[] = [];
  for (const p of [...must, ...filter]) {
    if (p instanceof Uint32Array) base = base ? andInto(base, p) : p;
    else ranges.push(p);
  }
  // the probed clauses are keyword terms (splitProbes): their postings
  for (const c of probed) {
    const [field, raw] = Object.entries((c as { term: Q }).term)[0]!;
    const term = raw !== null && typeof raw === 'object' ? (raw as Q).value : raw;
    const x = postingBits(ctx, field, term as string);
    base = base ? andInto(base, x) : x;
  }
  for (const r of ranges) base = base ? applyRange(base, r, ctx) : rangeBits(ctx, r);
  const hasRequired = must.length + filter.length > 0;
  const msm = b.minimum_should_match !== undefined ? resolveMsm(b.minimum_should_match, should.length) : hasRequired ? 0 : should.length > 0 ? 1 : 0;
  if (should.length > 0 && (!base || msm > 0)) {
    let matched: DocBits;
    if (msm <= 1) {
      matched = noBits(ctx);
      for (const s of should) orInto(matched, s);
    } else {
      // at least msm of the should clauses
      const counts = new Int32Array(ctx.live.length * 32);
      for (const s of should) forEachBit(s, (d) => counts[d]!++);
      matched = noBits(ctx);
      for (let d = 0; d < counts.length; d++) if (counts[d]! >= msm) setBit(matched, d);
    }
    base = base ? andInto(base, matched) : matched;
  }
  if (!base) base = ctx.live.slice();
  for (const n of mustNot) andNotInto(base, n);
  return base;
}

function qsBits(node: QsNode, ctx: BitsContext, defaults: string[], op: 'and' | 'or'): DocBits {
  switch (node.type) {
    case 'and':
      return node.children.map((c) => qsBits(c, ctx, defaults, op)).reduce((a, b) => andInto(a, b));
    case 'or': {
      const out = noBits(ctx);
      for (const c of node.children) orInto(out, qsBits(c, ctx, defaults, op));
      return out;
    }
    case 'not':
      return andNotInto(ctx.live.slice(), qsBits(node.child, ctx, defaults, op));
    case 'group': {
      const required = node.children.filter((c) => c.occur === 'must');
      const prohibited = node.children.filter((c) => c.occur === 'must_not');
      const optional = node.children.filter((c) => c.occur === 'should');
      let base: DocBits | undefined;
      for (const r of required) {
        const x = qsBits(r.node, ctx, defaults, op);
        base = base ? andInto(base, x) : x;
      }
      if (optional.length > 0) {
        // optional clauses only add to the score of required ones, or match alone when none is required
        const parts = optional.map((o) => qsBits(o.node, ctx, defaults, op));
        if (!base) base = parts.reduce((a, b) => orInto(a, b));
      }
      if (!base) base = ctx.live.slice();
      for (const p of prohibited) andNotInto(base, qsBits(p.node, ctx, defaults, op));
      return base;
    }
    case 'term': {
      const fields = node.field ? expandFields(ctx, [node.field]) : expandFields(ctx, defaults);
      const out = noBits(ctx);
      for (const f of fields) orInto(out, isPlainQsTerm(node) ? plainQsTermBits(ctx, f, node.value) : listBits(qsTermDocs(node, f, ctx).keys(), ctx));
      return out;
    }
    case 'range': {
      const fields = node.field ? [node.field] : defaults;
      const p: Q = {};
      if (node.from !== '*' && node.from !== undefined) p[node.includeFrom ? 'gte' : 'gt'] = node.from;
      if (node.to !== '*' && node.to !== undefined) p[node.includeTo ? 'lte' : 'lt'] = node.to;
      const out = noBits(ctx);
      for (const f of expandFields(ctx, fields)) orInto(out, rangeBits(ctx, rangeSpec(ctx, f, p)));
      return out;
    }
  }
}

/** A plain query_string term on one field: matchDocs(value, 'and', lenient) as bits, postings read directly. */
function plainQsTermBits(ctx: BitsContext, field: string, value: string): DocBits {
  const m = ctx.engine.field(field);
  if (!isSearchable(m)) return noBits(ctx);
  if (!m && !ctx.engine.hasTerms(field) && !ctx.engine.hasNumbers(field)) return noBits(ctx);
  if (kindOf(m?.type ?? 'keyword') !== 'text') {
    try {
      return termBits(ctx, field, value);
    } catch (err) {
      if (err instanceof EsError && (err.type === 'query_shard_exception' || err.type === 'parse_exception')) return noBits(ctx);
      throw err;
    }
  }
  const tokens = tokenize(value);
  if (tokens.length === 0) return noBits(ctx);
  return tokens.map((t) => postingBits(ctx, field, t)).reduce((a, b) => andInto(a, b));
}
