import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, appendFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, errors } from '@elastic/elasticsearch';
import { startSearchNode, type SearchNode } from './index.js';

// A fixture of audit documents; every expectation below is computed from it in plain JS.
const T0 = Date.parse('2026-11-20T00:00:00Z');
const users = ['alice', 'bob', 'carol', 'dave'];
const actions = ['token-validated', 'token-rejected', 'token-issued', 'token-refreshed'];
const reasons = ['expired', 'bad_signature', 'revoked'];
const docs = Array.from({ length: 120 }, (_, i) => ({
  id: `ev-${i}`,
  '@timestamp': new Date(T0 + i * 11 * 60_000).toISOString(),
  user: { id: users[i % 4]!, roles: i % 5 === 0 ? ['admin'] : ['customer'] },
  event: { action: actions[i % 4]!, outcome: i % 4 === 1 ? 'failure' : 'success', reason: i % 4 === 1 ? reasons[i % 3]! : undefined },
  source: { ip: i % 3 === 0 ? `10.0.${i % 7}.${i}` : `203.0.113.${i % 50}` },
  http: { response: { status_code: i % 4 === 1 ? 401 : 200 } },
  jwt: { exp: Math.floor(T0 / 1000) + i * 60 },
  message: i % 4 === 1 ? `token rejected for ${users[i % 4]} because it is ${reasons[i % 3]}` : `request by ${users[i % 4]} accepted`,
}));
const idsWhere = (pred: (d: (typeof docs)[number]) => boolean) =>
  docs
    .filter(pred)
    .map((d) => d.id)
    .sort();

let node: SearchNode;
let es: Client;
let dir: string;
const DS = 'logs-audit.events-test';

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'esearch-'));
  node = await startSearchNode({ dir, port: 0 });
  es = new Client({ node: node.url });
  await es.indices.putIndexTemplate({
    name: 'audit-events',
    index_patterns: ['logs-audit.events-*'],
    data_stream: {},
    priority: 200,
    template: {
      settings: { 'index.lifecycle.name': 'audit' },
      mappings: {
        properties: {
          '@timestamp': { type: 'date' },
          user: { properties: { id: { type: 'keyword' }, roles: { type: 'keyword' } } },
          event: { properties: { action: { type: 'keyword' }, outcome: { type: 'keyword' }, reason: { type: 'keyword' } } },
          source: { properties: { ip: { type: 'ip' } } },
          http: { properties: { response: { properties: { status_code: { type: 'long' } } } } },
          jwt: { properties: { exp: { type: 'long' } } },
          message: { type: 'text' },
        },
      },
    },
  });
  const res = await es.bulk({ refresh: true, operations: docs.flatMap(({ id, ...d }) => [{ create: { _index: DS, _id: id } }, d]) });
  assert.equal(res.errors, false);
});

after(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ids(query: object, extra: object = {}): Promise<string[]> {
  const r = await es.search({ index: 'logs-audit*', size: 1000, query, ...extra });
  return r.hits.hits.map((h) => h._id!).sort();
}

test('a composable template is applied to a new data stream and its backing index', async () => {
  const ds = await es.indices.getDataStream({ name: DS });
  assert.equal(ds.data_streams.length, 1);
  assert.equal(ds.data_streams[0]!.template, 'audit-events');
  assert.match(ds.data_streams[0]!.indices[0]!.index_name, /^\.ds-logs-audit\.events-test-\d{4}\.\d{2}\.\d{2}-000001$/);
  const mapping = await es.indices.getMapping({ index: DS });
  const props = Object.values(mapping)[0]!.mappings.properties!;
  assert.equal((props.user as { properties: Record<string, { type: string }> }).properties.id!.type, 'keyword');
  assert.equal((props.source as { properties: Record<string, { type: string }> }).properties.ip!.type, 'ip');
  assert.equal(props['@timestamp']!.type, 'date');
  // only create is allowed into a data stream
  // an index op with an id is refused by a data stream (without an id it is a create, as in Elasticsearch 8.12)
  await assert.rejects(
    es.index({ index: DS, id: 'by-id', document: { '@timestamp': new Date().toISOString() } }),
    (e: unknown) => e instanceof errors.ResponseError && /op_type of create/.test(JSON.stringify(e.body)),
  );
});

test('bulk: mixed successes and failures item by item; create of an existing id is a 409', async () => {
  const r = await es.bulk({
    operations: [
      { create: { _index: 'bulk-mixed', _id: 'a' } },
      { n: 1, when: '2026-11-20T00:00:00Z' },
      { create: { _index: 'bulk-mixed', _id: 'a' } },
      { n: 2, when: '2026-11-20T00:00:00Z' },
      { index: { _index: 'bulk-mixed', _id: 'b' } },
      { n: 'not a number', when: '2026-11-20T00:00:00Z' },
      { index: { _index: 'bulk-mixed', _id: 'c' } },
      { n: 3, when: 'not a date' },
      { delete: { _index: 'bulk-mixed', _id: 'zzz' } },
    ],
  });
  assert.equal(r.errors, true);
  const items = r.items.map((i) => Object.values(i)[0]!);
  assert.deepEqual(
    items.map((i) => i.status),
    [201, 409, 400, 400, 404],
  );
  assert.equal(items[0]!.result, 'created');
  assert.equal(items[1]!.error!.type, 'version_conflict_engine_exception');
  assert.equal(items[1]!.error!.reason, '[a]: version conflict, document already exists (current version [1])');
  assert.equal(items[2]!.error!.type, 'document_parsing_exception');
  assert.match(String(items[2]!.error!.reason), /failed to parse field \[n\] of type \[long\]/);
  assert.match(String(items[3]!.error!.reason), /field \[when\] of type \[date\]/);
  const doc = await es.get<{ n: number }>({ index: 'bulk-mixed', id: 'a' });
  assert.equal(doc._source!.n, 1, 'the 409 did not overwrite');
  assert.equal((await es.count({ index: 'bulk-mixed' })).count, 1);
});

test('term, terms, ids, exists, prefix, wildcard, range and CIDR match the fixture exactly', async () => {
  assert.deepEqual(
    await ids({ term: { 'user.id': 'alice' } }),
    idsWhere((d) => d.user.id === 'alice'),
  );
  assert.deepEqual(
    await ids({ terms: { 'event.action': ['token-rejected', 'token-issued'] } }),
    idsWhere((d) => ['token-rejected', 'token-issued'].includes(d.event.action)),
  );
  assert.deepEqual(await ids({ ids: { values: ['ev-3', 'ev-7', 'nope'] } }), ['ev-3', 'ev-7']);
  assert.deepEqual(
    await ids({ exists: { field: 'event.reason' } }),
    idsWhere((d) => d.event.reason !== undefined),
  );
  assert.deepEqual(
    await ids({ prefix: { 'event.action': 'token-re' } }),
    idsWhere((d) => d.event.action.startsWith('token-re')),
  );
  assert.deepEqual(
    await ids({ wildcard: { 'user.id': { value: '?a*' } } }),
    idsWhere((d) => /^.a/.test(d.user.id)),
  );
  assert.deepEqual(
    await ids({ range: { 'http.response.status_code': { gte: 400, lt: 500 } } }),
    idsWhere((d) => d.http.response.status_code >= 400 && d.http.response.status_code < 500),
  );
  assert.deepEqual(
    await ids({ term: { 'source.ip': '10.0.0.0/8' } }),
    idsWhere((d) => d.source.ip.startsWith('10.')),
  );
  assert.deepEqual(
    await ids({ range: { '@timestamp': { gte: '2026-11-20T05:00:00Z', lt: '2026-11-20T10:00:00Z' } } }),
    idsWhere((d) => d['@timestamp'] >= '2026-11-20T05:00:00' && d['@timestamp'] < '2026-11-20T10:00:00'),
  );
});

test('bool with must / filter / should / must_not and minimum_should_match', async () => {
  const q = {
    bool: {
      filter: [{ term: { 'event.outcome': 'failure' } }],
      must_not: [{ term: { 'user.id': 'bob' } }],
      should: [{ term: { 'event.reason': 'expired' } }, { term: { 'event.reason': 'revoked' } }, { term: { 'user.roles': 'admin' } }],
      minimum_should_match: 2,
    },
  };
  const expected = idsWhere(
    (d) =>
      d.event.outcome === 'failure' &&
      d.user.id !== 'bob' &&
      [d.event.reason === 'expired', d.event.reason === 'revoked', d.user.roles.includes('admin')].filter(Boolean).length >= 2,
  );
  assert.deepEqual(await ids(q), expected);
  const onlyShould = await ids({ bool: { should: [{ term: { 'user.id': 'carol' } }, { term: { 'user.id': 'dave' } }] } });
  assert.deepEqual(
    onlyShould,
    idsWhere((d) => d.user.id === 'carol' || d.user.id === 'dave'),
  );
});

test('full text: match, match_phrase, multi_match and query_string', async () => {
  assert.deepEqual(
    await ids({ match: { message: 'EXPIRED' } }),
    idsWhere((d) => d.message.includes('expired')),
  );
  assert.deepEqual(
    await ids({ match: { message: { query: 'rejected revoked', operator: 'and' } } }),
    idsWhere((d) => d.message.includes('rejected') && d.message.includes('revoked')),
  );
  assert.deepEqual(
    await ids({ match_phrase: { message: 'it is revoked' } }),
    idsWhere((d) => d.message.includes('it is revoked')),
  );
  assert.deepEqual(await ids({ match_phrase: { message: 'revoked it is' } }), []);
  assert.deepEqual(
    await ids({ multi_match: { query: 'alice', fields: ['user.id', 'message'] } }),
    idsWhere((d) => d.user.id === 'alice'),
  );
  const qs = (query: string) => ids({ query_string: { query } });
  assert.deepEqual(
    await qs('user.id:alice AND event.action:token-rejected'),
    idsWhere((d) => d.user.id === 'alice' && d.event.action === 'token-rejected'),
  );
  assert.deepEqual(
    await qs('user.id:(bob OR carol) AND NOT event.outcome:failure'),
    idsWhere((d) => ['bob', 'carol'].includes(d.user.id) && d.event.outcome !== 'failure'),
  );
  assert.deepEqual(
    await qs('http.response.status_code:[400 TO 499]'),
    idsWhere((d) => d.http.response.status_code >= 400 && d.http.response.status_code <= 499),
  );
  assert.deepEqual(
    await qs('message:"because it is expired"'),
    idsWhere((d) => d.message.includes('because it is expired')),
  );
  assert.deepEqual(
    await qs('user.id:ca*'),
    idsWhere((d) => d.user.id.startsWith('ca')),
  );
  assert.deepEqual(
    await qs('jwt.exp:>=' + (Math.floor(T0 / 1000) + 100 * 60)),
    idsWhere((d) => d.jwt.exp >= Math.floor(T0 / 1000) + 6000),
  );
  const r = await es.search({ index: DS, q: 'user.id:dave', size: 1000 });
  assert.deepEqual(
    r.hits.hits.map((h) => h._id).sort(),
    idsWhere((d) => d.user.id === 'dave'),
  );
  await assert.rejects(qs('user.id:(alice'), (e: unknown) => e instanceof errors.ResponseError && e.statusCode === 400);
});

test('date math relative to now: now-15m/m and rounding', async () => {
  const now = Date.now();
  const recent = [
    { create: { _index: 'datemath' } },
    { at: new Date(now - 5 * 60_000).toISOString(), n: 1 },
    { create: { _index: 'datemath' } },
    { at: new Date(now - 60 * 60_000).toISOString(), n: 2 },
    { create: { _index: 'datemath' } },
    { at: new Date(now - 3 * 86_400_000).toISOString(), n: 3 },
  ];
  await es.bulk({ refresh: true, operations: recent });
  const ns = async (range: object) =>
    (await es.search<{ n: number }>({ index: 'datemath', query: { range: { at: range } } })).hits.hits.map((h) => h._source!.n).sort();
  assert.deepEqual(await ns({ gte: 'now-15m/m' }), [1]);
  assert.deepEqual(await ns({ gte: 'now-2h', lte: 'now' }), [1, 2]);
  assert.deepEqual(await ns({ lt: 'now-1d/d' }), [3]);
});

test('sort on several keys, from/size, search_after, track_total_hits and _source filtering', async () => {
  const sorted = [...docs].sort((a, b) => (a.user.id < b.user.id ? -1 : a.user.id > b.user.id ? 1 : b['@timestamp'] < a['@timestamp'] ? -1 : 1));
  const page1 = await es.search({
    index: DS,
    size: 7,
    sort: [{ 'user.id': 'asc' }, { '@timestamp': 'desc' }],
    _source: { includes: ['user.*'], excludes: ['user.roles'] },
  });
  assert.deepEqual(
    page1.hits.hits.map((h) => h._id),
    sorted.slice(0, 7).map((d) => d.id),
  );
  assert.deepEqual(page1.hits.hits[0]!._source, { user: { id: sorted[0]!.user.id } });
  const page2 = await es.search({ index: DS, size: 7, sort: [{ 'user.id': 'asc' }, { '@timestamp': 'desc' }], search_after: page1.hits.hits[6]!.sort });
  assert.deepEqual(
    page2.hits.hits.map((h) => h._id),
    sorted.slice(7, 14).map((d) => d.id),
  );
  const from = await es.search({ index: DS, from: 7, size: 7, sort: [{ 'user.id': 'asc' }, { '@timestamp': 'desc' }], _source: false });
  assert.deepEqual(
    from.hits.hits.map((h) => h._id),
    sorted.slice(7, 14).map((d) => d.id),
  );
  assert.equal(from.hits.hits[0]!._source, undefined);
  const capped = await es.search({ index: DS, size: 0, track_total_hits: 50 });
  assert.deepEqual(capped.hits.total, { value: 50, relation: 'gte' });
  const exact = await es.search({ index: DS, size: 0, track_total_hits: true });
  assert.deepEqual(exact.hits.total, { value: 120, relation: 'eq' });
});

test('aggregations: terms, date_histogram, cardinality, min/max/avg/sum/value_count, top_hits, filter, nested', async () => {
  const r = await es.search({
    index: 'logs-audit*',
    size: 0,
    aggs: {
      by_user: {
        terms: { field: 'user.id', size: 3 },
        aggs: {
          failures: { filter: { term: { 'event.outcome': 'failure' } } },
          latest: { top_hits: { size: 1, sort: [{ '@timestamp': 'desc' }], _source: ['@timestamp'] } },
        },
      },
      per_hour: { date_histogram: { field: '@timestamp', calendar_interval: 'hour' } },
      per_day: { date_histogram: { field: '@timestamp', fixed_interval: '1d' } },
      ips: { cardinality: { field: 'source.ip' } },
      min_exp: { min: { field: 'jwt.exp' } },
      max_exp: { max: { field: 'jwt.exp' } },
      avg_status: { avg: { field: 'http.response.status_code' } },
      sum_status: { sum: { field: 'http.response.status_code' } },
      reasons: { value_count: { field: 'event.reason' } },
    },
  });
  const a = r.aggregations as Record<string, any>;
  const counts = new Map<string, number>();
  for (const d of docs) counts.set(d.user.id, (counts.get(d.user.id) ?? 0) + 1);
  const expectedUsers = [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  assert.deepEqual(
    a.by_user.buckets.map((b: any) => [b.key, b.doc_count]),
    expectedUsers.slice(0, 3),
  );
  assert.equal(
    a.by_user.sum_other_doc_count,
    expectedUsers.slice(3).reduce((n, [, c]) => n + c, 0),
  );
  for (const b of a.by_user.buckets) {
    assert.equal(b.failures.doc_count, docs.filter((d) => d.user.id === b.key && d.event.outcome === 'failure').length);
    const latest = docs
      .filter((d) => d.user.id === b.key)
      .map((d) => d['@timestamp'])
      .sort()
      .at(-1);
    assert.equal(b.latest.hits.hits[0]._source['@timestamp'], latest);
  }
  const hours = new Map<number, number>();
  for (const d of docs) {
    const h = Math.floor(Date.parse(d['@timestamp']) / 3_600_000) * 3_600_000;
    hours.set(h, (hours.get(h) ?? 0) + 1);
  }
  assert.equal(a.per_hour.buckets.length, (Math.max(...hours.keys()) - Math.min(...hours.keys())) / 3_600_000 + 1);
  for (const b of a.per_hour.buckets) assert.equal(b.doc_count, hours.get(b.key) ?? 0);
  assert.equal(a.per_hour.buckets[0].key_as_string, new Date(Math.min(...hours.keys())).toISOString());
  assert.equal(
    a.per_day.buckets.reduce((n: number, b: any) => n + b.doc_count, 0),
    120,
  );
  assert.equal(a.ips.value, new Set(docs.map((d) => d.source.ip)).size);
  assert.equal(a.min_exp.value, Math.min(...docs.map((d) => d.jwt.exp)));
  assert.equal(a.max_exp.value, Math.max(...docs.map((d) => d.jwt.exp)));
  assert.equal(
    a.sum_status.value,
    docs.reduce((n, d) => n + d.http.response.status_code, 0),
  );
  assert.equal(a.avg_status.value, a.sum_status.value / 120);
  assert.equal(a.reasons.value, docs.filter((d) => d.event.reason).length);
});

test('unsupported features and malformed requests answer in Elasticsearch error shape, naming the feature', async () => {
  await assert.rejects(es.search({ index: DS, query: { more_like_this: { fields: ['message'], like: 'token' } } }), (e: unknown) => {
    assert.ok(e instanceof errors.ResponseError);
    assert.equal(e.statusCode, 400);
    assert.equal(e.body.error.type, 'illegal_argument_exception');
    assert.match(e.body.error.reason, /unsupported by the embedded search node: query \[more_like_this\]/);
    assert.equal(e.body.error.root_cause[0].type, 'illegal_argument_exception');
    return true;
  });
  await assert.rejects(es.search({ index: DS, aggs: { x: { geohash_grid: { field: 'a' } } } }), /aggregation \[geohash_grid\]/);
  await assert.rejects(
    es.search({ index: 'no-such-index' }),
    (e: unknown) => e instanceof errors.ResponseError && e.statusCode === 404 && e.body.error.type === 'index_not_found_exception',
  );
  await assert.rejects(es.transport.request({ method: 'GET', path: '/_snapshot/repo' }), /unsupported by the embedded search node: GET \/_snapshot\/repo/);
  await assert.rejects(es.search({ index: DS, from: 9990, size: 20 }), /Result window is too large/);
});

test('ILM: the delete phase removes rolled-over backing indices, never the write index', async () => {
  await es.ilm.putLifecycle({ name: 'short', policy: { phases: { hot: { actions: {} }, delete: { min_age: '0ms', actions: { delete: {} } } } } });
  await es.indices.putIndexTemplate({
    name: 'short-lived',
    index_patterns: ['logs-short-*'],
    data_stream: {},
    priority: 300,
    template: { settings: { index: { lifecycle: { name: 'short' } } } },
  });
  await es.index({ index: 'logs-short-x', op_type: 'create', document: { '@timestamp': new Date().toISOString(), n: 1 }, refresh: true });
  const rolled = await es.indices.rollover({ alias: 'logs-short-x' });
  assert.equal(rolled.rolled_over, true);
  await es.index({ index: 'logs-short-x', op_type: 'create', document: { '@timestamp': new Date().toISOString(), n: 2 }, refresh: true });
  node.runIlm();
  const ds = await es.indices.getDataStream({ name: 'logs-short-x' });
  assert.deepEqual(
    ds.data_streams[0]!.indices.map((i) => i.index_name),
    [rolled.new_index],
  );
  assert.equal((await es.count({ index: 'logs-short-x' })).count, 1, 'the old generation was deleted');
});

test('restart keeps indices, templates, data streams, ILM policies and documents; a torn log tail is ignored', async () => {
  const d2 = mkdtempSync(path.join(tmpdir(), 'esearch-restart-'));
  let n2 = await startSearchNode({ dir: d2, port: 0 });
  let c2 = new Client({ node: n2.url });
  await c2.indices.putIndexTemplate({
    name: 't',
    index_patterns: ['logs-r-*'],
    data_stream: {},
    template: { mappings: { properties: { 'user.id': { type: 'keyword' } } } },
  });
  await c2.ilm.putLifecycle({ name: 'keep', policy: { phases: { delete: { min_age: '30d', actions: { delete: {} } } } } });
  await c2.bulk({
    refresh: true,
    operations: [
      { create: { _index: 'logs-r-a', _id: '1' } },
      { '@timestamp': '2026-11-20T00:00:00Z', user: { id: 'u1' } },
      { create: { _index: 'logs-r-a', _id: '2' } },
      { '@timestamp': '2026-11-20T00:00:01Z', user: { id: 'u2' } },
    ],
  });
  await c2.index({ index: 'plain', id: 'x', document: { v: 1 } });
  await c2.index({ index: 'plain', id: 'x', document: { v: 2 } });
  await c2.delete({ index: 'plain', id: 'gone' }).catch(() => undefined);
  await c2.close();
  await n2.close();
  const logs = path.join(d2, 'indices');
  appendFileSync(path.join(logs, readdirSync(logs).find((f) => f.endsWith('.log'))!), '{"o":"i","id":"torn","s":99,"src":{"a"');

  n2 = await startSearchNode({ dir: d2, port: 0 });
  c2 = new Client({ node: n2.url });
  assert.equal((await c2.count({ index: 'logs-r-a' })).count, 2);
  assert.deepEqual(
    (await c2.search({ index: 'logs-r-*', query: { term: { 'user.id': 'u2' } } })).hits.hits.map((h) => h._id),
    ['2'],
  );
  const got = await c2.get<{ v: number }>({ index: 'plain', id: 'x' });
  assert.equal(got._source!.v, 2);
  assert.equal(got._version, 2);
  assert.equal((await c2.indices.getIndexTemplate({ name: 't' })).index_templates.length, 1);
  assert.ok((await c2.ilm.getLifecycle({ name: 'keep' })).keep);
  assert.equal((await c2.indices.getDataStream({ name: 'logs-r-a' })).data_streams.length, 1);
  for (const index of ['logs-r-a', 'plain'])
    assert.equal((await c2.search({ index, query: { ids: { values: ['torn'] } } })).hits.hits.length, 0, `${index}: the torn record is gone`);
  // as Elasticsearch: a get by id names an index or alias, never a data stream (excluded_ds)
  await assert.rejects(
    c2.get({ index: 'logs-r-a', id: '2' }),
    (err: { meta?: { statusCode?: number; body?: { error?: { type?: string; root_cause?: Array<Record<string, string>> } } } }) => {
      assert.equal(err.meta?.statusCode, 404);
      assert.equal(err.meta?.body?.error?.type, 'index_not_found_exception');
      assert.equal(err.meta?.body?.error?.root_cause?.[0]?.excluded_ds, 'true');
      return true;
    },
  );
  const backing = (await c2.indices.getDataStream({ name: 'logs-r-a' })).data_streams[0]!.indices[0]!.index_name;
  assert.equal((await c2.get({ index: backing, id: '2' })).found, true);
  await c2.close();
  await n2.close();
  rmSync(d2, { recursive: true, force: true });
});
