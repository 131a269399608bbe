/**
 * The indexing caches (path nodes' leaf mappings, FieldInfo's column, the per-field token cache,
 * the previous-term shortcut in columns.ts, the canonical ISO date fast path) against the uncached
 * path: generated documents whose shapes collide (one path as a string, a number, an object, an
 * array, null), whose keys come in any order, whose values repeat or never do, with dynamic
 * additions, mapping changes and refused documents between them, indexed into an engine with its
 * caches and into one without (`uncached`), must leave the same mappings, the same refusals and
 * the same terms, postings, doc values and presence in every field. The cached engine's term
 * dictionaries move into the byte arena after 16 terms (term-dict.ts), the uncached one's stay Maps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EsError } from '../errors.js';
import { dateFormat, DEFAULT_DATE_FORMAT } from './date-format.js';
import { IndexEngine, type Mappings } from './index-engine.js';
import { parseDate } from './values.js';
import { rng } from '@jwt-audit/runtime/testing/prng';

type R = ReturnType<typeof rng>;

const MAPPINGS: Mappings = {
  properties: {
    ts: { type: 'date' },
    ip: { type: 'ip' },
    n: { type: 'long' },
    flag: { type: 'boolean' },
    claims: { type: 'flattened' },
    kw: { type: 'keyword', ignore_above: 8 },
    msg: { type: 'text', fields: { keyword: { type: 'keyword' }, raw: { type: 'keyword', ignore_above: 12 } } },
    epoch: { type: 'date', format: 'epoch_millis' },
    locked: { dynamic: 'strict', properties: { x: { type: 'keyword' } } },
    off: { type: 'keyword', index: false },
  },
};

const TEXTS = ['Hello World', 'hello world', 'Mozilla/5.0 (X11; Linux x86_64)', "it's O'Brien.net", 'a.b.c 1.2', '', 'Ünïcødé Straße 42', 'x', 'Tōkyō 東京 €5'];
const KEYWORDS = ['alice', 'bob', 'carolineX', 'a', '', 'ü', '12345678', '123456789', '東京', 'ÿ€'];
const KEYS = ['ts', 'ip', 'n', 'flag', 'claims', 'kw', 'msg', 'epoch', 'locked', 'off', 'dyn', 'obj', 'when', 'num'];

function date(r: R): string {
  // canonical (toISOString) dates, near-canonical ones the fast path must hand back, and other ISO forms
  switch (r.int(6)) {
    case 0:
      return new Date(Date.UTC(2026, 10, 20) + r.int(1e9)).toISOString();
    case 1:
      return `2026-${r.pick(['02', '13', '00', '12'])}-${r.pick(['29', '30', '31', '00', '01'])}T${r.pick(['23', '24', '00'])}:${r.pick(['59', '60'])}:00.000Z`;
    case 2:
      return `00${r.int(10)}${r.int(10)}-01-01T00:00:00.000Z`;
    case 3:
      return '2026-11-20';
    case 4:
      return '2026-11-20T10:00:00+02:00';
    default:
      return `${2000 + r.int(30)}-11-20T10:00:00.${r.int(10)}${r.int(10)}${r.int(10)}${r.pick(['Z', 'z', '+'])}`;
  }
}

function value(r: R, key: string, depth: number): unknown {
  const roll = r.int(20);
  if (roll === 0) return null;
  if (roll === 1 && depth < 2) return [value(r, key, depth + 1), value(r, key, depth + 1)];
  if (roll === 2 && depth < 2) return object(r, depth + 1);
  if (roll === 3) return r.int(3) === 0 ? 1.5 : r.int(1000) - 500;
  if (roll === 4) return r.int(2) === 0;
  if (roll === 5) return `unique-${r.int(1e9)} value ${r.int(1e9)}${r.pick(['', 'é', '東'])}`;
  switch (key) {
    case 'ts':
    case 'when':
      return date(r);
    case 'ip':
      return r.pick(['10.0.0.1', `10.1.${r.int(256)}.${r.int(300)}`, '2001:db8::1', '::ffff:1.2.3.4', 'nope', ' 10.0.0.2 ']);
    case 'n':
    case 'num':
      return r.pick([r.int(100), `${r.int(100)}`, 'twelve', 2 ** 64, -3.7]);
    case 'flag':
      return r.pick([true, false, 'true', 'false', '', 'maybe']);
    case 'claims':
      return { sub: r.pick(KEYWORDS), nested: { a: r.pick(KEYWORDS), list: [1, 'two'] } };
    case 'epoch':
      return r.pick([r.int(2e12), `${r.int(2e12)}`, 'soon']);
    case 'locked':
      return r.int(4) === 0 ? { x: 'a', y: 'b' } : { x: r.pick(KEYWORDS) };
    case 'kw':
    case 'off':
      return r.pick(KEYWORDS);
    default:
      return r.int(2) === 0 ? r.pick(TEXTS) : r.pick(KEYWORDS);
  }
}

function object(r: R, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const n = 1 + r.int(6);
  for (let i = 0; i < n; i++) {
    const k = r.pick(KEYS);
    o[k] = value(r, k, depth);
  }
  return o;
}

/** Everything the engine answers queries from, for every field it has a column for. */
function snapshot(e: IndexEngine, paths: Set<string>) {
  const fields: Record<string, unknown> = {};
  const docs = Array.from({ length: e.docLimit }, (_, n) => n);
  for (const f of [...new Set([...e.fieldNames(), ...paths])].sort()) {
    const col = e.column(f);
    if (!col) continue;
    const terms = e.termList(f) ?? [];
    fields[f] = {
      terms: terms.map((t) => [t, e.termDocs(f, t)]),
      present: e.docsWithField(f),
      numbers: docs.map((n) => e.numbersOf(f, n)),
      ips: docs.map((n) => e.ipsOf(f, n)),
      values: docs.map((n) => e.termValuesOf(f, n)),
    };
  }
  return { mappings: e.mappings(), size: e.size, docLimit: e.docLimit, fields };
}

function collectPaths(v: unknown, prefix: string, out: Set<string>): void {
  if (Array.isArray(v)) return v.forEach((x) => collectPaths(x, prefix, out));
  if (v === null || typeof v !== 'object') return void out.add(prefix.slice(0, -1));
  for (const [k, x] of Object.entries(v)) collectPaths(x, `${prefix}${k}.`, out);
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`the indexing caches index generated documents exactly as the uncached path (seed ${seed})`, () => {
    const r = rng(seed);
    const mappings: Mappings = seed % 2 === 0 ? MAPPINGS : { ...MAPPINGS, dynamic: r.pick(['true', 'false', 'strict'] as const) };
    const cached = new IndexEngine(mappings, { arenaAfter: 16 });
    const uncached = new IndexEngine(mappings, { uncached: true, arenaAfter: Infinity });
    const paths = new Set<string>();
    let refused = 0;
    for (let i = 0; i < 2500; i++) {
      if (i === 1200) {
        // a mapping change mid-stream: cached leaf mappings must be looked up again
        const more: Mappings = { properties: { dyn: { type: 'keyword' }, extra: { type: 'text' } } };
        const outcome = (e: IndexEngine) => {
          try {
            e.putMappings(more);
            return 'ok';
          } catch (err) {
            return (err as EsError).message;
          }
        };
        assert.equal(outcome(cached), outcome(uncached));
      }
      const doc = object(r, 0);
      collectPaths(doc, '', paths);
      for (const k of Object.keys((doc.claims as object) ?? {})) paths.add(`claims.${k}`);
      paths.add('claims.sub').add('claims.nested.a').add('claims.nested.list');
      // ids repeat: replaced documents take new doc numbers in both
      const id = `d${r.int(1800)}`;
      const outcome = (e: IndexEngine) => {
        try {
          e.index(id, structuredClone(doc), { seqNo: i, version: 1 });
          return 'ok';
        } catch (err) {
          assert.ok(err instanceof EsError, String(err));
          return `${err.type}: ${err.message} ${JSON.stringify(err.extra)}`;
        }
      };
      const a = outcome(cached);
      assert.equal(a, outcome(uncached), `document ${i}: ${JSON.stringify(doc)}`);
      if (a !== 'ok') refused++;
      if (r.int(50) === 0) {
        const gone = `d${r.int(1800)}`;
        assert.equal(cached.delete(gone), uncached.delete(gone));
      }
    }
    // the generator refuses some documents and accepts most: both branches were taken
    assert.ok(refused > 50 && refused < 2400, `refused ${refused}`);
    assert.deepEqual(snapshot(cached, paths), snapshot(uncached, paths));
  });
}

test('the canonical ISO date fast path gives what the default format gives, for generated near-canonical strings', () => {
  const r = rng(99);
  const def = dateFormat(DEFAULT_DATE_FORMAT);
  const chars = '0123456789-T:.Z z+';
  let parsed = 0;
  for (let i = 0; i < 50_000; i++) {
    // a canonical date with up to three characters replaced, or one of its digits pushed past its range
    const base = new Date(r.int(2 ** 42) - 2 ** 40 + Date.UTC(1970, 0, 1)).toISOString();
    const s = base.length === 24 ? base.split('') : '2026-02-29T24:60:60.999Z'.split('');
    for (let k = r.int(4); k > 0; k--) s[r.int(24)] = r.pick(chars.split(''));
    if (r.int(5) === 0) s.splice(5, 5, ...r.pick(['02-29', '02-28', '04-31', '13-01', '00-10', '12-00', '01-32']).split(''));
    if (r.int(7) === 0) s.splice(0, 2, '0', '0');
    const text = s.join('');
    // parseDate trims a value before its format reads it
    const expected = def.parse(text.trim());
    assert.equal(parseDate(text), expected, text);
    assert.equal(parseDate(text, 'strict_date_optional_time'), dateFormat('strict_date_optional_time').parse(text.trim()), text);
    if (expected !== undefined) parsed++;
  }
  assert.ok(parsed > 10_000 && parsed < 50_000, `parsed ${parsed}`);
});
