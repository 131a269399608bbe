/**
 * A body's Content-Type read as a media type (RFC 9110 section 8.3.1, parsed by the `content-type`
 * package), never matched as a substring: `text/plain; x=multipart/; boundary=zz` is text/plain.
 */
import { parse } from 'content-type';

export interface MediaType {
  /** `type/subtype`, lower-case */
  type: string;
  parameters: Record<string, string>;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9a-z-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`);

/** The parsed media type, or null when the header is not one (the body is then treated as binary). */
const parsed = new Map<string, MediaType | null>();
/** The parsed media type (cached: the same few content types come back on every event; treat as read-only). */
export function parseMediaType(header: string): MediaType | null {
  let m = parsed.get(header);
  if (m === undefined) {
    m = parseUncached(header);
    if (parsed.size >= 1_000) parsed.clear();
    parsed.set(header, m);
  }
  return m;
}

function parseUncached(header: string): MediaType | null {
  try {
    const p = parse(header);
    // content-type 2.x is lenient (it returns any text before `;` as the type): the
    // `type "/" subtype` grammar of RFC 9110 is checked here
    const type = p.type.toLowerCase();
    if (!MEDIA_TYPE.test(type)) return null;
    return { type, parameters: { ...p.parameters } };
  } catch {
    return null;
  }
}

/** Whether a parsed type is in a policy list (`text/` prefix, `+json` suffix, exact otherwise). */
export function typeListed(type: string, list: readonly string[]): boolean {
  for (const t of list) {
    const e = t.toLowerCase();
    if (e.endsWith('/') ? type.startsWith(e) : e.startsWith('+') ? type.endsWith(e) : type === e) return true;
  }
  return false;
}

export const isJsonType = (type: string): boolean => type === 'application/json' || type.endsWith('+json');

/**
 * Charsets the captured text can be read in as it is. The interceptor captures bodies as UTF-8
 * text; a body declared in another charset (UTF-16, UTF-32, EBCDIC ...) would be masked as
 * something it is not, so it is treated as binary (size and SHA-256 only).
 */
const READABLE_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii', 'iso-8859-1', 'latin1', 'windows-1252']);
export const charsetReadable = (charset: string | undefined): boolean => charset === undefined || READABLE_CHARSETS.has(charset.toLowerCase());

/** Content that is not text whatever its label says: NULs (UTF-16/32 read as UTF-8) or a BOM of UTF-16/32. */
export const looksBinary = (content: string): boolean => content.includes('\u0000') || content.startsWith('\ufffe') || content.startsWith('\u00ff\u00fe');

/** RFC 2046 boundary: 1-70 bchars, not ending in a space. */
export const validBoundary = (b: string | undefined): b is string => b !== undefined && /^[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]$/.test(b);
