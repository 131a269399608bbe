/**
 * Field value parsing per mapping type: what a document field becomes in the index.
 *   keyword, flattened -> the string (exact term)        text -> lower-cased word tokens
 *   long/integer/float/double -> number                  date -> epoch ms (ISO 8601 or epoch_millis)
 *   boolean -> "true"/"false" term                       ip -> canonical string + bigint for ranges/CIDR
 */
import net from 'node:net';

export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+(?:['.][\p{L}\p{N}_]+)*/gu) ?? [];
}

const ISO = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

export function looksLikeDate(s: string): boolean {
  return ISO.test(s) && !Number.isNaN(Date.parse(s));
}

/** Dates: ISO 8601 strings (with or without time / zone; no zone = UTC) or epoch milliseconds. */
export function parseDate(v: unknown, format?: string): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  // strict_date_optional_time||epoch_millis (ES's default): a bare 4-digit number is a year.
  if (/^-?\d+$/.test(s) && s.length !== 4 && (!format || format.includes('epoch_millis'))) return Number(s);
  if (!ISO.test(s)) return undefined;
  let iso = s.replace(' ', 'T');
  if (/^\d{4}(-\d{2}){2}$/.test(iso)) iso += 'T00:00:00Z';
  else if (!/([Zz]|[+-]\d{2}:?\d{2})$/.test(iso)) iso += 'Z';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

export function formatDate(ms: number): string {
  return new Date(ms).toISOString();
}

export function ipToBigInt(ip: string): { v: bigint; family: 4 | 6 } | undefined {
  const family = net.isIP(ip);
  if (family === 4) {
    return { v: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), family: 4 };
  }
  if (family === 6) {
    let [head, tail] = ip.split('::') as [string, string | undefined];
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

/** IPv4 stored in the IPv4-mapped IPv6 space, so one number line holds both families. */
export function ipKey(ip: string): bigint | undefined {
  const p = ipToBigInt(ip);
  if (!p) return undefined;
  return p.family === 4 ? (0xffffn << 32n) | p.v : p.v;
}

export function cidrRange(cidr: string): [bigint, bigint] | undefined {
  const [addr, bitsText] = cidr.split('/');
  const p = addr ? ipToBigInt(addr) : undefined;
  if (!p || bitsText === undefined || !/^\d+$/.test(bitsText)) return undefined;
  const width = p.family === 4 ? 32 : 128;
  const bits = Number(bitsText);
  if (bits > width) return undefined;
  const hostBits = BigInt(width - bits);
  const base = (p.v >> hostBits) << hostBits;
  const top = base | ((1n << hostBits) - 1n);
  const shift = p.family === 4 ? (0xffffn << 32n) : 0n;
  return [base | shift, top | shift];
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
