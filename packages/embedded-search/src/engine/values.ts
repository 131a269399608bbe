/**
 * Field value parsing per mapping type: what a document field becomes in the index.
 *   keyword, flattened -> the string (exact term)        text -> lower-cased word tokens
 *   long/integer/float/double -> number                  date -> epoch ms (through the field's format)
 *   boolean -> "true"/"false" term                       ip -> canonical string term + 128-bit sort key
 */
import net from 'node:net';
import { EsError } from '../errors.js';
import { dateFormat } from './date-format.js';

export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+(?:['.][\p{L}\p{N}_]+)*/gu) ?? [];
}

/**
 * Elasticsearch's dynamic date detection: strings containing '-', ':' or '/' that parse with
 * strict_date_optional_time (the first of the default dynamic_date_formats; the slash forms are not
 * detected here).
 */
export function looksLikeDate(s: string): boolean {
  return /[-:/]/.test(s) && dateFormat('strict_date_optional_time').parse(s) !== undefined;
}

/**
 * A date field value or query bound -> epoch ms, through the field's (or query's) format; default
 * strict_date_optional_time||epoch_millis. A JSON number is read as its text, as Elasticsearch does,
 * so it is epoch millis under the default format. `roundUp` fills missing time fields with their
 * maximum (see date-format.ts). Throws a 400 for an unsupported format.
 */
export function parseDate(v: unknown, format?: string, roundUp = false): number | undefined {
  if (typeof v === 'string' && v.length === 24 && (format === undefined || DEFAULT_FORMATS.has(format))) {
    const ms = canonicalIso(v);
    if (ms !== undefined) return ms;
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return undefined;
    v = Number.isInteger(v) ? v.toFixed(0) : String(v);
  }
  if (typeof v !== 'string') return undefined;
  return dateFormat(format).parse(v.trim(), roundUp);
}

const DEFAULT_FORMATS = new Set([
  'strict_date_optional_time||epoch_millis',
  'strict_date_optional_time',
  'date_optional_time',
  'strict_date_optional_time_nanos',
]);

/** The digit at s[i], or NaN. */
function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : NaN;
}

/**
 * `yyyy-MM-ddTHH:mm:ss.SSSZ` (what toISOString writes, and most events carry) read without the
 * format's regular expression and field resolution, which were most of a date's indexing cost.
 * Undefined for anything else, which then takes the format's own parser; the checks are
 * date-format.ts resolve()'s, and years below 100 are left to it (Date.UTC reads them as 19xx).
 */
function canonicalIso(s: string): number | undefined {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58) return undefined;
  if (s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46 || s.charCodeAt(23) !== 90) return undefined;
  const y = digit(s, 0) * 1000 + digit(s, 1) * 100 + digit(s, 2) * 10 + digit(s, 3);
  const M = digit(s, 5) * 10 + digit(s, 6);
  const d = digit(s, 8) * 10 + digit(s, 9);
  const H = digit(s, 11) * 10 + digit(s, 12);
  const m = digit(s, 14) * 10 + digit(s, 15);
  const sec = digit(s, 17) * 10 + digit(s, 18);
  const ms = digit(s, 20) * 100 + digit(s, 21) * 10 + digit(s, 22);
  // NaN fails every comparison below: a non-digit anywhere goes to the slow path
  if (!(y >= 100 && M >= 1 && M <= 12 && d >= 1 && H <= 23 && m <= 59 && sec <= 59 && ms >= 0)) return undefined;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (M === 2 && !leap ? 28 : DAYS_IN_MONTH[M - 1]!)) return undefined;
  return Date.UTC(y, M - 1, d, H, m, sec, ms);
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function formatDate(ms: number): string {
  return new Date(ms).toISOString();
}

export function ipToBigInt(ip: string): { v: bigint; family: 4 | 6 } | undefined {
  const family = net.isIP(ip);
  if (family === 4) {
    return { v: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), family: 4 };
  }
  if (family === 6) {
    const [head, tail] = ip.split('::') as [string, string | undefined];
    const parse = (part: string) => (part ? part.split(':') : []);
    let h = parse(head);
    let t = tail === undefined ? [] : parse(tail);
    const expandV4 = (groups: string[]) => {
      const last = groups[groups.length - 1];
      if (last && last.includes('.')) {
        const v4 = ipToBigInt(last)!.v;
        groups.splice(groups.length - 1, 1, ((v4 >> 16n) & 0xffffn).toString(16), (v4 & 0xffffn).toString(16));
      }
      return groups;
    };
    h = expandV4(h);
    t = expandV4(t);
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return { v: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n), family: 6 };
  }
  return undefined;
}

/** IPv4 stored in the IPv4-mapped IPv6 space, so one number line holds both families (as Elasticsearch encodes ips). */
export function ipKey(ip: string): bigint | undefined {
  const p = ipToBigInt(ip);
  if (!p) return undefined;
  return p.family === 4 ? (0xffffn << 32n) | p.v : p.v;
}

/**
 * An ip's doc value: its 128-bit key as 32 hex digits, so string order is address order. A JS
 * number cannot hold it (53 bits): every 2001:db8::x would collapse onto one value.
 */
export function ipSortKey(ip: string): string | undefined {
  // IPv4 without BigInt: the v4-mapped prefix and 8 hex digits (the common case, indexed per event)
  const v4 = V4.exec(ip);
  if (v4) {
    let hex = V4_MAPPED;
    for (let i = 1; i <= 4; i++) {
      const o = Number(v4[i]);
      if (o > 255 || (v4[i]!.length > 1 && v4[i]![0] === '0')) return undefined;
      hex += o < 16 ? `0${o.toString(16)}` : o.toString(16);
    }
    return hex;
  }
  const k = ipKey(ip);
  return k === undefined ? undefined : hex128(k);
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const V4_MAPPED = '00000000000000000000ffff';

const hex128 = (k: bigint) => k.toString(16).padStart(32, '0');

/** Canonical text of an ip key, as Elasticsearch renders it: dotted IPv4 for v4 (and v4-mapped), RFC 5952 for v6. */
export function formatIp(key: bigint | string): string {
  if (typeof key === 'string' && key.length === 32 && key.startsWith(V4_MAPPED)) {
    const n = parseInt(key.slice(24), 16);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const k = typeof key === 'string' ? BigInt(`0x${key}`) : key;
  if (k >> 32n === 0xffffn) return [24n, 16n, 8n, 0n].map((s) => String((k >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((k >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best < 0) return hexes.join(':');
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
}

/** A CIDR block as inclusive [low, high] doc-value keys (see ipSortKey). */
export function cidrRange(cidr: string): [string, string] | undefined {
  const [addr, bitsText] = cidr.split('/');
  const p = addr ? ipToBigInt(addr) : undefined;
  if (!p || bitsText === undefined || !/^\d+$/.test(bitsText)) return undefined;
  const width = p.family === 4 ? 32 : 128;
  const bits = Number(bitsText);
  if (bits > width) return undefined;
  const hostBits = BigInt(width - bits);
  const base = (p.v >> hostBits) << hostBits;
  const top = base | ((1n << hostBits) - 1n);
  const shift = p.family === 4 ? 0xffffn << 32n : 0n;
  return [hex128(base | shift), hex128(top | shift)];
}

/** Math.max(...xs) overflows the stack past ~100k values; a loop does not. */
export function maxOf(xs: number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}

export function minOf(xs: number[]): number {
  let m = Infinity;
  for (const x of xs) if (x < m) m = x;
  return m;
}

/** A time zone's offset from UTC in ms at an instant: a fixed "+05:30" or an IANA id (through Intl). */
export function zoneOffset(zone: string, owner: string): (ms: number) => number {
  const fixed = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (fixed && (Number(fixed[2]) > 18 || Number(fixed[3] ?? 0) > 59))
    throw new EsError(400, 'x_content_parse_exception', `[${owner}] failed to parse field [time_zone]`, {
      caused_by: { type: 'date_time_exception', reason: `Zone offset hours not in valid range: value ${Number(fixed[2])} is not in the range -18 to 18` },
    });
  if (fixed) {
    const o = (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3] ?? 0)) * 60_000;
    return () => o;
  }
  if (['UTC', 'Z', 'GMT', 'Etc/UTC', 'Etc/GMT'].includes(zone)) return () => 0;
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  } catch {
    throw new EsError(400, 'x_content_parse_exception', `[${owner}] failed to parse field [time_zone]`, {
      caused_by: { type: 'zone_rules_exception', reason: `Unknown time-zone ID: ${zone}` },
    });
  }
  return (ms) => {
    const name = fmt.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000 : 0;
  };
}
