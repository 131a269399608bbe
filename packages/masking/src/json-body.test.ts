import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CANARIES, canaryEvent } from './canary.js';
import { createMasker, DEFAULT_POLICY } from './index.js';
import { maskJson, JsonSyntaxError, type JsonMaskHooks } from './json-body.js';

// Hooks with the shape of the masker's: strings searched, some names masked whole or dropped.
const hooks: JsonMaskHooks = {
  string: (s) => s.replaceAll('SECRET', '[x]'),
  matches: (name) => ['password', 'card', 'cvv', 'keep', 'obj'].includes(name),
  whole: (name, raw) => (name === 'cvv' ? undefined : name === 'keep' ? raw : name === 'card' ? `****${raw.slice(-4)}` : '[redacted]'),
};

/** What the masker did before the scanner: JSON.parse, walk copying every object, JSON.stringify. */
function reference(doc: string): string {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return hooks.string(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (!hooks.matches(k) || x === null) out[k] = walk(x);
        else {
          const masked = hooks.whole(k, typeof x === 'string' ? x : JSON.stringify(x), typeof x === 'string');
          if (masked !== undefined) out[k] = masked;
        }
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(walk(JSON.parse(doc)));
}

// deterministic pseudo-random documents
let seed = 7;
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
const names = ['password', 'card', 'cvv', 'keep', 'obj', 'note', 'id', 'a', 'é', 'pass\u0000word', 'SECRET'] as const;
const strings = [
  '',
  'plain',
  'has SECRET inside',
  'SECRET',
  'quote " and \\ backslash',
  'ctl \n\t\u0001',
  'ünï €😀',
  '\ud800 lone',
  '4111111111111111',
  '</script>',
];
function value(depth: number): unknown {
  const k = rnd(depth > 3 ? 6 : 8);
  if (k === 0) return null;
  if (k === 1) return rnd(2) === 0;
  if (k === 2) return pick([0, -1, 3.25, 1e21, -0.5e-7, 4111111111111111]);
  if (k <= 5) return pick(strings);
  if (k === 6) return Array.from({ length: rnd(4) }, () => value(depth + 1));
  return Object.fromEntries(Array.from({ length: rnd(5) }, () => [pick(names), value(depth + 1)]));
}
const layouts = [(v: unknown) => JSON.stringify(v), (v: unknown) => JSON.stringify(v, null, 2), (v: unknown) => ` \n${JSON.stringify(v, null, '\t')}\r\n`];

test('json body: the same masked document as parse + walk + stringify, for 3,000 generated documents in 3 layouts', () => {
  for (let i = 0; i < 1000; i++) {
    const v = i % 10 === 0 ? value(0) : Object.fromEntries(Array.from({ length: 1 + rnd(6) }, () => [pick(names), value(1)]));
    for (const layout of layouts) {
      const doc = layout(v);
      const out = maskJson(doc, hooks);
      const expected = reference(doc);
      // key order and values as the reference wrote them (it re-serialised everything)
      assert.equal(JSON.stringify(JSON.parse(out ?? doc)), expected, doc);
      if (out === null) assert.equal(JSON.stringify(JSON.parse(doc)), expected, 'null only when nothing changed');
    }
  }
});

test('json body: untouched parts are kept as they came; dropped members take one separator with them', () => {
  assert.equal(maskJson('{ "a" : "x\\u0041" , "b":[1, 2] }', hooks), null);
  assert.equal(maskJson('{ "a" : "x\\u0041", "password" : "p" }', hooks), '{ "a" : "x\\u0041", "password" : "[redacted]" }');
  assert.equal(maskJson('{"cvv":1,"a":2}', hooks), '{"a":2}');
  assert.equal(maskJson('{"a":1, "cvv":1, "b":2}', hooks), '{"a":1, "b":2}');
  assert.equal(maskJson('{"a":1,"cvv":1}', hooks), '{"a":1}');
  assert.equal(maskJson('{ "cvv":1 , "cvv" : [2] }', hooks), '{  }');
  assert.equal(maskJson('[{"cvv":{"x":"SECRET"}}, "SECRET"]', hooks), '[{}, "[x]"]');
  assert.equal(maskJson('{"obj":{"n":[1,"SECRET"]},"keep":"k","password":null}', hooks), '{"obj":"[redacted]","keep":"k","password":null}');
  assert.equal(maskJson('"SECRET"', hooks), '"[x]"');
});

test('json body: exactly what JSON.parse refuses is refused', () => {
  const bad = [
    '',
    ' ',
    '{',
    '{"a"}',
    '{"a":}',
    '{"a":1,}',
    '[1,]',
    '[01]',
    '[1.]',
    '[.5]',
    '[-]',
    '[1e]',
    '[+1]',
    '["\\x"]',
    '["\\u12G4"]',
    '["a\nb"]',
    '[tru]',
    '[nul]',
    'NaN',
    '{a:1}',
    "{'a':1}",
    '{"a":1}}',
    '[1] [2]',
    '\ufeff{}',
    '"unterminated',
    '{"a":1 "b":2}',
  ];
  const good = ['0', '-0', '1E+2', '1e-2', '[]', '{}', ' [ ] ', '"\\/\\b\\f\\n\\r\\t\\"\\\\\\u00e9"', 'true', 'null', '[-12.5e3]'];
  for (const doc of bad) assert.throws(() => JSON.parse(doc), `JSON.parse accepts ${JSON.stringify(doc)}`);
  for (const doc of bad) assert.throws(() => maskJson(doc, hooks), JsonSyntaxError, `accepted ${JSON.stringify(doc)}`);
  for (const doc of good) assert.doesNotThrow(() => maskJson(doc, hooks), `refused ${JSON.stringify(doc)}`);
  // mutations of valid documents: accepted exactly when JSON.parse accepts them
  for (let i = 0; i < 3000; i++) {
    const doc = JSON.stringify(value(0));
    const at = rnd(doc.length + 1);
    const mutated =
      rnd(2) === 0
        ? doc.slice(0, at) + doc.slice(at + 1)
        : doc.slice(0, at) + pick(['"', ',', ':', '}', ']', '{', '[', '0', '-', 'e', '\\', ' ', 'x', '.']) + doc.slice(at);
    let parses = true;
    try {
      JSON.parse(mutated);
    } catch {
      parses = false;
    }
    let scans = true;
    try {
      maskJson(mutated, hooks);
    } catch {
      scans = false;
    }
    assert.equal(scans, parses, mutated);
  }
});

test('json body in an event: invalid or too deep JSON is masked by the loose scanner (a sensitive member masked whole, whatever its value)', () => {
  const masker = createMasker(DEFAULT_POLICY, { id: 'k1', secret: 'test-key-1' });
  const e = canaryEvent();
  const content = `{"secret": {"a": 1}, "note": "${CANARIES.email}"} trailing`;
  e.http!.request.body = { contentType: 'application/json', size: content.length, truncated: false, sha256: null, content };
  e.masking = null;
  const m = masker.mask(e);
  assert.ok(!m.http!.request.body!.content!.includes(CANARIES.email));
  assert.equal(
    m.http!.request.body!.content,
    `{"secret": "[redacted:secret]", "note": "${m.http!.request.body!.content!.split('"note": "')[1]!.split('"')[0]}"} trailing`,
  );
  assert.ok(m.masking!.rulesApplied.includes('field:secret:redact'));
  const deep = `${'['.repeat(200_000)}"${CANARIES.email}"${']'.repeat(200_000)}`;
  e.http!.request.body = { contentType: 'application/json', size: deep.length, truncated: false, sha256: null, content: deep };
  const t = performance.now();
  const d = masker.mask(e);
  assert.ok(performance.now() - t < 1_000);
  assert.ok(!d.http!.request.body!.content!.includes(CANARIES.email));
});
