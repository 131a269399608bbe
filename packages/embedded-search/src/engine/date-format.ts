/**
 * Date formats as Elasticsearch reads them (`format` on a date mapping or a range query):
 * alternatives separated by `||`, tried in order, each a built-in name or a java.time pattern.
 *
 *   built-in: epoch_millis, epoch_second, [strict_]date_optional_time(_nanos), [strict_]date,
 *             [strict_]date_time, [strict_]date_time_no_millis, [strict_]date_hour_minute_second,
 *             [strict_]year_month_day, [strict_]year_month, [strict_]year, [strict_]hour_minute_second,
 *             basic_date, basic_date_time, basic_date_time_no_millis
 *   pattern:  y/u (year), M/MM (month), MMM/MMMM (English month names), d, H, m, s, S.. (fraction),
 *             X/x/Z (offset), 'quoted literals', [optional sections], any other non-letter literally
 *
 * Anything else (week dates, am/pm, day names, zone ids, ...) is a 400 naming the format.
 * Missing fields default as Elasticsearch's parsers do: year 1970, month and day 1, time 00:00:00.000,
 * except that a round-up parse (range `gt` / `lte`, the upper end of a date `term`) fills a missing
 * time with 23:59:59.999, so `lte: "2026-11-20"` includes that whole day. UTC unless an offset is given.
 */
import { unsupported } from '../errors.js';

export const DEFAULT_DATE_FORMAT = 'strict_date_optional_time||epoch_millis';

interface Fields {
  y?: number;
  M?: number;
  d?: number;
  H?: number;
  m?: number;
  s?: number;
  frac?: string;
  off?: string;
}

type Alternative = (s: string, roundUp: boolean) => number | undefined;

export interface DateFormat {
  readonly text: string;
  /** Epoch ms, or undefined when no alternative parses the value. */
  parse(s: string, roundUp?: boolean): number | undefined;
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function offsetMinutes(off: string | undefined): number | undefined {
  if (off === undefined || off === 'Z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(off);
  if (!m) return undefined;
  const h = Number(m[2]);
  const min = Number(m[3] ?? 0);
  if (h > 18 || min > 59) return undefined;
  return (m[1] === '-' ? -1 : 1) * (h * 60 + min);
}

/** Fields -> epoch ms with Elasticsearch's defaults for what is missing; undefined when invalid (strict resolver). */
function resolve(f: Fields, roundUp: boolean): number | undefined {
  const y = f.y ?? 1970;
  const M = f.M ?? 1;
  const d = f.d ?? 1;
  const H = f.H ?? (roundUp ? 23 : 0);
  const m = f.m ?? (roundUp ? 59 : 0);
  const s = f.s ?? (roundUp ? 59 : 0);
  const ms = f.frac !== undefined ? Number(f.frac.padEnd(3, '0').slice(0, 3)) : roundUp ? 999 : 0;
  if (M < 1 || M > 12 || d < 1 || H > 23 || m > 59 || s > 59) return undefined;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (M === 2 && !leap ? 28 : DAYS[M - 1]!)) return undefined;
  const off = offsetMinutes(f.off);
  if (off === undefined) return undefined;
  const t = new Date(0);
  t.setUTCFullYear(y, M - 1, d);
  t.setUTCHours(H, m, s, ms);
  return t.getTime() - off * 60_000;
}

const OFFSET = '(Z|[+-]\\d{2}(?::?\\d{2})?)';

function iso(strict: boolean): Alternative {
  const n2 = strict ? '\\d{2}' : '\\d{1,2}';
  const re = new RegExp(`^(\\d{4})(?:-(${n2})(?:-(${n2})(?:T(${n2})(?::(${n2})(?::(${n2})(?:[.,](\\d{1,9}))?)?)?${OFFSET}?)?)?)?$`);
  return (s, roundUp) => {
    const g = re.exec(s);
    if (!g) return undefined;
    const num = (i: number) => (g[i] === undefined ? undefined : Number(g[i]));
    return resolve({ y: num(1), M: num(2), d: num(3), H: num(4), m: num(5), s: num(6), frac: g[7], off: g[8] }, roundUp);
  };
}

function epoch(scale: number): Alternative {
  return (s) => (/^-?\d+(\.\d+)?$/.test(s) ? Math.trunc(Number(s) * scale) : undefined);
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** A java.time pattern compiled to a regular expression over its fields. */
function pattern(p: string, whole: string): Alternative {
  let re = '';
  const fields: (keyof Fields | 'y2' | 'MMM' | 'MMMM')[] = [];
  let optionalDepth = 0;
  let i = 0;
  const esc = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  while (i < p.length) {
    const c = p[i]!;
    if (c === "'") {
      const end = p.indexOf("'", i + 1);
      if (end < 0) throw unsupported(`date format [${whole}]`);
      re += end === i + 1 ? "'" : esc(p.slice(i + 1, end).replace(/''/g, "'"));
      i = end + 1;
      continue;
    }
    if (c === '[') {
      re += '(?:';
      optionalDepth++;
      i++;
      continue;
    }
    if (c === ']') {
      if (optionalDepth === 0) throw unsupported(`date format [${whole}]`);
      re += ')?';
      optionalDepth--;
      i++;
      continue;
    }
    if (!/[A-Za-z]/.test(c)) {
      re += esc(c);
      i++;
      continue;
    }
    let n = 1;
    while (p[i + n] === c) n++;
    i += n;
    const two = n === 2 ? '(\\d{2})' : '(\\d{1,2})';
    switch (c) {
      case 'y':
      case 'u':
        if (n === 2) {
          re += '(\\d{2})';
          fields.push('y2');
        } else {
          re += `(\\d{${n},9})`;
          fields.push('y');
        }
        break;
      case 'M':
        if (n <= 2) {
          re += two;
          fields.push('M');
        } else if (n === 3) {
          re += `(${MONTHS.map((x) => x.slice(0, 3)).join('|')})`;
          fields.push('MMM');
        } else if (n === 4) {
          re += `(${MONTHS.join('|')})`;
          fields.push('MMMM');
        } else throw unsupported(`date format [${whole}]`);
        break;
      case 'd':
      case 'H':
      case 'm':
      case 's':
        if (n > 2) throw unsupported(`date format [${whole}]`);
        re += two;
        fields.push(c);
        break;
      case 'S':
        re += `(\\d{${n}})`;
        fields.push('frac');
        break;
      case 'X':
      case 'x':
      case 'Z':
        re += OFFSET;
        fields.push('off');
        break;
      default:
        throw unsupported(`date format [${whole}] (pattern letter [${c}])`);
    }
  }
  if (optionalDepth !== 0) throw unsupported(`date format [${whole}]`);
  const compiled = new RegExp(`^${re}$`);
  return (s, roundUp) => {
    const g = compiled.exec(s);
    if (!g) return undefined;
    const f: Fields = {};
    fields.forEach((name, k) => {
      const v = g[k + 1];
      if (v === undefined) return;
      if (name === 'y2') f.y = 2000 + Number(v);
      else if (name === 'MMM') f.M = MONTHS.findIndex((x) => x.startsWith(v)) + 1;
      else if (name === 'MMMM') f.M = MONTHS.indexOf(v) + 1;
      else if (name === 'frac' || name === 'off') f[name] = v;
      else f[name] = Number(v);
    });
    return resolve(f, roundUp);
  };
}

const BUILT_IN: Record<string, () => Alternative> = {
  epoch_millis: () => epoch(1),
  epoch_second: () => epoch(1000),
  strict_date_optional_time: () => iso(true),
  strict_date_optional_time_nanos: () => iso(true),
  date_optional_time: () => iso(false),
  iso8601: () => iso(false),
};
const BUILT_IN_PATTERNS: Record<string, string> = {
  date: 'yyyy-MM-dd',
  date_time: "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
  date_time_no_millis: "yyyy-MM-dd'T'HH:mm:ssXXX",
  date_hour_minute_second: "yyyy-MM-dd'T'HH:mm:ss",
  year_month_day: 'yyyy-MM-dd',
  year_month: 'yyyy-MM',
  year: 'yyyy',
  hour_minute_second: 'HH:mm:ss',
};
const BASIC_PATTERNS: Record<string, string> = {
  basic_date: 'yyyyMMdd',
  basic_date_time: "yyyyMMdd'T'HHmmss.SSSXX",
  basic_date_time_no_millis: "yyyyMMdd'T'HHmmssXX",
};

function alternative(name: string, whole: string): Alternative {
  const builtIn = BUILT_IN[name];
  if (builtIn) return builtIn();
  const bare = name.startsWith('strict_') ? name.slice(7) : name;
  const named = BUILT_IN_PATTERNS[bare] ?? BASIC_PATTERNS[name];
  if (named) return pattern(named, whole);
  // every built-in name is lower-case words joined by '_'; as a pattern it would be nonsense
  if (/^[a-z]+(_[a-z]+)+$/.test(name)) throw unsupported(`date format [${name}]`);
  return pattern(name, whole);
}

const cache = new Map<string, DateFormat>();

/** The parser for a format string (cached); throws a 400 for what the embedded node does not support. */
export function dateFormat(format: string = DEFAULT_DATE_FORMAT): DateFormat {
  let f = cache.get(format);
  if (f) return f;
  const alternatives = format.split('||').map((a) => alternative(a.trim(), format));
  f = {
    text: format,
    parse(s, roundUp = false) {
      for (const a of alternatives) {
        const ms = a(s, roundUp);
        if (ms !== undefined && Number.isFinite(ms)) return ms;
      }
      return undefined;
    },
  };
  cache.set(format, f);
  return f;
}
