import { createHash } from 'node:crypto';

/**
 * The token fingerprint every audit event carries instead of the token: lower-case hex SHA-256
 * of the token's canonical form (UTF-8). Stable across services, so events about the same token
 * join on it, and useless for replaying the token (a JWT carries its signature's entropy: an
 * unkeyed hash cannot be reversed by guessing, unlike a password's; see keyed-fingerprint.ts
 * for the secrets that need a key).
 *
 * Canonical form: base64url has more than one spelling of the same bytes (trailing `=` padding,
 * and non-zero unused bits in the last character), and a JWS verifies under each of them; the
 * fingerprint of a compact JWS is computed over the one spelling RFC 7515 allows (no padding,
 * unused bits zero), so a varied copy of a token has the same fingerprint as the token (and the
 * verifier refuses the variant: `non_canonical`). Anything that is not a compact JWS (an opaque
 * refresh token) is hashed as presented.
 */
export function tokenFingerprint(token: string | Buffer): string {
  const canonical = typeof token === 'string' ? canonicalJws(token) : null;
  return createHash('sha256')
    .update(canonical ?? token)
    .digest('hex');
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const INDEX = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) INDEX[ALPHABET.charCodeAt(i)] = i;

/** One base64url segment in canonical form, or null when it is not base64url at all. */
function canonicalSegment(segment: string): string | null {
  let end = segment.length;
  while (end > 0 && segment.charCodeAt(end - 1) === 0x3d /* = */) end--;
  const s = end === segment.length ? segment : segment.slice(0, end);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || INDEX[c]! < 0) return null;
  }
  const rest = s.length % 4;
  if (rest === 1) return null; // no byte sequence encodes to this length
  if (rest === 0) return s;
  // the last character carries 4 (rest 2) or 2 (rest 3) unused low bits: canonical when zero
  const last = INDEX[s.charCodeAt(s.length - 1)]!;
  const mask = rest === 2 ? 0x0f : 0x03;
  if ((last & mask) === 0) return s;
  return s.slice(0, -1) + ALPHABET[last & ~mask & 0x3f];
}

/**
 * The canonical spelling of a compact JWS (header.payload.signature, base64url), or null when
 * the token is not one. Equal to the input exactly when the input is canonical.
 */
export function canonicalJws(token: string): string | null {
  const a = token.indexOf('.');
  const b = a < 0 ? -1 : token.indexOf('.', a + 1);
  if (b < 0 || token.indexOf('.', b + 1) >= 0) return null;
  const h = canonicalSegment(token.slice(0, a));
  const p = canonicalSegment(token.slice(a + 1, b));
  const s = canonicalSegment(token.slice(b + 1));
  if (h === null || p === null || s === null) return null;
  return `${h}.${p}.${s}`;
}
