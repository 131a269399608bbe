import type { DiffRequest, RecordedResponse } from './format.js';

/** Paths that differ between any two nodes: timings, shard counts, scores, sequence numbers. */
export const DEFAULT_IGNORES = [
  'took',
  'timed_out',
  '_shards',
  'hits.max_score',
  'hits.hits.*._score',
  'items.*.*._shards',
  'items.*.*._seq_no',
  'items.*.*._primary_term',
  '_shards',
  '_seq_no',
  '_primary_term',
  'error.root_cause',
];

/** Replaces {{name}} in a request's path and body strings with values captured from earlier answers of its case. */
export function substitute(req: DiffRequest, vars: Map<string, string>): DiffRequest {
  if (vars.size === 0) return req;
  const fill = (s: string) => s.replace(/\{\{(\w+)\}\}/g, (m, name: string) => vars.get(name) ?? m);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return fill(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { ...req, path: fill(req.path), ...(req.body !== undefined ? { body: walk(req.body) } : {}) };
}

/** Keeps the values a request's `capture` names (a PIT id, a scroll id) for the next requests of its case. */
export function capture(req: DiffRequest, res: RecordedResponse, vars: Map<string, string>): void {
  for (const [name, p] of Object.entries(req.capture ?? {})) {
    let v: unknown = res.body;
    for (const part of p.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    if (typeof v === 'string') vars.set(name, v);
  }
}

export async function send(baseUrl: string, req: DiffRequest): Promise<RecordedResponse> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (req.body !== undefined) {
    if (req.ndjson && typeof req.body === 'string') {
      body = req.body;
      headers['content-type'] = 'application/x-ndjson';
    } else if (req.ndjson) {
      body = (req.body as unknown[]).map((l) => JSON.stringify(l)).join('\n') + '\n';
      headers['content-type'] = 'application/x-ndjson';
    } else {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
  }
  const res = await fetch(baseUrl + req.path, { method: req.method, headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, body: parsed };
}

function dropPath(value: unknown, parts: string[]): void {
  if (value === null || typeof value !== 'object' || parts.length === 0) return;
  const [head, ...rest] = parts as [string, ...string[]];
  const obj = value as Record<string, unknown>;
  const keys = head === '*' ? Object.keys(obj) : [head];
  for (const k of keys) {
    if (!(k in obj)) continue;
    if (rest.length === 0) delete obj[k];
    else dropPath(obj[k], rest);
  }
}

/** Masks the date in backing index names (.ds-<stream>-2026.12.03-000001): the day differs per run. */
function maskDates(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/^(\.ds-.+-)\d{4}\.\d{2}\.\d{2}(-\d{6})$/, '$1<date>$2');
  if (Array.isArray(value)) return value.map(maskDates);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[maskDates(k) as string] = maskDates(v);
    return out;
  }
  return value;
}

/** Error objects inside a 200 (bulk items, mget docs) compare by type: reasons are prose, uuids differ. */
function dropErrorProse(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  const o = value as Record<string, unknown>;
  if (typeof o.type === 'string' && typeof o.reason === 'string') {
    for (const k of ['reason', 'root_cause', 'index_uuid', 'stack_trace']) delete o[k];
  }
  for (const v of Object.values(o)) dropErrorProse(v);
}

export function normalize(req: DiffRequest, res: RecordedResponse): unknown {
  if (res.status >= 400) {
    const err = (res.body as { error?: { type?: unknown } } | null)?.error;
    return { status: res.status, errorType: typeof err === 'object' && err !== null ? err.type : err };
  }
  const body = maskDates(structuredClone(res.body));
  for (const p of [...DEFAULT_IGNORES, ...(req.ignore ?? [])]) dropPath(body, p.split('.'));
  // an async search wraps a search answer in `response`
  const inner = (body as { response?: unknown } | null)?.response;
  if (inner !== null && typeof inner === 'object') for (const p of DEFAULT_IGNORES) dropPath(inner, p.split('.'));
  // each answer of an _msearch is a search answer of its own (its errors compared by type)
  const responses = (body as { responses?: unknown[] } | null)?.responses;
  if (Array.isArray(responses)) {
    (body as { responses: unknown[] }).responses = responses.map((r) => {
      const item = r as { status?: number; error?: { type?: unknown } };
      if (typeof item.status === 'number' && item.status >= 400) return { status: item.status, errorType: item.error?.type };
      for (const p of DEFAULT_IGNORES) dropPath(item, p.split('.'));
      return item;
    });
  }
  dropErrorProse(body);
  const hits = (body as { hits?: { hits?: { _id?: string }[] } } | null)?.hits?.hits;
  if (req.unordered && Array.isArray(hits)) hits.sort((a, b) => String(a._id).localeCompare(String(b._id)));
  return { status: res.status, body };
}

/** The first difference found, as a path and the two values, or undefined when they agree. */
export function firstDifference(a: unknown, b: unknown, path = ''): { path: string; expected: unknown; actual: unknown } | undefined {
  if (a === b) return undefined;
  if (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a))) return undefined;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) {
    return { path: path || '.', expected: a, actual: b };
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) {
    return { path: `${path}.length`, expected: a.length, actual: b.length };
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    if (d) return d;
  }
  return undefined;
}

/** Classifies a difference for the known-differences list and the README counts. */
export function kindOf(path: string, expected: unknown, actual: unknown): string {
  if (path === 'status') return `status ${String(expected)} vs ${String(actual)}`;
  if (path === 'errorType') return 'error type';
  if (path.startsWith('body.hits.total')) return 'hit count';
  if (path.startsWith('body.hits.hits')) return 'hits or order';
  if (path.startsWith('body.aggregations')) return 'aggregation result';
  if (path.startsWith('body.count')) return 'hit count';
  return 'response body';
}
