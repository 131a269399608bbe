/**
 * The columnar structures (columns.ts) against a brute-force model: generated documents with
 * missing, repeated, multi-valued, negative and fractional values, replaced and deleted between
 * queries (so sorted runs are merged with tails mid-way), queried with generated bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IndexEngine } from './index-engine.js';
import { search } from './search.js';
import { ipKey, ipSortKey } from './values.js';
import { rng } from '@jwt-audit/runtime/testing/prng';

type Doc = { n?: number | number[]; f?: number; k?: string | string[]; at?: string; ip?: string | string[] };
const KEYS = ['a', 'b', 'c', 'dd', 'e e', 'ü', ''];

function genDoc(r: ReturnType<typeof rng>): Doc {
  const d: Doc = {};
  const roll = r.int(10);
  if (roll < 6) d.n = r.int(40) - 20;
  else if (roll < 8) d.n = [r.int(40) - 20, r.int(40) - 20, r.int(5)];
  if (r.int(4) > 0) d.f = r.pick([0.1, 0.2, 0.30000000000000004, -1.5, 2.5, 1e-300, -0, 1e15]);
  if (r.int(5) > 0) d.k = r.int(3) === 0 ? [r.pick(KEYS), r.pick(KEYS)] : r.pick(KEYS);
  if (r.int(5) > 0) d.at = new Date(Date.UTC(2026, 10, 20) + r.int(48) * 1_800_000 + r.int(3)).toISOString();
  const ip = () => (r.int(4) === 0 ? `2001:db8::${r.int(20).toString(16)}` : `10.0.${r.int(3)}.${r.int(256)}`);
  if (r.int(3) > 0) d.ip = r.int(5) === 0 ? [ip(), ip()] : ip();
  return d;
}

const vals = (v: number | number[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

test('ranges, terms, sorts and aggregations over columns match a brute-force model through replaces and deletes', () => {
  for (const seed of [1, 2, 3, 4]) {
    const r = rng(seed);
    const e = new IndexEngine({ properties: { n: { type: 'long' }, f: { type: 'double' }, k: { type: 'keyword' }, at: { type: 'date' }, ip: { type: 'ip' } } });
    const model = new Map<string, Doc>();
    let seq = 0;
    const ids = (body: Record<string, unknown>) =>
      (search([{ index: 'i', engine: e }], { size: 10_000, ...body }, {}, 0).hits as { hits: { _id: string }[] }).hits.map((h) => h._id).sort();
    const where = (p: (d: Doc) => boolean) =>
      [...model]
        .filter(([, d]) => p(d))
        .map(([id]) => id)
        .sort();
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 80; i++) {
        const id = `d${r.int(150)}`;
        if (r.int(6) === 0) {
          assert.equal(e.delete(id), model.delete(id));
        } else {
          const d = genDoc(r);
          e.index(id, d as Record<string, unknown>, { seqNo: seq++, version: 1 });
          model.set(id, d);
        }
      }
      assert.equal(e.size, model.size);
      for (let q = 0; q < 6; q++) {
        const lo = r.int(44) - 22 + r.pick([0, 0.5]);
        const hi = lo + r.int(15);
        const [gk, lk] = [r.pick(['gt', 'gte']), r.pick(['lt', 'lte'])];
        const inside = (x: number) => (gk === 'gt' ? x > lo : x >= lo) && (lk === 'lt' ? x < hi : x <= hi);
        assert.deepEqual(
          ids({ query: { range: { n: { [gk]: lo, [lk]: hi } } } }),
          where((d) => vals(d.n).some(inside)),
          `seed ${seed} n ${gk} ${lo} ${lk} ${hi}`,
        );
        const kv = r.pick(KEYS);
        const kOf = (d: Doc) => (d.k === undefined ? [] : Array.isArray(d.k) ? d.k : [d.k]);
        assert.deepEqual(
          ids({ query: { bool: { filter: [{ range: { n: { [gk]: lo, [lk]: hi } } }, { term: { k: kv } }] } } }),
          where((d) => vals(d.n).some(inside) && kOf(d).includes(kv)),
          `bool range + term k=${kv}`,
        );
        const kv2 = r.pick(KEYS);
        assert.deepEqual(
          ids({ query: { bool: { must: [{ term: { k: { value: kv } } }], filter: [{ term: { k: kv2 } }, { term: { k: kv } }] } } }),
          where((d) => kOf(d).includes(kv) && kOf(d).includes(kv2)),
          `bool term ${kv} + ${kv2}`,
        );
        const t = r.int(40) - 20;
        assert.deepEqual(
          ids({ query: { term: { n: t } } }),
          where((d) => vals(d.n).includes(t)),
          `term n ${t}`,
        );
        const fb = r.pick([0.1, 0.2, 0.3, 0, -0, 2.5, 1e-300]);
        assert.deepEqual(
          ids({ query: { range: { f: { gt: fb } } } }),
          where((d) => d.f !== undefined && d.f > fb),
          `f gt ${fb}`,
        );
        assert.deepEqual(
          ids({ query: { range: { f: { lte: fb } } } }),
          where((d) => d.f !== undefined && d.f <= fb),
          `f lte ${fb}`,
        );
        const from = Date.UTC(2026, 10, 20) + r.int(48) * 1_800_000;
        assert.deepEqual(
          ids({ query: { range: { at: { gte: from, lt: from + 3_600_000 } } } }),
          where((d) => d.at !== undefined && Date.parse(d.at) >= from && Date.parse(d.at) < from + 3_600_000),
        );
        const block = `10.0.${r.int(3)}.${r.int(2) * 128}/25`;
        const [, c, base] = /^10\.0\.(\d)\.(\d+)/.exec(block)!;
        const inBlock = (ip: string) =>
          ip.startsWith(`10.0.${c}.`) && Number(ip.split('.')[3]) >= Number(base) && Number(ip.split('.')[3]) < Number(base) + 128;
        assert.deepEqual(
          ids({ query: { term: { ip: block } } }),
          where((d) => (d.ip === undefined ? [] : Array.isArray(d.ip) ? d.ip : [d.ip]).some(inBlock)),
          block,
        );
        assert.deepEqual(
          ids({ query: { term: { ip: '2001:db8::/120' } } }),
          where((d) => (d.ip === undefined ? [] : Array.isArray(d.ip) ? d.ip : [d.ip]).some((x) => x.startsWith('2001:db8::'))),
          'v6 block',
        );
      }
      const res = search([{ index: 'i', engine: e }], { size: 0, aggs: { k: { terms: { field: 'k', size: 50 } }, s: { stats: { field: 'n' } } } }, {}, 0);
      const counts = new Map<string, number>();
      for (const d of model.values())
        for (const k of new Set(d.k === undefined ? [] : Array.isArray(d.k) ? d.k : [d.k])) counts.set(k, (counts.get(k) ?? 0) + 1);
      const buckets = (res.aggregations as { k: { buckets: { key: string; doc_count: number }[] } }).k.buckets;
      assert.deepEqual(new Map(buckets.map((b) => [b.key, b.doc_count])), counts);
      // the count-only path (ordinals) and the general path (a sub-aggregation) agree, `missing` included
      const terms = { field: 'k', size: 50, missing: r.pick(['zz', 'a']), min_doc_count: r.int(3), order: r.pick([{ _count: 'desc' }, { _key: 'asc' }]) };
      const bucketsOf = (body: Record<string, unknown>) =>
        (
          search([{ index: 'i', engine: e }], { size: 0, aggs: { k: body } }, {}, 0).aggregations as { k: { buckets: { key: string; doc_count: number }[] } }
        ).k.buckets.map((b) => [b.key, b.doc_count]);
      const fast = bucketsOf({ terms });
      assert.deepEqual(fast, bucketsOf({ terms, aggs: { c: { value_count: { field: 'n' } } } }));
      const withMissing = new Map(counts);
      const none = [...model.values()].filter((d) => (d.k === undefined ? [] : Array.isArray(d.k) ? d.k : [d.k]).length === 0).length;
      if (none > 0) withMissing.set(terms.missing, (withMissing.get(terms.missing) ?? 0) + none);
      assert.deepEqual(new Map(fast as [string, number][]), new Map([...withMissing].filter(([, n]) => n >= Math.max(1, terms.min_doc_count))));
      const all = [...model.values()].flatMap((d) => vals(d.n));
      assert.equal((res.aggregations as { s: { count: number } }).s.count, all.length);
      const sorted = (search([{ index: 'i', engine: e }], { size: 10_000, sort: [{ k: 'asc' }] }, {}, 0).hits as { hits: { _id: string; sort: unknown[] }[] })
        .hits;
      const firstKeys = sorted.map((h) => h.sort[0]).filter((v) => v !== null) as string[];
      assert.deepEqual(firstKeys, [...firstKeys].sort(), 'keyword sort reads ascending doc values');
      for (const h of sorted) {
        const d = model.get(h._id)!;
        const ks = d.k === undefined ? [] : Array.isArray(d.k) ? d.k : [d.k];
        assert.equal(h.sort[0], ks.length ? [...ks].sort()[0] : null);
      }
    }
  }
});

test('the IPv4 fast path gives the same key as the 128-bit path, and refuses what it refuses', () => {
  const r = rng(7);
  const hex = (k: bigint | undefined) => (k === undefined ? undefined : k.toString(16).padStart(32, '0'));
  const octet = () => r.pick([String(r.int(256)), String(r.int(1000)), `0${r.int(10)}`, '00', '0', '255', '256', '', ' 1', '1 ', '+1', '-1', '1e1', '0x1']);
  for (let i = 0; i < 3000; i++) {
    const parts = Array.from({ length: r.pick([3, 4, 4, 4, 5]) }, octet);
    const ip = parts.join(r.pick(['.', '.', '.', ':']));
    assert.equal(ipSortKey(ip), hex(ipKey(ip)), `ip ${JSON.stringify(ip)}`);
  }
});
