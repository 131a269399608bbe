/**
 * nullable-union.ts replaces avsc's generic union code for ["null", X] fields: it must not change
 * a byte, a value or an error. Every schema of the pipeline is built twice, plain avsc and with the
 * hook, and both are given the same generated values (avsc's random() of the schema, the
 * examples), the same values with a field replaced by one of the wrong type (or null, or
 * undefined), and the same bytes cut short or with a byte changed: the outcomes (bytes, decoded
 * values, validity, error messages) must be identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { nullableUnionHook } from './nullable-union.js';
import { eventCodec, readSchemaFile, SCHEMAS_DIR } from './index.js';

let seed = 20261203;
const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;

const schemaFiles = readdirSync(path.join(SCHEMAS_DIR, 'avro'))
  .filter((f) => f.endsWith('.avsc'))
  .map((f) => `avro/${f}`);

const build = (file: string) => {
  const schema = readSchemaFile(file) as avro.Schema;
  return { plain: avro.Type.forSchema(schema), hooked: avro.Type.forSchema(schema, { typeHook: nullableUnionHook }) };
};

type Outcome = { ok: true; value: unknown } | { ok: false; message: string };
const outcome = (fn: () => unknown): Outcome => {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
};
const plainJson = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (Buffer.isBuffer(x) ? `buffer:${x.toString('hex')}` : x)));
const same = (a: Outcome, b: Outcome, what: string) => {
  if (a.ok && b.ok) {
    if (Buffer.isBuffer(a.value)) assert.ok(Buffer.isBuffer(b.value) && a.value.equals(b.value), `${what}: different bytes`);
    else assert.deepStrictEqual(plainJson(b.value), plainJson(a.value), `${what}: different values`);
  } else assert.deepStrictEqual(b, a, `${what}: different outcomes`);
};

/** Every path to a nested property of a value (records, maps and arrays). */
const paths = (v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] => {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return out;
  for (const [k, x] of Object.entries(v)) {
    const p = [...at, Array.isArray(v) ? Number(k) : k];
    out.push(p);
    paths(x, p, out);
  }
  return out;
};
const WRONG: unknown[] = [null, undefined, 0, 1.5, -1, 'text', '', true, [], ['x'], {}, { a: 'b' }, Buffer.from('ab'), 2 ** 40];
const replaced = (v: unknown, p: (string | number)[], x: unknown): unknown => {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of p.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[p.at(-1)!] = x;
  return copy;
};

/**
 * A third build of a schema whose nullable unions note where they write their index, so that the
 * tests can change exactly those bytes (changing others can turn a count into millions).
 */
let positions: number[] = [];
type Walkable = { constructor: { name: string }; fields?: Array<{ type: Walkable }>; itemsType?: Walkable; valuesType?: Walkable; types?: Walkable[] };
function recordingUnions(type: avro.Type): avro.Type {
  const seen = new Set<Walkable>();
  const walk = (t: Walkable) => {
    if (seen.has(t)) return;
    seen.add(t);
    if (t.constructor.name === 'NullableUnionType') {
      const proto = Object.getPrototypeOf(t) as { _write(tap: { pos: number }, v: unknown): void; recording?: true };
      if (!proto.recording) {
        const write = proto._write;
        proto._write = function (this: unknown, tap, v) {
          positions.push(tap.pos);
          write.call(this, tap, v);
        };
        proto.recording = true;
      }
    }
    for (const f of t.fields ?? []) walk(f.type);
    for (const x of [t.itemsType, t.valuesType, ...(t.types ?? [])]) if (x) walk(x);
  };
  walk(type as unknown as Walkable);
  return type;
}
const unionPositions = (recording: avro.Type, v: unknown, size: number): number[] => {
  positions = [];
  recording.encode(v, Buffer.alloc(size), 0);
  return positions;
};

for (const file of schemaFiles) {
  test(`${file}: the nullable-union type writes, reads and refuses exactly as avsc's own`, () => {
    const { plain, hooked } = build(file);
    const recording = recordingUnions(avro.Type.forSchema(readSchemaFile(file) as avro.Schema, { typeHook: nullableUnionHook }));
    assert.equal(hooked.fingerprint('sha256').toString('hex'), plain.fingerprint('sha256').toString('hex'), 'same schema');
    const values: unknown[] = Array.from({ length: 150 }, () => plain.random());
    for (const f of readdirSync(path.join(SCHEMAS_DIR, 'examples'))) {
      const ex = readSchemaFile(`examples/${f}`);
      if (plain.isValid(ex)) values.push(ex);
    }
    let checked = 0;
    for (const v of values) {
      // valid values: same bytes, same decoded value
      const bytes = plain.toBuffer(v);
      same(
        { ok: true, value: bytes },
        outcome(() => hooked.toBuffer(v)),
        'encode',
      );
      same(
        outcome(() => plain.fromBuffer(bytes)),
        outcome(() => hooked.fromBuffer(bytes)),
        'decode',
      );
      // a field of the wrong type (or null, or missing): the same bytes, or the same error
      const ps = paths(v);
      for (let i = 0; i < 6 && ps.length > 0; i++) {
        const bad = replaced(v, ps[rand(ps.length)]!, WRONG[rand(WRONG.length)]);
        same(
          outcome(() => plain.toBuffer(bad)),
          outcome(() => hooked.toBuffer(bad)),
          `encode ${JSON.stringify(plainJson(bad))}`,
        );
        assert.equal(hooked.isValid(bad), plain.isValid(bad), 'isValid');
        const scratch = Buffer.alloc(64);
        same(
          outcome(() => plain.encode(bad, scratch, 0)),
          outcome(() => hooked.encode(bad, Buffer.alloc(64), 0)),
          'encode into a short buffer',
        );
        checked++;
      }
      // the bytes of every union index changed: to an index that does not exist, or to the same
      // index written in two bytes (a varint avsc reads, though no writer produces it); and the
      // bytes cut short anywhere
      const at = unionPositions(recording, v, bytes.length);
      assert.ok(at.length > 0 || !JSON.stringify(v).includes('null'), 'union indexes found');
      for (const pos of at) {
        const b = bytes[pos]!;
        assert.ok(b === 0 || b === 2, `index byte ${b} at ${pos}`);
        const inputs = [
          Buffer.concat([bytes.subarray(0, pos), Buffer.from([b | 0x80, 0]), bytes.subarray(pos + 1)]),
          Buffer.from(bytes).fill([1, 3, 4, 5, 6, 0x41, 0x7f][rand(7)]!, pos, pos + 1),
        ];
        for (const input of inputs) {
          same(
            outcome(() => plain.fromBuffer(input)),
            outcome(() => hooked.fromBuffer(input)),
            'decode of a changed union index',
          );
          checked++;
        }
      }
      for (let i = 0; i < 4; i++) {
        const input = bytes.subarray(0, rand(bytes.length));
        same(
          outcome(() => plain.fromBuffer(input)),
          outcome(() => hooked.fromBuffer(input)),
          'decode of bytes cut short',
        );
        checked++;
      }
    }
    assert.ok(checked > 1000, `${checked} cases`);
  });
}

test('the event codec is built with the nullable-union type, and keeps the schema fingerprint', () => {
  const { plain } = build('avro/audit-event.avsc');
  assert.equal(eventCodec.fingerprint, plain.fingerprint('sha256').toString('hex'));
  const union = (eventCodec.type as unknown as { fields: Array<{ name: string; type: avro.Type }> }).fields.find((f) => f.name === 'token')!.type;
  assert.equal(union.constructor.name, 'NullableUnionType');
});
