import type { estypes } from '@elastic/elasticsearch';
import { EVENT_KINDS } from '@jwt-audit/events';

/**
 * The Search page's parameters, read from a URL's query string as an attacker would send them:
 * every value bounded and checked, every problem named by its parameter, nothing passed on to
 * Elasticsearch that was not checked. The query box takes the same query string syntax as
 * `audit search` (Elasticsearch's query_string, AND between terms).
 */

export const RANGE_PRESETS = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export type RangePreset = keyof typeof RANGE_PRESETS | 'all' | 'custom';
export const OUTCOMES = ['success', 'failure', 'unknown'] as const;
/** ECS event.action values: the event kinds with dots as hyphens (packages/ecs). */
export const ACTIONS = EVENT_KINDS.map((k) => k.replace(/\./g, '-'));

export interface SearchParams {
  q: string;
  range: RangePreset;
  /** epoch ms, inclusive; undefined = unbounded */
  from: number | undefined;
  to: number | undefined;
  outcome: string | undefined;
  action: string | undefined;
  route: string | undefined;
  subject: string | undefined;
  client: string | undefined;
  size: number;
  page: number;
}

export interface ParamError {
  param: string;
  message: string;
}

const MAX_QUERY = 2_000;
const MAX_VALUE = 256;
export const PAGE_SIZES = [25, 50, 100, 200];
/** Elasticsearch's index.max_result_window: from + size may not pass it. */
const MAX_WINDOW = 10_000;
const DATE_LIMIT = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z: what Elasticsearch can index

/** ISO 8601 or epoch ms -> epoch ms; undefined if it is neither or outside what can be indexed. */
export function parseTime(v: string): number | undefined {
  const s = v.trim();
  if (/^\d{1,16}$/.test(s)) {
    const n = Number(s);
    return n <= DATE_LIMIT ? n : undefined;
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?)?$/.exec(s);
  if (!m) return undefined;
  // Date.parse takes 2026-02-30 for March 2nd: every part is checked against its range first
  const [y, mo, d, h = '0', mi = '0', se = '0', oh = '0', om = '0'] = m.slice(1).map((x) => x ?? undefined) as string[];
  const daysIn = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (
    Number(mo) < 1 ||
    Number(mo) > 12 ||
    Number(d) < 1 ||
    Number(d) > daysIn ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(se) > 59 ||
    Number(oh) > 23 ||
    Number(om) > 59
  )
    return undefined;
  const n = Date.parse(s);
  return Number.isFinite(n) && n >= 0 && n <= DATE_LIMIT ? n : undefined;
}

/** Control characters but tab and line breaks (a pasted query may hold those). */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** One value of a parameter, trimmed; undefined when absent or blank; each problem pushed naming it. `control`: the characters refused. */
export function text(p: URLSearchParams, name: string, errors: ParamError[], max = MAX_VALUE, control: RegExp = CONTROL): string | undefined {
  const all = p.getAll(name);
  if (all.length > 1) errors.push({ param: name, message: 'given more than once' });
  const v = all[0];
  if (v === undefined || v.trim() === '') return undefined;
  if (v.length > max) errors.push({ param: name, message: `longer than ${max} characters` });
  // control characters have no place in a query; NUL in particular breaks the index's parsers
  else if (control.test(v)) errors.push({ param: name, message: 'contains control characters' });
  else return v.trim();
  return undefined;
}

/** A whole number parameter (up to 6 digits) that `ok` accepts, else `dflt` and a problem naming it. */
export function intParam(p: URLSearchParams, name: string, errors: ParamError[], dflt: number, ok: (n: number) => boolean, expect: string): number {
  const v = text(p, name, errors);
  if (v === undefined) return dflt;
  const n = /^\d{1,6}$/.test(v) ? Number(v) : NaN;
  if (!ok(n)) {
    errors.push({ param: name, message: expect });
    return dflt;
  }
  return n;
}

export function parseSearchParams(p: URLSearchParams, now: number): { ok: true; params: SearchParams } | { ok: false; errors: ParamError[] } {
  const errors: ParamError[] = [];
  const q = text(p, 'q', errors, MAX_QUERY) ?? '';
  const rangeRaw = text(p, 'range', errors) ?? '24h';
  let range: RangePreset = '24h';
  let from: number | undefined;
  let to: number | undefined;
  const fromRaw = text(p, 'from', errors);
  const toRaw = text(p, 'to', errors);
  if (fromRaw !== undefined || toRaw !== undefined) {
    range = 'custom';
    if (fromRaw !== undefined) {
      from = parseTime(fromRaw);
      if (from === undefined) errors.push({ param: 'from', message: 'expected an ISO 8601 time (2026-01-31T12:00:00Z) or epoch milliseconds' });
    }
    if (toRaw !== undefined) {
      to = parseTime(toRaw);
      if (to === undefined) errors.push({ param: 'to', message: 'expected an ISO 8601 time (2026-01-31T12:00:00Z) or epoch milliseconds' });
    }
    if (from !== undefined && to !== undefined && from > to) errors.push({ param: 'from', message: 'is after to' });
  } else if (rangeRaw === 'all') range = 'all';
  else if (Object.hasOwn(RANGE_PRESETS, rangeRaw)) {
    range = rangeRaw as RangePreset;
    from = now - RANGE_PRESETS[rangeRaw as keyof typeof RANGE_PRESETS];
    to = now;
  } else errors.push({ param: 'range', message: `expected one of ${[...Object.keys(RANGE_PRESETS), 'all'].join(', ')}, or from/to` });
  const oneOf = (name: string, allowed: readonly string[]) => {
    const v = text(p, name, errors);
    if (v !== undefined && !allowed.includes(v)) {
      errors.push({ param: name, message: `expected one of ${allowed.join(', ')}` });
      return undefined;
    }
    return v;
  };
  const outcome = oneOf('outcome', OUTCOMES);
  const action = oneOf('kind', ACTIONS);
  const route = text(p, 'route', errors);
  const subject = text(p, 'subject', errors);
  const client = text(p, 'client', errors);
  const int = (name: string, dflt: number, ok: (n: number) => boolean, expect: string) => intParam(p, name, errors, dflt, ok, expect);
  const size = int('size', 50, (n) => PAGE_SIZES.includes(n), `expected one of ${PAGE_SIZES.join(', ')}`);
  const page = int('page', 1, (n) => Number.isInteger(n) && n >= 1, 'expected a page number from 1');
  if (page * size > MAX_WINDOW) errors.push({ param: 'page', message: `only the first ${MAX_WINDOW} matches can be paged through: narrow the search` });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, params: { q, range, from, to, outcome, action, route, subject, client, size, page } };
}

/** The Elasticsearch query of a search: the same query_string as `audit search`, plus the filters. */
export function searchQuery(s: SearchParams): estypes.QueryDslQueryContainer {
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (s.from !== undefined || s.to !== undefined)
    filter.push({
      range: { '@timestamp': { ...(s.from !== undefined ? { gte: s.from } : {}), ...(s.to !== undefined ? { lte: s.to } : {}), format: 'epoch_millis' } },
    });
  if (s.outcome) filter.push({ term: { 'event.outcome': s.outcome } });
  if (s.action) filter.push({ term: { 'event.action': s.action } });
  if (s.route) filter.push({ term: { 'jwt_audit.route': s.route } });
  if (s.subject) filter.push({ term: { 'user.id': s.subject } });
  if (s.client) filter.push({ term: { 'jwt_audit.token.client_id': s.client } });
  const must: estypes.QueryDslQueryContainer[] = s.q ? [{ query_string: { query: s.q, default_operator: 'AND' } }] : [];
  return { bool: { must, filter } };
}

const NICE_INTERVALS = [
  1_000,
  5_000,
  10_000,
  30_000,
  60_000,
  300_000,
  600_000,
  1_800_000,
  3_600_000,
  3 * 3_600_000,
  6 * 3_600_000,
  12 * 3_600_000,
  86_400_000,
  7 * 86_400_000,
  30 * 86_400_000,
];

/** A bucket width giving at most about `buckets` bars over the span, snapped to a readable one. */
export function histogramInterval(spanMs: number, buckets = 80): number {
  const raw = Math.max(1, spanMs) / buckets;
  return NICE_INTERVALS.find((i) => i >= raw) ?? NICE_INTERVALS[NICE_INTERVALS.length - 1]!;
}

/** The parameters as a query string (for links: the page, a brushed range, a filter removed). */
export function searchHref(s: SearchParams, change: Partial<SearchParams> = {}): string {
  const v = { ...s, ...change };
  const p = new URLSearchParams();
  if (v.q) p.set('q', v.q);
  if (v.range === 'custom') {
    if (v.from !== undefined) p.set('from', new Date(v.from).toISOString());
    if (v.to !== undefined) p.set('to', new Date(v.to).toISOString());
  } else p.set('range', v.range);
  if (v.outcome) p.set('outcome', v.outcome);
  if (v.action) p.set('kind', v.action);
  if (v.route) p.set('route', v.route);
  if (v.subject) p.set('subject', v.subject);
  if (v.client) p.set('client', v.client);
  if (v.size !== 50) p.set('size', String(v.size));
  if (v.page !== 1) p.set('page', String(v.page));
  return `/search?${p.toString()}`;
}
