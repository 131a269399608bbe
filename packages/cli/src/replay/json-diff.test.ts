import { test } from 'node:test';
import assert from 'node:assert/strict';
import { patch as applyJsonPatch } from 'jsondiffpatch/formatters/jsonpatch';
import { describeDifference, diffJson, fitsMasked, hasMask, isWholeMask } from './json-diff.js';

/** A small deterministic generator, so a failure names a seed that reproduces it. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function randomJson(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 3 ? 4 : 7));
  switch (k) {
    case 0:
      return Math.floor(r() * 2000) - 1000;
    case 1:
      return ['alice', 'bob', 'A-1001', '', 'x/y~z', 'é', 'a b'][Math.floor(r() * 7)];
    case 2:
      return r() < 0.5;
    case 3:
      return null;
    case 4:
    case 5: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 4); i > 0; i--) o[['id', 'sku', 'a/b', 'm~n', 'quantity', 'owner', 'x'][Math.floor(r() * 7)]!] = randomJson(r, depth + 1);
      return o;
    }
    default:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1));
  }
}

/** One random change somewhere in the value (or the same value when there is nothing to change). */
function mutate(v: unknown, r: () => number): unknown {
  if (Array.isArray(v)) {
    if (v.length === 0 || r() < 0.3) return [...v, randomJson(r, 3)];
    const i = Math.floor(r() * v.length);
    return r() < 0.2 ? v.filter((_, j) => j !== i) : v.map((x, j) => (j === i ? mutate(x, r) : x));
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0 || r() < 0.3) return { ...v, [`new${Math.floor(r() * 100)}`]: randomJson(r, 3) };
    const k = keys[Math.floor(r() * keys.length)]!;
    if (r() < 0.2) {
      const { [k]: _, ...rest } = v as Record<string, unknown>;
      return rest;
    }
    return { ...v, [k]: mutate((v as Record<string, unknown>)[k], r) };
  }
  return typeof v === 'number' ? v + 1 : typeof v === 'string' ? `${v}!` : v === null ? 0 : !v;
}

test('a value against itself has no difference; against a changed copy, the operations turn one into the other (generated)', () => {
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const a = randomJson(r);
    assert.deepEqual(diffJson(a, structuredClone(a)), { equal: true, differences: [], masked: [] }, `seed ${seed}`);
    const b = mutate(a, r);
    const d = diffJson(a, b);
    assert.equal(d.equal, false, `seed ${seed}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    assert.ok(d.differences.length > 0);
    for (const x of d.differences) assert.match(x.path, /^(\/([^~/]|~[01])*)*$/, `seed ${seed}: JSON Pointer ${x.path}`);
    // the operations are RFC 6902: applied to the recorded value they give the replayed one
    if (a !== null && typeof a === 'object') {
      const target = structuredClone(a);
      applyJsonPatch(
        target,
        d.differences.map((x) =>
          x.op === 'move'
            ? { op: 'move', from: x.from!, path: x.path }
            : x.op === 'remove'
              ? { op: 'remove', path: x.path }
              : { op: x.op, path: x.path, value: x.replayed },
        ) as never,
      );
      assert.deepEqual(target, b, `seed ${seed}`);
    }
  }
});

test('an inserted array item with an id is one add, and a changed member names its path', () => {
  const rec = {
    orders: [
      { id: 1041, sku: 'A-1001' },
      { id: 1042, sku: 'B-2002' },
    ],
  };
  const d = diffJson(rec, {
    orders: [
      { id: 1041, sku: 'A-1001' },
      { id: 1042, sku: 'B-2002' },
      { id: 1043, sku: 'Z' },
    ],
  });
  assert.deepEqual(d.differences, [{ op: 'add', path: '/orders/2', replayed: { id: 1043, sku: 'Z' } }]);
  const c = diffJson({ id: 1043, sku: 'C-3003', 'a/b': 1 }, { id: 1043, sku: 'Z-9', 'a/b': 2 });
  assert.deepEqual(
    c.differences.map((x) => [x.op, x.path, x.recorded, x.replayed]),
    [
      ['replace', '/sku', 'C-3003', 'Z-9'],
      ['replace', '/a~1b', 1, 2],
    ],
  );
  assert.equal(describeDifference(c.differences[0]!), 'changed /sku: "C-3003" -> "Z-9"');
  assert.equal(describeDifference({ op: 'remove', path: '/x', recorded: 'y'.repeat(200) }).length < 100, true);
  // a different type at the top is one replace of the whole body
  assert.deepEqual(
    diffJson({ a: 1 }, [1]).differences.map((x) => x.path),
    [''],
  );
});

const MASKS = ['[redacted:password]', 'hmac:k1:0123456789abcdef0123456789abcdef', '[redacted:encoded]', '****1234'];

/** The recorded value as the masker leaves it: some string leaves (or whole members) replaced by masks. */
function maskSome(v: unknown, r: () => number, path: string, masked: string[]): unknown {
  if (typeof v === 'string' && v !== '' && r() < 0.5) {
    const m = MASKS[Math.floor(r() * 3)]!; // whole-value masks
    masked.push(path);
    return m;
  }
  if (Array.isArray(v)) return v.map((x, i) => maskSome(x, r, `${path}/${i}`, masked));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // a member matched by a key word is redacted whole, objects and arrays included
      if (x !== null && typeof x === 'object' && r() < 0.15) {
        out[k] = '[redacted:secret]';
        masked.push(`${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      } else out[k] = maskSome(x, r, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, masked);
    }
    return out;
  }
  return v;
}

test('masked values are not differences: the replayed value fits the mask, and the path is listed (generated)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed * 7919);
    const original = randomJson(r);
    const expectedMasked: string[] = [];
    const recorded = maskSome(original, r, '', expectedMasked);
    const d = diffJson(recorded, original);
    assert.equal(d.equal, true, `seed ${seed}: ${JSON.stringify(recorded)} vs ${JSON.stringify(original)}: ${JSON.stringify(d.differences)}`);
    assert.deepEqual(d.masked.sort(), expectedMasked.sort(), `seed ${seed}`);
    // a real change elsewhere is still found
    if (original !== null && typeof original === 'object' && !Array.isArray(original)) {
      const changed = { ...original, unexpected: 1 };
      assert.deepEqual(
        diffJson(recorded, changed).differences.map((x) => x.path),
        ['/unexpected'],
      );
    }
  }
});

test('free text with masked runs: the words around each mask must match', () => {
  assert.equal(fitsMasked('contact hmac:k1:0123456789abcdef0123456789abcdef today', 'contact alice@example.com today'), true);
  assert.equal(fitsMasked('contact hmac:k1:0123456789abcdef0123456789abcdef today', 'call alice@example.com today'), false);
  assert.equal(fitsMasked('card ****1234 ok', 'card 4111111111111234 ok'), true);
  assert.equal(fitsMasked('card ****1234 ok', 'card 4111111111119999 ok'), false, 'a partial mask keeps the last characters');
  assert.equal(fitsMasked('a.b*c(d) [redacted:password]', 'a.b*c(d) s3cret'), true, 'regex characters around a mask are literal');
  assert.equal(fitsMasked('a.b', 'axb'), false);
  assert.deepEqual(diffJson({ note: 'for [redacted:email] only' }, { note: 'for bob@example.com only' }), { equal: true, differences: [], masked: ['/note'] });
  assert.equal(diffJson({ note: 'for [redacted:email] only' }, { note: 'for bob@example.com, not only' }).equal, false);
  // a mask for a whole member stands for any value, object or not
  assert.equal(diffJson({ secret: '[redacted:secret]' }, { secret: { nested: [1, 2] } }).equal, true);
  // but a masked recorded value where the replay has nothing is a difference
  assert.equal(diffJson({ secret: '[redacted:secret]' }, {}).equal, false);
  for (const m of MASKS) assert.equal(hasMask(`x ${m} y`), true, m);
  assert.equal(isWholeMask('hmac:k1:0123456789abcdef0123456789abcdef'), true);
  assert.equal(isWholeMask('hmac:k1:0123'), false);
  assert.equal(hasMask('an ordinary sentence with *** stars'), false);
});

test("diffTree: the two bodies as one tree with each node's status, for a page; importable without the CLI", async () => {
  const { diffTree: tree } = await import('@jwt-audit/cli/json-diff');
  const t = tree(
    {
      orders: [
        { id: 1041, sku: 'A' },
        { id: 1042, sku: 'B' },
      ],
      email: 'hmac:k1:0123456789abcdef0123456789abcdef',
      gone: 1,
    },
    {
      orders: [
        { id: 1041, sku: 'A' },
        { id: 1042, sku: 'Z' },
        { id: 1043, sku: 'N' },
      ],
      email: 'bob@example.com',
      fresh: true,
    },
  );
  assert.equal(t.status, 'contains-changes');
  const flat: Array<[string, string]> = [];
  const walk = (n: typeof t) => {
    flat.push([n.path, n.status]);
    n.children?.forEach(walk);
  };
  walk(t);
  assert.deepEqual(flat, [
    ['', 'contains-changes'],
    ['/orders', 'contains-changes'],
    ['/orders/0', 'same'],
    ['/orders/0/id', 'same'],
    ['/orders/0/sku', 'same'],
    ['/orders/1', 'contains-changes'],
    ['/orders/1/id', 'same'],
    ['/orders/1/sku', 'changed'],
    ['/orders/2', 'added'],
    ['/email', 'masked'],
    ['/gone', 'removed'],
    ['/fresh', 'added'],
  ]);
  assert.equal(tree({ a: [1, { b: '[redacted:x]' }] }, { a: [1, { b: 'secret' }] }).status, 'same');
  // the module the console imports needs nothing of the CLI
  const { readFileSync } = await import('node:fs');
  const source = readFileSync(new URL('./json-diff.ts', import.meta.url), 'utf8');
  assert.deepEqual(
    [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]),
    ['jsondiffpatch', 'jsondiffpatch/formatters/jsonpatch'],
  );
});
