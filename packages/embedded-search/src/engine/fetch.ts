/**
 * The fetch phase of a search: what a hit carries beside `_source`, in Elasticsearch 8's shapes.
 *
 *   fields          values read from _source through the mapping (`"*"`, `"user.*"`, `{ field, format }`,
 *                   `include_unmapped`): dates formatted, ips canonical, numbers and booleans typed
 *   docvalue_fields values read from doc values (sorted, keywords deduplicated; text fields are a 400)
 *   script_fields   a Painless subset: doc['f'].value / .size() / .empty / [i], params.x, literals,
 *                   arithmetic, comparison, && || !, ?: (what Kibana's scripted fields write); a script
 *                   the subset cannot run is a 400 naming it, one Painless would refuse is its error
 *   highlight       the query's terms per field (require_field_match), keyword values whole, text tokens
 *                   and phrases wrapped in pre/post tags; each matching value is one fragment
 */
import { EsError, parsingError, unsupported } from '../errors.js';
import type { Hit } from './aggregations.js';
import { dateFormat } from './date-format.js';
import { kindOf, type IndexEngine } from './index-engine.js';
import { fieldValues, wildcardRegExp } from './query.js';
import { parseQueryString, type QsNode } from './query-string.js';
import { formatIp, ipSortKey } from './values.js';

type Q = Record<string, unknown>;

interface FieldSpec {
  field: string;
  format?: string;
  includeUnmapped?: boolean;
}

function fieldSpecs(raw: unknown, key: 'fields' | 'docvalue_fields'): FieldSpec[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw parsingError(`Unknown key for a VALUE_STRING in [${key}].`);
  return raw.map((f): FieldSpec => {
    if (f !== null && typeof f === 'object' && !Array.isArray(f)) {
      const o = f as Q;
      for (const k of Object.keys(o)) {
        if (!['field', 'format', ...(key === 'fields' ? ['include_unmapped'] : [])].includes(k))
          throw new EsError(400, 'x_content_parse_exception', `[fetch_field_and_format] unknown field [${k}]`);
      }
      if (typeof o.field !== 'string') throw new EsError(400, 'x_content_parse_exception', '[fetch_field_and_format] field [field] is required');
      return {
        field: o.field,
        ...(o.format !== undefined ? { format: String(o.format) } : {}),
        ...(o.include_unmapped === true || o.include_unmapped === 'true' ? { includeUnmapped: true } : {}),
      };
    }
    return { field: String(f) };
  });
}

/** Validates the fetch options of a search body before any document is read (errors Elasticsearch gives at parse time). */
export function parseFetch(b: Q): FetchOptions | undefined {
  const fields = fieldSpecs(b.fields, 'fields');
  const docvalues = fieldSpecs(b.docvalue_fields, 'docvalue_fields');
  const scripts = b.script_fields === undefined ? [] : parseScriptFields(b.script_fields);
  const highlight = b.highlight === undefined ? undefined : parseHighlight(b.highlight, b.query);
  if (fields.length === 0 && docvalues.length === 0 && scripts.length === 0 && !highlight) return undefined;
  return { fields, docvalues, scripts, highlight };
}

export interface FetchOptions {
  fields: FieldSpec[];
  docvalues: FieldSpec[];
  scripts: { name: string; script: Script }[];
  highlight?: HighlightOptions;
}

// ---------- dates and numbers as text ----------

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** A date as Elasticsearch prints it with a format (its first alternative): built-in names and java.time patterns. */
export function dateFormatter(format: string): (ms: number) => string {
  const f = format.split('||')[0]!.trim();
  const bare = f.replace(/^strict_/, '');
  if (['date_optional_time', 'date_time', 'date_optional_time_nanos'].includes(bare)) return (ms) => new Date(ms).toISOString();
  if (f === 'epoch_millis') return (ms) => String(ms);
  if (f === 'epoch_second') return (ms) => String(Math.floor(ms / 1000));
  const named: Record<string, string> = {
    date: 'yyyy-MM-dd',
    year_month_day: 'yyyy-MM-dd',
    year_month: 'yyyy-MM',
    year: 'yyyy',
    date_time_no_millis: "yyyy-MM-dd'T'HH:mm:ssXXX",
    date_hour_minute_second: "yyyy-MM-dd'T'HH:mm:ss",
    hour_minute_second: 'HH:mm:ss',
    basic_date: 'yyyyMMdd',
  };
  const pattern = named[bare] ?? f;
  const letters = pattern.replace(/'[^']*'/g, '').match(/[A-Za-z]/g) ?? [];
  const bad = letters.find((l) => !'yuMdHmsSX'.includes(l));
  if (bad) {
    // what java.time has but this node cannot print is not an error in Elasticsearch: say so plainly
    if ('GQqLwWEeFaBhKkKnNAVvzOpgYD'.includes(bad)) throw unsupported(`date format [${f}] (pattern letter ${bad})`);
    throw new EsError(400, 'illegal_argument_exception', `Invalid format: [${f}]: Unknown pattern letter: ${bad}`);
  }
  dateFormat(f); // the parser refuses what the node cannot read either
  return (ms) => {
    const d = new Date(ms);
    return pattern.replace(/'([^']*)'|y+|u+|M+|d+|H+|m+|s+|S+|X+/g, (t, lit: string | undefined) => {
      if (lit !== undefined) return lit;
      const c = t[0]!;
      const n = t.length;
      switch (c) {
        case 'y':
        case 'u':
          return n === 2 ? pad(d.getUTCFullYear() % 100, 2) : pad(d.getUTCFullYear(), n);
        case 'M':
          return pad(d.getUTCMonth() + 1, n);
        case 'd':
          return pad(d.getUTCDate(), n);
        case 'H':
          return pad(d.getUTCHours(), n);
        case 'm':
          return pad(d.getUTCMinutes(), n);
        case 's':
          return pad(d.getUTCSeconds(), n);
        case 'S':
          return pad(d.getUTCMilliseconds(), 3).padEnd(n, '0').slice(0, n);
        default:
          return 'Z';
      }
    });
  };
}

/** java.text.DecimalFormat for the plain patterns ("0", "0.0", "#.##", "#,##0.00"), HALF_EVEN as Java rounds. */
function decimalFormatter(pattern: string): (v: number) => string {
  const m = /^([#,]*)(0*)(?:\.(0*)(#*))?$/.exec(pattern);
  if (!m) throw unsupported(`number format [${pattern}]`);
  const minInt = m[2]!.length;
  const minFrac = (m[3] ?? '').length;
  const maxFrac = minFrac + (m[4] ?? '').length;
  const grouping = m[1]!.includes(',');
  return (v) => {
    const scale = 10 ** maxFrac;
    const x = v * scale;
    const floor = Math.floor(x);
    const diff = x - floor;
    const eps = 1e-9 * Math.max(1, Math.abs(x));
    let r = Math.abs(diff - 0.5) < eps ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(x);
    r /= scale;
    let [int, frac = ''] = Math.abs(r).toFixed(maxFrac).split('.') as [string, string?];
    frac = frac.replace(/0+$/, '').padEnd(minFrac, '0');
    int = int.replace(/^0+/, '').padStart(Math.max(minInt, 0), '0');
    if (grouping) int = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return `${r < 0 ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
  };
}

// ---------- fields and docvalue_fields ----------

/** Mapped leaf fields (and multi-fields) of an engine matching a pattern. */
function matchFields(engine: IndexEngine, pattern: string): string[] {
  if (!pattern.includes('*')) return engine.field(pattern) && engine.field(pattern)?.type !== 'object' ? [pattern] : [];
  const re = wildcardRegExp(pattern, false);
  return engine.fieldNames().filter((n) => re.test(n) && engine.field(n)?.type !== 'object');
}

function typedValue(type: string, v: unknown, format: ((ms: number) => string) | undefined, mappingFormat: string | undefined): unknown {
  const kind = kindOf(type);
  switch (kind) {
    case 'keyword':
    case 'text':
      return typeof v === 'object' ? undefined : String(v);
    case 'number': {
      const n = typeof v === 'number' ? v : Number(v);
      if (!Number.isFinite(n)) return undefined;
      return ['long', 'integer', 'short', 'byte'].includes(type) ? Math.trunc(n) : n;
    }
    case 'boolean':
      return v === true || v === 'true' ? true : v === false || v === 'false' || v === '' ? false : undefined;
    case 'ip': {
      const k = ipSortKey(String(v));
      return k === undefined ? undefined : formatIp(k);
    }
    case 'date': {
      const ms = typeof v === 'number' ? v : dateFormat(mappingFormat).parse(String(v));
      if (ms === undefined) return undefined;
      return (format ?? dateFormatter(mappingFormat ?? 'strict_date_optional_time'))(ms);
    }
    default:
      return v;
  }
}

function fetchError(field: string, err: unknown): unknown {
  if (err instanceof EsError && err.type === 'illegal_argument_exception' && !err.message.startsWith('unsupported')) {
    return new EsError(400, 'illegal_argument_exception', `error fetching [${field}]: ${err.message}`, { caused_by: err.toCause() });
  }
  return err;
}

function sourceLeaves(source: unknown, prefix: string, out: Map<string, unknown[]>): void {
  if (source === null || source === undefined) return;
  if (Array.isArray(source)) {
    for (const v of source) sourceLeaves(v, prefix, out);
    return;
  }
  if (typeof source === 'object') {
    for (const [k, v] of Object.entries(source as Q)) sourceLeaves(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  const list = out.get(prefix);
  if (list) list.push(source);
  else out.set(prefix, [source]);
}

function fieldsOf(h: Hit, specs: FieldSpec[], out: Record<string, unknown[]>): void {
  for (const spec of specs) {
    for (const name of matchFields(h.engine, spec.field)) {
      const m = h.engine.field(name)!;
      const type = m.type ?? 'keyword';
      let format: ((ms: number) => string) | undefined;
      try {
        format = spec.format !== undefined && kindOf(type) === 'date' ? dateFormatter(spec.format) : undefined;
      } catch (err) {
        throw fetchError(name, err);
      }
      const values: unknown[] = [];
      const ignoreAbove = typeof m.ignore_above === 'number' ? m.ignore_above : undefined;
      for (const v of fieldValues(h.engine, h.doc, name)) {
        if (kindOf(type) === 'keyword' && ignoreAbove !== undefined && String(v).length > ignoreAbove) continue;
        const t = typedValue(type, v, format, m.format as string | undefined);
        if (t !== undefined) values.push(t);
      }
      if (values.length > 0) out[name] = values;
    }
    if (spec.includeUnmapped) {
      const re = wildcardRegExp(spec.field, false);
      const leaves = new Map<string, unknown[]>();
      sourceLeaves(h.engine.doc(h.doc)?.source, '', leaves);
      for (const [path, vals] of leaves) if (re.test(path) && !h.engine.field(path) && !(path in out)) out[path] = vals;
    }
  }
}

const FIELDDATA_DISABLED = (field: string, index: string) =>
  `Fielddata is disabled on [${field}] in [${index}]. Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [${field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory.`;

/** Doc values of one doc as Elasticsearch shows them (sorted; a keyword's set deduplicated). */
function docValues(h: Hit, name: string): (string | number | boolean)[] {
  const m = h.engine.field(name)!;
  const kind = kindOf(m.type ?? 'keyword');
  if (kind === 'text') throw new EsError(400, 'illegal_argument_exception', FIELDDATA_DISABLED(name, h.index));
  if (kind === 'number' || kind === 'date') return [...h.engine.numbersOf(name, h.doc)].sort((a, b) => a - b);
  if (kind === 'ip') return [...h.engine.ipsOf(name, h.doc)].sort().map((k) => formatIp(k));
  if (kind === 'boolean') return [...h.engine.termValuesOf(name, h.doc)].sort().map((v) => v === 'true');
  if (kind === 'keyword') return [...new Set(h.engine.termValuesOf(name, h.doc))].sort();
  throw unsupported(`docvalue_fields on a field of type [${m.type}]`);
}

function docvalueFieldsOf(h: Hit, specs: FieldSpec[], out: Record<string, unknown[]>): void {
  for (const spec of specs) {
    for (const name of matchFields(h.engine, spec.field)) {
      const m = h.engine.field(name)!;
      const kind = kindOf(m.type ?? 'keyword');
      const values = docValues(h, name);
      if (values.length === 0) continue;
      if (kind === 'date') {
        let f: (ms: number) => string;
        try {
          f = dateFormatter(spec.format ?? (m.format as string | undefined) ?? 'strict_date_optional_time');
        } catch (err) {
          throw fetchError(name, err);
        }
        out[name] = values.map((v) => f(v as number));
      } else if (kind === 'number' && spec.format !== undefined && spec.format !== 'use_field_mapping') {
        const f = decimalFormatter(spec.format);
        out[name] = values.map((v) => f(v as number));
      } else out[name] = values;
    }
  }
}

// ---------- script_fields: a Painless subset ----------

type Val = { v: unknown; int?: boolean };
interface DocField {
  readonly docField: string;
  readonly values: unknown[];
}
type Script = { source: string; params: Q; ast: Node; doubleParams?: boolean };
type Node =
  | { k: 'lit'; v: unknown; int?: boolean }
  | { k: 'doc' }
  | { k: 'params' }
  | { k: 'member'; obj: Node; name: string; call?: Node[]; at: number }
  | { k: 'index'; obj: Node; key: Node; at: number }
  | { k: 'unary'; op: string; a: Node }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'cond'; c: Node; a: Node; b: Node };

const compileError = (source: string, at: number) =>
  new EsError(400, 'script_exception', 'compile error', {
    script_stack: [source, `${' '.repeat(at)}^---- HERE`],
    script: source,
    lang: 'painless',
    position: { offset: at, start: 0, end: source.length },
  });
const runtimeError = (source: string, at: number) =>
  new EsError(400, 'script_exception', 'runtime error', {
    script_stack: [source, `${' '.repeat(at)}^---- HERE`],
    script: source,
    lang: 'painless',
    position: { offset: at, start: 0, end: source.length },
  });

/** Painless's own limit on a script's size (script.max_size_in_bytes), and a nesting depth no script Kibana writes comes near. */
const MAX_SCRIPT_BYTES = 65_535;
const MAX_SCRIPT_DEPTH = 100;

function parsePainless(source: string): Node {
  if (Buffer.byteLength(source) > MAX_SCRIPT_BYTES)
    throw new EsError(
      400,
      'illegal_argument_exception',
      `exceeded max allowed inline script size in bytes [${MAX_SCRIPT_BYTES}] with size [${Buffer.byteLength(source)}] for script [${source.slice(0, 40)}...]`,
    );
  let depth = 0;
  const toks: { t: string; v: string; at: number }[] = [];
  const re = /\s*(?:(\d+\.\d+|\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([A-Za-z_]\w*)|(==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.()[\];,]))/y;
  let i = 0;
  while (i < source.length) {
    if (/^\s*$/.test(source.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(source);
    if (!m) throw compileError(source, i);
    const at = m.index + (m[0].length - m[0].trimStart().length);
    if (m[1] !== undefined) toks.push({ t: 'num', v: m[1], at });
    else if (m[2] !== undefined || m[3] !== undefined) toks.push({ t: 'str', v: (m[2] ?? m[3])!.replace(/\\(.)/g, '$1'), at });
    else if (m[4] !== undefined) toks.push({ t: 'id', v: m[4], at });
    else toks.push({ t: m[5]!, v: m[5]!, at });
    i = re.lastIndex;
  }
  let p = 0;
  const peek = () => toks[p];
  const end = () => source.length;
  const expect = (t: string) => {
    const k = toks[p];
    if (!k || k.t !== t) throw compileError(source, k?.at ?? end());
    p++;
    return k;
  };
  if (peek()?.t === 'id' && peek()!.v === 'return') p++;
  const expr = (): Node => {
    if (++depth > MAX_SCRIPT_DEPTH) throw unsupported(`script nested deeper than ${MAX_SCRIPT_DEPTH} levels`);
    let n = or();
    if (peek()?.t === '?') {
      p++;
      const a = expr();
      expect(':');
      n = { k: 'cond', c: n, a, b: expr() };
    }
    depth--;
    return n;
  };
  const left = (next: () => Node, ops: string[]) => (): Node => {
    let a = next();
    while (peek() && ops.includes(peek()!.t)) {
      const op = toks[p++]!.t;
      a = { k: 'bin', op, a, b: next() };
    }
    return a;
  };
  const unary = (): Node => {
    const k = peek();
    if (k && (k.t === '!' || k.t === '-')) {
      p++;
      if (++depth > MAX_SCRIPT_DEPTH) throw unsupported(`script nested deeper than ${MAX_SCRIPT_DEPTH} levels`);
      const a = unary();
      depth--;
      return { k: 'unary', op: k.t, a };
    }
    return postfix();
  };
  const mul = left(unary, ['*', '/', '%']);
  const add = left(mul, ['+', '-']);
  const rel = left(add, ['<', '<=', '>', '>=']);
  const eq = left(rel, ['==', '!=']);
  const and = left(eq, ['&&']);
  const or = left(and, ['||']);
  function primary(): Node {
    const k = toks[p++];
    if (!k) throw compileError(source, end());
    if (k.t === 'num') return { k: 'lit', v: Number(k.v), int: !k.v.includes('.') };
    if (k.t === 'str') return { k: 'lit', v: k.v };
    if (k.t === '(') {
      const e = expr();
      expect(')');
      return e;
    }
    if (k.t === 'id') {
      if (k.v === 'doc') return { k: 'doc' };
      if (k.v === 'params') return { k: 'params' };
      if (k.v === 'true' || k.v === 'false') return { k: 'lit', v: k.v === 'true' };
      if (k.v === 'null') return { k: 'lit', v: null };
      throw unsupported(`script [${source}] (Painless beyond doc values, params and expressions)`);
    }
    throw compileError(source, k.at);
  }
  function postfix(): Node {
    let n = primary();
    for (;;) {
      const k = peek();
      if (k?.t === '.') {
        p++;
        const name = expect('id');
        if (peek()?.t === '(') {
          p++;
          const args: Node[] = [];
          while (peek() && peek()!.t !== ')') {
            args.push(expr());
            if (peek()?.t === ',') p++;
          }
          expect(')');
          n = { k: 'member', obj: n, name: name.v, call: args, at: name.at };
        } else n = { k: 'member', obj: n, name: name.v, at: name.at };
      } else if (k?.t === '[') {
        p++;
        const key = expr();
        expect(']');
        n = { k: 'index', obj: n, key, at: k.at };
      } else return n;
    }
  }
  const ast = expr();
  if (peek()?.t === ';') p++;
  if (p < toks.length) {
    const k = toks[p]!;
    throw k.t === 'id' || k.t === ';' ? unsupported(`script [${source}] (one expression only)`) : compileError(source, k.at);
  }
  return ast;
}

function parseScriptFields(raw: unknown): { name: string; script: Script }[] {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw parsingError('Expected [START_OBJECT] under [script_fields]');
  return Object.entries(raw as Q).map(([name, spec]) => {
    const s = (spec as Q | null)?.script;
    const o: Q = typeof s === 'string' ? { source: s } : s !== null && typeof s === 'object' ? (s as Q) : {};
    if (typeof o.source !== 'string') {
      if (typeof o.id === 'string') throw unsupported('stored scripts');
      throw parsingError(`[script_fields] [${name}] requires a script source`);
    }
    const lang = String(o.lang ?? 'painless');
    // as Elasticsearch: the language is checked when the shard compiles the script
    if (lang !== 'painless') throw new EsError(400, 'illegal_argument_exception', `script_lang not supported [${lang}]`);
    return { name, script: { source: o.source, params: (o.params as Q | undefined) ?? {}, ast: parsePainless(o.source) } };
  });
}

/**
 * A bucket_script's script: the same Painless subset over `params` (the buckets_path values, which
 * are doubles in Elasticsearch, so `/` never divides as integers); `doc` is not available there.
 */
export function runBucketScript(source: string, params: Q): unknown {
  return runScript({ source, params, ast: parsePainless(source), doubleParams: true }, undefined);
}

function runScript(s: Script, h: Hit | undefined): unknown {
  const num = (x: Val, at: number): number => {
    if (typeof x.v !== 'number') throw runtimeError(s.source, at);
    return x.v;
  };
  const ev = (n: Node): Val => {
    switch (n.k) {
      case 'lit':
        return { v: n.v, ...(n.int ? { int: true } : {}) };
      case 'doc':
        return { v: 'doc' };
      case 'params':
        return { v: s.params };
      case 'index': {
        const obj = ev(n.obj);
        const key = ev(n.key).v;
        if (obj.v === 'doc') {
          if (!h) throw unsupported(`script [${s.source}] (doc values in a bucket script)`);
          const field = String(key);
          const m = h.engine.field(field);
          if (!m) throw new EsError(400, 'illegal_argument_exception', `No field found for [${field}] in mapping`);
          const kind = kindOf(m.type ?? 'keyword');
          if (kind === 'text') throw runtimeError(s.source, n.at);
          let values: unknown[];
          if (kind === 'date') values = [...h.engine.numbersOf(field, h.doc)].sort((a, b) => a - b).map((ms) => new Date(ms).toISOString());
          else values = docValues(h, field);
          const df: DocField = { docField: field, values };
          return { v: df, int: ['long', 'integer', 'short', 'byte'].includes(m.type ?? '') };
        }
        if (isDocField(obj.v)) {
          const i = Number(key);
          if (!Number.isInteger(i) || i < 0 || i >= obj.v.values.length) throw runtimeError(s.source, n.at);
          return { v: obj.v.values[i], ...(obj.int ? { int: true } : {}) };
        }
        if (obj.v !== null && typeof obj.v === 'object') return { v: (obj.v as Q)[String(key)] };
        throw runtimeError(s.source, n.at);
      }
      case 'member': {
        const obj = ev(n.obj);
        if (isDocField(obj.v)) {
          const vals = obj.v.values;
          if (n.name === 'value' && !n.call) {
            if (vals.length === 0) throw runtimeError(s.source, n.at);
            return { v: vals[0], ...(obj.int ? { int: true } : {}) };
          }
          if ((n.name === 'size' || n.name === 'length') && n.call) return { v: vals.length, int: true };
          if ((n.name === 'empty' && !n.call) || (n.name === 'isEmpty' && n.call)) return { v: vals.length === 0 };
          if (n.name === 'getValue' && n.call) return ev({ k: 'member', obj: n.obj, name: 'value', at: n.at });
          throw unsupported(`script [${s.source}] (method [${n.name}] of doc values)`);
        }
        if (obj.v === s.params && !n.call) {
          const v = s.params[n.name];
          return { v, ...(typeof v === 'number' && Number.isInteger(v) && !s.doubleParams ? { int: true } : {}) };
        }
        throw unsupported(`script [${s.source}] (member [${n.name}])`);
      }
      case 'unary': {
        const a = ev(n.a);
        if (n.op === '!') return { v: !a.v };
        return { v: -num(a, 0), ...(a.int ? { int: true } : {}) };
      }
      case 'cond':
        return ev(n.c).v === true ? ev(n.a) : ev(n.b);
      case 'bin': {
        if (n.op === '&&') return { v: ev(n.a).v === true && ev(n.b).v === true };
        if (n.op === '||') return { v: ev(n.a).v === true || ev(n.b).v === true };
        const a = ev(n.a);
        const b = ev(n.b);
        if (n.op === '==') return { v: a.v === b.v };
        if (n.op === '!=') return { v: a.v !== b.v };
        if (n.op === '+' && (typeof a.v === 'string' || typeof b.v === 'string')) return { v: `${String(a.v)}${String(b.v)}` };
        const x = num(a, 0);
        const y = num(b, 0);
        const int = a.int === true && b.int === true;
        switch (n.op) {
          case '<':
            return { v: x < y };
          case '<=':
            return { v: x <= y };
          case '>':
            return { v: x > y };
          case '>=':
            return { v: x >= y };
          case '+':
            return { v: x + y, int };
          case '-':
            return { v: x - y, int };
          case '*':
            return { v: x * y, int };
          case '/':
            if (int && y === 0) throw runtimeError(s.source, 0);
            return { v: int ? Math.trunc(x / y) : x / y, int };
          default:
            return { v: x % y, int };
        }
      }
    }
  };
  const r = ev(s.ast).v;
  if (isDocField(r)) return r.values;
  return r;
}

function isDocField(v: unknown): v is DocField {
  return v !== null && typeof v === 'object' && 'docField' in v;
}

// ---------- highlight ----------

interface HlTerm {
  /** undefined: every field (query_string without a field). */
  field?: string;
  kind: 'term' | 'analyzed' | 'phrase' | 'pattern';
  value: string;
}

interface HighlightOptions {
  fields: { pattern: string; opts: Q }[];
  pre: string;
  post: string;
  requireFieldMatch: boolean;
  terms: HlTerm[];
}

const HL_KEYS = new Set([
  'fields',
  'pre_tags',
  'post_tags',
  'fragment_size',
  'number_of_fragments',
  'require_field_match',
  'type',
  'order',
  'encoder',
  'tags_schema',
  'fragmenter',
  'no_match_size',
  'boundary_scanner',
  'boundary_chars',
  'boundary_max_scan',
  'boundary_scanner_locale',
  'highlight_query',
  'phrase_limit',
  'max_analyzed_offset',
  'force_source',
  'options',
  'highlight_filter',
  'matched_fields',
  'fragment_offset',
]);

function parseHighlight(raw: unknown, query: unknown): HighlightOptions | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw parsingError('[highlight] expected an object');
  const h = raw as Q;
  for (const k of Object.keys(h)) if (!HL_KEYS.has(k)) throw new EsError(400, 'x_content_parse_exception', `[highlight] unknown field [${k}]`);
  const list = (v: unknown, d: string) => (Array.isArray(v) && v.length > 0 ? String(v[0]) : d);
  const isObj = (v: unknown): v is Q => v !== null && typeof v === 'object' && !Array.isArray(v);
  const badFields = () =>
    new EsError(400, 'x_content_parse_exception', '[highlight] failed to parse field [fields]: an object of field names, or an array of single-field objects');
  if (h.fields !== undefined && !isObj(h.fields) && !(Array.isArray(h.fields) && h.fields.every(isObj))) throw badFields();
  const fields = h.fields === undefined ? [] : Array.isArray(h.fields) ? (h.fields as Q[]).flatMap((o) => Object.entries(o)) : Object.entries(h.fields as Q);
  if (fields.some(([, o]) => o !== null && !isObj(o))) throw badFields();
  const terms: HlTerm[] = [];
  collectTerms(h.highlight_query ?? query, terms);
  return {
    fields: fields.map(([pattern, opts]) => ({ pattern, opts: (opts ?? {}) as Q })),
    pre: list(h.pre_tags, '<em>'),
    post: list(h.post_tags, '</em>'),
    requireFieldMatch: h.require_field_match !== false,
    terms,
  };
}

/** The positive terms of a query, per field, for the highlighter (must_not and not clauses highlight nothing). */
function collectTerms(query: unknown, out: HlTerm[]): void {
  if (query === null || typeof query !== 'object' || Array.isArray(query)) return;
  const [name, body] = Object.entries(query as Q)[0] ?? [];
  if (!name || body === null || typeof body !== 'object') return;
  const b = body as Q;
  const fieldValue = (key: string): [string, unknown] | undefined => {
    const f = Object.keys(b).find((k) => k !== 'boost' && k !== '_name');
    if (!f) return undefined;
    const v = b[f];
    return [f, v !== null && typeof v === 'object' && !Array.isArray(v) ? ((v as Q)[key] ?? (v as Q).value) : v];
  };
  switch (name) {
    case 'bool':
      for (const k of ['must', 'should', 'filter']) for (const c of [b[k]].flat()) collectTerms(c, out);
      break;
    case 'constant_score':
      collectTerms(b.filter, out);
      break;
    case 'term': {
      const fv = fieldValue('value');
      if (fv) out.push({ field: fv[0], kind: 'term', value: String(fv[1]) });
      break;
    }
    case 'terms': {
      const f = Object.keys(b).find((k) => k !== 'boost' && k !== '_name');
      if (f && Array.isArray(b[f])) for (const v of b[f] as unknown[]) out.push({ field: f, kind: 'term', value: String(v) });
      break;
    }
    case 'match': {
      const fv = fieldValue('query');
      if (fv) out.push({ field: fv[0], kind: 'analyzed', value: String(fv[1]) });
      break;
    }
    case 'match_phrase': {
      const fv = fieldValue('query');
      if (fv) out.push({ field: fv[0], kind: 'phrase', value: String(fv[1]) });
      break;
    }
    case 'multi_match':
      for (const f of (b.fields as string[] | undefined) ?? ['*'])
        out.push({ field: f.replace(/\^[\d.]+$/, ''), kind: b.type === 'phrase' ? 'phrase' : 'analyzed', value: String(b.query) });
      break;
    case 'prefix':
    case 'wildcard': {
      const fv = fieldValue('value');
      if (fv)
        out.push({ field: fv[0], kind: 'pattern', value: name === 'prefix' ? `${String(fv[1])}*` : String(fv[1] ?? (b[fv[0]] as Q | undefined)?.wildcard) });
      break;
    }
    case 'query_string': {
      if (typeof b.query !== 'string') return;
      let node: QsNode;
      try {
        node = parseQueryString(b.query);
      } catch {
        return;
      }
      const defaults = (b.fields as string[] | undefined) ?? (b.default_field ? [String(b.default_field)] : [undefined]);
      const walk = (n: QsNode): void => {
        if (n.type === 'and' || n.type === 'or') n.children.forEach(walk);
        else if (n.type === 'group') {
          for (const c of n.children) if (c.occur !== 'must_not') walk(c.node);
        } else if (n.type === 'term') {
          const kind = n.phrase ? 'phrase' : /[*?]/.test(n.value) ? 'pattern' : 'analyzed';
          for (const f of n.field ? [n.field] : defaults) out.push({ ...(f !== undefined && f !== '*' ? { field: f } : {}), kind, value: n.value });
        }
      };
      walk(node);
      break;
    }
  }
}

const WORD = /[\p{L}\p{N}_]+(?:['.][\p{L}\p{N}_]+)*/gu;

/** One value highlighted, or undefined when no query term matches it. */
function highlightValue(value: string, kind: 'keyword' | 'text', terms: HlTerm[], pre: string, post: string): string | undefined {
  if (kind === 'keyword') {
    const hit = terms.some((t) => (t.kind === 'pattern' ? wildcardRegExp(t.value, false).test(value) : t.value === value));
    return hit ? `${pre}${value}${post}` : undefined;
  }
  const words = [...value.matchAll(WORD)].map((m) => ({ w: m[0].toLowerCase(), start: m.index!, end: m.index! + m[0].length }));
  const marked: [number, number][] = [];
  for (const t of terms) {
    if (t.kind === 'phrase') {
      const q = t.value.toLowerCase().match(WORD) ?? [];
      if (q.length === 0) continue;
      for (let i = 0; i + q.length <= words.length; i++) {
        if (q.every((x, j) => words[i + j]!.w === x)) marked.push([words[i]!.start, words[i + q.length - 1]!.end]);
      }
      continue;
    }
    const tests: ((w: string) => boolean)[] =
      t.kind === 'pattern'
        ? [
            (
              (re) => (w: string) =>
                re.test(w)
            )(wildcardRegExp(t.value.toLowerCase(), false)),
          ]
        : t.kind === 'term'
          ? [(w) => w === t.value]
          : (t.value.toLowerCase().match(WORD) ?? []).map((x) => (w: string) => w === x);
    for (const w of words) if (tests.some((f) => f(w.w))) marked.push([w.start, w.end]);
  }
  if (marked.length === 0) return undefined;
  marked.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let pos = 0;
  for (const [s, e] of marked) {
    if (s < pos) continue;
    out += value.slice(pos, s) + pre + value.slice(s, e) + post;
    pos = e;
  }
  return out + value.slice(pos);
}

function highlightOf(h: Hit, o: HighlightOptions): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const { pattern, opts } of o.fields) {
    const pre = Array.isArray(opts.pre_tags) && opts.pre_tags.length ? String(opts.pre_tags[0]) : o.pre;
    const post = Array.isArray(opts.post_tags) && opts.post_tags.length ? String(opts.post_tags[0]) : o.post;
    const requireMatch = opts.require_field_match !== undefined ? opts.require_field_match !== false : o.requireFieldMatch;
    const extra: HlTerm[] = [];
    if (opts.highlight_query !== undefined) collectTerms(opts.highlight_query, extra);
    const terms = opts.highlight_query !== undefined ? extra : o.terms;
    const n = Number(opts.number_of_fragments ?? 5);
    for (const name of matchFields(h.engine, pattern)) {
      const m = h.engine.field(name)!;
      const k = kindOf(m.type ?? 'keyword');
      // only text and keyword values are highlighted (an ip or a number never is, even named)
      if (k !== 'text' && k !== 'keyword') continue;
      const fieldTerms = terms.filter(
        (t) => !requireMatch || t.field === undefined || t.field === name || (t.field.includes('*') && wildcardRegExp(t.field, false).test(name)),
      );
      if (fieldTerms.length === 0) continue;
      const frags: string[] = [];
      for (const v of fieldValues(h.engine, h.doc, name)) {
        if (typeof v === 'object') continue;
        const hv = highlightValue(String(v), k, fieldTerms, pre, post);
        if (hv !== undefined) frags.push(hv);
      }
      if (frags.length > 0) out[name] = n === 0 ? frags.slice(0, 1) : frags.slice(0, n);
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

// ---------- per hit ----------

/** What the fetch options add to one hit: `fields` (fields, docvalue_fields, script_fields) and `highlight`. */
export function fetchHit(h: Hit, o: FetchOptions): { fields?: Record<string, unknown[]>; highlight?: Record<string, string[]> } {
  const fields: Record<string, unknown[]> = {};
  fieldsOf(h, o.fields, fields);
  docvalueFieldsOf(h, o.docvalues, fields);
  for (const { name, script } of o.scripts) {
    const v = runScript(script, h);
    // an empty list (doc values of a doc without the field) shows no field, as in Elasticsearch
    if (Array.isArray(v)) {
      if (v.length > 0) fields[name] = v;
    } else fields[name] = [v];
  }
  const highlight = o.highlight ? highlightOf(h, o.highlight) : undefined;
  return { ...(Object.keys(fields).length > 0 ? { fields } : {}), ...(highlight ? { highlight } : {}) };
}
