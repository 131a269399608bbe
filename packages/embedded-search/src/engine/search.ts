/**
 * `_search` and `_count` over resolved target indices: query, total hits (track_total_hits),
 * sort on several keys (fields, _score, _doc; missing first/last), from/size, search_after,
 * `_source` filtering, aggregations. The HTTP layer adds took / timed_out / _shards.
 */
import { EsError, parsingError, unsupported } from '../errors.js';
import { aggregate, type Hit } from './aggregations.js';
import { kindOf, type IndexEngine } from './index-engine.js';
import { dateFormatter, fetchHit, parseFetch } from './fetch.js';
import { countBits, firstBit, MatchSet, truncateBits } from './doc-bits.js';
import { evaluate, fieldValues, matchBits, wildcardRegExp } from './query.js';
import { sortCandidates } from './sort-candidates.js';
import { formatIp, ipSortKey, maxOf, parseDate } from './values.js';

export interface SearchTarget {
  index: string;
  engine: IndexEngine;
}

type Body = Record<string, unknown>;
type Params = Record<string, string | undefined>;

/** How a point in time or a scroll context shapes a search (server.ts keeps the contexts). */
export interface SearchOptions {
  /** Per index: only doc numbers below this are visible (the documents that existed when the context opened). */
  docLimits?: Map<string, number>;
  /** A point-in-time search: `_shard_doc` sorts, and an explicit sort gets it as the implicit tiebreaker. */
  pit?: boolean;
  /** A scroll page: hits from this offset, no result window, aggregations on the first page only. */
  scrollOffset?: number;
  /**
   * A scroll's matched and sorted hits, kept by its context after the first page so that later pages
   * are slices, not the whole search again (a scroll of n hits would otherwise cost n²/size).
   */
  scrollCache?: { hits?: Hit[]; valued?: Valued[] };
  /** Evaluate with scores and sort every match, as before the bit-set path (the oracle of the tests that compare the two). */
  plain?: boolean;
}

type Valued = { h: Hit; v: (number | string | null)[] };

const KNOWN_BODY = new Set([
  'query',
  'size',
  'from',
  'sort',
  'search_after',
  'track_total_hits',
  '_source',
  'aggs',
  'aggregations',
  'track_scores',
  'timeout',
  'version',
  'seq_no_primary_term',
  'fields',
  'stored_fields',
  'explain',
  'highlight',
  'runtime_mappings',
  'pit',
  'collapse',
  'post_filter',
  'min_score',
  'docvalue_fields',
  'profile',
  'terminate_after',
  'script_fields',
  'suggest',
  'rescore',
  'indices_boost',
]);
const UNSUPPORTED_BODY = new Set(['runtime_mappings', 'collapse', 'post_filter', 'profile', 'suggest', 'rescore', 'indices_boost', 'explain']);

interface SortKey {
  field: string;
  order: 'asc' | 'desc';
  missing: '_last' | '_first';
  unmappedType?: string;
  /** A date sort value is shown in this format (Kibana asks for strict_date_optional_time). */
  format?: string;
  /** `_shard_doc`: the shard's position in the request (ES puts it in the high 32 bits). */
  shardOf?: (index: string) => number;
}

/**
 * The sort value Elasticsearch shows for a document without one: the missing value Lucene sorted it
 * by, Long.MAX_VALUE / MIN_VALUE for long and date fields (Integer's for the smaller integers), null otherwise.
 */
function missingShown(type: string | undefined, key: SortKey): number | null {
  if (type === undefined) return null;
  const high = (key.missing === '_last') === (key.order === 'asc');
  if (type === 'long' || type === 'date' || type === 'date_nanos') return high ? 2 ** 63 : -(2 ** 63);
  if (type === 'integer' || type === 'short' || type === 'byte') return high ? 2147483647 : -2147483648;
  return null;
}

function parseSort(spec: unknown): SortKey[] {
  if (spec === undefined) return [];
  const list = Array.isArray(spec) ? spec : [spec];
  return list.flatMap((s): SortKey[] => {
    if (typeof s === 'string') {
      if (s.includes(',')) return parseSort(s.split(','));
      const [field, order] = s.split(':') as [string, string | undefined];
      return [{ field, order: (order ?? (field === '_score' ? 'desc' : 'asc')) as 'asc' | 'desc', missing: '_last' }];
    }
    if (s && typeof s === 'object') {
      return Object.entries(s as Record<string, unknown>).map(([field, v]) => {
        const o = typeof v === 'string' ? { order: v } : ((v ?? {}) as Record<string, unknown>);
        const order = String(o.order ?? (field === '_score' ? 'desc' : 'asc'));
        if (order !== 'asc' && order !== 'desc') throw parsingError(`[sort] unknown order [${order}]`);
        if (o.mode !== undefined && !['min', 'max'].includes(String(o.mode))) throw unsupported(`sort mode [${String(o.mode)}]`);
        return {
          field,
          order,
          missing: o.missing === '_first' ? '_first' : '_last',
          ...(o.unmapped_type !== undefined ? { unmappedType: String(o.unmapped_type) } : {}),
          ...(o.format !== undefined ? { format: String(o.format) } : {}),
        };
      });
    }
    throw parsingError('[sort] malformed');
  });
}

function sortValue(h: Hit, key: SortKey): number | string | null {
  if (key.field === '_score') return h.score;
  if (key.field === '_doc') return h.doc;
  if (key.field === '_shard_doc') return (key.shardOf?.(h.index) ?? 0) * 2 ** 32 + h.doc;
  const m = h.engine.field(key.field);
  if (!m) return null;
  const kind = kindOf(m.type ?? 'keyword');
  if (kind === 'text')
    throw new EsError(
      400,
      'illegal_argument_exception',
      `Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [${key.field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory.`,
    );
  let vals: (number | string)[];
  if (kind === 'number' || kind === 'date') vals = h.engine.numbersOf(key.field, h.doc);
  else if (kind === 'ip') vals = h.engine.ipsOf(key.field, h.doc);
  else if (kind === 'boolean') vals = h.engine.termValuesOf(key.field, h.doc).map((v) => (v === 'true' ? 1 : 0));
  else if (kind === 'keyword') vals = h.engine.termValuesOf(key.field, h.doc);
  else vals = fieldValues(h.engine, h.doc, key.field).map(String);
  if (vals.length === 0) return null;
  return vals.reduce((a, b) => ((key.order === 'asc' ? b < a : b > a) ? b : a));
}

function compare(a: (number | string | null)[], b: (number | string | null)[], keys: SortKey[]): number {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return k.missing === '_first' ? -1 : 1;
    if (y === null) return k.missing === '_first' ? 1 : -1;
    const c = x < y ? -1 : 1;
    return k.order === 'asc' ? c : -c;
  }
  return 0;
}

function wildcards(patterns: string[]): RegExp[] {
  return patterns.map((p) => wildcardRegExp(p, false));
}

type Source = Record<string, unknown>;

/** `_source` filtering: false, "field", ["a.*"], { includes, excludes }; its patterns compiled once per search, not per hit. */
function sourceFilter(spec: unknown): (source: Source) => Source | undefined {
  if (spec === undefined || spec === true) return (source) => source;
  if (spec === false) return () => undefined;
  let includes: string[] = [];
  let excludes: string[] = [];
  if (typeof spec === 'string') includes = spec.split(',');
  else if (Array.isArray(spec)) includes = spec.map(String);
  else if (spec && typeof spec === 'object') {
    const o = spec as Record<string, unknown>;
    const list = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
    includes = list(o.includes ?? o.include);
    excludes = list(o.excludes ?? o.exclude);
  }
  const inc = wildcards(includes);
  const exc = wildcards(excludes);
  const keep = (path: string, isLeaf: boolean) =>
    !exc.some((r) => r.test(path)) && (inc.length === 0 || inc.some((r) => r.test(path) || (!isLeaf && includes.some((p) => p.startsWith(`${path}.`)))));
  const walk = (o: Record<string, unknown>, prefix: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      const path = prefix + k;
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        if (exc.some((r) => r.test(path))) continue;
        if (inc.some((r) => r.test(path))) {
          out[k] = exc.length ? walk(v as Record<string, unknown>, `${path}.`) : v;
          continue;
        }
        const sub = walk(v as Record<string, unknown>, `${path}.`);
        if (Object.keys(sub).length > 0) out[k] = sub;
      } else if (keep(path, true)) out[k] = v;
    }
    return out;
  };
  return (source) => walk(source, '');
}

function matchAll(targets: SearchTarget[], query: unknown, now: number, limits?: Map<string, number>): Hit[] {
  const hits: Hit[] = [];
  for (const t of targets) {
    const limit = limits?.get(t.index) ?? Infinity;
    for (const [doc, score] of evaluate(query, { engine: t.engine, now })) if (doc < limit) hits.push({ engine: t.engine, index: t.index, doc, score });
  }
  return hits;
}

/** The matches of every target as bits (query.ts matchBits), below each one's point-in-time limit. */
function matchSets(targets: SearchTarget[], query: unknown, now: number, limits?: Map<string, number>): MatchSet {
  return new MatchSet(
    targets.map((t) => {
      const bits = matchBits(query, { engine: t.engine, now });
      const limit = limits?.get(t.index);
      return { engine: t.engine, index: t.index, bits: limit === undefined ? bits : truncateBits(bits, limit) };
    }),
  );
}

/**
 * Whether a search can do without scores: no page (size 0: Elasticsearch's max_score is null then)
 * or a page sorted on fields only (not `_score`); no min_score, track_scores or top_hits (which
 * shows scores), and not a scroll (whose context keeps its sorted hits). A sort that does not parse
 * takes the scored path, which gives its error where it always did.
 */
function scoreless(b: Body, params: Params, opts: SearchOptions, size: number): boolean {
  if (opts.scrollCache || typeof b.min_score === 'number' || b.track_scores === true) return false;
  const aggs = b.aggs ?? b.aggregations;
  if (aggs !== undefined && JSON.stringify(aggs).includes('top_hits')) return false;
  if (size === 0 && b.search_after === undefined) return true;
  let keys: SortKey[];
  try {
    keys = parseSort(params.sort ?? b.sort);
  } catch {
    return false;
  }
  return keys.length > 0 && !keys.some((k) => k.field === '_score');
}

function queryFrom(body: Body | undefined, params: Params): unknown {
  if (params.q !== undefined) {
    return {
      query_string: {
        query: params.q,
        ...(params.df ? { default_field: params.df } : {}),
        ...(params.default_operator ? { default_operator: params.default_operator } : {}),
      },
    };
  }
  return body?.query;
}

export function search(targets: SearchTarget[], body: Body | undefined, params: Params, now: number, opts: SearchOptions = {}): Record<string, unknown> {
  const b = body ?? {};
  for (const k of Object.keys(b)) {
    if (!KNOWN_BODY.has(k)) throw parsingError(`Unknown key for a START_OBJECT in [${k}].`);
    if (UNSUPPORTED_BODY.has(k)) throw unsupported(`search option [${k}]`);
  }
  for (const v of [params.size ?? b.size, params.from ?? b.from]) {
    if (typeof v === 'string' && !/^\s*-?\d+\s*$/.test(v)) throw new EsError(400, 'number_format_exception', `For input string: "${v}"`);
  }
  const size = Number(params.size ?? b.size ?? 10);
  const from = opts.scrollOffset ?? Number(params.from ?? b.from ?? 0);
  if (!Number.isInteger(size) || size < 0) throw new EsError(400, 'illegal_argument_exception', `[size] parameter cannot be negative, found [${size}]`);
  if (!Number.isInteger(from) || from < 0) throw new EsError(400, 'illegal_argument_exception', `[from] parameter cannot be negative, found [${from}]`);
  if (from + size > 10_000 && opts.scrollOffset === undefined) {
    throw new EsError(
      400,
      'illegal_argument_exception',
      `Result window is too large, from + size must be less than or equal to: [10000] but was [${from + size}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.`,
    );
  }
  const fetch = parseFetch(b);
  const cached = opts.scrollCache?.valued;
  // no score asked for: the matches as bits, no Map of scores nor a hit object per match
  const matched = opts.plain || !scoreless(b, params, opts, size) ? undefined : matchSets(targets, queryFrom(b, params), now, opts.docLimits);
  const hits = matched ? [] : (opts.scrollCache?.hits ?? matchAll(targets, queryFrom(b, params), now, opts.docLimits));
  const minScore = typeof b.min_score === 'number' ? b.min_score : undefined;
  let kept = minScore === undefined ? hits : hits.filter((h) => h.score >= minScore);
  const matchCount = matched ? matched.count : kept.length;

  const sortKeys = parseSort(params.sort ?? b.sort);
  if (sortKeys.some((k) => k.field === '_shard_doc')) {
    if (!opts.pit)
      throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: [_shard_doc] sort field cannot be used without [point in time];');
  } else if (opts.pit && sortKeys.length > 0) sortKeys.push({ field: '_shard_doc', order: 'asc', missing: '_last' });
  const shardPos = new Map(targets.map((t, i) => [t.index, i]));
  for (const k of sortKeys) if (k.field === '_shard_doc') k.shardOf = (index) => shardPos.get(index) ?? 0;
  const byScore = sortKeys.length === 0;
  for (const k of sortKeys) {
    // as Elasticsearch: sorting on a field no target maps is an error unless unmapped_type says what it is
    if (k.field.startsWith('_') || k.unmappedType !== undefined || targets.length === 0) continue;
    if (!targets.some((t) => t.engine.field(k.field))) throw new EsError(400, 'query_shard_exception', `No mapping found for [${k.field}] in order to sort on`);
  }
  const keys: SortKey[] = byScore ? [{ field: '_score', order: 'desc', missing: '_last' }] : sortKeys;
  // no page to show (size 0, the aggregation-only search): sorting every hit would be wasted work;
  // sort values are still read once when the sort itself could fail (a text field)
  const pageNeeded = size > 0 || b.search_after !== undefined;
  const sortValues = (h: Hit): Valued => ({ h, v: keys.map((k) => sortValue(h, k)) });
  // with bits, the sort values of each target's first match: they fail as the first of all would (a text field)
  if (matched) for (const p of matched.parts) if (firstBit(p.bits) >= 0) sortValues({ engine: p.engine, index: p.index, doc: firstBit(p.bits), score: 0 });
  let valued = matched ? [] : (cached ?? (pageNeeded || opts.scrollCache ? kept.map(sortValues) : kept.slice(0, 1).map(sortValues)));
  // ip sort values compare as 128-bit keys and are shown as addresses, as Elasticsearch shows them
  const isIp = (k: SortKey) => targets.some((t) => t.engine.field(k.field)?.type === 'ip');
  const ipSorts = keys.map(isIp);
  const types = keys.map((k) => targets.map((t) => t.engine.field(k.field)?.type).find((x) => x !== undefined) ?? k.unmappedType);
  const missing = keys.map((k, i) => missingShown(types[i], k));
  const formats = keys.map((k, i) => (k.format !== undefined && types[i] === 'date' ? dateFormatter(k.format) : undefined));
  const shownSort = (v: (number | string | null)[]) =>
    v.map((x, i) => (x === null ? missing[i]! : ipSorts[i] && typeof x === 'string' ? formatIp(x) : formats[i] && typeof x === 'number' ? formats[i]!(x) : x));
  const inOrder = (x: Valued, y: Valued) => compare(x.v, y.v, keys) || (x.h.index < y.h.index ? -1 : x.h.index > y.h.index ? 1 : x.h.doc - y.h.doc);
  if (!cached) valued.sort(inOrder);
  if (opts.scrollCache && !cached) {
    opts.scrollCache.hits = hits;
    opts.scrollCache.valued = valued;
  }

  let after: (number | string | null)[] | undefined;
  if (b.search_after !== undefined) {
    if (byScore && !Array.isArray(b.search_after)) throw parsingError('[search_after] must be an array');
    after = (b.search_after as unknown[]).map((v, i) => {
      const k = keys[i];
      if (k && k.field !== '_score' && k.field !== '_doc' && k.field !== '_shard_doc' && typeof v === 'string') {
        if (isIp(k)) return ipSortKey(v) ?? v;
        const ms = targets.some((t) => t.engine.field(k.field)?.type === 'date') ? parseDate(v) : undefined;
        return ms ?? v;
      }
      return v as number | string | null;
    });
    if (after.length !== keys.length)
      throw new EsError(400, 'illegal_argument_exception', `search_after has ${after.length} value(s) but sort has ${keys.length}.`);
    if (from > 0) throw new EsError(400, 'illegal_argument_exception', '[from] parameter must be set to 0 when [search_after] is used.');
  }
  if (matched && pageNeeded) {
    // the page's candidates by the first sort key (sort-candidates.ts), sorted exactly; every match when that cannot be done
    const candidates = sortCandidates(matched.parts, keys[0]!, from + size, after?.[0]);
    if (candidates)
      valued = matched.parts.flatMap((p, i) => candidates[i]!.map((doc) => sortValues({ engine: p.engine, index: p.index, doc, score: 0 }))).sort(inOrder);
    else {
      kept = matched.hits();
      valued = kept.map(sortValues).sort(inOrder);
    }
  }
  const page = after ? valued.filter((x) => compare(x.v, after, keys) > 0) : valued;
  // a scroll's kept hits may include a document deleted since its first page: it is left out
  const selected = cached ? page.slice(from, from + size).filter((x) => x.h.engine.isLive(x.h.doc)) : page.slice(from, from + size);

  const trackTotal = params.track_total_hits ?? b.track_total_hits ?? 10_000;
  const exact = trackTotal === true || trackTotal === 'true';
  const limit = exact ? Infinity : trackTotal === false || trackTotal === 'false' ? -1 : Number(trackTotal);
  const total = limit < 0 ? undefined : matchCount > limit ? { value: limit, relation: 'gte' } : { value: matchCount, relation: 'eq' };
  const sourceSpec = params._source !== undefined ? (params._source === 'false' ? false : params._source === 'true' ? true : params._source) : b._source;
  const trackScores = b.track_scores === true;
  // no page, no max_score: Elasticsearch answers null for size 0 (every recorded case of the differential corpus)
  const maxScore = (byScore || trackScores) && pageNeeded && kept.length ? maxOf(kept.map((h) => h.score)) : null;

  const filterSource = sourceFilter(sourceSpec);
  const toHit = (x: { h: Hit; v: (number | string | null)[] }) => {
    const d = x.h.engine.doc(x.h.doc)!;
    const src = filterSource(d.source);
    return {
      _index: x.h.index,
      _id: d.id,
      _score: byScore || trackScores ? x.h.score : null,
      ...(b.version === true ? { _version: d.version } : {}),
      ...(b.seq_no_primary_term === true ? { _seq_no: d.seqNo, _primary_term: 1 } : {}),
      ...(src !== undefined ? { _source: src } : {}),
      ...(fetch ? fetchHit(x.h, fetch) : {}),
      ...(byScore ? {} : { sort: shownSort(x.v) }),
    };
  };
  const response: Record<string, unknown> = {
    hits: { ...(total ? { total } : {}), max_score: maxScore, hits: selected.map(toHit) },
  };
  const aggs = b.aggs ?? b.aggregations;
  if (aggs !== undefined && !opts.scrollOffset) {
    response.aggregations = aggregate(aggs, matched ?? kept, {
      now,
      topHits: (bucketHits, spec) => {
        const k = parseSort(spec.sort);
        const ks: SortKey[] = k.length ? k : [{ field: '_score', order: 'desc', missing: '_last' }];
        const vs = bucketHits.map((h) => ({ h, v: ks.map((key) => sortValue(h, key)) }));
        vs.sort((x, y) => compare(x.v, y.v, ks) || x.h.doc - y.h.doc);
        const n = Number(spec.size ?? 3);
        const fromN = Number(spec.from ?? 0);
        const topSource = sourceFilter(spec._source);
        const page2 = vs.slice(fromN, fromN + n).map((x) => {
          const d = x.h.engine.doc(x.h.doc)!;
          const src = topSource(d.source);
          return {
            _index: x.h.index,
            _id: d.id,
            _score: k.length ? null : x.h.score,
            ...(src !== undefined ? { _source: src } : {}),
            ...(k.length ? { sort: x.v.map((v, i) => (typeof v === 'string' && isIp(ks[i]!) ? formatIp(v) : v)) } : {}),
          };
        });
        return {
          hits: {
            total: { value: bucketHits.length, relation: 'eq' },
            max_score: k.length ? null : bucketHits.length ? maxOf(bucketHits.map((h) => h.score)) : null,
            hits: page2,
          },
        };
      },
    });
  }
  return response;
}

export function count(targets: SearchTarget[], body: Body | undefined, params: Params, now: number): { count: number } {
  const b = body ?? {};
  for (const k of Object.keys(b)) if (k !== 'query') throw parsingError(`request does not support [${k}]`);
  const query = queryFrom(b, params);
  let n = 0;
  for (const t of targets) n += countBits(matchBits(query, { engine: t.engine, now }));
  return { count: n };
}
