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
  const headers: Record<string, string | string[]> = {};
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
