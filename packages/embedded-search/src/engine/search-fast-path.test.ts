/**
 * The bit-set evaluation (query.ts matchBits), the sorted page chosen from candidates
 * (sort-candidates.ts) and the aggregations counted on bits, against the plain evaluation they
 * replace (SearchOptions.plain: a score per match, every match sorted, a hit object per match):
 * generated documents over several indices (out-of-order timestamps, multi-valued numbers, missing
 * values, replaced and deleted documents between searches) and generated searches (bool trees of
 * every clause type, nested past the depth limit now and then, random sorts on numbers, dates,
 * keywords, booleans, ips and _doc with missing first/last, sizes, from, search_after taken from a
 * plain page, track_total_hits, points in time, _source filtering, aggregations). Both answers,
 * or both errors, must be the same to the last field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EsError } from '../errors.js';
import { FIXTURE_MAPPINGS, makeDocs, NOW, T0 } from './fixtures/audit-docs.js';
import { rng } from '@jwt-audit/runtime/testing/prng';
import { IndexEngine } from './index-engine.js';
import { count, search, type SearchOptions, type SearchTarget } from './search.js';

type Body = Record<string, unknown>;
const HOUR = 3_600_000;

function outcome(fn: () => unknown): unknown {
  try {
    return { ok: JSON.parse(JSON.stringify(fn())) };
  } catch (err) {
    if (!(err instanceof EsError)) throw err;
    return { error: err.status, type: err.type, reason: err.message, extra: JSON.parse(JSON.stringify(err.toCause())) };
  }
}

/** Three indices of generated documents; some replaced, some deleted, timestamps out of order. */
function buildTargets(seed: number): { targets: SearchTarget[]; mutate: () => void } {
  const r = rng(seed);
  const docs = makeDocs(220);
  const engines = ['audit-a', 'audit-b', 'audit-c'].map((index) => ({ index, engine: new IndexEngine(FIXTURE_MAPPINGS) }));
  let seq = 0;
  const put = (i: number) => {
    const { id, doc } = docs[i]!;
    const d = structuredClone(doc) as Record<string, unknown>;
    // a long field with several values in some documents, none in others (dynamic mapping)
    if (i % 3 === 0) d.n = [r.int(50), r.int(50)];
    else if (i % 3 === 1) d.n = r.int(50);
    // ties on the timestamp, and a shuffled order of arrival
    if (i % 5 === 0) d['@timestamp'] = new Date(T0 + (i % 7) * HOUR).toISOString();
    engines[i % engines.length]!.engine.index(id, d, { seqNo: seq++, version: 1 });
  };
  const order = docs.map((_, i) => i).sort(() => r.next() - 0.5);
  for (const i of order) put(i);
  return {
    targets: engines,
    mutate: () => {
      // replace a few (a new doc number each) and delete a few, as between two searches of a live index
      for (let k = 0; k < 6; k++) put(r.int(docs.length));
      for (let k = 0; k < 4; k++) {
        const i = r.int(docs.length);
        engines[i % engines.length]!.engine.delete(docs[i]!.id);
      }
    },
  };
}

function generator(seed: number) {
  const r = rng(seed);
  const users = ['alice', 'bob', 'carol', 'Eve', 'nobody'];
  const actions = ['token-validated', 'token-rejected', 'token-issued', 'http-exchange'];
  const isoAt = (h: number) => new Date(T0 + h * HOUR).toISOString();
  const leaf = (): Body => {
    switch (r.int(17)) {
      case 0:
        return { term: { 'user.id': r.pick(users) } };
      case 1:
        return { term: { 'event.action': { value: r.pick(actions), boost: 2 } } };
      case 2:
        return { term: { 'jwt.valid': r.pick([true, false, 'true']) } };
      case 3:
        return { terms: { 'http.response.status_code': [r.pick([200, 401, 403, 500]), r.pick([200, '401', 404])] } };
      case 4: {
        const a = r.int(48);
        const ops = r.pick([
          ['gte', 'lte'],
          ['gt', 'lt'],
          ['gte', 'lt'],
        ]);
        const v = (h: number) => (r.next() < 0.5 ? T0 + h * HOUR : isoAt(h));
        return {
          range: {
            '@timestamp': { [ops[0]!]: v(a), [ops[1]!]: v(a + r.int(48)), ...(r.next() < 0.3 ? { format: 'strict_date_optional_time||epoch_millis' } : {}) },
          },
        };
      }
      case 5:
        return { range: { 'http.response.status_code': { gte: r.pick([200, 300, 401]), ...(r.next() < 0.5 ? { lt: 500 } : {}) } } };
      case 6:
        return { range: { n: { gte: r.int(30), lte: 20 + r.int(30) } } };
      case 7:
        return { range: { 'user.id': { gte: 'b', lt: r.pick(['d', 'f', 'z']) } } };
      case 8:
        return { exists: { field: r.pick(['user', 'user.id', 'http.response.status_code', 'tags', 'event.duration', 'n']) } };
      case 9:
        return { match: { message: r.pick(['token rejected', 'accepted orders', 'alice']) } };
      case 10:
        return {
          query_string: {
            query: r.pick([
              'user.id:alice',
              'event.outcome:failure AND NOT user.id:bob',
              'alice',
              'http.response.status_code:[400 TO 499]',
              'message:token*',
              'user.id:(alice OR carol) AND jwt.valid:false',
              '+event.action:token-rejected -user.id:Eve',
              'http.response.status_code:>=403',
              'n:>10 OR tags:beta',
              'user.id:alice~1',
              '"token rejected"',
              '_exists_:tags',
              'source.ip:10.0.0.0/16',
            ]),
            ...(r.next() < 0.5 ? { default_operator: 'AND' } : {}),
          },
        };
      case 11:
        return { prefix: { 'user.id': r.pick(['a', 'c', 'E']) } };
      case 12:
        return { ids: { values: [`d${r.int(220)}`, `d${r.int(220)}`, 'nope'] } };
      case 13:
        return r.pick([{ match_all: {} }, { match_none: {} }]);
      case 14:
        return { constant_score: { filter: leaf(), boost: 3 } };
      case 15:
        return { range: { 'source.ip': { gte: '10.0.0.0', lte: '10.0.255.255' } } };
      default:
        // malformed now and then: both evaluations must refuse it the same way
        return r.pick([{ term: { 'http.response.status_code': 'abc' } }, { range: { '@timestamp': { gte: 'not a date' } } }, { nope: {} }, { term: {} }]);
    }
  };
  const clauses = (level: number) => Array.from({ length: r.int(3) }, () => (level < 2 && r.next() < 0.3 ? bool(level + 1) : leaf()));
  const bool = (level: number): Body => {
    const b: Body = {};
    for (const k of ['must', 'filter', 'should', 'must_not']) if (r.next() < 0.55) b[k] = clauses(level);
    if (r.next() < 0.2) b.minimum_should_match = r.pick([0, 1, 2, '50%', -1]);
    return { bool: b };
  };
  const nested = (n: number): Body =>
    n === 0 ? { bool: { filter: [{ term: { 'user.id': 'alice' } }, { term: { 'event.outcome': 'failure' } }] } } : { bool: { must: [nested(n - 1)] } };
  const query = (): Body | undefined => {
    const x = r.next();
    if (x < 0.08) return undefined;
    if (x < 0.12) return nested(27 + r.int(5));
    if (x < 0.4) return leaf();
    return bool(0);
  };
  const sortKey = () => {
    const field = r.pick([
      '@timestamp',
      '@timestamp',
      'http.response.status_code',
      'event.duration',
      'n',
      'jwt.exp',
      'user.id',
      'jwt.valid',
      'source.ip',
      '_doc',
    ]);
    const order = r.pick(['asc', 'desc']);
    if (r.next() < 0.2) return `${field}:${order}`;
    return { [field]: { order, ...(r.next() < 0.4 ? { missing: r.pick(['_first', '_last']) } : {}) } };
  };
  const aggs = (): Body => {
    const out: Body = {};
    const n = 1 + r.int(3);
    for (let i = 0; i < n; i++) {
      const lo = T0 + r.int(10) * HOUR;
      out[`a${i}`] = r.pick([
        {
          date_histogram: {
            field: '@timestamp',
            fixed_interval: r.pick(['1h', '30m', '3h']),
            min_doc_count: r.pick([0, 1]),
            extended_bounds: { min: lo, max: lo + 40 * HOUR },
          },
        },
        { date_histogram: { field: '@timestamp', calendar_interval: 'day' } },
        { date_histogram: { field: 'n', fixed_interval: '10ms' } },
        { histogram: { field: 'http.response.status_code', interval: 100 } },
        { histogram: { field: 'n', interval: 7, min_doc_count: 1 } },
        { terms: { field: r.pick(['user.id', 'tags', 'event.action']), size: 1 + r.int(4), ...(r.next() < 0.3 ? { missing: 'none' } : {}) } },
        { terms: { field: 'http.response.status_code' } },
        { terms: { field: 'jwt.valid' } },
        { terms: { field: 'user.id' }, aggs: { m: { max: { field: 'n' } } } },
        { min: { field: r.pick(['@timestamp', 'n', 'event.duration']) } },
        { max: { field: r.pick(['@timestamp', 'n', 'jwt.exp']) } },
        { max: { field: 'user.id' } },
        { sum: { field: 'n' } },
        { avg: { field: 'event.duration' } },
        { cardinality: { field: 'user.id' } },
        { value_count: { field: 'n' } },
      ]);
    }
    return out;
  };
  return {
    r,
    body: (): Body => {
      const b: Body = {};
      const q = query();
      if (q) b.query = q;
      const noPage = r.next() < 0.15;
      if (noPage) b.size = 0;
      else {
        b.size = r.pick([1, 3, 10, 25, 300]);
        if (r.next() < 0.4) b.from = r.pick([1, 2, 7, 40]);
      }
      if (!noPage || r.next() < 0.5) b.sort = Array.from({ length: 1 + r.int(3) }, sortKey);
      if (r.next() < 0.4) b.track_total_hits = r.pick([true, false, 5, 10_000]);
      if (r.next() < 0.4) b.aggs = aggs();
      if (r.next() < 0.3) b._source = r.pick([false, ['user.id', '@timestamp'], { includes: ['event.*'], excludes: ['event.id'] }]);
      return b;
    },
  };
}

const run = (targets: SearchTarget[], body: Body, opts: SearchOptions = {}, plain = false) => outcome(() => search(targets, body, {}, NOW, { ...opts, plain }));

for (const seed of [1, 2, 3]) {
  test(`bit-set search answers as the plain evaluation: generated documents and searches (seed ${seed})`, () => {
    const { targets, mutate } = buildTargets(seed);
    const g = generator(seed * 7919);
    let compared = 0;
    let withHits = 0;
    let errors = 0;
    for (let i = 0; i < 300; i++) {
      if (i % 60 === 59) mutate();
      const body = g.body();
      const plain = run(targets, body, {}, true) as { ok?: { hits: { hits: { sort?: unknown[] }[] } } };
      assert.deepEqual(run(targets, body), plain, `search ${i}: ${JSON.stringify(body)}`);
      compared++;
      if (!plain.ok) errors++;
      const hits = plain.ok?.hits.hits ?? [];
      if (hits.length > 0) withHits++;
      // the next page by search_after from a plain page's last sort values
      const last = hits[hits.length - 1]?.sort;
      if (last && Array.isArray(body.sort)) {
        const next = { ...body, from: 0, search_after: last };
        assert.deepEqual(run(targets, next), run(targets, next, {}, true), `search_after ${i}: ${JSON.stringify(next)}`);
        compared++;
      }
      // the same search inside a point in time that saw fewer documents
      if (g.r.next() < 0.15 && body.sort) {
        const docLimits = new Map(targets.map((t) => [t.index, Math.floor(t.engine.docLimit * g.r.next())]));
        assert.deepEqual(run(targets, body, { docLimits, pit: true }), run(targets, body, { docLimits, pit: true }, true), `pit ${i}: ${JSON.stringify(body)}`);
        compared++;
      }
    }
    // the generator reaches what it means to: pages with hits, and refusals
    assert.ok(withHits > 100, `${withHits} searches with hits`);
    assert.ok(errors > 5 && errors < 150, `${errors} searches refused`);
    assert.ok(compared > 400);
  });
}

test('_count on bits is the plain total of the same query, errors included', () => {
  const { targets, mutate } = buildTargets(11);
  const g = generator(11);
  for (let i = 0; i < 150; i++) {
    if (i === 75) mutate();
    const body = g.body();
    const q = body.query === undefined ? {} : { query: body.query };
    const plain = run(targets, { ...q, size: 0, track_total_hits: true }, {}, true) as { ok?: { hits: { total: { value: number } } } };
    const counted = outcome(() => count(targets, q, {}, NOW)) as { ok?: { count: number }; error?: number };
    if (plain.ok) assert.deepEqual(counted, { ok: { count: plain.ok.hits.total.value } }, JSON.stringify(q));
    else assert.deepEqual(counted, plain, JSON.stringify(q));
  }
});

test('a page sorted newest first over many matches is chosen from the sorted doc values: ties, missing values and later keys as a full sort', () => {
  // every document matches, many share a timestamp, some have none: the walk of the sorted run
  // must bring every tie at the page's edge and leave the order to the later keys
  const engine = new IndexEngine({ properties: { t: { type: 'date' }, k: { type: 'keyword' }, v: { type: 'long' } } });
  const r = rng(5);
  for (let i = 0; i < 3000; i++) {
    // v: two values in most documents, one or none in some, over a range paging walks through
    const src: Record<string, unknown> = { k: `k${r.int(5)}`, ...(i % 11 === 0 ? {} : { v: i % 4 === 0 ? r.int(400) : [r.int(400), r.int(400)] }) };
    if (i % 13 !== 0) src.t = T0 + r.int(40) * 1000;
    engine.index(`e${i}`, src, { seqNo: i, version: 1 });
    if (i % 500 === 499) engine.delete(`e${r.int(i)}`);
  }
  const targets = [{ index: 'i', engine }];
  for (const sort of [
    [{ t: 'desc' }, { k: 'asc' }],
    [{ t: { order: 'asc', missing: '_first' } }, { _doc: 'desc' }],
    [{ v: 'desc' }, { t: 'asc' }],
    [{ v: { order: 'asc', missing: '_first' } }],
    ['_doc'],
  ]) {
    for (const size of [1, 20, 137]) {
      const body = { sort, size, track_total_hits: true };
      const plain = run(targets, body, {}, true) as { ok: { hits: { hits: { sort: unknown[] }[] } } };
      assert.deepEqual(run(targets, body), plain, JSON.stringify(body));
      // page on through search_after
      let after = plain.ok.hits.hits.at(-1)?.sort;
      for (let p = 0; p < 4 && after; p++) {
        const next = { ...body, search_after: after };
        const expected = run(targets, next, {}, true) as { ok: { hits: { hits: { sort: unknown[] }[] } } };
        assert.deepEqual(run(targets, next), expected, JSON.stringify(next));
        after = expected.ok.hits.hits.at(-1)?.sort;
      }
    }
  }
});
