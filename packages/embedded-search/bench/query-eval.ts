/**
 * Query evaluation in-process: the console Search page's requests (services/console/src/reader.ts:
 * 50 rows sorted by @timestamp desc, `_source` cut to the row fields, a date_histogram with
 * extended_bounds, no total; for all time the min/max bounds first) and `_count`, over N documents
 * shaped as the console bench's, answered by search() with the bit-set path (query.ts matchBits,
 * sort-candidates.ts, aggregations on bits) and by the plain path it replaced (SearchOptions.plain:
 * a score per match, every match sorted), in the same run. CPU time per search (process.cpuUsage:
 * wall time is noise on a loaded machine), median of the runs, and the ratio plain / bits.
 *   node --max-old-space-size=8192 --conditions=source --import tsx packages/embedded-search/bench/query-eval.ts
 *   QUERY_BENCH_DOCS=1000000 QUERY_BENCH_RUNS=5 (defaults 200000 and 7)
 */
import { IndexEngine } from '../src/engine/index-engine.js';
import { count, search, type SearchTarget } from '../src/engine/search.js';

const N = Number(process.env.QUERY_BENCH_DOCS ?? 200_000);
const RUNS = Number(process.env.QUERY_BENCH_RUNS ?? 7);
const SPAN = 86_000_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');
const say = (s: string) => process.stderr.write(`${s}\n`);

const engine = new IndexEngine({
  properties: {
    '@timestamp': { type: 'date' },
    event: { properties: { action: { type: 'keyword' }, outcome: { type: 'keyword' }, reason: { type: 'keyword' }, id: { type: 'keyword' } } },
    user: { properties: { id: { type: 'keyword' } } },
    source: { properties: { ip: { type: 'ip' } } },
    url: { properties: { path: { type: 'keyword' } } },
    http: { properties: { request: { properties: { method: { type: 'keyword' } } }, response: { properties: { status_code: { type: 'long' } } } } },
    jwt_audit: { properties: { route: { type: 'keyword' }, token: { properties: { typ: { type: 'keyword' }, client_id: { type: 'keyword' } } } } },
  },
});
const started = process.cpuUsage();
for (let k = 0; k < N; k++) {
  const fail = k % 7 === 0;
  engine.index(
    `e${k}`,
    {
      '@timestamp': new Date(T0 + Math.floor((k / N) * SPAN)).toISOString(),
      event: {
        action: fail ? 'token-rejected' : 'token-validated',
        outcome: fail ? 'failure' : 'success',
        id: `e${k}`,
        ...(fail ? { reason: 'expired' } : {}),
      },
      user: { id: `user${k % 500}` },
      source: { ip: `198.51.100.${k % 250}` },
      url: { path: k % 2 ? '/api/orders' : '/api/profile' },
      http: { request: { method: 'GET' }, response: { status_code: fail ? 401 : 200 } },
      jwt_audit: { route: k % 2 ? 'orders' : 'profile', token: { typ: 'access', client_id: 'web' } },
    },
    { seqNo: k, version: 1 },
  );
}
say(`indexed ${N} documents in-process (${((process.cpuUsage(started).user + process.cpuUsage(started).system) / 1e6).toFixed(0)} s CPU)`);
const targets: SearchTarget[] = [{ index: 'events', engine }];

const ROW_FIELDS = ['@timestamp', 'event.action', 'event.outcome', 'event.reason', 'user.id', 'source.ip', 'url.path', 'http.response.status_code'];
const day = { range: { '@timestamp': { gte: T0, lte: T0 + SPAN, format: 'epoch_millis' } } };
const page = (query: unknown, aggs: unknown) => ({
  size: 50,
  from: 0,
  sort: [{ '@timestamp': 'desc' }],
  _source: { includes: ROW_FIELDS },
  query,
  track_total_hits: false,
  aggs,
});
const histogram = {
  over_time: { date_histogram: { field: '@timestamp', fixed_interval: '1800s', min_doc_count: 0, extended_bounds: { min: T0, max: T0 + SPAN } } },
};
const scenarios: [string, () => unknown, () => unknown][] = [];
const both = (name: string, body: Record<string, unknown>) =>
  scenarios.push([name, () => search(targets, body, {}, Date.now()), () => search(targets, body, {}, Date.now(), { plain: true })]);
both('page: the whole day, no query', page({ bool: { must: [], filter: [day] } }, histogram));
both(
  'page: the whole day, `event.outcome:failure`',
  page({ bool: { must: [{ query_string: { query: 'event.outcome:failure', default_operator: 'AND' } }], filter: [day] } }, histogram),
);
both(
  'page: the whole day, `user.id:user7` + route',
  page(
    { bool: { must: [{ query_string: { query: 'user.id:user7', default_operator: 'AND' } }], filter: [day, { term: { 'jwt_audit.route': 'orders' } }] } },
    histogram,
  ),
);
both('page, all time: rows and bounds', {
  ...page({ bool: { must: [], filter: [] } }, { lo: { min: { field: '@timestamp' } }, hi: { max: { field: '@timestamp' } } }),
  track_total_hits: true,
});
both('page, all time: the histogram alone (size 0)', { size: 0, query: { bool: { must: [], filter: [] } }, track_total_hits: false, aggs: histogram });
const countBody = { query: { bool: { filter: [day, { term: { 'event.outcome': 'failure' } }] } } };
scenarios.push([
  '_count: the day, failures',
  () => count(targets, countBody, {}, Date.now()),
  () => search(targets, { ...countBody, size: 0, track_total_hits: true }, {}, Date.now(), { plain: true }),
]);

function cpuMs(fn: () => unknown): number[] {
  fn(); // warm-up (and the first merge of the sorted doc values)
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = process.cpuUsage();
    fn();
    const d = process.cpuUsage(s);
    out.push((d.user + d.system) / 1000);
  }
  return out;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = [];
for (const [name, fast, plain] of scenarios) {
  // the same answer first: a benchmark of a wrong answer measures nothing
  const a = JSON.stringify(fast());
  const b = JSON.stringify(plain());
  if (name.startsWith('page') && a !== b) throw new Error(`${name}: the two paths answer differently`);
  const f = median(cpuMs(fast));
  const p = median(cpuMs(plain));
  rows.push(`| ${name} | ${N.toLocaleString('en')} | ${f.toFixed(1)} ms | ${p.toFixed(0)} ms | ${(p / f).toFixed(0)}x |`);
  say(rows[rows.length - 1]!);
}
process.stdout.write(`| search | documents | CPU per search, bits | plain | plain / bits |\n|---|---|---|---|---|\n${rows.join('\n')}\n`);
