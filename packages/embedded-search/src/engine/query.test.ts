import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { EsError } from '../errors.js';
import { count } from './search.js';
import { first, loadFixture, NOW, T0, valuesAt, type AuditDoc } from './fixtures/audit-docs.js';

const f = loadFixture();
const HOUR = 3_600_000;
const ts = (d: AuditDoc) => Date.parse(d['@timestamp']);
const words = (s: unknown): string[] =>
  String(s)
    .toLowerCase()
    .match(/[\p{L}\p{N}_]+/gu) ?? [];
const isEsError = (type: string, reason?: RegExp) => (e: unknown) => e instanceof EsError && e.type === type && (!reason || reason.test(e.message));

test('match_all, match_none, ids', () => {
  assert.deepEqual(
    f.ids({ query: { match_all: {} } }),
    f.where(() => true),
  );
  assert.deepEqual(
    f.ids({}),
    f.where(() => true),
  );
  assert.deepEqual(f.ids({ query: { match_none: {} } }), []);
  assert.deepEqual(f.ids({ query: { ids: { values: ['d3', 'd7', 'nope'] } } }), ['d3', 'd7']);
});

test('term: keyword, value object form, case_insensitive, numbers, booleans, dates', () => {
  assert.deepEqual(
    f.ids({ query: { term: { 'user.id': 'carol' } } }),
    f.where((d) => d.user?.id === 'carol'),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'user.id': { value: 'carol', boost: 2 } } } }),
    f.where((d) => d.user?.id === 'carol'),
  );
  assert.deepEqual(f.ids({ query: { term: { 'user.id': 'eve' } } }), [], 'keyword terms are exact');
  assert.deepEqual(
    f.ids({ query: { term: { 'user.id': { value: 'eve', case_insensitive: true } } } }),
    f.where((d) => d.user?.id === 'Eve'),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'http.response.status_code': 401 } } }),
    f.where((d) => d.http.response?.status_code === 401),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'http.response.status_code': '403' } } }),
    f.where((d) => d.http.response?.status_code === 403),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'jwt.valid': false } } }),
    f.where((d) => !d.jwt.valid),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'event.category': 'iam' } } }),
    f.where((d) => d.event.category.includes('iam')),
  );
  const d5 = f.docs[5]!.doc;
  assert.deepEqual(f.ids({ query: { term: { '@timestamp': d5['@timestamp'] } } }), ['d5']);
  assert.deepEqual(
    f.ids({ query: { term: { 'jwt.claims.tenant.id': 't2' } } }),
    f.where((d) => (d.jwt.claims.tenant as { id: string }).id === 't2'),
  );
});

test('terms on keywords and numbers', () => {
  assert.deepEqual(
    f.ids({ query: { terms: { 'event.action': ['token-issued', 'token-refreshed'] } } }),
    f.where((d) => ['token-issued', 'token-refreshed'].includes(d.event.action)),
  );
  assert.deepEqual(
    f.ids({ query: { terms: { 'http.response.status_code': [401, 500] } } }),
    f.where((d) => [401, 500].includes(d.http.response?.status_code ?? -1)),
  );
  assert.throws(
    () => f.run({ query: { terms: { 'user.id': { index: 'users', id: '1', path: 'ids' } } } }),
    isEsError('illegal_argument_exception', /terms lookup/),
  );
});

test('ip: exact v4 and v6, CIDR blocks as terms, ranges', () => {
  const inCidr = (ip: string, base: string, bits: number) => {
    if (net.isIPv4(ip) !== net.isIPv4(base)) return false;
    const bl = new net.BlockList();
    bl.addSubnet(base, bits, net.isIPv4(base) ? 'ipv4' : 'ipv6');
    return bl.check(ip, net.isIPv4(ip) ? 'ipv4' : 'ipv6');
  };
  assert.deepEqual(
    f.ids({ query: { term: { 'source.ip': '203.0.113.7' } } }),
    f.where((d) => d.source.ip === '203.0.113.7'),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'source.ip': '10.0.0.0/8' } } }),
    f.where((d) => inCidr(d.source.ip, '10.0.0.0', 8)),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'source.ip': '10.0.2.0/24' } } }),
    f.where((d) => inCidr(d.source.ip, '10.0.2.0', 24)),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'source.ip': '2001:db8::/32' } } }),
    f.where((d) => inCidr(d.source.ip, '2001:db8::', 32)),
  );
  // one v6 address, written out in full: exactly one document (every 2001:db8::x once matched it)
  const v6 = f.where((d) => d.source.ip === '2001:db8::b');
  assert.equal(v6.length, 1);
  assert.deepEqual(f.ids({ query: { term: { 'source.ip': '2001:0DB8:0000::000b' } } }), v6);
  assert.deepEqual(f.ids({ query: { term: { 'source.ip': '2001:db8::5' } } }), [], 'an address no document has');
  assert.deepEqual(
    f.ids({ query: { term: { 'source.ip': '2001:db8::8/125' } } }),
    f.where((d) => inCidr(d.source.ip, '2001:db8::8', 125)),
  );
  assert.deepEqual(
    f.ids({ query: { term: { 'source.ip': '::ffff:10.0.2.0/120' } } }),
    f.where((d) => inCidr(d.source.ip, '10.0.2.0', 24)),
    'v4-mapped v6 is the same address as v4',
  );
  assert.deepEqual(
    f.ids({ query: { terms: { 'source.ip': ['10.0.0.0/16', '203.0.113.1'] } } }),
    f.where((d) => inCidr(d.source.ip, '10.0.0.0', 16) || d.source.ip === '203.0.113.1'),
  );
  assert.deepEqual(
    f.ids({ query: { range: { 'source.ip': { gte: '203.0.113.10', lt: '203.0.113.20' } } } }),
    f.where(
      (d) =>
        net.isIPv4(d.source.ip) && d.source.ip.startsWith('203.0.113.') && Number(d.source.ip.split('.')[3]) >= 10 && Number(d.source.ip.split('.')[3]) < 20,
    ),
  );
  const v6Tail = (ip: string) => (net.isIPv6(ip) ? parseInt(ip.split(':').at(-1)!, 16) : -1);
  assert.deepEqual(
    f.ids({ query: { range: { 'source.ip': { gt: '2001:db8::3', lte: '2001:db8::c' } } } }),
    f.where((d) => v6Tail(d.source.ip) > 3 && v6Tail(d.source.ip) <= 12),
  );
  assert.throws(() => f.run({ query: { term: { 'source.ip': 'not-an-ip' } } }), isEsError('query_shard_exception', /not an IP string literal/));
  assert.throws(() => f.run({ query: { range: { 'source.ip': { gte: '10.0.0.300' } } } }), isEsError('query_shard_exception', /not an IP string literal/));
});

test('sort on an ip field: address order, v4 (as v4-mapped) before 2001:db8::/32, shown as addresses', () => {
  const key = (ip: string) => (net.isIPv4(ip) ? [0, ...ip.split('.').map(Number)] : [1, v6Num(ip)]);
  const v6Num = (ip: string) => parseInt(ip.split(':').at(-1)!, 16);
  const cmp = (a: string, b: string) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] ?? -1) - (y[i] ?? -1);
    return 0;
  };
  const r = f.run({ size: 200, query: { match_all: {} }, sort: [{ 'source.ip': 'desc' }, { 'event.id': 'asc' }] });
  const shown = r.hits.hits.map((h) => h.sort![0] as string);
  // shown in canonical form (RFC 5952): the fixture's 2001:db8::0 is 2001:db8::
  const expected = f.docs
    .map((d) => d.doc.source.ip)
    .sort((a, b) => cmp(b, a))
    .map((ip) => (ip === '2001:db8::0' ? '2001:db8::' : ip));
  assert.deepEqual(shown, expected);
  const after = f.run({ size: 3, sort: [{ 'source.ip': 'asc' }, { 'event.id': 'asc' }], search_after: ['2001:db8::c', 'ev-44'] });
  assert.deepEqual(
    after.hits.hits.map((h) => h.sort![0]),
    ['2001:db8::d', '2001:db8::e', '2001:db8::f'],
  );
});

test('range on numbers, dates (formats, date math) and keywords', () => {
  const code = (d: AuditDoc) => d.http.response?.status_code;
  assert.deepEqual(
    f.ids({ query: { range: { 'http.response.status_code': { gte: 400 } } } }),
    f.where((d) => (code(d) ?? 0) >= 400),
  );
  assert.deepEqual(
    f.ids({ query: { range: { 'http.response.status_code': { gt: 200, lt: 500 } } } }),
    f.where((d) => (code(d) ?? 0) > 200 && (code(d) ?? 0) < 500),
  );
  assert.deepEqual(
    f.ids({ query: { range: { 'event.duration': { lte: 6 } } } }),
    f.where((d) => d.event.duration !== undefined && d.event.duration <= 6),
  );
  const lo = T0 + 5 * HOUR;
  const hi = T0 + 9 * HOUR;
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gte: new Date(lo).toISOString(), lt: new Date(hi).toISOString() } } } }),
    f.where((d) => ts(d) >= lo && ts(d) < hi),
  );
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gte: lo, lt: hi } } } }),
    f.where((d) => ts(d) >= lo && ts(d) < hi),
    'epoch millis bounds',
  );
  // format on the query
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gte: '20/11/2026', lt: '21/11/2026', format: 'dd/MM/yyyy' } } } }),
    f.where((d) => ts(d) >= T0 && ts(d) < T0 + 24 * HOUR),
  );
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gte: '2026-11-20 05:00:00', format: 'yyyy-MM-dd HH:mm:ss||epoch_millis' } } } }),
    f.where((d) => ts(d) >= lo),
  );
  // date math: now-based, rounded, anchored
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gte: 'now-15h/h', lte: 'now' } } } }),
    f.where((d) => ts(d) >= Date.parse('2026-11-20T21:00:00Z') && ts(d) <= NOW),
  );
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gte: '2026-11-20||+1d/d' } } } }),
    f.where((d) => ts(d) >= Date.parse('2026-11-21T00:00:00Z')),
  );
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { lte: '2026-11-20T10:17:00Z||/h' } } } }),
    f.where((d) => ts(d) <= Date.parse('2026-11-20T10:59:59.999Z')),
    'lte rounds up to the end of the unit',
  );
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gt: '2026-11-20T10:17:00Z||/h' } } } }),
    f.where((d) => ts(d) > Date.parse('2026-11-20T10:59:59.999Z')),
    'gt rounds up too',
  );
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { lt: '2026-11-20T10:17:00Z||/h' } } } }),
    f.where((d) => ts(d) < Date.parse('2026-11-20T10:00:00Z')),
    'lt rounds down',
  );
  // without date math, a value missing its time fields: gt/lte take the end of what it names, gte/lt the start
  const dayEnd = Date.parse('2026-11-20T23:59:59.999Z');
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { lte: '2026-11-20' } } } }),
    f.where((d) => ts(d) <= dayEnd),
  );
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gt: '2026-11-20' } } } }),
    f.where((d) => ts(d) > dayEnd),
  );
  assert.deepEqual(
    f.ids({ query: { range: { '@timestamp': { gte: '2026-11-20T10', lte: '2026-11-20T10' } } } }),
    f.where((d) => new Date(ts(d)).toISOString().startsWith('2026-11-20T10')),
  );
  assert.deepEqual(
    f.ids({ query: { term: { '@timestamp': '2026-11-21' } } }),
    f.where((d) => d['@timestamp'].startsWith('2026-11-21')),
    'a date term is the span it names',
  );
  // epoch_millis-formatted date field
  assert.deepEqual(
    f.ids({ query: { range: { 'jwt.exp': { lt: T0 + 3 * HOUR } } } }),
    f.where((d) => d.jwt.exp < T0 + 3 * HOUR),
  );
  // keyword range compares terms
  assert.deepEqual(
    f.ids({ query: { range: { 'user.id': { gte: 'b', lt: 'd' } } } }),
    f.where((d) => !!d.user && d.user.id >= 'b' && d.user.id < 'd'),
  );
  assert.throws(
    () => f.run({ query: { range: { '@timestamp': { gte: 'yesterday' } } } }),
    isEsError('parse_exception', /failed to parse date field \[yesterday\]/),
  );
  assert.throws(() => f.run({ query: { range: { 'http.response.status_code': { gte: 'abc' } } } }), isEsError('query_shard_exception'));
});

test('exists, prefix, wildcard', () => {
  assert.deepEqual(
    f.ids({ query: { exists: { field: 'user.id' } } }),
    f.where((d) => d.user !== undefined),
  );
  assert.deepEqual(
    f.ids({ query: { exists: { field: 'http.response.status_code' } } }),
    f.where((d) => d.http.response !== undefined),
  );
  assert.deepEqual(
    f.ids({ query: { exists: { field: 'tags' } } }),
    f.where((d) => d.tags !== undefined),
  );
  assert.deepEqual(
    f.ids({ query: { exists: { field: 'event.duration' } } }),
    f.where((d) => d.event.duration !== undefined),
  );
  assert.deepEqual(
    f.ids({ query: { exists: { field: 'message' } } }),
    f.where(() => true),
  );
  assert.deepEqual(f.ids({ query: { exists: { field: 'nope' } } }), []);
  assert.deepEqual(
    f.ids({ query: { prefix: { 'event.action': 'token-re' } } }),
    f.where((d) => d.event.action.startsWith('token-re')),
  );
  assert.deepEqual(
    f.ids({ query: { prefix: { 'user.id': { value: 'E', case_insensitive: true } } } }),
    f.where((d) => d.user?.id.toLowerCase().startsWith('e') ?? false),
  );
  assert.deepEqual(
    f.ids({ query: { prefix: { message: 'rej' } } }),
    f.where((d) => words(d.message).some((w) => w.startsWith('rej'))),
    'prefix on text matches tokens',
  );
  assert.deepEqual(
    f.ids({ query: { wildcard: { 'event.action': '*-re*ed' } } }),
    f.where((d) => /^.*-re.*ed$/.test(d.event.action)),
  );
  assert.deepEqual(
    f.ids({ query: { wildcard: { 'user.id': { value: '?ob' } } } }),
    f.where((d) => /^.ob$/.test(d.user?.id ?? '')),
  );
  assert.deepEqual(
    f.ids({ query: { wildcard: { 'jwt.jti': { value: 'JTI-1?', case_insensitive: true } } } }),
    f.where((d) => /^jti-1.$/.test(d.jwt.jti)),
  );
  assert.deepEqual(f.ids({ query: { wildcard: { 'jwt.jti': 'jti-1(' } } }), [], 'regex characters in a pattern are literal');
});

test('match: analysed on text (operator, minimum_should_match), exact on keyword and numbers', () => {
  const has = (d: AuditDoc, w: string) => words(d.message).includes(w);
  assert.deepEqual(
    f.ids({ query: { match: { message: 'REVOKED' } } }),
    f.where((d) => has(d, 'revoked')),
  );
  assert.deepEqual(
    f.ids({ query: { match: { message: 'revoked expired' } } }),
    f.where((d) => has(d, 'revoked') || has(d, 'expired')),
  );
  assert.deepEqual(
    f.ids({ query: { match: { message: { query: 'token alice', operator: 'and' } } } }),
    f.where((d) => has(d, 'token') && has(d, 'alice')),
  );
  assert.deepEqual(
    f.ids({ query: { match: { message: { query: 'token alice expired', minimum_should_match: 2 } } } }),
    f.where((d) => ['token', 'alice', 'expired'].filter((w) => has(d, w)).length >= 2),
  );
  assert.deepEqual(
    f.ids({ query: { match: { 'event.action': 'token-rejected' } } }),
    f.where((d) => d.event.action === 'token-rejected'),
  );
  assert.deepEqual(f.ids({ query: { match: { 'event.action': 'token' } } }), [], 'keyword fields are not analysed');
  assert.deepEqual(
    f.ids({ query: { match: { 'http.response.status_code': '500' } } }),
    f.where((d) => d.http.response?.status_code === 500),
  );
  assert.throws(
    () => f.run({ query: { match: { 'http.response.status_code': 'abc' } } }),
    isEsError('query_shard_exception'),
    'a word against a number field is a 400',
  );
  assert.deepEqual(f.ids({ query: { match: { 'http.response.status_code': { query: 'abc', lenient: true } } } }), [], 'and matches nothing with lenient');
  // scoring: documents matching more of the terms rank first
  const r = f.run({ query: { match: { message: 'token rejected alice' } }, size: 100 });
  const top = r.hits.hits[0]!;
  assert.ok(has(f.docs[Number(top._id.slice(1))]!.doc, 'alice') && has(f.docs[Number(top._id.slice(1))]!.doc, 'rejected'));
  const scores = r.hits.hits.map((h) => h._score!);
  assert.deepEqual(
    scores,
    [...scores].sort((a, b) => b - a),
  );
  assert.equal(r.hits.max_score, scores[0]);
});

test('match_phrase and multi_match', () => {
  const phrase = (d: AuditDoc, p: string) => ` ${words(d.message).join(' ')} `.includes(` ${p} `);
  assert.deepEqual(
    f.ids({ query: { match_phrase: { message: 'Token rejected for bob' } } }),
    f.where((d) => phrase(d, 'token rejected for bob')),
  );
  assert.deepEqual(f.ids({ query: { match_phrase: { message: 'rejected token' } } }), [], 'order matters');
  assert.deepEqual(
    f.ids({ query: { match_phrase: { message: { query: 'bad signature' } } } }),
    f.where((d) => phrase(d, 'bad signature')),
  );
  assert.deepEqual(
    f.ids({ query: { multi_match: { query: 'carol', fields: ['message', 'user.name'] } } }),
    f.where((d) => words(d.message).includes('carol') || words(d.user?.name).includes('carol')),
  );
  assert.deepEqual(
    f.ids({ query: { multi_match: { query: 'grace example', fields: ['message', 'user.*'], operator: 'and' } } }),
    f.where((d) => ['grace', 'example'].every((w) => words(d.user?.name).includes(w)) || ['grace', 'example'].every((w) => words(d.message).includes(w))),
  );
  // best_fields scores by the best field: a document matching in both fields scores no more than its best one
  const r = f.run({ query: { multi_match: { query: 'dave', fields: ['message', 'user.name'] } }, size: 1 });
  const rBoth = f.run({ query: { multi_match: { query: 'dave', fields: ['message', 'user.name'], type: 'most_fields' } }, size: 1 });
  assert.ok(rBoth.hits.max_score! > r.hits.max_score!);
  assert.deepEqual(
    f.ids({ query: { multi_match: { query: 'bad signature', fields: ['message'], type: 'phrase' } } }),
    f.where((d) => phrase(d, 'bad signature')),
  );
  assert.throws(() => f.run({ query: { multi_match: { query: 'x', type: 'cross_fields' } } }), isEsError('illegal_argument_exception', /cross_fields/));
});

test('bool: must, filter, should, must_not, minimum_should_match and its defaults', () => {
  const failure = (d: AuditDoc) => d.event.outcome === 'failure';
  const rs = (d: AuditDoc) => d.jwt.alg === 'RS256';
  const bob = (d: AuditDoc) => d.user?.id === 'bob';
  const alice = (d: AuditDoc) => d.user?.id === 'alice';
  const get = (d: AuditDoc) => d.http.request.method === 'GET';
  assert.deepEqual(
    f.ids({ query: { bool: { must: [{ term: { 'event.outcome': 'failure' } }], filter: { term: { 'jwt.alg': 'RS256' } } } } }),
    f.where((d) => failure(d) && rs(d)),
  );
  assert.deepEqual(
    f.ids({ query: { bool: { filter: [{ term: { 'event.outcome': 'failure' } }], must_not: [{ term: { 'jwt.alg': 'RS256' } }] } } }),
    f.where((d) => failure(d) && !rs(d)),
  );
  assert.deepEqual(
    f.ids({ query: { bool: { must_not: { term: { 'event.outcome': 'failure' } } } } }),
    f.where((d) => !failure(d)),
    'must_not alone keeps everything else',
  );
  // only should: at least one must match
  assert.deepEqual(
    f.ids({ query: { bool: { should: [{ term: { 'user.id': 'bob' } }, { term: { 'user.id': 'alice' } }] } } }),
    f.where((d) => bob(d) || alice(d)),
  );
  // should with a filter: should is optional (minimum_should_match 0) and only scores
  const withFilter = f.run({ size: 1000, query: { bool: { filter: { term: { 'event.outcome': 'failure' } }, should: [{ term: { 'user.id': 'bob' } }] } } });
  assert.deepEqual(
    withFilter.hits.hits.map((h) => h._id).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))),
    f.where(failure),
  );
  const bobFailures = f.where((d) => failure(d) && bob(d));
  assert.deepEqual(
    withFilter.hits.hits
      .slice(0, bobFailures.length)
      .map((h) => h._id)
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))),
    bobFailures,
    'should matches score first',
  );
  assert.ok(withFilter.hits.hits.at(-1)!._score === 0, 'filter clauses do not score');
  // explicit minimum_should_match, number and percentage
  const three = [{ term: { 'event.outcome': 'failure' } }, { term: { 'jwt.alg': 'RS256' } }, { term: { 'http.request.method': 'GET' } }];
  const n = (d: AuditDoc) => [failure(d), rs(d), get(d)].filter(Boolean).length;
  assert.deepEqual(
    f.ids({ query: { bool: { should: three, minimum_should_match: 2 } } }),
    f.where((d) => n(d) >= 2),
  );
  assert.deepEqual(
    f.ids({ query: { bool: { should: three, minimum_should_match: '100%' } } }),
    f.where((d) => n(d) === 3),
  );
  assert.deepEqual(
    f.ids({ query: { bool: { should: three, minimum_should_match: '-1' } } }),
    f.where((d) => n(d) >= 2),
  );
  assert.deepEqual(
    f.ids({ query: { bool: { filter: { term: { 'user.id': 'carol' } }, should: three, minimum_should_match: 1 } } }),
    f.where((d) => d.user?.id === 'carol' && n(d) >= 1),
  );
  // nested bools
  assert.deepEqual(
    f.ids({
      query: {
        bool: {
          filter: [
            {
              bool: {
                should: [{ term: { 'user.id': 'bob' } }, { bool: { must: [{ term: { 'jwt.alg': 'HS256' } }, { term: { 'event.outcome': 'failure' } }] } }],
              },
            },
          ],
          must_not: [{ exists: { field: 'tags' } }],
        },
      },
    }),
    f.where((d) => (bob(d) || (!rs(d) && failure(d))) && d.tags === undefined),
  );
  assert.deepEqual(
    f.ids({ query: { bool: {} } }),
    f.where(() => true),
    'an empty bool matches everything',
  );
  assert.throws(() => f.run({ query: { bool: { musts: [] } } }), isEsError('parsing_exception', /\[bool\] query does not support \[musts\]/));
});

test('constant_score scores its filter with the boost', () => {
  const r = f.run({ size: 1000, query: { constant_score: { filter: { term: { 'user.id': 'dave' } }, boost: 1.5 } } });
  assert.deepEqual(
    r.hits.hits.map((h) => h._id).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))),
    f.where((d) => d.user?.id === 'dave'),
  );
  assert.ok(r.hits.hits.every((h) => h._score === 1.5));
});

test('unsupported queries and malformed ones answer with an EsError naming them', () => {
  for (const q of ['nested', 'geo_distance', 'script', 'function_score', 'dis_max', 'more_like_this']) {
    assert.throws(
      () => f.run({ query: { [q]: { field: { value: 'x' } } } }),
      (e: unknown) => e instanceof EsError && e.status === 400 && e.message.includes(`[${q}]`),
      q,
    );
  }
  assert.throws(() => f.run({ query: { term: { 'user.id': 'a' }, match: { message: 'b' } } }), isEsError('parsing_exception'));
  assert.throws(() => f.run({ query: { term: 'x' } }), isEsError('parsing_exception'));
  assert.throws(() => f.run({ query: { term: { 'user.id': 'a', 'event.action': 'b' } } }), isEsError('parsing_exception', /multiple fields/));
  assert.throws(() => f.run({ query: {} }), isEsError('parsing_exception'));
});

test('count answers the number of matches of the query', () => {
  assert.deepEqual(count(f.targets, { query: { term: { 'event.outcome': 'failure' } } }, {}, NOW), {
    count: f.where((d) => d.event.outcome === 'failure').length,
  });
  assert.deepEqual(count(f.targets, undefined, { q: 'user.id:bob' }, NOW), { count: f.where((d) => d.user?.id === 'bob').length });
  assert.deepEqual(count(f.targets, undefined, {}, NOW), { count: f.docs.length });
  // first() and valuesAt() are the fixture's own readers: sanity of the independent side
  assert.equal(first(f.docs[1]!.doc, 'user.id'), 'bob');
  assert.deepEqual(valuesAt(f.docs[6]!.doc, 'event.category'), ['authentication', 'iam']);
});
