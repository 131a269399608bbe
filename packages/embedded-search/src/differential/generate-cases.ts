/**
 * Generates the corpus's requests from combinations of what this project sends: the audit events
 * template and ILM policy (schemas/elasticsearch), the fields `audit search` and the Kibana saved
 * searches filter on, and the query / sort / aggregation shapes they use. Deterministic: the
 * same suites every run, so the recorder's output only changes when a generator or Elasticsearch does.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DiffCase, DiffRequest, DiffSuite } from './format.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const schema = (f: string): unknown => JSON.parse(readFileSync(path.join(repo, 'schemas/elasticsearch', f), 'utf8'));

const STREAM = 'logs-audit.events-diff';
const S = `/${STREAM}`;

const actions = ['token.issued', 'token.validated', 'token.rejected', 'token.refreshed', 'token.revoked', 'http.request'];
const users = ['alice', 'bob', 'carol', 'dave', undefined];
const ips = ['10.0.0.1', '10.0.3.7', '192.168.1.20', '2001:db8::1', '172.16.5.4'];
const methods = ['GET', 'POST', 'DELETE'];
const statuses = [200, 201, 401, 403, 500];
const paths = ['/api/orders', '/api/users/42', '/login', '/api/orders/7/items'];

/** 60 events, one every 97 minutes from 2026-11-20T00:00Z, fields cycling at co-prime periods. */
export function documents(): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  const t0 = Date.parse('2026-11-20T00:00:00Z');
  for (let i = 0; i < 60; i++) {
    const user = users[i % 5];
    const action = actions[i % 6]!;
    const outcome = action === 'token.rejected' || i % 7 === 0 ? 'failure' : 'success';
    const status = statuses[i % 5]!;
    const doc: Record<string, unknown> = {
      '@timestamp': new Date(t0 + i * 97 * 60_000).toISOString(),
      message: `${user ?? 'anonymous'} ${methods[i % 3]} ${paths[i % 4]} ${outcome === 'failure' ? 'rejected' : 'accepted'} ${status}`,
      event: { id: `e-${String(i).padStart(3, '0')}`, kind: 'event', action, outcome, duration: (i * 7919) % 100_000, ...(i % 4 === 0 ? { reason: i % 8 === 0 ? 'expired' : 'bad_signature' } : {}) },
      source: { ip: ips[i % 5] },
      http: { request: { method: methods[i % 3] }, response: { status_code: status } },
      url: { path: paths[i % 4] },
      audit: { latency_ms: Math.round(((i * 37) % 250) * 1.25 * 100) / 100, lifetime_exceeds_policy: i % 3 === 0 },
      service: { name: i % 2 === 0 ? 'orders' : 'users' },
      jwt: { scopes: i % 3 === 0 ? ['read', 'write'] : ['read'], alg: i % 9 === 0 ? 'HS256' : 'RS256' },
    };
    if (user) doc.user = { id: user, roles: i % 2 === 0 ? ['admin', 'user'] : ['user'] };
    docs.push(doc);
  }
  return docs;
}

const search = (body: Record<string, unknown>, extra: Partial<DiffRequest> = {}): DiffRequest => ({
  method: 'POST',
  path: `${S}/_search`,
  body: { size: 100, ...body },
  ...extra,
});
/** A query alone: no order is defined (scores differ by design), so hits compare as a set. */
const q = (id: string, query: unknown): DiffCase => ({ id, requests: [search({ query, _source: false }, { unordered: true })] });

function setupSuite(): DiffCase[] {
  const bulk: unknown[] = [];
  for (const d of documents()) bulk.push({ create: { _id: (d.event as { id: string }).id } }, d);
  return [
    { id: 'setup/ilm', requests: [{ method: 'PUT', path: '/_ilm/policy/logs-audit', body: schema('ilm-logs-audit.json') }] },
    { id: 'setup/template-events', requests: [{ method: 'PUT', path: '/_index_template/logs-audit.events', body: schema('template-logs-jwt_audit.events.json') }] },
    { id: 'setup/template-alerts', requests: [{ method: 'PUT', path: '/_index_template/logs-audit.alerts', body: schema('template-logs-jwt_audit.alerts.json') }] },
    { id: 'setup/bulk-60', requests: [{ method: 'POST', path: `${S}/_bulk?refresh=true`, body: bulk, ndjson: true, ignore: ['items.*.*._version'] }] },
  ];
}

function queryCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const termValues: Record<string, unknown[]> = {
    'event.action': ['token.rejected', 'token.issued', 'nope'],
    'user.id': ['alice', 'Alice', 'bob'],
    'user.roles': ['admin', 'user'],
    'event.outcome': ['failure'],
    'http.response.status_code': [401, '401', 404],
    'http.request.method': ['GET', 'get'],
    'source.ip': ['10.0.0.1', '10.0.0.0/16', '2001:db8::1', 'not-an-ip'],
    'audit.lifetime_exceeds_policy': [true, 'true', 'yes'],
    'audit.latency_ms': [0, 46.25],
    'event.duration': ['abc', 7919],
    'url.path': ['/api/orders'],
    message: ['alice', 'rejected', 'Alice GET'],
    '@timestamp': ['2026-11-20', '2026-11-20T00:00:00Z'],
  };
  for (const [field, values] of Object.entries(termValues)) {
    for (const v of values) {
      out.push(q(`query/term/${field}=${String(v)}`, { term: { [field]: v } }));
      out.push(q(`query/match/${field}=${String(v)}`, { match: { [field]: v } }));
      out.push(q(`query/match_phrase/${field}=${String(v)}`, { match_phrase: { [field]: v } }));
    }
    out.push(q(`query/terms/${field}`, { terms: { [field]: values } }));
    out.push(q(`query/exists/${field}`, { exists: { field } }));
  }
  for (const field of ['event.reason', 'user.id', 'nonexistent.field']) out.push(q(`query/exists/${field}`, { exists: { field } }));
  out.push(q('query/ids/3', { ids: { values: ['e-001', 'e-010', 'e-999'] } }));
  out.push(q('query/ids/none', { ids: { values: [] } }));
  out.push(q('query/match_all', { match_all: {} }));
  out.push(q('query/match_none', { match_none: {} }));
  out.push(q('query/match/operator-and', { match: { message: { query: 'alice rejected', operator: 'and' } } }));
  out.push(q('query/match/msm', { match: { message: { query: 'alice bob rejected', minimum_should_match: 2 } } }));
  out.push(q('query/match/lenient', { match: { 'http.response.status_code': { query: 'abc', lenient: true } } }));
  out.push(q('query/prefix/url.path', { prefix: { 'url.path': '/api/o' } }));
  out.push(q('query/wildcard/user.id', { wildcard: { 'user.id': 'a*e' } }));
  const ranges: [string, Record<string, unknown>][] = [
    ['@timestamp', { gte: '2026-11-20T12:00:00Z', lt: '2026-11-21T00:00:00Z' }],
    ['@timestamp', { gte: '2026-11-21', lte: '2026-11-21' }],
    ['@timestamp', { gt: '2026-11-20', lte: '2026-11-21' }],
    ['@timestamp', { gte: '2026-11-20||+1d/d' }],
    ['@timestamp', { lt: '2026-11-22T00:00:00Z||-6h' }],
    ['@timestamp', { gte: '20/11/2026', format: 'dd/MM/yyyy' }],
    ['@timestamp', { gte: 'yesterday' }],
    ['@timestamp', { gte: 1795000000000 }],
    ['http.response.status_code', { gte: 400 }],
    ['http.response.status_code', { gt: 200, lt: 500 }],
    ['http.response.status_code', { gte: 'x' }],
    ['audit.latency_ms', { gte: 100.5 }],
    ['audit.latency_ms', { lte: 0 }],
    ['source.ip', { gte: '10.0.0.0', lte: '10.255.255.255' }],
    ['source.ip', { gte: '::', lt: '2001:db9::' }],
    ['user.id', { gte: 'b', lt: 'd' }],
    ['event.duration', { gte: 50000 }],
  ];
  ranges.forEach(([field, r], i) => out.push(q(`query/range/${i}/${field}`, { range: { [field]: r } })));
  const clauses: Record<string, unknown> = {
    alice: { term: { 'user.id': 'alice' } },
    failure: { term: { 'event.outcome': 'failure' } },
    get: { term: { 'http.request.method': 'GET' } },
    late: { range: { '@timestamp': { gte: '2026-11-22T00:00:00Z' } } },
    status4xx: { range: { 'http.response.status_code': { gte: 400, lt: 500 } } },
  };
  const names = Object.keys(clauses);
  for (const a of names) {
    for (const b of names) {
      if (a === b) continue;
      out.push(q(`query/bool/must=${a}/must_not=${b}`, { bool: { must: [clauses[a]], must_not: [clauses[b]] } }));
      if (a < b) {
        out.push(q(`query/bool/filter=${a}+${b}`, { bool: { filter: [clauses[a], clauses[b]] } }));
        out.push(q(`query/bool/should=${a}|${b}`, { bool: { should: [clauses[a], clauses[b]] } }));
      }
    }
  }
  out.push(q('query/bool/should-msm-2', { bool: { should: names.map((n) => clauses[n]), minimum_should_match: 2 } }));
  out.push(q('query/bool/filter-plus-should', { bool: { filter: [clauses.get], should: [clauses.alice] } }));
  out.push(q('query/bool/empty', { bool: {} }));
  out.push(q('query/constant_score', { constant_score: { filter: clauses.failure } }));
  const qs = [
    'alice', 'rejected', 'GET', '401', '10.0.0.1', 'Alice', 'alice rejected',
    'user.id:alice', 'user.id:Alice', 'user.id:alice AND event.outcome:failure', 'user.id:alice OR user.id:bob',
    'user.id:alice OR user.id:bob AND event.outcome:failure', 'NOT user.id:bob', 'user.id:alice AND NOT event.outcome:success',
    '+user.id:alice -event.outcome:success', 'user.id:(alice OR carol)', 'user.id:(alice', 'user.id:al*',
    'url.path:/api/orders', 'url.path:\\/api\\/orders', 'url.path:"/api/orders"', 'source.ip:10.0.0.0/16', 'source.ip:"10.0.0.0/16"',
    'http.response.status_code:>=400', 'http.response.status_code:[400 TO 499]', 'http.response.status_code:{401 TO 500}',
    '@timestamp:[2026-11-21 TO 2026-11-22}', '_exists_:event.reason', 'NOT _exists_:user.id', 'message:"alice GET"',
    'message:alice', 'event.action:token.rejected', 'event.action:token*', 'audit.lifetime_exceeds_policy:true',
    'http.response.status_code:abc', 'user.id:alice && event.outcome:failure', '!user.id:alice', '*',
  ];
  for (const s of qs) out.push(q(`query/query_string/${s}`, { query_string: { query: s } }));
  out.push(q('query/query_string/default_field', { query_string: { query: 'alice', default_field: 'user.id' } }));
  out.push(q('query/query_string/default_operator-and', { query_string: { query: 'user.id:alice event.outcome:failure', default_operator: 'AND' } }));
  out.push(q('query/query_string/default_operator-or', { query_string: { query: 'user.id:alice event.outcome:failure', default_operator: 'OR' } }));
  out.push(q('query/query_string/fields', { query_string: { query: 'alice', fields: ['user.id', 'message'] } }));
  out.push(q('query/simple_query_string', { simple_query_string: { query: 'alice + rejected' } }));
  out.push(q('query/multi_match', { multi_match: { query: 'alice', fields: ['user.id', 'message'] } }));
  out.push(q('query/unknown-type', { bogus: { 'user.id': 'alice' } }));
  out.push(q('query/regexp', { regexp: { 'user.id': 'a.*' } }));
  out.push(q('query/fuzzy', { fuzzy: { 'user.id': 'alica' } }));
  for (const s of ['alice', 'user.id:alice', 'user.id:alice AND event.outcome:failure', 'user.id:(alice']) {
    out.push({ id: `query/uri-q/${s}`, requests: [{ method: 'GET', path: `${S}/_search?size=100&q=${encodeURIComponent(s)}`, unordered: true }] });
  }
  return out;
}

function sortCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const fields = ['@timestamp', 'http.response.status_code', 'user.id', 'source.ip', 'audit.latency_ms', 'event.duration', 'event.reason'];
  for (const f of fields) {
    for (const order of ['asc', 'desc']) {
      out.push({ id: `sort/${f}/${order}`, requests: [search({ sort: [{ [f]: order }, { 'event.id': 'asc' }], _source: ['event.id'] })] });
      for (const missing of ['_first', '_last']) {
        out.push({ id: `sort/${f}/${order}/missing${missing}`, requests: [search({ sort: [{ [f]: { order, missing } }, { 'event.id': 'asc' }], _source: false })] });
      }
    }
  }
  out.push({ id: 'sort/text-field', requests: [search({ sort: [{ message: 'asc' }] })] });
  out.push({ id: 'sort/unmapped', requests: [search({ sort: [{ 'no.such.field': 'asc' }] })] });
  out.push({ id: 'sort/unmapped_type', requests: [search({ sort: [{ 'no.such.field': { order: 'asc', unmapped_type: 'long' } }, { 'event.id': 'asc' }], _source: false })] });
  out.push({ id: 'sort/_doc', requests: [search({ sort: ['_doc'], _source: false })] });
  out.push({ id: 'sort/string-form', requests: [search({ sort: ['user.id', { 'event.id': 'desc' }], _source: false })] });
  for (const from of [0, 5, 55, 60, 100]) {
    for (const size of [0, 3, 10]) {
      out.push({ id: `page/from=${from}/size=${size}`, requests: [search({ from, size, sort: [{ 'event.id': 'asc' }], _source: false })] });
    }
  }
  out.push({ id: 'page/window-exceeded', requests: [search({ from: 9995, size: 10, sort: [{ 'event.id': 'asc' }] })] });
  out.push({ id: 'page/negative-from', requests: [search({ from: -1, size: 10 })] });
  out.push({ id: 'page/default-size', requests: [{ method: 'POST', path: `${S}/_search`, body: { sort: [{ 'event.id': 'asc' }], _source: false } }] });
  const after: unknown[][] = [[Date.parse('2026-11-20T00:00:00Z'), 'e-000'], [Date.parse('2026-11-21T12:00:00Z'), 'e-000'], [Date.parse('2026-11-24T00:00:00Z'), 'e-059'], ['2026-11-21T12:00:00.000Z', 'e-000']];
  after.forEach((sa, i) => out.push({ id: `search_after/${i}`, requests: [search({ size: 5, sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }], search_after: sa, _source: false })] }));
  out.push({ id: 'search_after/desc', requests: [search({ size: 5, sort: [{ 'http.response.status_code': 'desc' }, { 'event.id': 'asc' }], search_after: [401, 'e-010'], _source: false })] });
  out.push({ id: 'search_after/with-from', requests: [search({ from: 5, size: 5, sort: [{ 'event.id': 'asc' }], search_after: ['e-010'] })] });
  out.push({ id: 'search_after/wrong-arity', requests: [search({ size: 5, sort: [{ 'event.id': 'asc' }], search_after: ['e-010', 1] })] });
  out.push({ id: 'source/includes', requests: [search({ size: 3, sort: [{ 'event.id': 'asc' }], _source: ['user.*', 'event.id'] })] });
  out.push({ id: 'source/excludes', requests: [search({ size: 3, sort: [{ 'event.id': 'asc' }], _source: { excludes: ['message', 'jwt'] } })] });
  out.push({ id: 'track_total_hits/false', requests: [search({ size: 1, sort: [{ 'event.id': 'asc' }], track_total_hits: false })] });
  out.push({ id: 'track_total_hits/10', requests: [search({ size: 1, sort: [{ 'event.id': 'asc' }], track_total_hits: 10 })] });
  return out;
}

function aggCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const agg = (id: string, aggs: unknown, query?: unknown): DiffCase => ({ id: `aggs/${id}`, requests: [search({ size: 0, aggs, ...(query ? { query } : {}) })] });
  for (const f of ['event.action', 'user.id', 'http.response.status_code', 'source.ip', 'user.roles', 'audit.lifetime_exceeds_policy', 'message', 'no.such.field']) {
    out.push(agg(`terms/${f}`, { a: { terms: { field: f } } }));
  }
  for (const size of [1, 2, 10]) out.push(agg(`terms/size=${size}`, { a: { terms: { field: 'event.action', size } } }));
  for (const order of [{ _key: 'asc' }, { _key: 'desc' }, { _count: 'asc' }]) out.push(agg(`terms/order=${JSON.stringify(order)}`, { a: { terms: { field: 'user.id', order } } }));
  out.push(agg('terms/missing', { a: { terms: { field: 'user.id', missing: 'nobody' } } }));
  out.push(agg('terms/min_doc_count=11', { a: { terms: { field: 'event.action', min_doc_count: 11 } } }));
  out.push(agg('terms/order-by-sub', { a: { terms: { field: 'user.id', order: { lat: 'desc' } }, aggs: { lat: { max: { field: 'audit.latency_ms' } } } } }));
  out.push(agg('terms/include', { a: { terms: { field: 'user.id', include: ['alice', 'bob'] } } }));
  for (const interval of ['1h', '6h', '1d', '12h']) out.push(agg(`date_histogram/fixed=${interval}`, { a: { date_histogram: { field: '@timestamp', fixed_interval: interval } } }));
  for (const interval of ['day', 'week', 'month', 'hour']) out.push(agg(`date_histogram/calendar=${interval}`, { a: { date_histogram: { field: '@timestamp', calendar_interval: interval } } }));
  out.push(agg('date_histogram/min_doc_count=0-bounds', { a: { date_histogram: { field: '@timestamp', calendar_interval: 'day', min_doc_count: 0, extended_bounds: { min: '2026-11-18', max: '2026-11-26' } } } }));
  out.push(agg('date_histogram/time_zone', { a: { date_histogram: { field: '@timestamp', calendar_interval: 'day', time_zone: 'Europe/Paris' } } }));
  out.push(agg('date_histogram/offset', { a: { date_histogram: { field: '@timestamp', fixed_interval: '1d', offset: '+6h' } } }));
  out.push(agg('date_histogram/format', { a: { date_histogram: { field: '@timestamp', calendar_interval: 'day', format: 'yyyy-MM-dd' } } }));
  out.push(agg('date_histogram/no-interval', { a: { date_histogram: { field: '@timestamp' } } }));
  for (const f of ['user.id', 'source.ip', 'event.action', 'http.response.status_code']) out.push(agg(`cardinality/${f}`, { a: { cardinality: { field: f } } }));
  for (const m of ['min', 'max', 'avg', 'sum', 'stats', 'value_count']) {
    for (const f of ['audit.latency_ms', 'http.response.status_code', '@timestamp']) out.push(agg(`${m}/${f}`, { a: { [m]: { field: f } } }));
  }
  out.push(agg('percentiles', { a: { percentiles: { field: 'audit.latency_ms' } } }));
  out.push(agg('extended_stats', { a: { extended_stats: { field: 'audit.latency_ms' } } }));
  out.push(agg('range', { a: { range: { field: 'http.response.status_code', ranges: [{ to: 400 }, { from: 400 }] } } }));
  out.push(agg('missing', { a: { missing: { field: 'user.id' } } }));
  out.push(agg('composite', { a: { composite: { sources: [{ u: { terms: { field: 'user.id' } } }] } } }));
  out.push(agg('histogram/status', { a: { histogram: { field: 'http.response.status_code', interval: 100 } } }));
  out.push(agg('filter', { a: { filter: { term: { 'event.outcome': 'failure' } }, aggs: { u: { terms: { field: 'user.id' } } } } }));
  out.push(agg('filters', { a: { filters: { filters: { fail: { term: { 'event.outcome': 'failure' } }, get: { term: { 'http.request.method': 'GET' } } } } } }));
  out.push(agg('nested/terms>date_histogram', { a: { terms: { field: 'event.outcome' }, aggs: { t: { date_histogram: { field: '@timestamp', calendar_interval: 'day' } } } } }));
  out.push(agg('nested/date_histogram>cardinality', { a: { date_histogram: { field: '@timestamp', fixed_interval: '1d' }, aggs: { u: { cardinality: { field: 'user.id' } } } } }));
  out.push(agg('with-query/terms', { a: { terms: { field: 'user.id' } } }, { term: { 'event.outcome': 'failure' } }));
  out.push(agg('top_hits', { a: { terms: { field: 'event.outcome' }, aggs: { h: { top_hits: { size: 2, sort: [{ 'event.id': 'asc' }], _source: ['event.id'] } } } } }));
  out.push(agg('unknown-type', { a: { bogus: { field: 'user.id' } } }));
  return out;
}

function countAndErrorCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const count = (id: string, body?: unknown, p = `${S}/_count`): DiffCase => ({ id: `count/${id}`, requests: [{ method: body ? 'POST' : 'GET', path: p, ...(body ? { body } : {}) }] });
  out.push(count('all'));
  out.push(count('term', { query: { term: { 'user.id': 'alice' } } }));
  out.push(count('range', { query: { range: { 'http.response.status_code': { gte: 400 } } } }));
  out.push(count('query_string', { query: { query_string: { query: 'user.id:alice OR user.id:bob' } } }));
  out.push(count('wildcard-target', undefined, '/logs-audit.events-diff*,diff-*/_count'));
  out.push(count('missing-index', undefined, '/no-such-index/_count'));
  out.push(count('size-not-allowed', { size: 1 }));
  out.push(count('q', undefined, `${S}/_count?q=user.id:alice`));
  const err = (id: string, req: DiffRequest): DiffCase => ({ id: `errors/${id}`, requests: [req] });
  out.push(err('search-missing-index', { method: 'POST', path: '/no-such-index/_search', body: {} }));
  out.push(err('search-missing-index-ignore_unavailable', { method: 'POST', path: '/no-such-index/_search?ignore_unavailable=true', body: {} }));
  out.push(err('search-wildcard-no-match', { method: 'POST', path: '/nothing-here*/_search', body: {} }));
  out.push(err('search-wildcard-no-match-allow_no_indices=false', { method: 'POST', path: '/nothing-here*/_search?allow_no_indices=false', body: {} }));
  out.push(err('unknown-body-key', { method: 'POST', path: `${S}/_search`, body: { qurey: {} } }));
  out.push(err('size-string', { method: 'POST', path: `${S}/_search`, body: { size: 'ten' } }));
  out.push(err('two-query-types', { method: 'POST', path: `${S}/_search`, body: { query: { term: { 'user.id': 'alice' }, match_all: {} } } }));
  out.push(err('term-two-fields', { method: 'POST', path: `${S}/_search`, body: { query: { term: { 'user.id': 'alice', 'event.outcome': 'failure' } } } }));
  out.push(err('bad-json', { method: 'POST', path: `${S}/_search`, body: '{"query":' }));
  out.push(err('get-doc-data-stream', { method: 'GET', path: `${S}/_doc/e-001` }));
  out.push(err('get-missing-index', { method: 'GET', path: '/no-such-index' }));
  out.push(err('delete-missing-index', { method: 'DELETE', path: '/no-such-index' }));
  out.push(err('put-template-bad', { method: 'PUT', path: '/_index_template/bad', body: { index_patterns: ['bad-*'], template: { mappings: { properties: { x: { type: 'nonsense' } } } } } }));
  out.push(err('index-into-data-stream-op-index', { method: 'POST', path: `${S}/_doc`, body: { '@timestamp': '2026-11-20T00:00:00Z' }, ignore: ['_id', '_version'] }));
  out.push(err('mget-data-stream', { method: 'POST', path: `${S}/_mget`, body: { ids: ['e-001'] } }));
  return out;
}

function bulkCases(): DiffCase[] {
  const mapping = { mappings: { properties: { n: { type: 'long' }, ip: { type: 'ip' }, b: { type: 'boolean' }, t: { type: 'date' }, k: { type: 'keyword' } } } };
  const ig = { ignore: ['items.*.*._version'] };
  const out: DiffCase[] = [
    { id: 'bulk/create-index', requests: [{ method: 'PUT', path: '/diff-bulk', body: mapping, ignore: ['index'] }] },
    { id: 'bulk/all-ok', requests: [{ method: 'POST', path: '/diff-bulk/_bulk?refresh=true', ndjson: true, body: [{ index: { _id: '1' } }, { n: 1, k: 'a' }, { create: { _id: '2' } }, { n: 2, ip: '10.0.0.1' }], ...ig }] },
  ];
  const bad: [string, Record<string, unknown>][] = [
    ['long-word', { n: 'abc' }], ['long-fraction-string', { n: '1.5' }], ['long-huge', { n: 1e30 }], ['ip-word', { ip: 'nope' }],
    ['bool-word', { b: 'yes' }], ['bool-string', { b: 'true' }], ['date-word', { t: 'not a date' }], ['date-epoch', { t: 1795000000000 }],
    ['keyword-object', { k: { a: 1 } }], ['long-array', { n: [1, 'x'] }], ['new-field', { extra: 'dynamic' }], ['long-bool', { n: true }],
  ];
  bad.forEach(([name, doc], i) => out.push({ id: `bulk/partial/${name}`, requests: [{ method: 'POST', path: '/diff-bulk/_bulk', ndjson: true, body: [{ index: { _id: `ok-${i}` } }, { n: i }, { index: { _id: `bad-${i}` } }, doc], ...ig }] }));
  out.push({ id: 'bulk/create-duplicate', requests: [{ method: 'POST', path: '/diff-bulk/_bulk', ndjson: true, body: [{ create: { _id: '1' } }, { n: 1 }], ...ig }] });
  out.push({ id: 'bulk/delete-missing', requests: [{ method: 'POST', path: '/diff-bulk/_bulk', ndjson: true, body: [{ delete: { _id: 'nope' } }], ...ig }] });
  out.push({ id: 'bulk/data-stream-index-op', requests: [{ method: 'POST', path: `${S}/_bulk`, ndjson: true, body: [{ index: { _id: 'x' } }, { '@timestamp': '2026-11-20T00:00:00Z' }], ...ig }] });
  out.push({ id: 'bulk/data-stream-no-timestamp', requests: [{ method: 'POST', path: `${S}/_bulk`, ndjson: true, body: [{ create: { _id: 'y' } }, { message: 'x' }], ...ig }] });
  out.push({ id: 'bulk/unknown-action', requests: [{ method: 'POST', path: '/diff-bulk/_bulk', ndjson: true, body: [{ upsert: { _id: 'z' } }, { n: 1 }] }] });
  out.push({ id: 'mapping/conflict', requests: [{ method: 'PUT', path: '/diff-bulk/_mapping', body: { properties: { n: { type: 'keyword' } } } }] });
  out.push({ id: 'mapping/add-field', requests: [{ method: 'PUT', path: '/diff-bulk/_mapping', body: { properties: { added: { type: 'keyword' } } } }] });
  out.push({ id: 'mapping/get', requests: [{ method: 'GET', path: '/diff-bulk/_mapping' }] });
  out.push({ id: 'bulk/count-after', requests: [{ method: 'POST', path: '/diff-bulk/_refresh' }, { method: 'GET', path: '/diff-bulk/_count' }] });
  out.push({ id: 'index/create-existing', requests: [{ method: 'PUT', path: '/diff-bulk', body: {} }] });
  out.push({ id: 'index/bad-name', requests: [{ method: 'PUT', path: '/Diff-Upper', body: {} }] });
  return out;
}

export function suites(): DiffSuite[] {
  const cleanup: DiffRequest[] = [
    { method: 'DELETE', path: `/_data_stream/${STREAM}` },
    { method: 'DELETE', path: '/diff-bulk' },
  ];
  return [
    { suite: 'audit-events', cleanup, cases: [...setupSuite(), ...queryCases(), ...sortCases(), ...aggCases(), ...countAndErrorCases(), ...bulkCases()] },
  ];
}
