// Points in time, scrolls, _msearch, _field_caps and the fetch options (fields, highlight,
// script_fields) through @elastic/elasticsearch as its users call them, and their inputs probed with
// generated variants: every answer is a 2xx or Elasticsearch's 4xx error shape, never a 500.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { startSearchNode, type SearchNode } from './index.js';
import { prng } from '@jwt-audit/runtime/testing/prng';

const T0 = Date.parse('2026-11-20T00:00:00Z');
const users = ['alice', 'bob', 'carol'];
const docs = Array.from({ length: 250 }, (_, i) => ({
  id: `d-${String(i).padStart(3, '0')}`,
  '@timestamp': new Date(T0 + Math.floor(i / 2) * 60_000).toISOString(), // pairs share a timestamp: the tiebreaker matters
  user: { id: users[i % 3]! },
  status: i % 5 === 0 ? 401 : 200,
  message: i % 5 === 0 ? `token rejected for ${users[i % 3]}` : `request by ${users[i % 3]} accepted`,
}));
const IDX = 'paging';

let node: SearchNode;
let es: Client;
let dir: string;

async function raw(method: string, p: string, body?: string, type = 'application/json'): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(node.url + p, { method, headers: body !== undefined ? { 'content-type': type } : {}, body });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function assertEsAnswer(r: { status: number; json: Record<string, unknown> }, what: string): void {
  assert.ok(r.status < 500, `${what}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  if (r.status >= 400 && !('succeeded' in r.json)) {
    const err = r.json.error as { type?: unknown; reason?: unknown } | undefined;
    assert.equal(typeof err?.type, 'string', `${what}: an error names its type`);
    assert.equal(r.json.status, r.status, `${what}: the body repeats the status`);
  }
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'esearch-contexts-'));
  node = await startSearchNode({ dir, port: 0 });
  es = new Client({ node: node.url });
  await es.indices.create({
    index: IDX,
    mappings: {
      properties: { '@timestamp': { type: 'date' }, user: { properties: { id: { type: 'keyword' } } }, status: { type: 'long' }, message: { type: 'text' } },
    },
  });
  const res = await es.bulk({ refresh: true, operations: docs.flatMap(({ id, ...d }) => [{ index: { _index: IDX, _id: id } }, d]) });
  assert.equal(res.errors, false);
});

after(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a point in time pages through every document once with search_after, and does not see later writes', async () => {
  const pit = await es.openPointInTime({ index: IDX, keep_alive: '1m' });
  // written after the PIT opened: a search in the PIT must not see it, a plain search does
  await es.index({ index: IDX, id: 'late', document: { '@timestamp': new Date(T0).toISOString(), user: { id: 'zed' } }, refresh: true });
  const seen: string[] = [];
  let after: (string | number)[] | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await es.search({
      pit: { id: pit.id, keep_alive: '1m' },
      size: 17,
      sort: [{ '@timestamp': 'asc' }],
      ...(after ? { search_after: after } : {}),
      _source: false,
    });
    if (res.hits.hits.length === 0) break;
    for (const h of res.hits.hits) seen.push(h._id!);
    after = res.hits.hits.at(-1)!.sort as (string | number)[];
    assert.equal(after.length, 2, 'the implicit _shard_doc tiebreaker is the last sort value');
  }
  assert.deepEqual(
    seen,
    docs.map((d) => d.id),
    'every document once, in timestamp order, ties in index order',
  );
  assert.equal((await es.count({ index: IDX, query: { term: { 'user.id': 'zed' } } })).count, 1, 'a plain search sees the late document');
  const inPit = await es.search({ pit: { id: pit.id }, size: 0, query: { term: { 'user.id': 'zed' } }, track_total_hits: true });
  assert.deepEqual(inPit.hits.total, { value: 0, relation: 'eq' });
  const closed = await es.closePointInTime({ id: pit.id });
  assert.deepEqual(closed, { succeeded: true, num_freed: 1 });
  await assert.rejects(
    es.search({ pit: { id: pit.id }, size: 1 }),
    (err: { meta?: { statusCode?: number; body?: { error?: { root_cause?: { type?: string }[] } } } }) => {
      assert.equal(err.meta?.statusCode, 404);
      assert.equal(err.meta?.body?.error?.root_cause?.[0]?.type, 'search_context_missing_exception');
      return true;
    },
  );
  await es.delete({ index: IDX, id: 'late', refresh: true });
});

test('the client scroll helper reads every matching document, and a cleared scroll is gone', async () => {
  const ids: string[] = [];
  for await (const res of es.helpers.scrollSearch({ index: IDX, scroll: '30s', size: 40, query: { term: { status: 401 } }, sort: ['_doc'], _source: false })) {
    for (const h of res.body.hits.hits) ids.push(h._id!);
  }
  assert.deepEqual(
    ids,
    docs.filter((d) => d.status === 401).map((d) => d.id),
  );
  // a document deleted between two pages of a scroll is left out, never a failed page
  const open = await es.search({ index: IDX, scroll: '30s', size: 5, sort: ['_doc'], _source: false });
  await es.index({ index: IDX, id: 'gone', document: { '@timestamp': new Date(T0).toISOString(), user: { id: 'tmp' } }, refresh: true });
  const s2 = await es.search({
    index: IDX,
    scroll: '30s',
    size: 1,
    sort: ['_doc'],
    _source: false,
    query: { bool: { should: [{ term: { 'user.id': 'tmp' } }, { ids: { values: ['d-000'] } }] } },
  });
  await es.delete({ index: IDX, id: 'gone', refresh: true });
  const next = await es.scroll({ scroll_id: s2._scroll_id!, scroll: '30s' });
  assert.deepEqual(next.hits.hits, [], 'the deleted document is not shown');
  assert.deepEqual(await es.clearScroll({ scroll_id: [open._scroll_id!, s2._scroll_id!] }), { succeeded: true, num_freed: 2 });
  const first = await es.search({ index: IDX, scroll: '30s', size: 5, sort: ['_doc'] });
  assert.deepEqual(await es.clearScroll({ scroll_id: first._scroll_id! }), { succeeded: true, num_freed: 1 });
  await assert.rejects(es.scroll({ scroll_id: first._scroll_id!, scroll: '30s' }), /search_context_missing_exception/);
});

test('_msearch answers each search in order, an item error beside the others', async () => {
  const res = await es.msearch({
    searches: [
      { index: IDX },
      { size: 0, query: { term: { 'user.id': 'alice' } } },
      { index: 'no-such-index' },
      { size: 0 },
      { index: IDX },
      { size: 0, aggs: { m: { terms: { field: 'message' } } } },
    ],
  });
  const [a, missing, textAgg] = res.responses as unknown as Record<string, unknown>[];
  assert.deepEqual((a as { hits: { total: unknown } }).hits.total, { value: docs.filter((d) => d.user.id === 'alice').length, relation: 'eq' });
  assert.equal((missing as { status: number }).status, 404);
  assert.equal((textAgg as { status: number }).status, 400);
});

test('_field_caps describes the mapping as Kibana reads it', async () => {
  const caps = await es.fieldCaps({ index: IDX, fields: ['user.*', 'message', 'status'] });
  assert.deepEqual(caps.fields['user.id'], { keyword: { type: 'keyword', metadata_field: false, searchable: true, aggregatable: true } });
  assert.deepEqual(caps.fields.message, { text: { type: 'text', metadata_field: false, searchable: true, aggregatable: false } });
  assert.equal(caps.fields.user?.object?.type, 'object');
  assert.deepEqual(caps.indices, [IDX]);
});

test('fields, highlight and script_fields on the same hits', async () => {
  const res = await es.search({
    index: IDX,
    size: 3,
    sort: [{ '@timestamp': 'asc' }],
    query: { match: { message: 'rejected' } },
    _source: false,
    fields: ['user.id', { field: '@timestamp', format: 'epoch_millis' }],
    highlight: { fields: { message: {} } },
    script_fields: { twice: { script: { source: "doc['status'].value * 2" } } },
  });
  const rejected = docs.filter((d) => d.status === 401).slice(0, 3);
  assert.deepEqual(
    res.hits.hits.map((h) => h.fields),
    rejected.map((d) => ({ 'user.id': [d.user.id], '@timestamp': [String(Date.parse(d['@timestamp']))], twice: [802] })),
  );
  assert.deepEqual(
    res.hits.hits.map((h) => h.highlight),
    rejected.map((d) => ({ message: [`token <em>rejected</em> for ${d.user.id}`] })),
  );
});

test('generated scripts: every one runs or is refused with an error, never a 500', async () => {
  const r = prng(23);
  const atoms = [
    "doc['status'].value",
    "doc['user.id'].value",
    "doc['user.id'].size()",
    "doc['nope'].value",
    "doc['message'].value",
    'params.x',
    '1',
    '2.5',
    "'s'",
    'true',
    'null',
    "doc['status']",
    "doc['status'][0]",
    "doc['status'][9]",
    'doc',
    'params',
    'foo',
    'Math.max(1, 2)',
  ];
  const ops = [
    ' + ',
    ' - ',
    ' * ',
    ' / ',
    ' % ',
    ' == ',
    ' != ',
    ' < ',
    ' >= ',
    ' && ',
    ' || ',
    ' ? ',
    ' : ',
    '(',
    ')',
    '[',
    ']',
    '.',
    ';',
    '!',
    "'",
    '"',
    'return ',
  ];
  for (let i = 0; i < 300; i++) {
    let src = '';
    const n = 1 + Math.floor(r() * 5);
    for (let j = 0; j < n; j++) src += (r() < 0.6 ? atoms : ops)[Math.floor(r() * (r() < 0.6 ? atoms.length : ops.length))] ?? '';
    const body = JSON.stringify({
      size: 2,
      sort: [{ '@timestamp': 'asc' }],
      _source: false,
      script_fields: { s: { script: { source: src, params: { x: r() < 0.5 ? 3 : 'three' } } } },
    });
    assertEsAnswer(await raw('POST', `/${IDX}/_search`, body), `script ${JSON.stringify(src)}`);
  }
});

test('generated _msearch bodies, context ids and fetch options: never a 500', async () => {
  const r = prng(7);
  const lines = [
    '{}',
    `{"index":"${IDX}"}`,
    '{"index":"nope"}',
    '{"bogus":1}',
    '{"size":1}',
    '{"query":{"bogus":{}}}',
    '{"from":-1}',
    'not json',
    '',
    '[]',
    '"s"',
    '{"size":0,"aggs":{"a":{"terms":{"field":"message"}}}}',
    '{"index":["a","b"]}',
    '{"highlight":{"fields":{"*":{}}}}',
    '{"fields":[{"field":"*","format":"x"}]}',
  ];
  for (let i = 0; i < 200; i++) {
    const n = Math.floor(r() * 6);
    let text = '';
    for (let j = 0; j < n; j++) text += `${lines[Math.floor(r() * lines.length)]}\n`;
    if (r() < 0.2) text = text.slice(0, -1);
    assertEsAnswer(await raw('POST', `/${IDX}/_msearch`, text, 'application/x-ndjson'), `msearch ${JSON.stringify(text)}`);
  }
  const pit = await es.openPointInTime({ index: IDX, keep_alive: '1m' });
  const scroll = (await es.search({ index: IDX, scroll: '1m', size: 1 }))._scroll_id!;
  const ids = [pit.id, scroll, '', 'x', 'garbage==', Buffer.from('pit:1:zz').toString('base64url'), pit.id.slice(0, -2), `${scroll}A`, '%00', 'a'.repeat(5000)];
  for (const id of ids) {
    for (const p of ['pit', 'scroll'] as const) {
      const what = `${p} id ${JSON.stringify(id.slice(0, 40))}`;
      if (p === 'pit') {
        assertEsAnswer(await raw('POST', '/_search', JSON.stringify({ size: 1, pit: { id } })), what);
        assertEsAnswer(await raw('POST', '/_search', JSON.stringify({ size: 1, pit: { id, keep_alive: r() < 0.5 ? 'forever' : '1m' } })), what);
      } else {
        assertEsAnswer(await raw('POST', '/_search/scroll', JSON.stringify({ scroll_id: id, scroll: r() < 0.5 ? '1m' : 'soon' })), what);
        assertEsAnswer(await raw('GET', `/_search/scroll/${encodeURIComponent(id) || 'x'}`), what);
      }
    }
  }
  assertEsAnswer(await raw('DELETE', '/_pit', JSON.stringify({ id: 42 })), 'close a numeric pit id');
  assertEsAnswer(await raw('DELETE', '/_search/scroll', JSON.stringify({ scroll_id: [scroll, 'garbage'] })), 'clear a good and a bad scroll id');
  const specs: unknown[] = [
    null,
    1,
    'x',
    [],
    [null],
    [{}],
    [{ field: 1 }],
    [{ field: '*', format: 'yyyy-MM-dd' }],
    [{ field: '*', include_unmapped: 'yes' }],
    [{ field: '@timestamp', format: 'EEE' }],
    [{ field: 'status', format: '#,##0.00' }],
    [{ field: 'status', format: 'abc' }],
  ];
  for (const f of specs) {
    for (const key of ['fields', 'docvalue_fields'])
      assertEsAnswer(await raw('POST', `/${IDX}/_search`, JSON.stringify({ size: 2, [key]: f })), `${key} ${JSON.stringify(f)}`);
    assertEsAnswer(
      await raw('POST', `/${IDX}/_search`, JSON.stringify({ size: 2, query: { match: { message: 'rejected' } }, highlight: { fields: f } })),
      `highlight fields ${JSON.stringify(f)}`,
    );
  }
  for (const f of ['', '*', ',', 'a,,b', '_*', '*.*.*', '\u0000'])
    assertEsAnswer(await raw('GET', `/${IDX}/_field_caps?fields=${encodeURIComponent(f)}`), `field_caps ${JSON.stringify(f)}`);
});

test('generated simple_query_string, regexp, fuzzy and query_string inputs: never a 500', async () => {
  const r = prng(42);
  const parts = [
    'alice',
    'bob',
    'rej*',
    '"token rejected"',
    '"open',
    '(',
    ')',
    '+',
    '|',
    '-',
    '~',
    '~2',
    '*',
    '\\',
    '/',
    '/al.*/',
    '[',
    ']',
    '{',
    '}',
    '<1-5>',
    '@',
    '#',
    '&',
    '.',
    '?',
    ':',
    'user.id:',
    'message:',
    'AND',
    'OR',
    'NOT',
    ' ',
    '\u00e9',
    '\u0000',
  ];
  const pick = () => parts[Math.floor(r() * parts.length)]!;
  for (let i = 0; i < 150; i++) {
    let text = '';
    for (let j = Math.floor(r() * 6); j >= 0; j--) text += pick() + (r() < 0.5 ? ' ' : '');
    const queries = [
      { simple_query_string: { query: text, ...(r() < 0.3 ? { default_operator: 'AND' } : {}) } },
      { regexp: { [r() < 0.5 ? 'user.id' : 'message']: text } },
      { fuzzy: { 'user.id': { value: text, fuzziness: ['AUTO', 0, 1, 2, 'x', -1][Math.floor(r() * 6)] } } },
      { query_string: { query: text } },
      { match: { message: { query: text, fuzziness: 'AUTO' } } },
    ];
    for (const query of queries)
      assertEsAnswer(await raw('POST', `/${IDX}/_search`, JSON.stringify({ size: 1, query })), `${Object.keys(query)[0]} ${JSON.stringify(text)}`);
  }
});

test('async search as Kibana submits it, kept with keep_on_completion, and _resolve/index', async () => {
  const submitted = await es.asyncSearch.submit({
    index: IDX,
    keep_on_completion: true,
    wait_for_completion_timeout: '100ms',
    size: 0,
    track_total_hits: true,
    query: { term: { status: 401 } },
  });
  assert.equal(submitted.is_running, false);
  assert.deepEqual(submitted.response.hits.total, { value: docs.filter((d) => d.status === 401).length, relation: 'eq' });
  const again = await es.asyncSearch.get({ id: submitted.id! });
  assert.deepEqual(again.response.hits.total, submitted.response.hits.total);
  assert.equal((await es.asyncSearch.status({ id: submitted.id! })).completion_status, 200);
  assert.deepEqual(await es.asyncSearch.delete({ id: submitted.id! }), { acknowledged: true });
  await assert.rejects(es.asyncSearch.get({ id: submitted.id! }), /resource_not_found_exception/);
  const resolved = await es.indices.resolveIndex({ name: `${IDX}*` });
  assert.deepEqual(resolved, { indices: [{ name: IDX, attributes: ['open'] }], aliases: [], data_streams: [] });
  for (const id of ['', 'x', 'a'.repeat(300), Buffer.from('async:1:zz').toString('base64url')])
    assertEsAnswer(await raw('GET', `/_async_search/${encodeURIComponent(id) || 'y'}`), `async id ${id.slice(0, 20)}`);
});

test('generated pipeline paths, ip ranges and time zones: never a 500', async () => {
  const r = prng(5);
  const pathParts = ['_count', 's', 's.value', 'f', 'f._count', 'f>s', 'nope', '>', '.', 'a>s', 'a._count', '', 's.avg', 's[0]'];
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  for (let i = 0; i < 120; i++) {
    const path = pick(pathParts) + (r() < 0.3 ? pick(pathParts) : '');
    const pipe = pick(['derivative', 'cumulative_sum', 'avg_bucket', 'max_bucket', 'stats_bucket', 'bucket_script']);
    const pipeBody =
      pipe === 'bucket_script'
        ? { buckets_path: { x: path }, script: pick(['params.x * 2', 'params.x / 0', 'params.y', 'doc.x', '1 +']) }
        : { buckets_path: path };
    const hist = {
      date_histogram: { field: '@timestamp', fixed_interval: '1h' },
      aggs: {
        s: { sum: { field: 'status' } },
        f: { filter: { term: { status: 401 } }, aggs: { s: { max: { field: 'status' } } } },
        ...(PARENT.has(pipe) ? { p: { [pipe]: pipeBody } } : {}),
      },
    };
    const aggs = { a: hist, ...(PARENT.has(pipe) ? {} : { p: { [pipe]: pipeBody } }) };
    assertEsAnswer(await raw('POST', `/${IDX}/_search`, JSON.stringify({ size: 0, aggs })), `${pipe} ${JSON.stringify(pipeBody)}`);
  }
  const ips = ['10.0.0.0', '10.0.0.0/8', '::', '::/0', '0.0.0.0/0', 'nope', '300.1.1.1', '1.2.3.4/33', '2001:db8::/129', '', '1.2.3.4'];
  for (let i = 0; i < 60; i++) {
    const range = r() < 0.4 ? { mask: pick(ips) } : { ...(r() < 0.7 ? { from: pick(ips) } : {}), ...(r() < 0.7 ? { to: pick(ips) } : {}) };
    assertEsAnswer(
      await raw('POST', `/${IDX}/_search`, JSON.stringify({ size: 0, aggs: { i: { ip_range: { field: 'source.ip', ranges: [range] } } } })),
      `ip_range ${JSON.stringify(range)}`,
    );
    const tz = pick(['UTC', '+05:30', '-25:00', 'Europe/Paris', 'Mars/Olympus', '', 'Z', '+0530']);
    assertEsAnswer(
      await raw(
        'POST',
        `/${IDX}/_search`,
        JSON.stringify({
          size: 0,
          query: { range: { '@timestamp': { gte: '2026-11-20', time_zone: tz } } },
          aggs: { d: { date_histogram: { field: '@timestamp', calendar_interval: 'day', time_zone: tz } } },
        }),
      ),
      `time_zone ${JSON.stringify(tz)}`,
    );
  }
});
const PARENT = new Set(['derivative', 'cumulative_sum', 'bucket_script']);

test('deeply nested scripts, simple_query_strings, query_strings and bool queries are refused or read, never a 500', async () => {
  for (const n of [50, 150, 5000, 30000]) {
    const scripts = ['('.repeat(n) + '1' + ')'.repeat(n), '-'.repeat(n) + '1', '1 ? '.repeat(n) + '1' + ' : 2'.repeat(n), '!'.repeat(n) + 'true'];
    for (const source of scripts)
      assertEsAnswer(await raw('POST', `/${IDX}/_search`, JSON.stringify({ size: 1, script_fields: { s: { script: { source } } } })), `script of depth ${n}`);
    assertEsAnswer(
      await raw('POST', `/${IDX}/_search`, JSON.stringify({ size: 0, query: { simple_query_string: { query: '('.repeat(n) + 'alice' } } })),
      `simple_query_string of depth ${n}`,
    );
    assertEsAnswer(
      await raw('POST', `/${IDX}/_search`, JSON.stringify({ size: 0, query: { query_string: { query: '('.repeat(n) + 'alice' + ')'.repeat(n) } } })),
      `query_string of depth ${n}`,
    );
    // built as text: JSON.stringify itself would overflow on the deepest
    const bool = `${'{"bool":{"must":['.repeat(n)}{"match_all":{}}${']}}'.repeat(n)}`;
    assertEsAnswer(await raw('POST', `/${IDX}/_search`, `{"size":0,"query":${bool}}`), `bool of depth ${n}`);
  }
});
