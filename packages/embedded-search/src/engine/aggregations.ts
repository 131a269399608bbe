/**
 * Aggregations over the documents a search matched, in Elasticsearch's response shapes:
 * terms, date_histogram (fixed and calendar intervals, UTC), histogram, cardinality (exact),
 * min, max, avg, sum, value_count, stats, top_hits, filter, filters; any of them nested as
 * sub-aggregations of the bucketing ones.
 */
import { EsError, parsingError, unsupported } from '../errors.js';
import { resolveDate } from './date-math.js';
import { evaluate, fieldValues } from './query.js';
import type { FieldData } from './columns.js';
import { kindOf, type IndexEngine } from './index-engine.js';
import { cidrRange, formatIp, formatDate, ipSortKey, maxOf, minOf, parseDate, zoneOffset } from './values.js';
import { runBucketScript } from './fetch.js';
import { countBits, firstBit, forEachBit, MatchSet } from './doc-bits.js';

export interface Hit {
  engine: IndexEngine;
  index: string;
  doc: number;
  score: number;
}

type Agg = Record<string, unknown>;

function numericValues(h: Hit, field: string): number[] {
  return h.engine.numbersOf(field, h.doc);
}

function keyValues(h: Hit, field: string): (string | number)[] {
  const m = h.engine.field(field);
  if (!m) return [];
  const kind = kindOf(m.type ?? 'keyword');
  if (kind === 'text')
    throw new EsError(
      400,
      'illegal_argument_exception',
      `Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [${field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory.`,
    );
  if (kind === 'number' || kind === 'date') return numericValues(h, field);
  // keyword and boolean doc values are the terms indexed for the doc (ignore_above applied), read without its source
  if (kind === 'boolean') return h.engine.termValuesOf(field, h.doc).map((v) => (v === 'true' ? 1 : 0));
  if (kind === 'keyword') return h.engine.termValuesOf(field, h.doc);
  return fieldValues(h.engine, h.doc, field).map(String);
}

/**
 * Doc counts per term of a keyword field over the hits, read from term ordinals (one Int32Array of
 * counts per index, no value arrays per hit); undefined when some index does not map the field as
 * a keyword (the general path then reads values hit by hit).
 */
function countKeywordTerms(hits: Hit[], field: string, missing: unknown): Map<string | number, { length: number }> | undefined {
  const perEngine = new Map<IndexEngine, { col: FieldData | undefined; counts: Int32Array }>();
  let missingCount = 0;
  for (const h of hits) {
    let e = perEngine.get(h.engine);
    if (!e) {
      const m = h.engine.field(field);
      if (!m || kindOf(m.type ?? 'keyword') !== 'keyword') return undefined;
      const col = h.engine.column(field);
      e = { col, counts: new Int32Array(col?.termCount ?? 0) };
      perEngine.set(h.engine, e);
    }
    const ord = e.col ? e.col.ordOf(h.doc) : -1;
    if (ord === -1) {
      missingCount++;
      continue;
    }
    e.counts[ord]!++;
    const more = e.col!.moreOrds(h.doc);
    if (more) for (const o of more) e.counts[o]!++;
  }
  return termGroups(perEngine, missing, missingCount);
}

/** Per-ordinal counts of each engine as doc counts per term (terms of several indices added up), `missing` last. */
function termGroups(
  perEngine: Map<IndexEngine, { col: FieldData | undefined; counts: Int32Array }>,
  missing: unknown,
  missingCount: number,
): Map<string | number, { length: number }> {
  const out = new Map<string | number, { length: number }>();
  const add = (k: string | number, n: number) => {
    const g = out.get(k);
    if (g) g.length += n;
    else out.set(k, { length: n });
  };
  for (const { col, counts } of perEngine.values()) {
    if (!col) continue;
    // one term decoded per bucket: a field of values unique to a document would otherwise decode all of them
    for (let o = 0; o < counts.length; o++) if (counts[o]! > 0) add(col.term(o), counts[o]!);
  }
  if (missing !== undefined && missingCount > 0) add(missing as string, missingCount);
  return out;
}

/** The engines of the targets that matched anything, in target order. */
function matchedEngines(set: MatchSet): IndexEngine[] {
  return set.parts.filter((p) => firstBit(p.bits) >= 0).map((p) => p.engine);
}

/** countKeywordTerms over bits: one pass over each target's matches reading term ordinals. */
function countKeywordTermsOnBits(set: MatchSet, field: string, missing: unknown): Map<string | number, { length: number }> | undefined {
  const perEngine = new Map<IndexEngine, { col: FieldData | undefined; counts: Int32Array }>();
  let missingCount = 0;
  for (const p of set.parts) {
    if (firstBit(p.bits) < 0) continue;
    let e = perEngine.get(p.engine);
    if (!e) {
      const m = p.engine.field(field);
      if (!m || kindOf(m.type ?? 'keyword') !== 'keyword') return undefined;
      const col = p.engine.column(field);
      e = { col, counts: new Int32Array(col?.termCount ?? 0) };
      perEngine.set(p.engine, e);
    }
    const { col, counts } = e;
    if (!col) {
      missingCount += countBits(p.bits);
      continue;
    }
    forEachBit(p.bits, (d) => {
      const ord = col.ordOf(d);
      if (ord === -1) return void missingCount++;
      counts[ord]!++;
      const more = col.moreOrds(d);
      if (more) for (const o of more) counts[o]!++;
    });
  }
  return termGroups(perEngine, missing, missingCount);
}

/**
 * Doc counts per bucket key over bits (date_histogram, histogram without sub-aggregations): each
 * document once per distinct bucket of its values. Matches are met in doc order, which is mostly
 * time order, so the bucket of the previous document is tried first.
 */
function countBuckets(set: MatchSet, field: string, floor: (v: number) => number, width: number | undefined): Map<number, { length: number }> {
  const out = new Map<number, { length: number }>();
  let lastKey = NaN;
  let last: { length: number } = { length: 0 };
  const bump = (k: number) => {
    if (k !== lastKey) {
      lastKey = k;
      const g = out.get(k);
      if (g) last = g;
      else out.set(k, (last = { length: 0 }));
    }
    last.length++;
  };
  for (const p of set.parts) {
    const col = p.engine.column(field);
    if (!col) continue;
    const multi = col.hasMultiNumbers();
    const bits = p.bits;
    // the words walked here rather than through forEachBit: a callback per document was most of the time over 1M matches
    for (let w = 0; w < bits.length; w++) {
      let x = bits[w]!;
      while (x !== 0) {
        const t = x & -x;
        x ^= t;
        const d = (w << 5) + 31 - Math.clz32(t);
        const v = col.firstNumber(d);
        if (Number.isNaN(v)) continue;
        const more = multi ? col.moreNumbers(d) : undefined;
        if (!more) {
          const k = width === undefined ? floor(v) : Math.floor(v / width) * width;
          if (k === lastKey) last.length++;
          else bump(k);
          continue;
        }
        for (const k of new Set([v, ...more].map(floor))) bump(k);
      }
    }
  }
  return out;
}

/**
 * The smallest and largest value of a field over bits (min, max: all the two need of the values):
 * the first and last entries of the field's sorted doc values (every value of every document)
 * whose document matched, found by walking in from each end.
 */
function minMaxOnBits(set: MatchSet, field: string): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of set.parts) {
    const col = p.engine.column(field);
    if (!col?.hasNumbers) continue;
    const { vals, docs } = col.sortedRun();
    const bits = p.bits;
    const matched = (i: number) => (bits[docs[i]! >>> 5]! & (1 << (docs[i]! & 31))) !== 0;
    let i = 0;
    while (i < vals.length && !matched(i)) i++;
    if (i === vals.length) continue;
    let j = vals.length - 1;
    while (!matched(j)) j--;
    if (vals[i]! < lo) lo = vals[i]!;
    if (vals[j]! > hi) hi = vals[j]!;
  }
  return lo === Infinity ? [] : lo === hi ? [lo] : [lo, hi];
}

/** The values of a field for `missing`: a text field has no doc values but may still be present. */
function keyValuesOrNone(h: Hit, field: string): unknown[] {
  const kind = kindOf(h.engine.field(field)?.type ?? 'keyword');
  return kind === 'text' ? fieldValues(h.engine, h.doc, field) : keyValues(h, field);
}

/** Aggregation names of Elasticsearch 8 that this node does not implement (answered as unsupported). */
const ES_AGGREGATIONS = new Set([
  'percentile_ranks',
  'significant_text',
  'multi_terms',
  'auto_date_histogram',
  'variable_width_histogram',
  'geo_bounds',
  'geo_centroid',
  'geohash_grid',
  'geotile_grid',
  'geohex_grid',
  'geo_distance',
  'nested',
  'reverse_nested',
  'children',
  'parent',
  'sampler',
  'diversified_sampler',
  'random_sampler',
  'global',
  'adjacency_matrix',
  'scripted_metric',
  'median_absolute_deviation',
  'weighted_avg',
  'boxplot',
  'string_stats',
  't_test',
  'top_metrics',
  'rate',
  'matrix_stats',
  'extended_stats_bucket',
  'percentiles_bucket',
  'bucket_selector',
  'bucket_sort',
  'cumulative_cardinality',
  'moving_fn',
  'moving_percentiles',
  'normalize',
  'serial_diff',
  'inference',
  'categorize_text',
  'frequent_item_sets',
  'time_series',
  'ip_prefix',
]);

function isDateField(hits: Hit[], field: string): boolean {
  return hits.some((h) => h.engine.field(field)?.type === 'date');
}

const FIXED: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function fixedInterval(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s);
  if (!m)
    throw new EsError(
      400,
      'illegal_argument_exception',
      `failed to parse setting [date_histogram.fixedInterval] with value [${s}] as a time value: unit is missing or unrecognized`,
    );
  return Number(m[1]) * FIXED[m[2]!]!;
}

function calendarFloor(ms: number, unit: string): number {
  const d = new Date(ms);
  switch (unit) {
    case 'minute':
      d.setUTCSeconds(0, 0);
      break;
    case 'hour':
      d.setUTCMinutes(0, 0, 0);
      break;
    case 'day':
      d.setUTCHours(0, 0, 0, 0);
      break;
    case 'week': {
      d.setUTCHours(0, 0, 0, 0);
      d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
      break;
    }
    case 'month':
      d.setUTCHours(0, 0, 0, 0);
      d.setUTCDate(1);
      break;
    case 'quarter':
      d.setUTCHours(0, 0, 0, 0);
      d.setUTCDate(1);
      d.setUTCMonth(d.getUTCMonth() - (d.getUTCMonth() % 3));
      break;
    case 'year':
      d.setUTCHours(0, 0, 0, 0);
      d.setUTCMonth(0, 1);
      break;
  }
  return d.getTime();
}

function calendarNext(ms: number, unit: string): number {
  const d = new Date(ms);
  switch (unit) {
    case 'minute':
      return ms + 60_000;
    case 'hour':
      return ms + 3_600_000;
    case 'day':
      return ms + 86_400_000;
    case 'week':
      return ms + 7 * 86_400_000;
    case 'month':
      d.setUTCMonth(d.getUTCMonth() + 1);
      return d.getTime();
    case 'quarter':
      d.setUTCMonth(d.getUTCMonth() + 3);
      return d.getTime();
    default:
      d.setUTCFullYear(d.getUTCFullYear() + 1);
      return d.getTime();
  }
}

const CALENDAR: Record<string, string> = {
  '1m': 'minute',
  minute: 'minute',
  '1h': 'hour',
  hour: 'hour',
  '1d': 'day',
  day: 'day',
  '1w': 'week',
  week: 'week',
  '1M': 'month',
  month: 'month',
  '1q': 'quarter',
  quarter: 'quarter',
  '1y': 'year',
  year: 'year',
};

/** The hits a query keeps; the query is evaluated once per index, not once per hit. */
function filterHits(hits: Hit[], query: unknown, now: number): Hit[] {
  const byEngine = new Map<IndexEngine, Map<number, number>>();
  return hits.filter((h) => {
    let s = byEngine.get(h.engine);
    if (!s) byEngine.set(h.engine, (s = evaluate(query, { engine: h.engine, now })));
    return s.has(h.doc);
  });
}

/** terms include/exclude: an array of exact terms, or a string as a regular expression over the whole term. */
function termFilter(spec: unknown, fallback: boolean): (k: string | number) => boolean {
  if (spec === undefined) return () => fallback;
  if (Array.isArray(spec)) {
    const set = new Set(spec.map(String));
    return (k) => set.has(String(k));
  }
  if (typeof spec === 'string') {
    const re = new RegExp(`^(?:${spec})$`);
    return (k) => re.test(String(k));
  }
  throw unsupported('terms include/exclude partitions');
}

/** key_as_string for a java.time pattern of the common letters (yyyy MM dd HH mm ss SSS, 'quoted' text), UTC. */
function javaDateFormatter(pattern: string): (ms: number) => string {
  if (!/^(?:yyyy|yy|MM|dd|HH|mm|ss|SSS|'[^']*'|[-/:. T])+$/.test(pattern)) {
    return formatDate;
  }
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return (ms) => {
    const d = new Date(ms);
    return pattern.replace(/yyyy|yy|MM|dd|HH|mm|ss|SSS|'([^']*)'/g, (t, lit: string | undefined) => {
      if (lit !== undefined) return lit;
      switch (t) {
        case 'yyyy':
          return pad(d.getUTCFullYear(), 4);
        case 'yy':
          return pad(d.getUTCFullYear() % 100, 2);
        case 'MM':
          return pad(d.getUTCMonth() + 1, 2);
        case 'dd':
          return pad(d.getUTCDate(), 2);
        case 'HH':
          return pad(d.getUTCHours(), 2);
        case 'mm':
          return pad(d.getUTCMinutes(), 2);
        case 'ss':
          return pad(d.getUTCSeconds(), 2);
        default:
          return pad(d.getUTCMilliseconds(), 3);
      }
    });
  };
}

/** Java's Double.toString, which Elasticsearch's range keys and percentile names use ("400.0", "99.9", "1.0E21"). */
export function javaDouble(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : x < 0 ? '-Infinity' : 'NaN';
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e7)) {
    const [m, e] = x.toExponential().split('e') as [string, string];
    return `${m.includes('.') ? m : `${m}.0`}E${Number(e)}`;
  }
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/** An instant as ISO text in a zone ("2026-11-20T00:00:00.000+01:00"; "Z" at offset 0). */
function isoInZone(ms: number, off: number): string {
  const local = new Date(ms + off).toISOString().slice(0, -1);
  if (off === 0) return `${local}Z`;
  const a = Math.abs(off) / 60_000;
  return `${local}${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** Percentiles over the values, interpolated at q*(n-1) between sorted values: what Elasticsearch 8.12's
 *  t-digest answers while it still holds every value (its sorting digest); beyond a few hundred values
 *  per bucket Elasticsearch approximates and the two may differ in the last digits. */
function percentile(sorted: number[], pct: number): number | null {
  if (sorted.length === 0) return null;
  const x = (pct / 100) * (sorted.length - 1);
  const lo = Math.floor(x);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (x - lo);
}

type Range = { key?: string; from?: number; to?: number; fromText?: unknown; toText?: unknown };

function compareKeys(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return (a as number | string) < (b as number | string) ? -1 : 1;
}

/** Pipeline aggregations computed from the buckets of others: parent ones inside a multi-bucket aggregation, sibling ones beside it. */
const PARENT_PIPELINES = new Set(['derivative', 'cumulative_sum', 'bucket_script']);
const SIBLING_PIPELINES = new Set(['avg_bucket', 'max_bucket', 'min_bucket', 'sum_bucket', 'stats_bucket']);

function typeOf(spec: Agg): string | undefined {
  return Object.keys(spec).find((k) => k !== 'aggs' && k !== 'aggregations' && k !== 'meta');
}

const badPath = (name: string, path: string) =>
  new EsError(400, 'action_request_validation_exception', `Validation Failed: 1: No aggregation [${name}] found for path [${path}];`);

/** A buckets_path inside one bucket: `_count`, `metric`, `metric.prop`, `single>metric`. */
function pathValue(bucket: Record<string, unknown>, path: string, specs: Agg | undefined, full: string): number | null {
  if (path === '_count') return bucket.doc_count as number;
  const [head, ...rest] = path.split('>');
  const [name, prop] = head!.split('.') as [string, string?];
  if (!specs || !(name in specs)) throw badPath(name, full);
  const v = bucket[name] as Record<string, unknown> | undefined;
  if (rest.length > 0)
    return v ? pathValue(v, rest.join('>'), ((specs[name] as Agg).aggs ?? (specs[name] as Agg).aggregations) as Agg | undefined, full) : null;
  if (!v) return null;
  const x =
    prop === '_count'
      ? v.doc_count
      : prop !== undefined
        ? (v[prop] ?? (v.values as Record<string, unknown> | undefined)?.[prop])
        : v.value !== undefined
          ? v.value
          : v.doc_count;
  return typeof x === 'number' ? x : null;
}

function applyParentPipelines(buckets: Record<string, unknown>[], sub: Agg): void {
  for (const [pname, raw] of Object.entries(sub)) {
    const spec = raw as Agg;
    const type = typeOf(spec);
    if (!type || !PARENT_PIPELINES.has(type)) continue;
    const body = spec[type] as Agg;
    if (type === 'bucket_script') {
      const paths = body.buckets_path as Record<string, string>;
      const source = typeof body.script === 'string' ? body.script : String((body.script as Agg | undefined)?.source ?? '');
      for (const b of buckets) {
        const params: Record<string, unknown> = {};
        let gap = false;
        for (const [k, p] of Object.entries(paths ?? {})) {
          const v = pathValue(b, p, sub, p);
          if (v === null) gap = true;
          params[k] = v;
        }
        if (gap) continue;
        const v = runBucketScript(source, params);
        b[pname] = { value: typeof v === 'number' ? v : null };
      }
      continue;
    }
    const path = String(body.buckets_path);
    let prev: number | null = null;
    let sum = 0;
    buckets.forEach((b, i) => {
      const v = pathValue(b, path, sub, path);
      if (type === 'cumulative_sum') {
        sum += v ?? 0;
        b[pname] = { value: sum };
      } else {
        if (i > 0 && prev !== null && v !== null) b[pname] = { value: v - prev };
        if (v !== null) prev = v;
      }
    });
  }
}

function siblingPipeline(type: string, body: Agg, out: Record<string, unknown>, specs: Agg): Record<string, unknown> {
  const path = String(body.buckets_path);
  const [first, ...rest] = path.split('>');
  const [aggName, prop] = rest.length === 0 ? (first!.split('.') as [string, string?]) : [first!, undefined];
  if (!(aggName in specs)) throw badPath(aggName, path);
  const sub = ((specs[aggName] as Agg).aggs ?? (specs[aggName] as Agg).aggregations) as Agg | undefined;
  const inner = rest.length > 0 ? rest.join('>') : (prop ?? '_count');
  if (inner !== '_count' && !(inner.split(/[.>]/)[0]! in (sub ?? {}))) throw badPath(inner.split(/[.>]/)[0]!, path);
  const raw = (out[aggName] as { buckets?: unknown } | undefined)?.buckets;
  const buckets = (Array.isArray(raw) ? raw : Object.entries(raw ?? {}).map(([key, b]) => ({ key, ...(b as object) }))) as Record<string, unknown>[];
  const vals = buckets.map((b) => ({ key: String(b.key_as_string ?? b.key), v: pathValue(b, inner, sub, path) })).filter((x) => x.v !== null) as {
    key: string;
    v: number;
  }[];
  const nums = vals.map((x) => x.v);
  const sum = nums.reduce((a, b) => a + b, 0);
  switch (type) {
    case 'avg_bucket':
      return { value: nums.length ? sum / nums.length : null };
    case 'sum_bucket':
      return { value: sum };
    case 'stats_bucket':
      return {
        count: nums.length,
        min: nums.length ? minOf(nums) : null,
        max: nums.length ? maxOf(nums) : null,
        avg: nums.length ? sum / nums.length : null,
        sum,
      };
    default: {
      if (nums.length === 0) return { value: null, keys: [] };
      const best = type === 'max_bucket' ? maxOf(nums) : minOf(nums);
      return { value: best, keys: vals.filter((x) => x.v === best).map((x) => x.key) };
    }
  }
}

export interface AggContext {
  now: number;
  topHits: (hits: Hit[], spec: Agg) => Record<string, unknown>;
}

/** Aggregations counted on doc values over the bits of a search's matches, without a hit object per match (when they have no sub-aggregations). */
const ON_BITS = new Set(['date_histogram', 'histogram', 'terms', 'min', 'max']);

/**
 * The aggregations of `specs` over the matches: a list of hits, or at the top of a search that
 * needed no score the matches as bits (doc-bits.ts MatchSet), turned into hits only for the
 * aggregations that read them one by one.
 */
export function aggregate(specs: unknown, input: Hit[] | MatchSet, ctx: AggContext): Record<string, unknown> {
  if (specs === null || typeof specs !== 'object') throw parsingError('Expected [START_OBJECT] under [aggregations]');
  const out: Record<string, unknown> = {};
  let list = Array.isArray(input) ? input : undefined;
  const all = () => (list ??= (input as MatchSet).hits());
  for (const [name, raw] of Object.entries(specs as Record<string, unknown>)) {
    const spec = raw as Agg;
    const sub = spec.aggs ?? spec.aggregations;
    const types = Object.keys(spec).filter((k) => k !== 'aggs' && k !== 'aggregations' && k !== 'meta');
    if (types.length !== 1) throw parsingError(`Expected exactly one aggregation type for [${name}], found [${types.join(', ')}]`);
    const type = types[0]!;
    // pipelines read the results of others: computed after them (below, and by the bucketing parent)
    if (PARENT_PIPELINES.has(type) || SIBLING_PIPELINES.has(type)) continue;
    const body = (spec[type] ?? {}) as Agg;
    const set = input instanceof MatchSet && !sub && ON_BITS.has(type) ? input : undefined;
    // with bits these read doc values themselves (and all() where they cannot)
    const hits = set ? [] : all();
    const withSub = (bucketHits: Hit[], bucket: Record<string, unknown>) => (sub ? { ...bucket, ...aggregate(sub, bucketHits, ctx) } : bucket);
    const field = body.field as string | undefined;
    switch (type) {
      case 'terms': {
        if (!field) throw parsingError(`Required [field] for terms aggregation [${name}]`);
        const size = Number(body.size ?? 10);
        // without sub-aggregations a bucket is only its count: counted on term ordinals (the fast path)
        let groups: Map<string | number, { length: number }> | undefined = sub
          ? undefined
          : set
            ? countKeywordTermsOnBits(set, field, body.missing)
            : countKeywordTerms(hits, field, body.missing);
        if (!groups) {
          const lists = new Map<string | number, Hit[]>();
          for (const h of set ? all() : hits) {
            const vals = new Set(keyValues(h, field));
            if (vals.size === 0 && body.missing !== undefined) vals.add(body.missing as string);
            for (const v of vals) {
              const g = lists.get(v);
              if (g) g.push(h);
              else lists.set(v, [h]);
            }
          }
          groups = lists;
        }
        const minDocCount = Number(body.min_doc_count ?? 1);
        const order = (body.order ?? { _count: 'desc' }) as Record<string, string>;
        const [orderKey, orderDir] = Object.entries(Array.isArray(order) ? order[0] : order)[0] ?? ['_count', 'desc'];
        const sign = orderDir === 'asc' ? 1 : -1;
        const included = termFilter(body.include, true);
        const excluded = termFilter(body.exclude, false);
        const entries = [...groups].filter(([k, g]) => g.length >= minDocCount && included(k) && !excluded(k));
        // order by a sub-aggregation's value ("lat", "lat.value", "s.avg"), computed once per bucket
        const byMetric = orderKey !== '_key' && orderKey !== '_count' && orderKey !== undefined;
        const metric = new Map<string | number, number>();
        if (byMetric) {
          const [aggName, prop = 'value'] = orderKey.split(/[.>]/) as [string, string?];
          if (!sub || !(aggName in (sub as Agg)))
            throw new EsError(
              400,
              'aggregation_execution_exception',
              `Invalid aggregation order path [${orderKey}]. The provided aggregation [${aggName}] either does not exist, or is a pipeline aggregation and cannot be used to sort the buckets.`,
            );
          for (const [k, g] of entries) {
            const v = (aggregate({ [aggName]: (sub as Agg)[aggName] }, g as Hit[], ctx)[aggName] as Record<string, unknown>)[prop];
            metric.set(k, typeof v === 'number' ? v : sign > 0 ? Infinity : -Infinity);
          }
        }
        entries.sort((a, b) => {
          if (orderKey === '_key') return sign * (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
          const diff = byMetric ? sign * (metric.get(a[0])! - metric.get(b[0])!) || b[1].length - a[1].length : sign * (a[1].length - b[1].length);
          return diff !== 0 ? diff : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
        });
        const kept = entries.slice(0, size);
        const typed = (t: string) => (set ? matchedEngines(set).some((e) => e.field(field)?.type === t) : hits.some((h) => h.engine.field(field)?.type === t));
        const date = typed('date');
        const bool = typed('boolean');
        out[name] = {
          doc_count_error_upper_bound: 0,
          sum_other_doc_count: entries.slice(size).reduce((n, [, g]) => n + g.length, 0),
          // g is a Hit[] whenever there are sub-aggregations (a bare count only without them)
          buckets: kept.map(([k, g]) =>
            withSub(g as Hit[], {
              key: k,
              ...(date ? { key_as_string: formatDate(Number(k)) } : bool ? { key_as_string: k === 1 ? 'true' : 'false' } : {}),
              doc_count: g.length,
            }),
          ),
        };
        break;
      }
      case 'date_histogram':
      case 'histogram': {
        if (!field) throw parsingError(`Required [field] for ${type} aggregation [${name}]`);
        let floor: (v: number) => number;
        let next: (v: number) => number;
        /** Set while buckets are plain multiples of a width (floor is Math.floor(v / width) * width): counted inline. */
        let width: number | undefined;
        if (type === 'histogram') {
          const interval = Number(body.interval);
          if (!(interval > 0)) throw parsingError(`[interval] must be >0 for histogram aggregation [${name}]`);
          floor = (v) => Math.floor(v / interval) * interval;
          width = interval;
          next = (v) => v + interval;
        } else if (body.calendar_interval !== undefined) {
          const unit = CALENDAR[String(body.calendar_interval)];
          if (!unit)
            throw new EsError(
              400,
              'illegal_argument_exception',
              `The supplied calendar interval [${String(body.calendar_interval)}] could not be parsed as a calendar interval.`,
            );
          floor = (v) => calendarFloor(v, unit);
          next = (v) => calendarNext(v, unit);
        } else if (body.fixed_interval !== undefined) {
          const ms = fixedInterval(String(body.fixed_interval));
          floor = (v) => Math.floor(v / ms) * ms;
          width = ms;
          next = (v) => v + ms;
        } else if (body.interval !== undefined) {
          throw unsupported('date_histogram [interval] (deprecated): use fixed_interval or calendar_interval');
        } else throw new EsError(400, 'illegal_argument_exception', 'Invalid interval specified, must be non-null and non-empty');
        if (type === 'date_histogram' && body.offset !== undefined) {
          // buckets start at the interval boundary shifted by the offset ("+6h": days from 06:00)
          const o = String(body.offset);
          const sign = o.startsWith('-') ? -1 : 1;
          const ms = sign * fixedInterval(o.replace(/^[+-]/, ''));
          const [f0, n0] = [floor, next];
          floor = (v) => f0(v - ms) + ms;
          next = (v) => n0(v - ms) + ms;
        }
        let keyString = type === 'date_histogram' && body.format !== undefined ? javaDateFormatter(String(body.format)) : formatDate;
        if (type === 'date_histogram' && body.time_zone !== undefined) {
          // buckets start at local boundaries of the zone (local midnight for days); keys stay UTC instants
          const off = zoneOffset(String(body.time_zone), 'date_histogram');
          const [f0, n0] = [floor, next];
          floor = (v) => {
            const lf = f0(v + off(v));
            return lf - off(lf - off(v));
          };
          next = (k) => {
            const ln = n0(k + off(k));
            return ln - off(ln - off(k));
          };
          const fmt = body.format !== undefined ? javaDateFormatter(String(body.format)) : undefined;
          keyString = (k) => (fmt ? fmt(k + off(k)) : isoInZone(k, off(k)));
        }
        if (type === 'date_histogram' && (body.offset !== undefined || body.time_zone !== undefined)) width = undefined;
        const groups = set ? countBuckets(set, field, floor, width) : new Map<number, Hit[]>();
        if (!set) {
          const lists = groups as Map<number, Hit[]>;
          for (const h of hits) {
            for (const v of new Set(numericValues(h, field).map(floor))) {
              const g = lists.get(v);
              if (g) g.push(h);
              else lists.set(v, [h]);
            }
          }
        }
        const minDocCount = Number(body.min_doc_count ?? 0);
        let keys = [...groups.keys()].sort((a, b) => a - b);
        const bounds = body.extended_bounds as { min?: unknown; max?: unknown } | undefined;
        const toMs = (v: unknown) => (type === 'date_histogram' ? (typeof v === 'number' ? v : parseDate(v)) : Number(v));
        if (minDocCount === 0 && (keys.length > 0 || bounds)) {
          let lo = keys[0];
          let hi = keys[keys.length - 1];
          if (bounds?.min !== undefined) lo = Math.min(lo ?? Infinity, floor(toMs(bounds.min)!));
          if (bounds?.max !== undefined) hi = Math.max(hi ?? -Infinity, floor(toMs(bounds.max)!));
          const filled: number[] = [];
          for (let k = lo!; k <= hi! && filled.length < 100_000; k = next(k)) filled.push(k);
          keys = filled;
        }
        const hard = body.hard_bounds as { min?: unknown; max?: unknown } | undefined;
        if (hard) keys = keys.filter((k) => (hard.min === undefined || k >= floor(toMs(hard.min)!)) && (hard.max === undefined || k < toMs(hard.max)!));
        const buckets = keys
          .map((k) => ({ k, g: groups.get(k) ?? [] }))
          .filter(({ g }) => g.length >= minDocCount)
          .map(({ k, g }) => withSub(g as Hit[], { ...(type === 'date_histogram' ? { key_as_string: keyString(k) } : {}), key: k, doc_count: g.length }));
        out[name] = { buckets };
        break;
      }
      case 'cardinality': {
        if (!field) throw parsingError(`Required [field] for cardinality aggregation [${name}]`);
        const set = new Set<string | number>();
        for (const h of hits) for (const v of keyValues(h, field)) set.add(v);
        out[name] = { value: set.size };
        break;
      }
      case 'value_count': {
        if (!field) throw parsingError(`Required [field] for value_count aggregation [${name}]`);
        let n = 0;
        for (const h of hits) n += keyValues(h, field).length;
        out[name] = { value: n };
        break;
      }
      case 'min':
      case 'max':
      case 'avg':
      case 'sum':
      case 'stats': {
        if (!field) throw parsingError(`Required [field] for ${type} aggregation [${name}]`);
        const engines = set ? matchedEngines(set) : undefined;
        const mapped = engines ? engines.find((e) => e.field(field)) : hits.find((h) => h.engine.field(field))?.engine;
        const kind = kindOf(mapped?.field(field)?.type ?? 'long');
        if (kind !== 'number' && kind !== 'date')
          throw new EsError(
            400,
            'illegal_argument_exception',
            `Field [${field}] of type [${(engines ? engines[0] : hits[0]?.engine)?.field(field)?.type}] is not supported for aggregation [${type}]`,
          );
        const vals = set ? minMaxOnBits(set, field) : hits.flatMap((h) => numericValues(h, field));
        const sum = vals.reduce((a, b) => a + b, 0);
        const min = vals.length ? minOf(vals) : null;
        const max = vals.length ? maxOf(vals) : null;
        const date = kind === 'date';
        const withStr = (v: number | null) => (date && v !== null ? { value: v, value_as_string: formatDate(v) } : { value: v });
        if (type === 'min') out[name] = withStr(min);
        else if (type === 'max') out[name] = withStr(max);
        else if (type === 'avg') out[name] = withStr(vals.length ? sum / vals.length : null);
        else if (type === 'sum') out[name] = withStr(sum);
        else {
          const avg = vals.length ? sum / vals.length : null;
          out[name] = {
            count: vals.length,
            min,
            max,
            avg,
            sum,
            ...(date && vals.length
              ? { min_as_string: formatDate(min!), max_as_string: formatDate(max!), avg_as_string: formatDate(avg!), sum_as_string: formatDate(sum) }
              : {}),
          };
        }
        break;
      }
      case 'range':
      case 'date_range': {
        if (!field) throw parsingError(`Required [field] for ${type} aggregation [${name}]`);
        if (!Array.isArray(body.ranges) || body.ranges.length === 0)
          throw new EsError(400, 'illegal_argument_exception', `No [ranges] specified for the [${name}] aggregation`);
        const date = type === 'date_range' || isDateField(hits, field);
        const fmtName = (body.format as string | undefined) ?? (hits.find((h) => h.engine.field(field))?.engine.field(field)?.format as string | undefined);
        const show = date ? (fmtName ? javaDateFormatter(fmtName.split('||')[0]!) : formatDate) : javaDouble;
        const bound = (v: unknown, up: boolean): number | undefined => {
          if (v === undefined || v === null) return undefined;
          if (date) return typeof v === 'number' ? v : resolveDate(v, ctx.now, up, body.format as string | undefined);
          const n = Number(v);
          if (!Number.isFinite(n)) throw new EsError(400, 'number_format_exception', `For input string: "${String(v)}"`);
          return n;
        };
        const ranges: Range[] = (body.ranges as Agg[]).map((r) => ({
          ...(r.key !== undefined ? { key: String(r.key) } : {}),
          from: bound(r.from, false),
          to: bound(r.to, false),
        }));
        // as Elasticsearch: buckets in order of (from, to), unbounded first
        ranges.sort((a, b) => (a.from ?? -Infinity) - (b.from ?? -Infinity) || (a.to ?? Infinity) - (b.to ?? Infinity));
        const buckets = ranges.map((r) => {
          const g = hits.filter((h) => numericValues(h, field).some((v) => (r.from === undefined || v >= r.from) && (r.to === undefined || v < r.to)));
          const key = r.key ?? `${r.from === undefined ? '*' : show(r.from)}-${r.to === undefined ? '*' : show(r.to)}`;
          const b: Record<string, unknown> = { key };
          if (r.from !== undefined) Object.assign(b, { from: r.from }, date ? { from_as_string: show(r.from) } : {});
          if (r.to !== undefined) Object.assign(b, { to: r.to }, date ? { to_as_string: show(r.to) } : {});
          b.doc_count = g.length;
          return withSub(g, b);
        });
        if (body.keyed === true) out[name] = { buckets: Object.fromEntries(buckets.map(({ key, ...rest }) => [key as string, rest])) };
        else out[name] = { buckets };
        break;
      }
      case 'rare_terms': {
        if (!field) throw parsingError(`Required [field] for rare_terms aggregation [${name}]`);
        const maxCount = Number(body.max_doc_count ?? 1);
        if (!(maxCount >= 1 && maxCount <= 100))
          throw new EsError(400, 'illegal_argument_exception', `[max_doc_count] must be greater than 0 and at most 100, found [${String(body.max_doc_count)}]`);
        const groups = new Map<string | number, Hit[]>();
        for (const h of hits) for (const v of new Set(keyValues(h, field))) (groups.get(v) ?? groups.set(v, []).get(v)!).push(h);
        const included = termFilter(body.include, true);
        const excluded = termFilter(body.exclude, false);
        const rare = [...groups].filter(([k, g]) => g.length <= maxCount && included(k) && !excluded(k));
        // as Elasticsearch: the rarest first, then by key
        rare.sort((a, b) => a[1].length - b[1].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        const date = isDateField(hits, field);
        out[name] = { buckets: rare.map(([k, g]) => withSub(g, { key: k, ...(date ? { key_as_string: formatDate(Number(k)) } : {}), doc_count: g.length })) };
        break;
      }
      case 'significant_terms': {
        if (!field) throw parsingError(`Required [field] for significant_terms aggregation [${name}]`);
        // the background is every document of the indices searched; the foreground the bucket's hits
        const engines = new Map<IndexEngine, string>();
        for (const h of hits) engines.set(h.engine, h.index);
        const bg = new Map<string | number, number>();
        let bgCount = 0;
        for (const [engine, index] of engines) {
          for (const doc of engine.allDocs()) {
            bgCount++;
            for (const v of new Set(keyValues({ engine, index, doc, score: 0 }, field))) bg.set(v, (bg.get(v) ?? 0) + 1);
          }
        }
        const fg = new Map<string | number, Hit[]>();
        for (const h of hits) for (const v of new Set(keyValues(h, field))) (fg.get(v) ?? fg.set(v, []).get(v)!).push(h);
        const minDocCount = Number(body.min_doc_count ?? 3);
        const size = Number(body.size ?? 10);
        const fgCount = hits.length;
        // JLH, Elasticsearch's default heuristic: (fg% - bg%) * (fg% / bg%), only where the term is more common in the foreground
        const scored = [...fg].flatMap(([k, g]) => {
          const fgPct = g.length / fgCount;
          const bgPct = (bg.get(k) ?? 0) / bgCount;
          if (g.length < minDocCount || bgPct === 0 || fgPct <= bgPct) return [];
          return [{ k, g, score: (fgPct - bgPct) * (fgPct / bgPct) }];
        });
        scored.sort((a, b) => b.score - a.score || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
        out[name] = {
          doc_count: fgCount,
          bg_count: bgCount,
          buckets: scored.slice(0, size).map(({ k, g, score }) => withSub(g, { key: k, doc_count: g.length, score, bg_count: bg.get(k) ?? 0 })),
        };
        break;
      }
      case 'ip_range': {
        if (!field) throw parsingError(`Required [field] for ip_range aggregation [${name}]`);
        if (!Array.isArray(body.ranges) || body.ranges.length === 0)
          throw new EsError(400, 'illegal_argument_exception', `No [ranges] specified for the [${name}] aggregation`);
        const key = (v: unknown) => {
          const k = ipSortKey(String(v));
          if (k === undefined) throw new EsError(400, 'illegal_argument_exception', `'${String(v)}' is not an IP string literal.`);
          return k;
        };
        const plusOne = (k: string) => (BigInt(`0x${k}`) + 1n).toString(16).padStart(32, '0');
        const ranges = (body.ranges as Agg[]).map((r) => {
          if (r.mask !== undefined) {
            const c = cidrRange(String(r.mask));
            if (!c) throw new EsError(400, 'illegal_argument_exception', `Expected [ip/prefix] but was [${String(r.mask)}]`);
            return { key: r.key !== undefined ? String(r.key) : String(r.mask), from: c[0], to: plusOne(c[1]) };
          }
          const from = r.from !== undefined && r.from !== null ? key(r.from) : undefined;
          const to = r.to !== undefined && r.to !== null ? key(r.to) : undefined;
          return { key: r.key !== undefined ? String(r.key) : `${from ? formatIp(from) : '*'}-${to ? formatIp(to) : '*'}`, from, to };
        });
        ranges.sort((a, b) => (a.from ?? '').localeCompare(b.from ?? '') || (a.to ?? 'g').localeCompare(b.to ?? 'g'));
        const buckets = ranges.map((r) => {
          const g = hits.filter((h) => h.engine.ipsOf(field, h.doc).some((v) => (r.from === undefined || v >= r.from) && (r.to === undefined || v < r.to)));
          return withSub(g, { key: r.key, ...(r.from ? { from: formatIp(r.from) } : {}), ...(r.to ? { to: formatIp(r.to) } : {}), doc_count: g.length });
        });
        out[name] = body.keyed === true ? { buckets: Object.fromEntries(buckets.map(({ key: k, ...rest }) => [k as string, rest])) } : { buckets };
        break;
      }
      case 'extended_stats': {
        if (!field) throw parsingError(`Required [field] for extended_stats aggregation [${name}]`);
        const vals = hits.flatMap((h) => numericValues(h, field));
        const sigma = Number(body.sigma ?? 2);
        const n = vals.length;
        const sum = vals.reduce((a, b) => a + b, 0);
        const sq = vals.reduce((a, b) => a + b * b, 0);
        const avg = n ? sum / n : null;
        const vp = n ? Math.max(0, (sq - (sum * sum) / n) / n) : null;
        const vs = n > 1 ? Math.max(0, (sq - (sum * sum) / n) / (n - 1)) : n === 1 ? 0 : null;
        const sdp = vp === null ? null : Math.sqrt(vp);
        const sds = vs === null ? null : Math.sqrt(vs);
        const b = (sd: number | null, s: number) => (avg === null || sd === null ? null : avg + s * sigma * sd);
        out[name] = {
          count: n,
          min: n ? minOf(vals) : null,
          max: n ? maxOf(vals) : null,
          avg,
          sum,
          sum_of_squares: n ? sq : null,
          variance: vp,
          variance_population: vp,
          variance_sampling: vs,
          std_deviation: sdp,
          std_deviation_population: sdp,
          std_deviation_sampling: sds,
          std_deviation_bounds: {
            upper: b(sdp, 1),
            lower: b(sdp, -1),
            upper_population: b(sdp, 1),
            lower_population: b(sdp, -1),
            upper_sampling: b(sds, 1),
            lower_sampling: b(sds, -1),
          },
        };
        break;
      }
      case 'percentiles': {
        if (!field) throw parsingError(`Required [field] for percentiles aggregation [${name}]`);
        const percents = (body.percents as unknown[] | undefined)?.map(Number) ?? [1, 5, 25, 50, 75, 95, 99];
        if (percents.some((p) => !(p >= 0 && p <= 100)))
          throw new EsError(400, 'illegal_argument_exception', `percent must be in [0,100], got [${percents.find((p) => !(p >= 0 && p <= 100))}]`);
        const sorted = hits.flatMap((h) => numericValues(h, field)).sort((a, b) => a - b);
        const values = percents.map((p) => [p, percentile(sorted, p)] as const);
        out[name] = {
          values: body.keyed === false ? values.map(([key, value]) => ({ key, value })) : Object.fromEntries(values.map(([p, v]) => [javaDouble(p), v])),
        };
        break;
      }
      case 'composite': {
        const sources = body.sources;
        if (!Array.isArray(sources) || sources.length === 0)
          throw new EsError(400, 'illegal_argument_exception', `Composite [sources] cannot be null or empty`);
        const size = Number(body.size ?? 10);
        // each source: its name, how it reads one doc's keys, its order and whether a doc without a value is a null key
        const srcs = (sources as Agg[]).map((src) => {
          const [sname, def] = Object.entries(src)[0] as [string, Agg];
          const [stype, sb] = Object.entries(def)[0] as [string, Agg];
          const f = String(sb.field);
          let keysOf: (h: Hit) => (string | number)[];
          if (stype === 'terms') keysOf = (h) => [...new Set(keyValues(h, f))];
          else if (stype === 'histogram') {
            const iv = Number(sb.interval);
            keysOf = (h) => [...new Set(numericValues(h, f).map((v) => Math.floor(v / iv) * iv))];
          } else if (stype === 'date_histogram') {
            aggregate({ x: { date_histogram: { ...sb, min_doc_count: 1 } } }, [], ctx); // the interval's errors, as a date_histogram gives them
            const unit = sb.calendar_interval !== undefined ? CALENDAR[String(sb.calendar_interval)] : undefined;
            const ms = sb.fixed_interval !== undefined ? fixedInterval(String(sb.fixed_interval)) : undefined;
            keysOf = (h) => [...new Set(numericValues(h, f).map((v) => (unit ? calendarFloor(v, unit) : Math.floor(v / ms!) * ms!)))];
          } else throw unsupported(`composite source [${stype}]`);
          return { sname, keysOf, desc: sb.order === 'desc', missingBucket: sb.missing_bucket === true };
        });
        const groups = new Map<string, { key: unknown[]; hits: Hit[] }>();
        for (const h of hits) {
          let combos: unknown[][] = [[]];
          for (const s2 of srcs) {
            const ks: unknown[] = s2.keysOf(h);
            if (ks.length === 0) {
              if (!s2.missingBucket) {
                combos = [];
                break;
              }
              ks.push(null);
            }
            combos = combos.flatMap((c) => ks.map((k) => [...c, k]));
          }
          for (const c of combos) {
            const id = JSON.stringify(c);
            const g = groups.get(id);
            if (g) g.hits.push(h);
            else groups.set(id, { key: c, hits: [h] });
          }
        }
        const cmp = (a: unknown[], b: unknown[]) => {
          for (let i = 0; i < srcs.length; i++) {
            const c = compareKeys(a[i], b[i]);
            if (c !== 0) return srcs[i]!.desc ? -c : c;
          }
          return 0;
        };
        let list = [...groups.values()].sort((a, b) => cmp(a.key, b.key));
        if (body.after !== undefined) {
          const after = srcs.map((s2) => (body.after as Agg)[s2.sname] ?? null);
          list = list.filter((g) => cmp(g.key, after) > 0);
        }
        const page = list.slice(0, size);
        const keyObj = (k: unknown[]) => Object.fromEntries(srcs.map((s2, i) => [s2.sname, k[i]]));
        out[name] = {
          ...(page.length > 0 ? { after_key: keyObj(page[page.length - 1]!.key) } : {}),
          buckets: page.map((g) => withSub(g.hits, { key: keyObj(g.key), doc_count: g.hits.length })),
        };
        break;
      }
      case 'top_hits':
        out[name] = ctx.topHits(hits, body);
        break;
      case 'filter': {
        const keep = filterHits(hits, body, ctx.now);
        out[name] = withSub(keep, { doc_count: keep.length });
        break;
      }
      case 'filters': {
        const filters = body.filters as Record<string, unknown> | unknown[];
        const evalOne = (f: unknown) => filterHits(hits, f, ctx.now);
        if (Array.isArray(filters))
          out[name] = {
            buckets: filters.map((f) => {
              const g = evalOne(f);
              return withSub(g, { doc_count: g.length });
            }),
          };
        else
          out[name] = {
            buckets: Object.fromEntries(
              Object.entries(filters ?? {}).map(([k, f]) => {
                const g = evalOne(f);
                return [k, withSub(g, { doc_count: g.length })];
              }),
            ),
          };
        break;
      }
      case 'missing': {
        if (!field) throw parsingError(`Required [field] for missing aggregation [${name}]`);
        const keep = hits.filter((h) => keyValuesOrNone(h, field).length === 0);
        out[name] = withSub(keep, { doc_count: keep.length });
        break;
      }
      default:
        if (ES_AGGREGATIONS.has(type)) throw unsupported(`aggregation [${type}]`);
        throw parsingError(`Unknown aggregation type [${type}]`, {
          caused_by: { type: 'named_object_not_found_exception', reason: `[1:1] unknown field [${type}]` },
        });
    }
    const produced = (out[name] as { buckets?: unknown } | undefined)?.buckets;
    if (sub && Array.isArray(produced)) applyParentPipelines(produced as Record<string, unknown>[], sub as Agg);
  }
  for (const [name, raw] of Object.entries(specs as Record<string, unknown>)) {
    const type = typeOf(raw as Agg);
    if (type && SIBLING_PIPELINES.has(type)) out[name] = siblingPipeline(type, (raw as Agg)[type] as Agg, out, specs as Agg);
  }
  return out;
}
