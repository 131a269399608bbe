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
      event: {
        id: `e-${String(i).padStart(3, '0')}`,
        kind: 'event',
        action,
        outcome,
        duration: (i * 7919) % 100_000,
        ...(i % 4 === 0 ? { reason: i % 8 === 0 ? 'expired' : 'bad_signature' } : {}),
      },
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
    {
      id: 'setup/template-events',
      requests: [{ method: 'PUT', path: '/_index_template/logs-audit.events', body: schema('template-logs-jwt_audit.events.json') }],
    },
    {
      id: 'setup/template-alerts',
      requests: [{ method: 'PUT', path: '/_index_template/logs-audit.alerts', body: schema('template-logs-jwt_audit.alerts.json') }],
    },
    { id: 'setup/bulk-60', requests: [{ method: 'POST', path: `${S}/_bulk?refresh=true`, body: bulk, ndjson: true, ignore: ['items.*.*._version'] }] },
    // one segment in document order: _doc and _shard_doc (PIT) then follow the bulk's order, as the
    // node's doc numbers do (a periodic refresh during the bulk may have split it in two)
    { id: 'setup/forcemerge', requests: [{ method: 'POST', path: `${S}/_forcemerge?max_num_segments=1` }] },
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
  // Elasticsearch's max_nested_depth (30): the deepest query it takes and the first it refuses
  const nest = (n: number, wrap: (x: unknown) => unknown) => {
    let x: unknown = clauses.alice;
    for (let i = 0; i < n; i++) x = wrap(x);
    return x;
  };
  for (const n of [29, 30, 35])
    out.push(
      q(
        `query/nested-depth/bool-${n}`,
        nest(n, (x) => ({ bool: { must: [x] } })),
      ),
    );
  out.push(
    q(
      'query/nested-depth/bool-filter-30',
      nest(30, (x) => ({ bool: { filter: x } })),
    ),
  );
  out.push(
    q(
      'query/nested-depth/constant_score-30',
      nest(30, (x) => ({ constant_score: { filter: x } })),
    ),
  );
  out.push(
    q(
      'query/nested-depth/mixed-30',
      nest(30, (x) => ({ bool: { should: [x, clauses.get] } })),
    ),
  );
  const qs = [
    'alice',
    'rejected',
    'GET',
    '401',
    '10.0.0.1',
    'Alice',
    'alice rejected',
    'user.id:alice',
    'user.id:Alice',
    'user.id:alice AND event.outcome:failure',
    'user.id:alice OR user.id:bob',
    'user.id:alice OR user.id:bob AND event.outcome:failure',
    'NOT user.id:bob',
    'user.id:alice AND NOT event.outcome:success',
    '+user.id:alice -event.outcome:success',
    'user.id:(alice OR carol)',
    'user.id:(alice',
    'user.id:al*',
    'url.path:/api/orders',
    'url.path:\\/api\\/orders',
    'url.path:"/api/orders"',
    'source.ip:10.0.0.0/16',
    'source.ip:"10.0.0.0/16"',
    'http.response.status_code:>=400',
    'http.response.status_code:[400 TO 499]',
    'http.response.status_code:{401 TO 500}',
    '@timestamp:[2026-11-21 TO 2026-11-22}',
    '_exists_:event.reason',
    'NOT _exists_:user.id',
    'message:"alice GET"',
    'message:alice',
    'event.action:token.rejected',
    'event.action:token*',
    'audit.lifetime_exceeds_policy:true',
    'http.response.status_code:abc',
    'user.id:alice && event.outcome:failure',
    '!user.id:alice',
    '*',
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
  const regexps: [string, unknown][] = [
    ['user.id', '[ab].*'],
    ['user.id', 'al(i|o)ce'],
    ['user.id', '.{3}'],
    ['user.id', 'b+o?b'],
    ['user.id', { value: 'ALICE', case_insensitive: true }],
    ['user.id', 'ali'],
    ['url.path', '/api/.*'],
    ['url.path', '.*/[0-9]+'],
    ['event.action', 'token\\..*ed'],
    ['event.action', 'token"."re.*'],
    ['message', 'rej.*'],
    ['message', 'al.ce'],
    ['source.ip', '10.*'],
    ['http.response.status_code', '4.*'],
    ['user.id', '[a'],
    ['user.id', 'a{2'],
  ];
  for (const [f, v] of regexps) out.push(q(`query/regexp/${f}=${JSON.stringify(v)}`, { regexp: { [f]: v } }));
  const fuzzies: [string, unknown][] = [
    ['user.id', 'alica'],
    ['user.id', { value: 'alcie' }],
    ['user.id', { value: 'alcie', transpositions: false }],
    ['user.id', { value: 'bobby', fuzziness: 2 }],
    ['user.id', { value: 'bo', fuzziness: 'AUTO' }],
    ['user.id', { value: 'caroll', fuzziness: 0 }],
    ['user.id', { value: 'xlice', prefix_length: 1 }],
    ['user.id', { value: 'Alice' }],
    ['message', 'rejectd'],
    ['message', { value: 'acepted', fuzziness: 1 }],
    ['event.action', 'token.rejectd'],
    ['source.ip', '10.0.0.2'],
    ['http.response.status_code', 402],
  ];
  for (const [f, v] of fuzzies) out.push(q(`query/fuzzy/${f}=${JSON.stringify(v)}`, { fuzzy: { [f]: v } }));
  out.push(q('query/match/fuzziness', { match: { message: { query: 'alcie rejectd', fuzziness: 'AUTO' } } }));
  out.push(q('query/match/fuzziness-keyword', { match: { 'user.id': { query: 'alcie', fuzziness: 1 } } }));
  const sqs = [
    'alice',
    'alice rejected',
    'alice | bob',
    'alice -rejected',
    'alice + -rejected',
    '-alice',
    '"alice GET"',
    'rej*',
    'alicee~1',
    '(alice | bob) + rejected',
    'alice + bob | carol',
    'alice | bob + rejected',
    'GET',
    '401',
    '10.0.0.1',
    'orders',
    '/api/orders',
    'alice +',
    '(alice',
    '"alice',
    '\\-alice',
    '',
  ];
  for (const t of sqs) out.push(q(`query/simple_query_string/${t}`, { simple_query_string: { query: t } }));
  out.push(q('query/simple_query_string/fields', { simple_query_string: { query: 'alice bob', fields: ['user.id'] } }));
  out.push(q('query/simple_query_string/default_operator', { simple_query_string: { query: 'alice rejected', default_operator: 'AND' } }));
  out.push(q('query/simple_query_string/fields-wildcard', { simple_query_string: { query: 'alice', fields: ['user.*', 'message'] } }));
  out.push(q('query/simple_query_string/no-query', { simple_query_string: { fields: ['user.id'] } }));
  for (const t of [
    'user.id:/al.*/',
    'message:/rej.*/',
    '/ali.e/',
    'user.id:/[/',
    'alica~',
    'user.id:alica~1',
    'message:rejectd~',
    '"alice get"~2',
    'user.id:/a.*/ AND event.outcome:failure',
  ]) {
    out.push(q(`query/query_string/${t}`, { query_string: { query: t } }));
  }
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
        out.push({
          id: `sort/${f}/${order}/missing${missing}`,
          requests: [search({ sort: [{ [f]: { order, missing } }, { 'event.id': 'asc' }], _source: false })],
        });
      }
    }
  }
  out.push({ id: 'sort/text-field', requests: [search({ sort: [{ message: 'asc' }] })] });
  out.push({ id: 'sort/unmapped', requests: [search({ sort: [{ 'no.such.field': 'asc' }] })] });
  out.push({
    id: 'sort/unmapped_type',
    requests: [search({ sort: [{ 'no.such.field': { order: 'asc', unmapped_type: 'long' } }, { 'event.id': 'asc' }], _source: false })],
  });
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
  const after: unknown[][] = [
    [Date.parse('2026-11-20T00:00:00Z'), 'e-000'],
    [Date.parse('2026-11-21T12:00:00Z'), 'e-000'],
    [Date.parse('2026-11-24T00:00:00Z'), 'e-059'],
    ['2026-11-21T12:00:00.000Z', 'e-000'],
  ];
  after.forEach((sa, i) =>
    out.push({
      id: `search_after/${i}`,
      requests: [search({ size: 5, sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }], search_after: sa, _source: false })],
    }),
  );
  out.push({
    id: 'search_after/desc',
    requests: [search({ size: 5, sort: [{ 'http.response.status_code': 'desc' }, { 'event.id': 'asc' }], search_after: [401, 'e-010'], _source: false })],
  });
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
  const agg = (id: string, aggs: unknown, query?: unknown): DiffCase => ({
    id: `aggs/${id}`,
    requests: [search({ size: 0, aggs, ...(query ? { query } : {}) })],
  });
  for (const f of [
    'event.action',
    'user.id',
    'http.response.status_code',
    'source.ip',
    'user.roles',
    'audit.lifetime_exceeds_policy',
    'message',
    'no.such.field',
  ]) {
    out.push(agg(`terms/${f}`, { a: { terms: { field: f } } }));
  }
  for (const size of [1, 2, 10]) out.push(agg(`terms/size=${size}`, { a: { terms: { field: 'event.action', size } } }));
  for (const order of [{ _key: 'asc' }, { _key: 'desc' }, { _count: 'asc' }])
    out.push(agg(`terms/order=${JSON.stringify(order)}`, { a: { terms: { field: 'user.id', order } } }));
  out.push(agg('terms/missing', { a: { terms: { field: 'user.id', missing: 'nobody' } } }));
  out.push(agg('terms/min_doc_count=11', { a: { terms: { field: 'event.action', min_doc_count: 11 } } }));
  out.push(agg('terms/order-by-sub', { a: { terms: { field: 'user.id', order: { lat: 'desc' } }, aggs: { lat: { max: { field: 'audit.latency_ms' } } } } }));
  out.push(agg('terms/include', { a: { terms: { field: 'user.id', include: ['alice', 'bob'] } } }));
  for (const interval of ['1h', '6h', '1d', '12h'])
    out.push(agg(`date_histogram/fixed=${interval}`, { a: { date_histogram: { field: '@timestamp', fixed_interval: interval } } }));
  for (const interval of ['day', 'week', 'month', 'hour'])
    out.push(agg(`date_histogram/calendar=${interval}`, { a: { date_histogram: { field: '@timestamp', calendar_interval: interval } } }));
  out.push(
    agg('date_histogram/min_doc_count=0-bounds', {
      a: { date_histogram: { field: '@timestamp', calendar_interval: 'day', min_doc_count: 0, extended_bounds: { min: '2026-11-18', max: '2026-11-26' } } },
    }),
  );
  out.push(agg('date_histogram/time_zone', { a: { date_histogram: { field: '@timestamp', calendar_interval: 'day', time_zone: 'Europe/Paris' } } }));
  out.push(agg('date_histogram/offset', { a: { date_histogram: { field: '@timestamp', fixed_interval: '1d', offset: '+6h' } } }));
  out.push(agg('date_histogram/format', { a: { date_histogram: { field: '@timestamp', calendar_interval: 'day', format: 'yyyy-MM-dd' } } }));
  out.push(agg('date_histogram/no-interval', { a: { date_histogram: { field: '@timestamp' } } }));
  for (const f of ['user.id', 'source.ip', 'event.action', 'http.response.status_code'])
    out.push(agg(`cardinality/${f}`, { a: { cardinality: { field: f } } }));
  for (const m of ['min', 'max', 'avg', 'sum', 'stats', 'value_count']) {
    for (const f of ['audit.latency_ms', 'http.response.status_code', '@timestamp']) out.push(agg(`${m}/${f}`, { a: { [m]: { field: f } } }));
  }
  out.push(agg('percentiles', { a: { percentiles: { field: 'audit.latency_ms' } } }));
  out.push(agg('extended_stats', { a: { extended_stats: { field: 'audit.latency_ms' } } }));
  out.push(agg('range', { a: { range: { field: 'http.response.status_code', ranges: [{ to: 400 }, { from: 400 }] } } }));
  out.push(agg('missing', { a: { missing: { field: 'user.id' } } }));
  out.push(agg('composite', { a: { composite: { sources: [{ u: { terms: { field: 'user.id' } } }] } } }));
  // the aggregations Kibana's visualisations send beyond the basic ones
  out.push(
    agg('range/keys-keyed', {
      a: {
        range: {
          field: 'audit.latency_ms',
          keyed: true,
          ranges: [
            { key: 'fast', to: 50 },
            { from: 50, to: 200 },
            { key: 'slow', from: 200 },
          ],
        },
      },
    }),
  );
  out.push(
    agg('range/unsorted-overlapping', {
      a: { range: { field: 'http.response.status_code', ranges: [{ from: 400, to: 500 }, { to: 300 }, { from: 200, to: 402 }, { from: 500.5 }] } },
    }),
  );
  out.push(
    agg('range/sub-agg', {
      a: {
        range: { field: 'http.response.status_code', ranges: [{ to: 400 }, { from: 400 }] },
        aggs: { u: { terms: { field: 'user.id' } }, l: { avg: { field: 'audit.latency_ms' } } },
      },
    }),
  );
  out.push(agg('range/no-ranges', { a: { range: { field: 'http.response.status_code' } } }));
  out.push(
    agg('date_range', {
      a: { date_range: { field: '@timestamp', ranges: [{ to: '2026-11-21' }, { from: '2026-11-21', to: '2026-11-22||+1d' }, { from: '2026-11-23' }] } },
    }),
  );
  out.push(
    agg('date_range/format', { a: { date_range: { field: '@timestamp', format: 'yyyy-MM-dd', ranges: [{ to: '2026-11-21' }, { from: '2026-11-21' }] } } }),
  );
  out.push(agg('extended_stats/sigma', { a: { extended_stats: { field: 'http.response.status_code', sigma: 1 } } }));
  out.push(agg('extended_stats/empty', { a: { extended_stats: { field: 'audit.latency_ms' } } }, { term: { 'user.id': 'nobody' } }));
  out.push(agg('extended_stats/per-bucket', { a: { terms: { field: 'event.outcome' }, aggs: { s: { extended_stats: { field: 'audit.latency_ms' } } } } }));
  out.push(agg('percentiles/percents', { a: { percentiles: { field: 'http.response.status_code', percents: [10, 50, 90, 99.9] } } }));
  out.push(agg('percentiles/keyed-false', { a: { percentiles: { field: 'audit.latency_ms', percents: [50], keyed: false } } }));
  out.push(agg('percentiles/empty', { a: { percentiles: { field: 'audit.latency_ms' } } }, { term: { 'user.id': 'nobody' } }));
  out.push(
    agg('percentiles/per-bucket', { a: { terms: { field: 'user.id' }, aggs: { p: { percentiles: { field: 'audit.latency_ms', percents: [25, 75] } } } } }),
  );
  out.push(
    agg('composite/two-sources', {
      a: {
        composite: {
          size: 5,
          sources: [{ o: { terms: { field: 'event.outcome' } } }, { s: { terms: { field: 'http.response.status_code', order: 'desc' } } }],
        },
      },
    }),
  );
  out.push(
    agg('composite/after', {
      a: {
        composite: {
          size: 3,
          sources: [{ u: { terms: { field: 'user.id' } } }, { m: { terms: { field: 'http.request.method' } } }],
          after: { u: 'bob', m: 'GET' },
        },
      },
    }),
  );
  out.push(agg('composite/missing_bucket', { a: { composite: { sources: [{ r: { terms: { field: 'event.reason', missing_bucket: true } } }] } } }));
  out.push(
    agg('composite/histogram-date_histogram', {
      a: {
        composite: {
          size: 4,
          sources: [
            { d: { date_histogram: { field: '@timestamp', calendar_interval: 'day' } } },
            { h: { histogram: { field: 'audit.latency_ms', interval: 100 } } },
          ],
        },
      },
    }),
  );
  out.push(
    agg('composite/sub-agg', {
      a: { composite: { sources: [{ o: { terms: { field: 'event.outcome' } } }] }, aggs: { c: { cardinality: { field: 'user.id' } } } },
    }),
  );
  for (const [tz, spec] of [
    ['America/New_York', { calendar_interval: 'week' }],
    ['Asia/Kolkata', { fixed_interval: '6h' }],
    ['+05:30', { calendar_interval: 'day' }],
    ['-08:00', { calendar_interval: 'month' }],
    ['UTC', { calendar_interval: 'day' }],
    ['Europe/Paris', { fixed_interval: '1d' }],
    ['Not/AZone', { calendar_interval: 'day' }],
  ] as [string, Record<string, unknown>][]) {
    out.push(
      agg(`date_histogram/time_zone=${tz}/${JSON.stringify(spec)}`, {
        a: { date_histogram: { field: '@timestamp', time_zone: tz, min_doc_count: 1, ...spec } },
      }),
    );
  }
  out.push(
    agg('ip_range', {
      a: {
        ip_range: {
          field: 'source.ip',
          ranges: [{ to: '10.0.1.0' }, { from: '10.0.1.0', to: '192.168.0.0' }, { mask: '192.168.0.0/16' }, { from: '2001:db8::' }],
        },
      },
    }),
  );
  out.push(
    agg('ip_range/keyed', { a: { ip_range: { field: 'source.ip', keyed: true, ranges: [{ key: 'ten', mask: '10.0.0.0/8' }, { mask: '172.16.0.0/12' }] } } }),
  );
  out.push(
    agg('date_histogram/hard_bounds', {
      a: { date_histogram: { field: '@timestamp', calendar_interval: 'day', hard_bounds: { min: '2026-11-21', max: '2026-11-22' } } },
    }),
  );
  const daily = { date_histogram: { field: '@timestamp', calendar_interval: 'day' } };
  out.push(
    agg('pipeline/cumulative_sum', {
      a: {
        ...daily,
        aggs: {
          c: { cardinality: { field: 'user.id' } },
          s: { sum: { field: 'audit.latency_ms' } },
          cs: { cumulative_sum: { buckets_path: 's' } },
          cc: { cumulative_sum: { buckets_path: '_count' } },
        },
      },
    }),
  );
  out.push(
    agg('pipeline/derivative', {
      a: {
        ...daily,
        aggs: { s: { sum: { field: 'audit.latency_ms' } }, d: { derivative: { buckets_path: 's' } }, dc: { derivative: { buckets_path: '_count' } } },
      },
    }),
  );
  for (const b of ['avg_bucket', 'max_bucket', 'min_bucket', 'sum_bucket', 'stats_bucket']) {
    out.push(
      agg(`pipeline/${b}`, { a: { terms: { field: 'user.id' }, aggs: { l: { avg: { field: 'audit.latency_ms' } } } }, p: { [b]: { buckets_path: 'a>l' } } }),
    );
  }
  out.push(agg('pipeline/max_bucket-count', { a: { ...daily }, p: { max_bucket: { buckets_path: 'a._count' } } }));
  out.push(
    agg('pipeline/bucket_script', {
      a: {
        terms: { field: 'user.id' },
        aggs: {
          f: { filter: { term: { 'event.outcome': 'failure' } } },
          r: { bucket_script: { buckets_path: { fail: 'f._count', all: '_count' }, script: 'params.fail / params.all' } },
        },
      },
    }),
  );
  out.push(agg('pipeline/bad-path', { a: { terms: { field: 'user.id' } }, p: { avg_bucket: { buckets_path: 'a>nope' } } }));
  out.push(q('query/range/time_zone', { range: { '@timestamp': { gte: '2026-11-21T00:00:00', lt: '2026-11-22T00:00:00', time_zone: '+05:00' } } }));
  out.push(q('query/range/time_zone-iana', { range: { '@timestamp': { gte: '2026-11-21', lte: '2026-11-21', time_zone: 'America/New_York' } } }));
  out.push(q('query/range/time_zone-explicit-offset-wins', { range: { '@timestamp': { gte: '2026-11-21T00:00:00Z', time_zone: '+05:00' } } }));
  out.push(agg('rare_terms', { a: { rare_terms: { field: 'event.reason' } } }));
  out.push(agg('rare_terms/max_doc_count', { a: { rare_terms: { field: 'jwt.alg', max_doc_count: 7 } } }));
  out.push(
    agg(
      'rare_terms/numeric-sub',
      { a: { rare_terms: { field: 'http.response.status_code', max_doc_count: 12 }, aggs: { u: { cardinality: { field: 'user.id' } } } } },
      { term: { 'event.outcome': 'failure' } },
    ),
  );
  out.push(agg('significant_terms', { a: { significant_terms: { field: 'event.action' } } }, { term: { 'event.outcome': 'failure' } }));
  out.push(
    agg(
      'significant_terms/min_doc_count',
      { a: { significant_terms: { field: 'user.id', min_doc_count: 1 } } },
      { term: { 'http.response.status_code': 401 } },
    ),
  );
  out.push(
    agg('significant_terms/in-terms', {
      a: { terms: { field: 'service.name' }, aggs: { s: { significant_terms: { field: 'http.request.method', min_doc_count: 1 } } } },
    }),
  );
  out.push(agg('histogram/status', { a: { histogram: { field: 'http.response.status_code', interval: 100 } } }));
  out.push(agg('filter', { a: { filter: { term: { 'event.outcome': 'failure' } }, aggs: { u: { terms: { field: 'user.id' } } } } }));
  out.push(
    agg('filters', { a: { filters: { filters: { fail: { term: { 'event.outcome': 'failure' } }, get: { term: { 'http.request.method': 'GET' } } } } } }),
  );
  out.push(
    agg('nested/terms>date_histogram', {
      a: { terms: { field: 'event.outcome' }, aggs: { t: { date_histogram: { field: '@timestamp', calendar_interval: 'day' } } } },
    }),
  );
  out.push(
    agg('nested/date_histogram>cardinality', {
      a: { date_histogram: { field: '@timestamp', fixed_interval: '1d' }, aggs: { u: { cardinality: { field: 'user.id' } } } },
    }),
  );
  out.push(agg('with-query/terms', { a: { terms: { field: 'user.id' } } }, { term: { 'event.outcome': 'failure' } }));
  out.push(
    agg('top_hits', { a: { terms: { field: 'event.outcome' }, aggs: { h: { top_hits: { size: 2, sort: [{ 'event.id': 'asc' }], _source: ['event.id'] } } } } }),
  );
  out.push(agg('unknown-type', { a: { bogus: { field: 'user.id' } } }));
  return out;
}

function countAndErrorCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const count = (id: string, body?: unknown, p = `${S}/_count`): DiffCase => ({
    id: `count/${id}`,
    requests: [{ method: body ? 'POST' : 'GET', path: p, ...(body ? { body } : {}) }],
  });
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
  out.push(
    err('put-template-bad', {
      method: 'PUT',
      path: '/_index_template/bad',
      body: { index_patterns: ['bad-*'], template: { mappings: { properties: { x: { type: 'nonsense' } } } } },
    }),
  );
  out.push(
    err('index-into-data-stream-op-index', { method: 'POST', path: `${S}/_doc`, body: { '@timestamp': '2026-11-20T00:00:00Z' }, ignore: ['_id', '_version'] }),
  );
  out.push(err('mget-data-stream', { method: 'POST', path: `${S}/_mget`, body: { ids: ['e-001'] } }));
  return out;
}

function bulkCases(): DiffCase[] {
  const mapping = {
    mappings: { properties: { n: { type: 'long' }, ip: { type: 'ip' }, b: { type: 'boolean' }, t: { type: 'date' }, k: { type: 'keyword' } } },
  };
  const ig = { ignore: ['items.*.*._version'] };
  const out: DiffCase[] = [
    { id: 'bulk/create-index', requests: [{ method: 'PUT', path: '/diff-bulk', body: mapping, ignore: ['index'] }] },
    {
      id: 'bulk/all-ok',
      requests: [
        {
          method: 'POST',
          path: '/diff-bulk/_bulk?refresh=true',
          ndjson: true,
          body: [{ index: { _id: '1' } }, { n: 1, k: 'a' }, { create: { _id: '2' } }, { n: 2, ip: '10.0.0.1' }],
          ...ig,
        },
      ],
    },
  ];
  const bad: [string, Record<string, unknown>][] = [
    ['long-word', { n: 'abc' }],
    ['long-fraction-string', { n: '1.5' }],
    ['long-huge', { n: 1e30 }],
    ['ip-word', { ip: 'nope' }],
    ['bool-word', { b: 'yes' }],
    ['bool-string', { b: 'true' }],
    ['date-word', { t: 'not a date' }],
    ['date-epoch', { t: 1795000000000 }],
    ['keyword-object', { k: { a: 1 } }],
    ['long-array', { n: [1, 'x'] }],
    ['new-field', { extra: 'dynamic' }],
    ['long-bool', { n: true }],
  ];
  bad.forEach(([name, doc], i) =>
    out.push({
      id: `bulk/partial/${name}`,
      requests: [
        { method: 'POST', path: '/diff-bulk/_bulk', ndjson: true, body: [{ index: { _id: `ok-${i}` } }, { n: i }, { index: { _id: `bad-${i}` } }, doc], ...ig },
      ],
    }),
  );
  out.push({
    id: 'bulk/create-duplicate',
    requests: [{ method: 'POST', path: '/diff-bulk/_bulk', ndjson: true, body: [{ create: { _id: '1' } }, { n: 1 }], ...ig }],
  });
  out.push({ id: 'bulk/delete-missing', requests: [{ method: 'POST', path: '/diff-bulk/_bulk', ndjson: true, body: [{ delete: { _id: 'nope' } }], ...ig }] });
  out.push({
    id: 'bulk/data-stream-index-op',
    requests: [{ method: 'POST', path: `${S}/_bulk`, ndjson: true, body: [{ index: { _id: 'x' } }, { '@timestamp': '2026-11-20T00:00:00Z' }], ...ig }],
  });
  out.push({
    id: 'bulk/data-stream-no-timestamp',
    requests: [{ method: 'POST', path: `${S}/_bulk`, ndjson: true, body: [{ create: { _id: 'y' } }, { message: 'x' }], ...ig }],
  });
  out.push({ id: 'bulk/unknown-action', requests: [{ method: 'POST', path: '/diff-bulk/_bulk', ndjson: true, body: [{ upsert: { _id: 'z' } }, { n: 1 }] }] });
  out.push({ id: 'mapping/conflict', requests: [{ method: 'PUT', path: '/diff-bulk/_mapping', body: { properties: { n: { type: 'keyword' } } } }] });
  out.push({ id: 'mapping/add-field', requests: [{ method: 'PUT', path: '/diff-bulk/_mapping', body: { properties: { added: { type: 'keyword' } } } }] });
  out.push({ id: 'mapping/get', requests: [{ method: 'GET', path: '/diff-bulk/_mapping' }] });
  out.push({
    id: 'bulk/count-after',
    requests: [
      { method: 'POST', path: '/diff-bulk/_refresh' },
      { method: 'GET', path: '/diff-bulk/_count' },
    ],
  });
  out.push({ id: 'index/create-existing', requests: [{ method: 'PUT', path: '/diff-bulk', body: {} }] });
  out.push({ id: 'index/bad-name', requests: [{ method: 'PUT', path: '/Diff-Upper', body: {} }] });
  return out;
}

/** fields, docvalue_fields, highlight, script_fields: what Kibana's Discover asks of each hit. */
function fetchCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const page = (id: string, body: Record<string, unknown>): DiffCase => ({
    id,
    requests: [search({ size: 5, sort: [{ 'event.id': 'asc' }], _source: false, ...body })],
  });
  const fieldSpecs: unknown[] = [
    'user.id',
    '@timestamp',
    'source.ip',
    'audit.*',
    'message',
    'http.response.status_code',
    'jwt.scopes',
    'no.such',
    '*',
    'user',
    'event.*',
    'audit.latency_ms',
    'event.reason',
    '*.id',
    { field: '@timestamp', format: 'epoch_millis' },
    { field: '@timestamp', format: 'yyyy-MM-dd' },
    { field: '@timestamp', format: 'strict_date' },
    { field: 'user.*' },
  ];
  for (const f of fieldSpecs) out.push(page(`fields/${JSON.stringify(f)}`, { fields: [f] }));
  out.push(page('fields/several', { fields: ['user.id', 'event.action', { field: '@timestamp', format: 'epoch_millis' }] }));
  out.push(page('fields/with-source', { fields: ['user.id'], _source: ['event.id'] }));
  out.push(page('fields/string', { fields: 'user.id' }));
  out.push(page('fields/unknown-key', { fields: [{ field: 'user.id', bogus: 1 }] }));
  out.push(page('fields/bad-format', { fields: [{ field: '@timestamp', format: 'bogus-XYZ-q' }] }));
  out.push(page('fields/number', { fields: [42] }));
  out.push({
    id: 'fields/dynamic-multi-field',
    requests: [{ method: 'POST', path: '/diff-bulk/_search', body: { size: 20, sort: [{ n: 'asc' }], _source: false, fields: ['*'] }, unordered: false }],
  });
  out.push({
    id: 'fields/include_unmapped',
    requests: [
      {
        method: 'POST',
        path: '/diff-bulk/_search',
        body: { size: 20, sort: [{ n: 'asc' }], _source: false, fields: [{ field: '*', include_unmapped: true }] },
      },
    ],
  });
  const dvSpecs: unknown[] = [
    'user.roles',
    '@timestamp',
    'source.ip',
    'audit.lifetime_exceeds_policy',
    'audit.latency_ms',
    'event.duration',
    'message',
    'no.such',
    'user.*',
    { field: '@timestamp', format: 'epoch_millis' },
    { field: 'audit.latency_ms', format: '0.0' },
  ];
  for (const f of dvSpecs) out.push(page(`docvalue_fields/${JSON.stringify(f)}`, { docvalue_fields: [f] }));
  // Discover's request: the fields, a highlight with Kibana's tags and the query's terms
  const kibanaHl = { pre_tags: ['@kibana-highlighted-field@'], post_tags: ['@/kibana-highlighted-field@'], fields: { '*': {} }, fragment_size: 2147483647 };
  const hlQueries: [string, unknown][] = [
    ['match-text', { match: { message: 'alice rejected' } }],
    ['match-phrase', { match_phrase: { message: 'alice get' } }],
    ['term-keyword', { term: { 'user.id': 'alice' } }],
    ['query_string-free', { query_string: { query: 'alice' } }],
    ['query_string-field', { query_string: { query: 'message:rejected AND user.id:carol' } }],
    ['query_string-wildcard', { query_string: { query: 'user.id:al*' } }],
    ['bool', { bool: { must: [{ match: { message: 'rejected' } }], filter: [{ term: { 'event.outcome': 'failure' } }] } }],
    ['range-and-ip', { bool: { should: [{ term: { 'source.ip': '10.0.0.1' } }, { range: { 'http.response.status_code': { gte: 400 } } }] } }],
    ['match-two-words-adjacent', { match: { message: 'alice get' } }],
  ];
  for (const [name, query] of hlQueries) {
    out.push(page(`highlight/${name}`, { query, highlight: { fields: { '*': {} } } }));
    out.push(page(`highlight/${name}/kibana`, { query, highlight: kibanaHl }));
  }
  out.push(page('highlight/one-field', { query: { match: { message: 'alice' } }, highlight: { fields: { message: {}, 'user.id': {} } } }));
  out.push(
    page('highlight/require_field_match-false', {
      query: { match: { message: 'alice' } },
      highlight: { require_field_match: false, fields: { message: {}, 'user.id': {} } },
    }),
  );
  out.push(page('highlight/tags', { query: { match: { message: 'alice' } }, highlight: { pre_tags: ['['], post_tags: [']'], fields: { message: {} } } }));
  out.push(page('highlight/no-fields', { query: { match: { message: 'alice' } }, highlight: {} }));
  out.push(page('highlight/unknown-key', { query: { match: { message: 'alice' } }, highlight: { fields: { message: {} }, bogus: 1 } }));
  out.push(page('highlight/match_all', { query: { match_all: {} }, highlight: { fields: { '*': {} } } }));
  const scripts: [string, unknown][] = [
    ['keyword-value', { source: "doc['user.id'].value" }],
    ['long-value', { source: "doc['http.response.status_code'].value" }],
    ['double-value', { source: "doc['audit.latency_ms'].value" }],
    ['boolean-value', { source: "doc['audit.lifetime_exceeds_policy'].value" }],
    ['size', { source: "doc['user.id'].size()" }],
    ['guarded', { source: "doc['event.reason'].size() == 0 ? 'none' : doc['event.reason'].value" }],
    ['missing-value', { source: "doc['event.reason'].value" }],
    ['arithmetic', { source: "doc['http.response.status_code'].value * 2 + 1" }],
    ['params', { source: "doc['audit.latency_ms'].value * params.f", params: { f: 10 } }],
    ['string-concat', { source: "doc['user.id'].value + '@' + doc['service.name'].value", lang: 'painless' }],
    ['empty', { source: "doc['user.id'].empty" }],
    ['text-field', { source: "doc['message'].value" }],
    ['syntax-error', { source: "doc['user.id'].value +" }],
    ['unknown-lang', { source: '1', lang: 'nope' }],
    ['string-form', "doc['user.id'].value"],
    ['keyword-guarded', { source: "doc['user.id'].size() > 0 ? doc['user.id'].value : 'anonymous'" }],
    ['date-value', { source: "doc['@timestamp'].value" }],
    ['ip-value', { source: "doc['source.ip'].value" }],
    ['list', { source: "doc['user.roles']" }],
    ['index', { source: "doc['jwt.scopes'][0]" }],
    ['integer-division', { source: "doc['http.response.status_code'].value / 100" }],
    ['return-statement', { source: "return doc['http.response.status_code'].value >= 400;" }],
    ['no-such-field', { source: "doc['no.such'].value" }],
  ];
  for (const [name, script] of scripts) out.push(page(`script_fields/${name}`, { script_fields: { s: { script } } }));
  out.push(page('script_fields/with-source', { _source: ['event.id'], script_fields: { s: { script: { source: "doc['event.action'].value" } } } }));
  return out;
}

/** _field_caps, point in time with search_after, _msearch, scroll: the APIs Kibana and clients page with. */
function apiCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const get = (id: string, p: string): DiffCase => ({ id, requests: [{ method: 'GET', path: p }] });
  for (const f of ['user.*', '@timestamp', 'message', 'source.ip', 'audit.*', '*', '_*', 'no.such', 'user.id,event.action', '_id,_index,_source', '*.id']) {
    out.push(get(`field_caps/${f}`, `${S}/_field_caps?fields=${encodeURIComponent(f)}`));
  }
  out.push(get('field_caps/two-indices', `${S},diff-bulk/_field_caps?fields=n,k,*.id`));
  out.push(get('field_caps/two-indices-unmapped', `${S},diff-bulk/_field_caps?fields=n,k,*.id&include_unmapped=true`));
  out.push(get('field_caps/diff-bulk-all', '/diff-bulk/_field_caps?fields=*'));
  out.push(get('field_caps/no-fields', '/diff-bulk/_field_caps'));
  out.push(get('field_caps/missing-index', '/nope/_field_caps?fields=*'));
  out.push(get('field_caps/missing-index-ignore', '/nope,diff-bulk/_field_caps?fields=k&ignore_unavailable=true'));
  out.push({ id: 'field_caps/body', requests: [{ method: 'POST', path: `${S}/_field_caps`, body: { fields: ['user.id'] } }] });
  out.push({
    id: 'field_caps/index_filter',
    requests: [
      { method: 'POST', path: `${S},diff-bulk/_field_caps?fields=k,user.id`, body: { index_filter: { range: { '@timestamp': { gte: '2026-11-20' } } } } },
    ],
  });
  out.push({ id: 'field_caps/types', requests: [{ method: 'GET', path: `${S},diff-bulk/_field_caps?fields=*&types=keyword,long` }] });

  const pitOpen: DiffRequest = { method: 'POST', path: `${S}/_pit?keep_alive=1m`, capture: { pit: 'id' }, ignore: ['id'] };
  const pitClose: DiffRequest = { method: 'DELETE', path: '/_pit', body: { id: '{{pit}}' } };
  // the auto-id document (errors/index-into-data-stream-op-index) has a random _id: left out where it could show
  const named = { exists: { field: 'event.id' } };
  const pitSearch = (body: Record<string, unknown>): DiffRequest => ({
    method: 'POST',
    path: '/_search',
    body: { size: 5, _source: false, pit: { id: '{{pit}}', keep_alive: '1m' }, query: named, ...body },
    ignore: ['pit_id'],
  });
  const sorts: [string, unknown[], unknown[]][] = [
    ['timestamp', [{ '@timestamp': 'asc' }], [1795138620000, 1]],
    ['timestamp-desc', [{ '@timestamp': 'desc' }], [1795138620000, 1]],
    ['status-then-shard_doc', [{ 'http.response.status_code': 'desc' }, { _shard_doc: 'asc' }], [401, 12]],
    ['user-shard_doc-desc', [{ 'user.id': 'asc' }, { _shard_doc: 'desc' }], ['bob', 30]],
    ['event.id', [{ 'event.id': 'asc' }], ['e-010', 10]],
  ];
  for (const [name, sort, after] of sorts) {
    out.push({ id: `pit/${name}`, requests: [pitOpen, pitSearch({ sort }), pitSearch({ sort, search_after: after }), pitClose] });
  }
  // page through all 61 documents 20 at a time with search_after, as `audit search --all` and Kibana's CSV export do
  const pages: DiffRequest[] = [pitOpen, pitSearch({ size: 20, sort: [{ '@timestamp': 'asc' }], _source: ['event.id'] })];
  out.push({ id: 'pit/page-1', requests: pages });
  out.push({
    id: 'pit/search_after-pages',
    requests: [
      pitOpen,
      pitSearch({ size: 25, sort: [{ '@timestamp': 'asc' }] }),
      pitSearch({ size: 25, sort: [{ '@timestamp': 'asc' }], search_after: [1795287000000, 26] }),
      pitSearch({ size: 25, sort: [{ '@timestamp': 'asc' }], search_after: [1795439040000, 52] }),
      pitSearch({ size: 5, sort: [{ 'user.id': 'desc' }, { _shard_doc: 'asc' }], search_after: ['bob', 6], query: { term: { 'event.outcome': 'failure' } } }),
      pitSearch({ size: 0, track_total_hits: true, aggs: { u: { terms: { field: 'user.id' } } } }),
      pitSearch({ size: 3 }),
      pitClose,
    ],
  });
  out.push({
    id: 'pit/snapshot',
    requests: [
      pitOpen,
      {
        method: 'PUT',
        path: `${S}/_create/e-after-pit?refresh=true`,
        body: { '@timestamp': '2026-11-19T00:00:00Z', event: { id: 'e-after-pit' } },
        ignore: ['_index', '_version'],
      },
      pitSearch({ size: 3, sort: [{ '@timestamp': 'asc' }] }),
      { method: 'POST', path: `${S}/_search`, body: { size: 0, query: { term: { 'event.id': 'e-after-pit' } } } },
      pitClose,
    ],
  });
  out.push({ id: 'pit/with-index', requests: [pitOpen, { method: 'POST', path: `${S}/_search`, body: { pit: { id: '{{pit}}' } } }, pitClose] });
  out.push({ id: 'pit/closed', requests: [pitOpen, pitClose, pitClose, pitSearch({})] });
  out.push({ id: 'pit/no-keep_alive', requests: [{ method: 'POST', path: `${S}/_pit` }] });
  out.push({ id: 'pit/missing-index', requests: [{ method: 'POST', path: '/nope/_pit?keep_alive=1m' }] });
  out.push({ id: 'pit/garbage-id', requests: [{ method: 'POST', path: '/_search', body: { pit: { id: 'garbage' } } }] });
  out.push({ id: 'pit/close-garbage', requests: [{ method: 'DELETE', path: '/_pit', body: { id: 'garbage' } }] });
  out.push({ id: 'pit/shard_doc-without-pit', requests: [search({ size: 3, sort: [{ _shard_doc: 'asc' }] })] });
  out.push({ id: 'pit/with-scroll', requests: [pitOpen, { method: 'POST', path: '/_search?scroll=1m', body: { pit: { id: '{{pit}}' } } }, pitClose] });

  const ms = (id: string, lines: unknown[], p = `${S}/_msearch`): DiffCase => ({
    id: `msearch/${id}`,
    requests: [{ method: 'POST', path: p, ndjson: true, body: lines }],
  });
  const one = { size: 2, sort: [{ 'event.id': 'asc' }], _source: false };
  out.push(
    ms(
      'three',
      [{ index: STREAM }, { ...one, query: { term: { 'user.id': 'alice' } } }, { index: 'nope' }, { size: 0 }, { index: `${STREAM},diff-bulk` }, { size: 0 }],
      '/_msearch',
    ),
  );
  out.push(ms('default-index', [{}, { ...one }, {}, { size: 0, aggs: { a: { terms: { field: 'event.outcome' } } } }]));
  out.push(
    ms('shard-errors', [
      {},
      { size: 0, aggs: { a: { terms: { field: 'message' } } } },
      {},
      { query: { term: { 'http.response.status_code': 'abc' } } },
      { index: 'nope', ignore_unavailable: true },
      { size: 0 },
    ]),
  );
  out.push(ms('header-options', [{ index: [STREAM], search_type: 'query_then_fetch', preference: '_local' }, { ...one }], '/_msearch'));
  out.push(ms('bad-header-key', [{ bogus: 1 }, { size: 0 }]));
  out.push(ms('bad-body-key', [{}, { sizee: 0 }]));
  out.push(ms('unknown-query', [{}, { size: 0 }, {}, { query: { bogus: {} } }]));
  out.push(ms('negative-from', [{}, { size: 0 }, {}, { from: -1 }]));
  out.push(ms('header-only', [{}]));
  out.push({ id: 'msearch/empty', requests: [{ method: 'POST', path: `${S}/_msearch`, ndjson: true, body: '' }] });
  out.push({ id: 'msearch/no-final-newline', requests: [{ method: 'POST', path: `${S}/_msearch`, ndjson: true, body: '{}\n{"size":0}' }] });

  const scrollStart = (body: Record<string, unknown>, p = `${S}/_search?scroll=1m`): DiffRequest => ({
    method: 'POST',
    path: p,
    body,
    capture: { scroll: '_scroll_id' },
    ignore: ['_scroll_id'],
  });
  const scrollNext: DiffRequest = { method: 'POST', path: '/_search/scroll', body: { scroll: '1m', scroll_id: '{{scroll}}' }, ignore: ['_scroll_id'] };
  const scrollClear: DiffRequest = { method: 'DELETE', path: '/_search/scroll', body: { scroll_id: '{{scroll}}' } };
  out.push({
    id: 'scroll/_doc',
    requests: [scrollStart({ size: 25, sort: ['_doc'], _source: ['event.id'], query: named }), scrollNext, scrollNext, scrollNext, scrollClear],
  });
  out.push({
    id: 'scroll/sorted',
    requests: [
      scrollStart({ size: 7, sort: [{ 'user.id': 'asc' }, { 'event.id': 'asc' }], _source: false, query: { term: { 'event.outcome': 'failure' } } }),
      scrollNext,
      scrollNext,
      scrollNext,
      scrollClear,
    ],
  });
  out.push({
    id: 'scroll/get-forms',
    requests: [
      scrollStart({ size: 2, sort: ['_doc'], _source: false, query: named }),
      { method: 'GET', path: '/_search/scroll?scroll=1m&scroll_id={{scroll}}', ignore: ['_scroll_id'] },
      { method: 'GET', path: '/_search/scroll/{{scroll}}?scroll=1m', ignore: ['_scroll_id'] },
      { method: 'DELETE', path: '/_search/scroll/{{scroll}}' },
    ],
  });
  out.push({
    id: 'scroll/cleared',
    requests: [
      scrollStart({ size: 2, sort: ['_doc'], _source: false, query: named }),
      scrollClear,
      { method: 'DELETE', path: '/_search/scroll', body: { scroll_id: ['{{scroll}}'] } },
      scrollNext,
    ],
  });
  out.push({
    id: 'scroll/aggs-first-page-only',
    requests: [
      scrollStart({ size: 30, sort: ['_doc'], _source: false, query: named, aggs: { a: { terms: { field: 'event.outcome' } } } }),
      scrollNext,
      scrollClear,
    ],
  });
  out.push({ id: 'scroll/garbage-id', requests: [{ method: 'POST', path: '/_search/scroll', body: { scroll_id: 'garbage' } }] });
  out.push({ id: 'scroll/clear-garbage', requests: [{ method: 'DELETE', path: '/_search/scroll', body: { scroll_id: 'garbage' } }] });
  out.push({ id: 'scroll/with-from', requests: [search({ size: 2, from: 3 }, { path: `${S}/_search?scroll=1m` })] });
  out.push({ id: 'scroll/with-search_after', requests: [search({ size: 2, sort: ['_doc'], search_after: [1] }, { path: `${S}/_search?scroll=1m` })] });
  out.push({ id: 'scroll/bad-keep-alive', requests: [search({ size: 2 }, { path: `${S}/_search?scroll=forever` })] });
  out.push({ id: 'scroll/no-id', requests: [{ method: 'POST', path: '/_search/scroll', body: { scroll: '1m' } }] });

  // Kibana's Discover and dashboards search through _async_search; data views are created through _resolve/index
  const times = ['id', 'start_time_in_millis', 'expiration_time_in_millis', 'completion_time_in_millis'];
  // a long wait_for_completion_timeout: a loaded Elasticsearch would otherwise answer "still running" now and then
  const asyncSearch = (id: string, body: unknown, p = `${S}/_async_search?wait_for_completion_timeout=30s`): DiffCase => ({
    id: `async_search/${id}`,
    requests: [{ method: 'POST', path: p, body, ignore: times }],
  });
  out.push(asyncSearch('hits-and-aggs', { size: 2, sort: [{ 'event.id': 'asc' }], _source: false, aggs: { a: { terms: { field: 'event.outcome' } } } }));
  out.push(
    asyncSearch(
      'kibana-discover',
      {
        size: 3,
        sort: [{ '@timestamp': { order: 'desc', format: 'strict_date_optional_time', unmapped_type: 'boolean' } }],
        fields: [
          { field: '*', include_unmapped: 'true' },
          { field: '@timestamp', format: 'strict_date_optional_time' },
        ],
        _source: false,
        track_total_hits: true,
        query: {
          bool: {
            filter: [{ range: { '@timestamp': { gte: '2026-11-20T00:00:00.000Z', lte: '2026-11-30T00:00:00.000Z', format: 'strict_date_optional_time' } } }],
            must: [{ query_string: { query: 'rejected', analyze_wildcard: true } }],
          },
        },
        highlight: { pre_tags: ['@kibana-highlighted-field@'], post_tags: ['@/kibana-highlighted-field@'], fields: { '*': {} }, fragment_size: 2147483647 },
      },
      `${S}/_async_search?batched_reduce_size=64&wait_for_completion_timeout=30s&keep_on_completion=false&ignore_unavailable=true`,
    ),
  );
  out.push(asyncSearch('unknown-query', { query: { bogus: {} } }));
  out.push(asyncSearch('shard-error', { size: 1, query: { term: { 'http.response.status_code': 'abc' } } }));
  out.push(asyncSearch('missing-index', {}, '/nope/_async_search'));
  out.push(asyncSearch('scroll', {}, `${S}/_async_search?scroll=1m`));
  out.push({
    id: 'async_search/keep_on_completion',
    requests: [
      {
        method: 'POST',
        path: `${S}/_async_search?keep_on_completion=true&wait_for_completion_timeout=30s`,
        body: { size: 1, sort: [{ 'event.id': 'asc' }], _source: false },
        capture: { a: 'id' },
        ignore: times,
      },
      { method: 'GET', path: '/_async_search/{{a}}', ignore: times },
      { method: 'GET', path: '/_async_search/status/{{a}}', ignore: times },
      { method: 'DELETE', path: '/_async_search/{{a}}' },
      { method: 'GET', path: '/_async_search/{{a}}' },
    ],
  });
  out.push({ id: 'async_search/garbage-id', requests: [{ method: 'GET', path: '/_async_search/garbage' }] });
  for (const t of [`${STREAM}*,diff-*`, 'nope', 'nope*', 'diff-bulk', STREAM, `${STREAM},nope`]) out.push(get(`resolve_index/${t}`, `/_resolve/index/${t}`));
  return out;
}

export function suites(): DiffSuite[] {
  const cleanup: DiffRequest[] = [
    { method: 'DELETE', path: `/_data_stream/${STREAM}` },
    { method: 'DELETE', path: '/diff-bulk' },
  ];
  return [
    {
      suite: 'audit-events',
      cleanup,
      cases: [...setupSuite(), ...queryCases(), ...sortCases(), ...aggCases(), ...countAndErrorCases(), ...bulkCases(), ...fetchCases(), ...apiCases()],
    },
  ];
}
