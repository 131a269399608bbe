import avro from 'avsc';

/**
 * Wire format (Avro spec, "Unions"): a union value is the zig-zag varint of its branch index,
 * then the value in that branch's encoding. For a two-branch union with `null` the index is 0 or
 * 1, whose canonical varints are the single bytes 0x00 and 0x02, and the null branch has no bytes.
 *
 * Every optional field of the audit event is such a union (66 of them, ["null", X]). avsc reads
 * and writes them through its generic unwrapped union: a varint loop for the index, and on write a
 * lookup of the value's "bucket" in a per-union table: measured as ~17 % of an event's encode and
 * ~15 % of its decode (node --cpu-prof of bench/mask-cpu.ts, services/masker). This type reads and
 * writes the two canonical bytes itself and hands anything else to avsc's own code: a
 * non-canonical or invalid index on read, and on write a value of neither branch (avsc throws
 * exactly as before). Same bytes, same values, same errors: `nullable-union.test.ts` compares it
 * with the plain avsc type on generated values, valid and not.
 */

interface Tap {
  buf: Buffer;
  pos: number;
}
interface BranchType {
  _read(tap: Tap): unknown;
  _write(tap: Tap, value: unknown): void;
}
type UnionCtor = new (types: avro.Type[], opts: avro.ForSchemaOptions) => avro.Type;

// avsc's class; its typings omit _read/_write, which are what a subclass overrides
const Unwrapped = avro.types.UnwrappedUnionType as unknown as UnionCtor;
const base = Unwrapped.prototype as unknown as { _read(this: unknown, tap: Tap): unknown; _write(this: unknown, tap: Tap, value: unknown): void };

/** Which values avsc's unwrapped union puts in a branch of this type (its getTypeBucket / getValueBucket). */
function bucketTest(type: avro.Type): ((v: unknown) => boolean) | undefined {
  switch (type.typeName) {
    case 'string':
    case 'enum':
      return (v) => typeof v === 'string';
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return (v) => typeof v === 'number';
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'record':
    case 'error':
    case 'map':
      return (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
    case 'array':
      return (v) => Array.isArray(v);
    case 'bytes':
    case 'fixed':
      return (v) => Buffer.isBuffer(v);
    default:
      return undefined; // logical and abstract types: avsc's own dynamic branch matching
  }
}

function nullableUnion(value: avro.Type, fits: (v: unknown) => boolean): UnionCtor {
  const branch = value as unknown as BranchType;
  // A class per union (a few dozen, built once per schema), so that the branch and its test are
  // constants of the methods rather than fields: avsc freezes its union instances.
  return class NullableUnionType extends Unwrapped {
    _read(tap: Tap): unknown {
      const b = tap.buf[tap.pos];
      if (b === 0) {
        tap.pos++;
        return null;
      }
      if (b === 2) {
        tap.pos++;
        return branch._read(tap);
      }
      return base._read.call(this, tap);
    }
    _write(tap: Tap, v: unknown): void {
      if (v === null) {
        // a write past the end is dropped by the typed array and detected by the caller, as in avsc's writeLong
        tap.buf[tap.pos++] = 0;
        return;
      }
      if (!fits(v)) {
        base._write.call(this, tap, v);
        return;
      }
      tap.buf[tap.pos++] = 2;
      branch._write(tap, v);
    }
  };
}

const isNull = (s: unknown): boolean => s === 'null' || (typeof s === 'object' && s !== null && (s as { type?: unknown }).type === 'null');

/**
 * avsc typeHook: ["null", X] unions (null first, X not logical) get the type above; every other
 * schema is left to avsc. Pass as `Type.forSchema(schema, { typeHook: nullableUnionHook })`.
 */
export function nullableUnionHook(schema: avro.Schema, opts: avro.ForSchemaOptions): avro.Type | undefined {
  // wrapped unions are another representation of the values: left to avsc
  const wrap = opts.wrapUnions as unknown;
  if (wrap === true || (typeof wrap === 'string' && wrap.toLowerCase() === 'always')) return undefined;
  if (!Array.isArray(schema) || schema.length !== 2 || !isNull(schema[0]) || isNull(schema[1])) return undefined;
  const types = (schema as avro.Schema[]).map((s) => avro.Type.forSchema(s, opts));
  const value = types[1]!;
  const fits = bucketTest(value);
  // what avsc builds for an unambiguous union (null and one other branch always are), now that
  // the branches exist (building them twice would define their names twice)
  if (fits === undefined) return new Unwrapped(types, opts);
  return new (nullableUnion(value, fits))(types, opts);
}
