import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EsError } from '../errors.js';
import { IndexEngine } from './index-engine.js';
import { search } from './search.js';
import { loadFixture, NOW } from './fixtures/audit-docs.js';

const hitIds = (engine: IndexEngine, query: unknown) =>
  (search([{ index: 'i', engine }], { size: 10_000, query: query as Record<string, unknown> }, {}, NOW).hits as { hits: { _id: string }[] }).hits
    .map((h) => h._id)
    .sort();

const isEsError = (type: string, reason?: RegExp) => (e: unknown) => e instanceof EsError && e.type === type && (!reason || reason.test(e.message));

test('dynamic mapping follows Elasticsearch defaults: text + .keyword, dates, long, float, boolean, objects', () => {
  const e = new IndexEngine();
  e.index(
    '1',
    { msg: 'Hello World', at: '2026-11-20T10:00:00Z', day: '2026-11-20', n: 3, f: 1.5, ok: true, user: { id: 'u1' }, list: ['a', 'b'] },
    { seqNo: 0, version: 1 },
  );
  const p = e.mappings().properties!;
  assert.deepEqual(p.msg, { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } });
  assert.equal(p.at!.type, 'date');
  assert.equal(p.day!.type, 'date');
  assert.equal(p.n!.type, 'long');
  assert.equal(p.f!.type, 'float');
  assert.equal(p.ok!.type, 'boolean');
  assert.deepEqual(p.user, { properties: { id: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } } } });
  assert.equal(p.list!.type, 'text');
  // the keyword sub-field is exact, the text field analysed
  assert.deepEqual(hitIds(e, { term: { 'msg.keyword': 'Hello World' } }), ['1']);
  assert.deepEqual(hitIds(e, { term: { msg: 'hello' } }), ['1']);
  assert.deepEqual(hitIds(e, { term: { msg: 'Hello World' } }), []);
  assert.deepEqual(hitIds(e, { term: { 'list.keyword': 'b' } }), ['1']);
});

test('dynamic: strict rejects unmapped fields, false keeps them in _source only', () => {
  const strict = new IndexEngine({ dynamic: 'strict', properties: { a: { type: 'keyword' } } });
  assert.throws(() => strict.index('1', { a: 'x', b: 'y' }, { seqNo: 0, version: 1 }), isEsError('strict_dynamic_mapping_exception', /\[b\]/));
  assert.equal(strict.size, 0);
  const off = new IndexEngine({ dynamic: false, properties: { a: { type: 'keyword' } } });
  off.index('1', { a: 'x', b: 'y' }, { seqNo: 0, version: 1 });
  assert.equal(off.mappings().properties!.b, undefined);
  assert.deepEqual(off.get('1')!.source, { a: 'x', b: 'y' });
  assert.deepEqual(hitIds(off, { term: { b: 'y' } }), []);
});

test('a bad value is rejected with document_parsing_exception before any state changes', () => {
  const e = new IndexEngine({
    properties: { source: { properties: { ip: { type: 'ip' } } }, n: { type: 'long' }, at: { type: 'date' }, ok: { type: 'boolean' } },
  });
  e.index('x', { source: { ip: '10.0.0.1' }, n: 1 }, { seqNo: 0, version: 1 });
  const bad: [Record<string, unknown>, string][] = [
    [{ source: { ip: 'not-an-ip' }, n: 2, fresh: 'field' }, 'source.ip'],
    [{ n: 'twelve' }, 'n'],
    [{ at: 'yesterday-ish' }, 'at'],
    [{ ok: 'maybe' }, 'ok'],
    [{ n: { nested: 1 } }, 'n'],
  ];
  for (const [src, field] of bad) {
    assert.throws(
      () => e.index('x', src, { seqNo: 1, version: 2 }),
      (err: unknown) =>
        err instanceof EsError &&
        err.status === 400 &&
        err.type === 'document_parsing_exception' &&
        err.message.includes(`failed to parse field [${field}]`) &&
        err.message.includes("document with id 'x'"),
    );
  }
  // the original document and its index entries are intact, no field was added dynamically
  assert.deepEqual(e.get('x')!.source, { source: { ip: '10.0.0.1' }, n: 1 });
  assert.equal(e.mappings().properties!.fresh, undefined);
  assert.deepEqual(hitIds(e, { term: { 'source.ip': '10.0.0.1' } }), ['x']);
  assert.deepEqual(hitIds(e, { term: { n: 1 } }), ['x']);
  assert.deepEqual(hitIds(e, { term: { n: 2 } }), []);
});

test('field parsing: dates in ISO 8601 and epoch_millis, format with ||, numbers from strings, ip v4/v6, booleans', () => {
  const e = new IndexEngine({
    properties: {
      at: { type: 'date' },
      ms: { type: 'date', format: 'epoch_millis' },
      either: { type: 'date', format: 'strict_date_optional_time||epoch_millis' },
      n: { type: 'integer' },
      d: { type: 'double' },
      ip: { type: 'ip' },
      ok: { type: 'boolean' },
    },
  });
  e.index(
    '1',
    { at: '2026-11-20T10:00:00.123+01:00', ms: 1_700_000_000_000, either: '1700000000000', n: '42', d: '2.5', ip: '2001:DB8::1', ok: 'true' },
    { seqNo: 0, version: 1 },
  );
  e.index(
    '2',
    { at: '2026-11-20', ms: '1700000000001', either: '2026-11-20T00:00:00Z', n: 7.9, d: 1, ip: '192.168.1.20', ok: false },
    { seqNo: 1, version: 1 },
  );
  assert.deepEqual(hitIds(e, { term: { at: '2026-11-20T09:00:00.123Z' } }), ['1']);
  assert.deepEqual(hitIds(e, { range: { at: { gte: '2026-11-20', lt: '2026-11-20T00:00:00.001Z' } } }), ['2']);
  assert.deepEqual(hitIds(e, { term: { ms: 1_700_000_000_001 } }), ['2']);
  assert.deepEqual(hitIds(e, { term: { either: '2023-11-14T22:13:20Z' } }), ['1']);
  assert.deepEqual(hitIds(e, { term: { n: 42 } }), ['1']);
  assert.deepEqual(hitIds(e, { term: { n: 7 } }), ['2'], 'integer values are truncated as Elasticsearch does');
  assert.deepEqual(hitIds(e, { range: { d: { gt: 2 } } }), ['1']);
  assert.deepEqual(hitIds(e, { term: { ip: '2001:db8:0:0:0:0:0:1' } }), ['1'], 'v6 addresses compare in canonical form');
  assert.deepEqual(hitIds(e, { term: { ip: '192.168.0.0/16' } }), ['2']);
  assert.deepEqual(hitIds(e, { term: { ok: true } }), ['1']);
  assert.deepEqual(hitIds(e, { term: { ok: 'false' } }), ['2']);
  // a field that only takes epoch_millis refuses an ISO date; the default format refuses a space for the 'T'
  assert.throws(() => e.index('3', { ms: '2026-11-20' }, { seqNo: 2, version: 1 }), isEsError('document_parsing_exception', /\[ms\] of type \[date\]/));
  assert.throws(
    () => e.index('3', { at: '2026-11-20 10:00:00' }, { seqNo: 2, version: 1 }),
    isEsError('document_parsing_exception', /\[at\] of type \[date\]/),
  );
  assert.throws(
    () => e.index('3', { at: '2026-02-30' }, { seqNo: 2, version: 1 }),
    isEsError('document_parsing_exception', /\[at\]/),
    'dates are resolved strictly',
  );
});

test('date formats: patterns, built-ins, epoch_second, and what is not supported', () => {
  const e = new IndexEngine({
    properties: {
      eu: { type: 'date', format: 'dd/MM/yyyy' },
      logged: { type: 'date', format: "yyyy-MM-dd HH:mm:ss||yyyy-MM-dd'T'HH:mm:ssXXX" },
      sec: { type: 'date', format: 'epoch_second' },
      day: { type: 'date', format: 'strict_date' },
    },
  });
  e.index('1', { eu: '20/11/2026', logged: '2026-11-20 10:00:00', sec: 1_700_000_000, day: '2026-11-20' }, { seqNo: 0, version: 1 });
  e.index('2', { eu: '01/12/2026', logged: '2026-11-20T10:00:00+02:00', sec: '1700000000.5', day: '2026-11-21' }, { seqNo: 1, version: 1 });
  // the field's format reads query values too; a query's own format overrides it
  assert.deepEqual(hitIds(e, { term: { eu: '20/11/2026' } }), ['1']);
  assert.deepEqual(hitIds(e, { range: { eu: { gte: '2026-11-25', format: 'strict_date' } } }), ['2']);
  assert.deepEqual(hitIds(e, { range: { logged: { lt: '2026-11-20T09:00:00Z', format: 'strict_date_optional_time' } } }), ['2'], 'an offset moves the instant');
  assert.deepEqual(hitIds(e, { term: { sec: 1_700_000_000 } }), ['1']);
  assert.deepEqual(hitIds(e, { range: { sec: { gt: '1700000000' } } }), ['2'], 'fractions of a second are kept to the millisecond');
  assert.deepEqual(hitIds(e, { term: { day: '2026-11-21' } }), ['2']);
  assert.throws(() => e.index('3', { eu: '2026-11-20' }, { seqNo: 2, version: 1 }), isEsError('document_parsing_exception', /\[eu\]/));
  assert.throws(() => e.index('3', { day: '2026-11-20T10:00:00Z' }, { seqNo: 2, version: 1 }), isEsError('document_parsing_exception', /\[day\]/));
  // a format the embedded node cannot read is refused when the mapping is made, naming it
  assert.throws(
    () => new IndexEngine({ properties: { d: { type: 'date', format: 'EEE, dd MMM yyyy' } } }),
    isEsError('illegal_argument_exception', /date format \[EEE, dd MMM yyyy\]/),
  );
  assert.throws(() => new IndexEngine({ properties: { d: { type: 'date', format: 'week_date' } } }), isEsError('illegal_argument_exception', /week_date/));
  assert.throws(() => hitIds(e, { range: { eu: { gte: 'x', format: 'hh:mm a' } } }), isEsError('illegal_argument_exception', /hh:mm a/));
});

test('multi-fields, ignore_above, index: false, flattened and object fields', () => {
  const e = new IndexEngine({
    properties: {
      msg: { type: 'text', fields: { raw: { type: 'keyword', ignore_above: 10 } } },
      secret: { type: 'keyword', index: false },
      claims: { type: 'flattened' },
      user: { type: 'object', properties: { id: { type: 'keyword' } } },
    },
  });
  e.index('1', { msg: 'Short one', secret: 's', claims: { scope: 'read', tenant: { id: 't1' } }, user: { id: 'u1' } }, { seqNo: 0, version: 1 });
  e.index('2', { msg: 'A much longer message', claims: { scope: ['write', 'read'] }, 'user.id': 'u2' }, { seqNo: 1, version: 1 });
  assert.deepEqual(hitIds(e, { term: { 'msg.raw': 'Short one' } }), ['1']);
  assert.deepEqual(hitIds(e, { exists: { field: 'msg.raw' } }), ['1'], 'values above ignore_above are not indexed');
  assert.deepEqual(hitIds(e, { match: { msg: 'MESSAGE' } }), ['2']);
  assert.deepEqual(hitIds(e, { term: { secret: 's' } }), ['1'], 'index: false with doc values is still queryable in Elasticsearch 8 (slower)');
  assert.deepEqual(hitIds(e, { term: { claims: 'read' } }), ['1', '2'], 'a flattened field matches any of its leaf values');
  assert.deepEqual(hitIds(e, { term: { 'claims.tenant.id': 't1' } }), ['1']);
  assert.deepEqual(hitIds(e, { term: { 'claims.scope': 'write' } }), ['2']);
  assert.deepEqual(hitIds(e, { term: { 'user.id': 'u2' } }), ['2'], 'a dotted key in the source is the same field as an object path');
  assert.deepEqual(hitIds(e, { exists: { field: 'user' } }), ['1', '2'], 'an object exists when any sub-field does');
});

test('fields that are not indexed and have no doc values cannot be searched', () => {
  const e = new IndexEngine({
    properties: { k: { type: 'keyword', index: false, doc_values: false }, t: { type: 'text', index: false }, n: { type: 'long', index: false } },
  });
  e.index('1', { k: 'a', t: 'hello', n: 5 }, { seqNo: 0, version: 1 });
  assert.throws(
    () => hitIds(e, { term: { k: 'a' } }),
    isEsError('query_shard_exception', /Cannot search on field \[k\] since it is not indexed nor has doc values/),
  );
  assert.throws(() => hitIds(e, { match: { t: 'hello' } }), isEsError('query_shard_exception', /Cannot search on field \[t\]/));
  assert.deepEqual(hitIds(e, { range: { n: { gte: 5 } } }), ['1'], 'a number keeps its doc values');
  assert.deepEqual(e.get('1')!.source, { k: 'a', t: 'hello', n: 5 });
});

test('arrays index every value, as Elasticsearch does', () => {
  const e = new IndexEngine({ properties: { tags: { type: 'keyword' }, n: { type: 'long' }, at: { type: 'date' } } });
  e.index('1', { tags: ['a', 'b', ['c']], n: [1, 5], at: ['2026-01-01', '2026-06-01'] }, { seqNo: 0, version: 1 });
  e.index('2', { tags: 'b', n: 3 }, { seqNo: 1, version: 1 });
  assert.deepEqual(hitIds(e, { term: { tags: 'c' } }), ['1']);
  assert.deepEqual(hitIds(e, { term: { tags: 'b' } }), ['1', '2']);
  assert.deepEqual(hitIds(e, { range: { n: { gte: 4 } } }), ['1']);
  assert.deepEqual(hitIds(e, { range: { n: { gte: 2, lte: 4 } } }), ['2'], 'a range matches when one value lies inside it');
  assert.deepEqual(hitIds(e, { range: { at: { gte: '2026-05-01', lt: '2026-07-01' } } }), ['1']);
});

test('replace and delete keep every structure consistent', () => {
  const f = loadFixture(60);
  const e = f.engine;
  assert.equal(e.size, 60);
  const before = f.ids({ query: { term: { 'user.id': 'bob' } } });
  assert.ok(before.includes('d1'));
  // replace d1: bob -> zed, new action and status
  e.index(
    'd1',
    {
      '@timestamp': '2030-01-01T00:00:00Z',
      user: { id: 'zed' },
      event: { action: 'token-revoked' },
      http: { response: { status_code: 999 } },
      message: 'replaced body',
    },
    { seqNo: 100, version: 2 },
  );
  assert.equal(e.size, 60);
  assert.deepEqual(
    f.ids({ query: { term: { 'user.id': 'bob' } } }),
    before.filter((id) => id !== 'd1'),
  );
  assert.deepEqual(f.ids({ query: { term: { 'user.id': 'zed' } } }), ['d1']);
  assert.deepEqual(f.ids({ query: { term: { 'http.response.status_code': 999 } } }), ['d1']);
  assert.deepEqual(f.ids({ query: { range: { '@timestamp': { gte: '2029-01-01' } } } }), ['d1']);
  assert.deepEqual(f.ids({ query: { match: { message: 'replaced' } } }), ['d1']);
  assert.deepEqual(f.ids({ query: { exists: { field: 'source.ip' } } }).includes('d1'), false);
  assert.equal(e.get('d1')!.version, 2);
  assert.equal(e.get('d1')!.seqNo, 100);
  // delete
  assert.equal(e.delete('d2'), true);
  assert.equal(e.delete('d2'), false);
  assert.equal(e.has('d2'), false);
  assert.equal(e.get('d2'), undefined);
  assert.equal(e.size, 59);
  assert.equal([...e.ids()].length, 59);
  assert.ok(!f.ids({ query: { match_all: {} } }).includes('d2'));
  assert.ok(!f.ids({ query: { exists: { field: 'event.action' } } }).includes('d2'));
  const aggs = f.run({ size: 0, aggs: { a: { terms: { field: 'event.action', size: 50 } }, c: { value_count: { field: 'event.id' } } } }).aggregations!;
  const counted = (aggs.a.buckets as { key: string; doc_count: number }[]).reduce((n, b) => n + b.doc_count, 0);
  assert.equal(counted, 59);
  assert.equal(aggs.c.value, 58, 'd1 was replaced by a document without event.id, d2 deleted');
  // deleting and re-adding many documents keeps answers exact
  for (let i = 3; i < 60; i++) e.delete(`d${i}`);
  e.delete('d0');
  for (let i = 2; i < 30; i++) e.index(`d${i}`, { user: { id: 'again' }, n: i }, { seqNo: 200 + i, version: 3 });
  assert.deepEqual(f.ids({ query: { term: { 'user.id': 'again' } } }).length, 28);
  assert.deepEqual(f.ids({ query: { match_all: {} } }), ['d1', ...Array.from({ length: 28 }, (_, i) => `d${i + 2}`)]);
  assert.deepEqual(
    f.ids({ query: { range: { n: { gte: 10, lt: 20 } } } }),
    Array.from({ length: 10 }, (_, i) => `d${i + 10}`),
  );
});

test('putMappings merges new fields and refuses a type change', () => {
  const e = new IndexEngine({ properties: { a: { type: 'keyword' } } });
  e.putMappings({ properties: { b: { type: 'long' }, o: { properties: { c: { type: 'ip' } } } } });
  const p = e.mappings().properties!;
  assert.equal(p.a!.type, 'keyword');
  assert.equal(p.b!.type, 'long');
  assert.equal(p.o!.properties!.c!.type, 'ip');
  assert.throws(
    () => e.putMappings({ properties: { a: { type: 'long' } } }),
    isEsError('illegal_argument_exception', /mapper \[a\] cannot be changed from type \[keyword\] to \[long\]/),
  );
  assert.throws(() => new IndexEngine({ properties: { x: { type: 'nested' } } }), isEsError('illegal_argument_exception', /nested/));
  assert.throws(() => new IndexEngine({ properties: { x: { type: 'unicorn' } } }), isEsError('mapper_parsing_exception', /No handler for type \[unicorn\]/));
});

test("constant_keyword: the first value becomes the mapping's, any other value is refused as Elasticsearch refuses it", () => {
  // generated: values of every JSON kind a client could send after the first, and first documents with two values
  const seconds: unknown[] = ['b', 'A', ' a', 'a ', '', 7, true, ['a', 'b'], ['b']];
  for (const second of seconds) {
    const e = new IndexEngine({ dynamic: false, properties: { data_stream: { properties: { namespace: { type: 'constant_keyword' } } } } });
    e.index('1', { data_stream: { namespace: 'a' } }, { seqNo: 0, version: 1 });
    assert.equal((e.mappings().properties!.data_stream!.properties!.namespace as { value?: string }).value, 'a');
    assert.throws(
      () => e.index('2', { data_stream: { namespace: second } }, { seqNo: 1, version: 1 }),
      isEsError('document_parsing_exception', /failed to parse field \[data_stream\.namespace\] of type \[constant_keyword\]/),
      JSON.stringify(second),
    );
    assert.equal(e.size, 1, 'the refused document left nothing behind');
    e.index('3', { data_stream: { namespace: ['a', 'a'] } }, { seqNo: 2, version: 1 });
    e.index('4', {}, { seqNo: 3, version: 1 });
    assert.deepEqual(hitIds(e, { term: { 'data_stream.namespace': 'a' } }), ['1', '3']);
  }
  const fresh = new IndexEngine({ properties: { ns: { type: 'constant_keyword' } } });
  assert.throws(
    () => fresh.index('1', { ns: ['a', 'b'] }, { seqNo: 0, version: 1 }),
    isEsError('illegal_argument_exception', /Cannot update parameter \[value\] from \[a\] to \[b\]/),
  );
  assert.equal((fresh.mappings().properties!.ns as { value?: string }).value, undefined, 'a refused first document sets no value');
  const fixed = new IndexEngine({ properties: { ns: { type: 'constant_keyword', value: 'prod' } } });
  assert.throws(() => fixed.index('1', { ns: 'dev' }, { seqNo: 0, version: 1 }), isEsError('document_parsing_exception'));
  fixed.index('2', { ns: 'prod' }, { seqNo: 1, version: 1 });
});
