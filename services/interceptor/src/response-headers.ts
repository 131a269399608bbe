import { connectionTokens, headerString } from './engine.js';

/**
 * The upstream's response headers as the client is sent them: hop-by-hop fields removed, and
 * every field node's writeHead would refuse dropped (and named) instead of thrown. undici parses
 * more than node writes: it decodes values as UTF-8 (a Latin-1 byte becomes U+FFFD, an emoji a
 * code point above U+00FF) and its parser lets some names through that are not RFC 9110 tokens;
 * `writeHead` throws on each, and an exception there used to end the process.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

// node's own checks (lib/_http_common.js checkIsHttpToken, checkInvalidHeaderChar), so what passes here writeHead accepts
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
/** At most this many dropped names are listed on the event (all are counted). */
const MAX_LISTED = 16;

export interface ResponseHeaders {
  headers: Record<string, string | string[]>;
  /** Names of the dropped fields, printable and bounded, for the event; empty when none. */
  dropped: string[];
  /** How many fields were dropped (may exceed `dropped.length`). */
  droppedCount: number;
}

/** A header name as an event may carry it: printable ASCII, at most 64 characters. */
function printable(name: string): string {
  return name.slice(0, 64).replace(/[^\x21-\x7e]/g, '?');
}

export function writableResponseHeaders(upstream: Record<string, string | string[] | undefined>): ResponseHeaders {
  // no prototype, as parseResponseHeaders': on a plain object a field named __proto__ would set
  // the object's prototype instead (lost on the way to the client, or, repeated, an array as prototype)
  const headers: Record<string, string | string[]> = Object.create(null);
  const dropped: string[] = [];
  let droppedCount = 0;
  const listed = connectionTokens(headerString(upstream.connection));
  for (const k in upstream) {
    const v = upstream[k];
    if (v === undefined || HOP_BY_HOP.has(k) || listed?.includes(k)) continue;
    const ok = TOKEN.test(k) && (typeof v === 'string' ? !INVALID_VALUE_CHAR.test(v) : v.every((x) => !INVALID_VALUE_CHAR.test(x)));
    if (ok) headers[k] = v;
    else {
      droppedCount++;
      if (dropped.length < MAX_LISTED) dropped.push(printable(k));
    }
  }
  return { headers, dropped, droppedCount };
}

/**
 * A response head's raw `[name, value, ...]` list (undici's dispatch handler API) as a header
 * object, the way undici's request() parsed it (lib/core/util.js parseHeaders): names lower-cased
 * (Latin-1), values decoded as UTF-8, a repeated field as an array of its values in order, and
 * Content-Disposition re-read as Latin-1 when Content-Length is present (nodejs/node#46528). One
 * difference, on purpose: the object has no prototype, so a field named `constructor` or
 * `__proto__` is a field like any other (on a plain object undici's parse threw on its repeat).
 * upstream-response.test.ts checks it against undici's own on generated heads, response-edges.test.ts on
 * names Object.prototype already has.
 */
export function parseResponseHeaders(raw: Buffer[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('utf8');
    const prior = out[name];
    // a prior empty value is replaced, not extended (undici tests the value's truthiness)
    if (prior) {
      if (typeof prior === 'string') out[name] = [prior, value];
      else prior.push(value);
    } else out[name] = value;
  }
  const disposition = out['content-disposition'];
  if (out['content-length'] !== undefined && disposition !== undefined) out['content-disposition'] = Buffer.from(disposition as string).toString('latin1');
  return out;
}
