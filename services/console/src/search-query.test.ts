import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramInterval, parseSearchParams, parseTime, searchHref, searchQuery } from './search-query.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const parse = (qs: string) => parseSearchParams(new URLSearchParams(qs), NOW);

test('presets and from/to: a preset ends now; from/to are ISO 8601 or epoch ms; the query round-trips through its link', () => {
  const p = parse('range=1h&q=user.id:alice&outcome=failure&kind=token-rejected&route=orders&subject=alice&client=web&size=100&page=2');
  assert.ok(p.ok);
  assert.equal(p.params.from, NOW - 3_600_000);
  assert.equal(p.params.to, NOW);
  const again = parseSearchParams(new URL(searchHref(p.params), 'http://x').searchParams, NOW);
  assert.ok(again.ok);
  assert.deepEqual({ ...again.params, from: 0, to: 0 }, { ...p.params, from: 0, to: 0 });
  const c = parse('from=2026-11-01T00:00:00Z&to=1795166110000');
  assert.ok(c.ok);
  assert.equal(c.params.range, 'custom');
  assert.equal(c.params.from, Date.parse('2026-11-01T00:00:00Z'));
  assert.equal(c.params.to, 1795166110000);
  const all = parse('range=all');
  assert.ok(all.ok);
  assert.equal(all.params.from, undefined);
});

test('the Elasticsearch query: query_string with AND as audit search, each filter a term on its ECS field', () => {
  const p = parse('range=24h&q=a b&outcome=success&kind=http-exchange&route=r&subject=s&client=c');
  assert.ok(p.ok);
  const q = searchQuery(p.params) as { bool: { must: unknown[]; filter: unknown[] } };
  assert.deepEqual(q.bool.must, [{ query_string: { query: 'a b', default_operator: 'AND' } }]);
  const terms = q.bool.filter.filter((f) => 'term' in (f as object)).map((f) => Object.keys((f as { term: object }).term)[0]);
  assert.deepEqual(terms, ['event.outcome', 'event.action', 'jwt_audit.route', 'user.id', 'jwt_audit.token.client_id']);
});

test('generated bad values: every one refused naming its parameter, whatever the parameter', () => {
  const params = ['range', 'outcome', 'kind', 'size', 'page', 'from', 'to'];
  const chars = ['a', '0', '-', ':', '.', 'T', 'Z', ' ', '%', '\u0000', '\u007f', 'é', '<', '9'];
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let refused = 0;
  for (let i = 0; i < 2_000; i++) {
    const param = params[Math.floor(rnd() * params.length)]!;
    const value = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => chars[Math.floor(rnd() * chars.length)]).join('');
    const r = parse(new URLSearchParams({ [param]: value }).toString());
    if (r.ok) {
      // what is accepted is a real value of that parameter
      const v = value.trim();
      if (v === '') continue; // a blank value is the parameter left out
      if (param === 'from' || param === 'to') assert.notEqual(parseTime(v), undefined, `${param}=${JSON.stringify(value)}`);
      else if (param === 'size' || param === 'page') assert.match(v, /^\d+$/);
      else assert.fail(`${param}=${JSON.stringify(value)} accepted`);
      continue;
    }
    refused++;
    assert.ok(
      r.errors.some((e) => e.param === param),
      `${param}=${JSON.stringify(value)}: ${JSON.stringify(r.errors)}`,
    );
  }
  assert.ok(refused > 1_500, `${refused} of 2000 refused`);
});

test('paging stops at the index window; times outside what can be indexed are refused', () => {
  assert.equal(parse('size=200&page=51').ok, false);
  assert.equal(parse('size=200&page=50').ok, true);
  for (const t of ['10000-01-01T00:00:00Z', '253402300800000', '2026-02-30T00:00:00Z', '2026-01-01T24:00:00Z', 'now-1d', ''])
    assert.equal(parseTime(t), undefined, t);
});

test('histogram intervals: readable widths, at most about 80 bars over any span', () => {
  for (const span of [1, 60_000, 3_600_000, 86_400_000, 30 * 86_400_000, 365 * 86_400_000]) {
    const i = histogramInterval(span);
    assert.ok(span / i <= 80 || i === 30 * 86_400_000, `${span}: ${i}`);
  }
});
