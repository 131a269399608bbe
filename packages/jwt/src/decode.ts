import type { Actor, TokenInfo, TokenType } from '@jwt-audit/events';
import { tokenFingerprint } from './fingerprint.js';

/**
 * Safe decoding of a compact JWS without verifying it. Used for (a) pre-checks before the
 * signature is verified and (b) describing tokens that failed. Nothing decoded here is trusted:
 * values are type-checked, strings bounded, and none of it authorises anything.
 */

export type Claims = Record<string, unknown>;

export interface DecodedToken {
  header: Claims;
  claims: Claims | null;
}

/** Longest claim string copied into an event; an attacker controls these. */
const MAX_CLAIM_CHARS = 256;
const B64URL = /^[A-Za-z0-9_-]*$/;

function parseSegment(segment: string): Claims | null {
  if (!B64URL.test(segment)) return null;
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Claims) : null;
  } catch {
    return null;
  }
}

/** Decodes the header (required) and the payload (null when it is not a JSON object). Null when not a compact JWS. */
export function decodeUnverified(token: string): DecodedToken | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] === '') return null;
  const header = parseSegment(parts[0]!);
  if (!header) return null;
  return { header, claims: parseSegment(parts[1]!) };
}

export function claimString(v: unknown): string | null {
  if (typeof v !== 'string' || v === '') return null;
  return v.length > MAX_CLAIM_CHARS ? v.slice(0, MAX_CLAIM_CHARS) : v;
}

function claimDate(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e13 ? Math.trunc(v) : null;
}

function stringList(v: unknown, max = 64): string[] {
  if (typeof v === 'string')
    return v
      .split(' ')
      .filter(Boolean)
      .slice(0, max)
      .map((s) => s.slice(0, MAX_CLAIM_CHARS));
  if (Array.isArray(v))
    return v
      .filter((s): s is string => typeof s === 'string' && s !== '')
      .slice(0, max)
      .map((s) => s.slice(0, MAX_CLAIM_CHARS));
  return [];
}

/** Scopes from `scope` (RFC 8693/9068 space-separated) or `scp` (array or string). */
export function scopesOf(claims: Claims | null): string[] {
  if (!claims) return [];
  return stringList(claims.scope ?? claims.scp);
}

/** Roles from `roles`, else Keycloak's `realm_access.roles`, else `groups`. */
export function rolesOf(claims: Claims | null): string[] {
  if (!claims) return [];
  if (claims.roles !== undefined) return stringList(claims.roles);
  const realm = claims.realm_access as { roles?: unknown } | undefined;
  if (realm && typeof realm === 'object' && realm.roles !== undefined) return stringList(realm.roles);
  return stringList(claims.groups);
}

function tokenType(header: Claims | null, claims: Claims | null, hint: TokenType): TokenType {
  const typ = typeof header?.typ === 'string' ? header.typ.toLowerCase() : '';
  if (typ === 'at+jwt' || typ === 'application/at+jwt') return 'access';
  const use = claimString(claims?.token_use) ?? claimString(claims?.typ);
  if (use) {
    const u = use.toLowerCase();
    if (u === 'access' || u === 'bearer') return 'access';
    if (u === 'refresh') return 'refresh';
    if (u === 'id') return 'id';
  }
  return hint;
}

/**
 * The event's `token` record for a token: claims copied by type, never the token itself.
 * `header`/`claims` may be null (opaque or undecodable tokens): only the fingerprint is kept.
 */
export function tokenInfo(
  token: string,
  decoded: DecodedToken | null,
  opts: { typeHint?: TokenType; fingerprint?: string; familyId?: string | null; previousFingerprint?: string | null } = {},
): TokenInfo {
  const h = decoded?.header ?? null;
  const c = decoded?.claims ?? null;
  return {
    jti: claimString(c?.jti),
    sid: claimString(c?.sid),
    iss: claimString(c?.iss),
    aud: stringList(c?.aud, 16),
    kid: claimString(h?.kid),
    alg: claimString(h?.alg),
    iat: claimDate(c?.iat),
    nbf: claimDate(c?.nbf),
    exp: claimDate(c?.exp),
    typ: tokenType(h, c, opts.typeHint ?? 'unknown'),
    familyId: opts.familyId ?? claimString(c?.fid) ?? claimString(c?.family_id),
    fingerprint: opts.fingerprint ?? tokenFingerprint(token),
    previousFingerprint: opts.previousFingerprint ?? null,
  };
}

/** The event's `actor` record from verified claims. */
export function actorFromClaims(claims: Claims | null): Actor {
  return {
    sub: claimString(claims?.sub),
    clientId: claimString(claims?.client_id) ?? claimString(claims?.azp),
    tenant: claimString(claims?.tid) ?? claimString(claims?.tenant),
    roles: rolesOf(claims),
    scopes: scopesOf(claims),
  };
}
