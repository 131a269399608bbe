/**
 * The one spelling of a request target's path that routing judges and the upstream receives.
 *
 * Upstreams read the same bytes differently: Express matches the raw path case-insensitively,
 * Fastify percent-decodes before matching, `new URL()` resolves dot segments (also encoded ones)
 * and turns `\` into `/`, servlet containers strip `;` parameters. A policy that matches the raw
 * path while the upstream routes on its own reading can be walked around. So the edge rewrites
 * the path into one form before matching and forwards exactly that form, and refuses what has no
 * form every upstream agrees on.
 *
 * Steps, in the order of RFC 3986 6.2.2 (then Envoy's merge_slashes):
 *   1. origin-form only (RFC 9112 3.2.1): the target starts with "/"; "*", absolute-form and
 *      authority-form are refused (not_origin_form). The query (after the first "?") is kept as
 *      sent and not interpreted.
 *   2. every character of the path checked: controls (raw or percent-encoded, NUL included),
 *      non-ASCII and characters outside RFC 3986 pchar ("#", '"', "<", ">", "[", "]", "^", "`",
 *      "{", "|", "}") are refused; a "%" not followed by two hex digits is refused.
 *   3. percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) decoded; every other escape
 *      kept, its hex upper-cased.
 *   4. what upstreams disagree about: "%2F" (a separator to some, data to others), "%5C" and a
 *      literal "\" (a separator to WHATWG URL parsers and Windows servers), ";" (path parameters,
 *      stripped by servlet containers). `ambiguous: 'reject'` (default) refuses them;
 *      'keep-encoded' keeps them as data: "%2F" and "%5C" stay, "\" becomes "%5C", ";" becomes
 *      "%3B" (Envoy's KEEP_UNCHANGED; safe only with upstreams that do not decode "%2F" into a
 *      separator).
 *   5. dot segments removed (RFC 3986 5.2.4; "%2E" is "." after step 3), then repeated slashes
 *      merged.
 *   6. the percent-encoded bytes must be UTF-8 (overlong forms such as "%C0%AF" are refused).
 */
export type AmbiguousPathAction = 'reject' | 'keep-encoded';

export type PathRefusalReason =
  | 'not_origin_form'
  | 'control_character'
  | 'invalid_character'
  | 'invalid_percent_encoding'
  | 'encoded_slash'
  | 'encoded_backslash'
  | 'backslash'
  | 'path_parameter';

export type CanonicalTarget =
  | {
      ok: true;
      /** The canonical path (ASCII only). */
      path: string;
      /** What followed the first "?", as sent; null without one. */
      query: string | null;
      /** The path as sent, when it differs from the canonical one. */
      rawPath: string | null;
    }
  | { ok: false; reason: PathRefusalReason; detail: string; rawPath: string; query: string | null };

/** Raw characters kept as they are: RFC 3986 unreserved and sub-delims but ";", ":", "@", "/". */
const PLAIN = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/") PLAIN[c.charCodeAt(0)] = 1;
/** Unreserved: decoded when percent-encoded. */
const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

/** Already canonical: plain characters only, no empty and no dot segment. The common case, tested with two regexes. */
const PLAIN_PATH = /^[\w\-.~!$&'()*+,=:@/]*$/;
const NEEDS_SEGMENT_WORK = /\/\/|\/\.\.?(?:\/|$)/;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

const HEX = '0123456789ABCDEF';
const escaped = (b: number) => `%${HEX[b >> 4]}${HEX[b & 15]}`;

function refuse(reason: PathRefusalReason, detail: string, rawPath: string, query: string | null): CanonicalTarget {
  return { ok: false, reason, detail, rawPath, query };
}

/** RFC 3986 5.2.4 dot-segment removal (empty segments count, as in the RFC), then repeated slashes merged. */
export function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading "/"
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  const last = segments[segments.length - 1]!;
  const trailing = segments.length > 1 && (last === '' || last === '.' || last === '..');
  const kept = out.filter((s) => s !== '');
  if (kept.length === 0) return '/';
  return `/${kept.join('/')}${trailing ? '/' : ''}`;
}

export function canonicalTarget(target: string, ambiguous: AmbiguousPathAction = 'reject'): CanonicalTarget {
  const q = target.indexOf('?');
  const raw = q >= 0 ? target.slice(0, q) : target;
  const query = q >= 0 ? target.slice(q + 1) : null;
  if (raw.charCodeAt(0) !== 0x2f) return refuse('not_origin_form', 'the request target must be a path starting with "/"', raw, query);
  if (PLAIN_PATH.test(raw)) {
    if (!NEEDS_SEGMENT_WORK.test(raw)) return { ok: true, path: raw, query, rawPath: null };
    const path = removeDotSegments(raw);
    return { ok: true, path, query, rawPath: path === raw ? null : raw };
  }

  const keep = ambiguous === 'keep-encoded';
  let out = '';
  let escapes = false; // any escape of a byte >= 0x80 kept: checked as UTF-8 below
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return refuse('control_character', `control character 0x${c.toString(16).padStart(2, '0')} in the path`, raw, query);
    if (c >= 0x80) return refuse('invalid_character', 'non-ASCII character in the path (percent-encode it)', raw, query);
    if (c === 0x25) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return refuse('invalid_percent_encoding', `"%" at offset ${i} is not followed by two hex digits`, raw, query);
      const b = (hi << 4) | lo;
      i += 2;
      if (b < 0x20 || b === 0x7f) return refuse('control_character', `encoded control character ${escaped(b)} in the path`, raw, query);
      if (b < 0x80 && UNRESERVED[b]) out += String.fromCharCode(b);
      else if (b === 0x2f) {
        if (!keep) return refuse('encoded_slash', 'encoded "/" (%2F) in the path', raw, query);
        out += '%2F';
      } else if (b === 0x5c) {
        if (!keep) return refuse('encoded_backslash', 'encoded "\\" (%5C) in the path', raw, query);
        out += '%5C';
      } else {
        if (b >= 0x80) escapes = true;
        out += escaped(b);
      }
      continue;
    }
    if (c === 0x5c) {
      if (!keep) return refuse('backslash', '"\\" in the path', raw, query);
      out += '%5C';
      continue;
    }
    if (c === 0x3b) {
      if (!keep) return refuse('path_parameter', '";" (path parameter) in the path', raw, query);
      out += '%3B';
      continue;
    }
    if (!PLAIN[c]) return refuse('invalid_character', `${JSON.stringify(String.fromCharCode(c))} is not allowed in a path (percent-encode it)`, raw, query);
    out += raw[i];
  }
  if (escapes) {
    try {
      decodeURIComponent(out);
    } catch {
      return refuse('invalid_percent_encoding', 'the percent-encoded bytes of the path are not UTF-8', raw, query);
    }
  }
  const path = NEEDS_SEGMENT_WORK.test(out) ? removeDotSegments(out) : out;
  return { ok: true, path, query, rawPath: path === raw ? null : raw };
}
