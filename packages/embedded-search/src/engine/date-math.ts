/**
 * Elasticsearch date math: an anchor (`now`, or a date followed by `||`), then operations
 * `+1d`, `-15m`, `/d` (round down). Units: y M w d h H m s. Rounding for `gt`/`lte` rounds up to
 * the end of the unit, as Elasticsearch does, so `lte: now/d` includes the whole day. UTC only.
 */
import { EsError } from '../errors.js';
import { DEFAULT_DATE_FORMAT } from './date-format.js';
import { parseDate } from './values.js';

const UNITS = 'yMwdhHms';

function roundDown(d: Date, unit: string): Date {
  const r = new Date(d.getTime());
  switch (unit) {
    case 'y':
      r.setUTCMonth(0, 1);
      r.setUTCHours(0, 0, 0, 0);
      break;
    case 'M':
      r.setUTCDate(1);
      r.setUTCHours(0, 0, 0, 0);
      break;
    case 'w': {
      const day = (r.getUTCDay() + 6) % 7;
      r.setUTCDate(r.getUTCDate() - day);
      r.setUTCHours(0, 0, 0, 0);
      break;
    }
    case 'd':
      r.setUTCHours(0, 0, 0, 0);
      break;
    case 'h':
    case 'H':
      r.setUTCMinutes(0, 0, 0);
      break;
    case 'm':
      r.setUTCSeconds(0, 0);
      break;
    case 's':
      r.setUTCMilliseconds(0);
      break;
  }
  return r;
}

function add(d: Date, n: number, unit: string): Date {
  const r = new Date(d.getTime());
  switch (unit) {
    case 'y':
      r.setUTCFullYear(r.getUTCFullYear() + n);
      break;
    case 'M':
      r.setUTCMonth(r.getUTCMonth() + n);
      break;
    case 'w':
      r.setUTCDate(r.getUTCDate() + 7 * n);
      break;
    case 'd':
      r.setUTCDate(r.getUTCDate() + n);
      break;
    case 'h':
    case 'H':
      r.setUTCHours(r.getUTCHours() + n);
      break;
    case 'm':
      r.setUTCMinutes(r.getUTCMinutes() + n);
      break;
    case 's':
      r.setUTCSeconds(r.getUTCSeconds() + n);
      break;
  }
  return r;
}

/**
 * Resolves a date or date-math expression to epoch ms through `format`; `roundUp` for gt / lte
 * bounds (and the upper end of a date term). As Elasticsearch's date math parser: a value without
 * `||` is parsed rounding up its missing time fields, the anchor before `||` is parsed as is and
 * only the `/unit` rounding after it rounds up.
 */
export function resolveDate(expr: unknown, now: number, roundUp = false, format?: string): number {
  const fail = () => new EsError(400, 'parse_exception', `failed to parse date field [${String(expr)}] with format [${format ?? DEFAULT_DATE_FORMAT}]`);
  if (typeof expr === 'number') {
    const ms = parseDate(expr, format, roundUp);
    if (ms === undefined) throw fail();
    return ms;
  }
  if (typeof expr !== 'string') throw fail();
  let anchor: Date;
  let ops: string;
  if (expr.startsWith('now')) {
    anchor = new Date(now);
    ops = expr.slice(3);
  } else {
    const i = expr.indexOf('||');
    const ms = i >= 0 ? parseDate(expr.slice(0, i), format) : parseDate(expr, format, roundUp);
    if (ms === undefined) throw fail();
    anchor = new Date(ms);
    ops = i >= 0 ? expr.slice(i + 2) : '';
  }
  let d = anchor;
  let i = 0;
  while (i < ops.length) {
    const op = ops[i]!;
    if (op === '/') {
      const unit = ops[i + 1];
      if (!unit || !UNITS.includes(unit)) throw new EsError(400, 'parse_exception', `operator not supported for date math [${expr}]`);
      d = roundDown(d, unit);
      if (roundUp) d = new Date(add(d, 1, unit).getTime() - 1);
      i += 2;
    } else if (op === '+' || op === '-') {
      const m = /^(\d*)([yMwdhHms])/.exec(ops.slice(i + 1));
      if (!m) throw new EsError(400, 'parse_exception', `operator not supported for date math [${expr}]`);
      d = add(d, (op === '-' ? -1 : 1) * Number(m[1] || 1), m[2]!);
      i += 1 + m[0].length;
    } else throw new EsError(400, 'parse_exception', `operator not supported for date math [${expr}]`);
  }
  return d.getTime();
}
