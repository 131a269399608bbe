import { hash } from 'node:crypto';
import { jwtVerify, type CryptoKey, type JWTVerifyOptions } from 'jose';
import { LRUCache } from 'lru-cache';
import type { RejectionReason } from '@jwt-audit/events';
import { SUPPORTED_ALGS, isHmac } from './algorithms.js';
import { decodeUnverified, scopesOf, type Claims, type DecodedToken } from './decode.js';
import { JwtConfigError } from './errors.js';
import { canonicalJws, tokenFingerprint } from './fingerprint.js';
import type { KeyStore } from './keys.js';

export interface VerifierOptions {
  keys: KeyStore;
  /** Accepted `alg` values. `none` is refused; HMAC algorithms only with HMAC secrets. */
  algorithms: string[];
  issuer?: string | string[];
  audience?: string | string[];
  /** Seconds of leeway for exp / nbf. Default 30. */
  clockToleranceSec?: number;
  /** Claims that must be present (e.g. ["sub", "exp", "jti"]). exp is always required. */
  requiredClaims?: string[];
  /** Expected header `typ` (e.g. "at+jwt"), checked when set. */
  typ?: string;
  /** Longest token accepted (bytes); longer is `malformed` without parsing. Default 16 KiB. */
  maxTokenBytes?: number;
  /**
   * Longest lifetime accepted, in seconds: `exp - iat`, or `exp - now` for a token without `iat`.
   * Default 86 400 (24 h); 0 disables. Above it: `lifetime_too_long`.
   */
  maxLifetimeSec?: number;
  /**
   * What a token whose `iat` lies beyond the clock tolerance in the future, or whose lifetime is
   * above maxLifetimeSec, gets: "reject" (default; reasons `iat_in_future`, `lifetime_too_long`)
   * or "flag" (accepted, the reasons in `Verified.flags`, for a rollout that measures first).
   */
  claimsPolicy?: 'reject' | 'flag';
  /** Verified tokens remembered so repeated use skips the signature check. Default 10 000; 0 disables. */
  cacheSize?: number;
  /**
   * How long a verification is remembered (ms). Default 60 000. Past it the token is verified
   * again, which looks its key up, and that lookup is what makes a remote store refetch a key set
   * older than its max age: a key removed from the JWKS stops verifying a remembered token within
   * the store's max age plus this, even when no other token is presented.
   */
  cacheTtlMs?: number;
  now?: () => number;
}

/** Revocation state, consulted after the signature and claims checked out. */
export interface RevocationCheck {
  isJtiRevoked(jti: string): boolean;
  isSubjectRevoked(sub: string): boolean;
}

export interface VerifyContext {
  /** Scopes the route requires; all must be granted. */
  requiredScopes?: readonly string[];
  revocations?: RevocationCheck;
}

export interface Verified {
  ok: true;
  fingerprint: string;
  header: Claims;
  claims: Claims;
  decoded: DecodedToken;
  /** claimsPolicy "flag": the claim checks it failed but was accepted for; absent when none. */
  flags?: ClaimFlag[];
}

export type ClaimFlag = 'iat_in_future' | 'lifetime_too_long';

export interface Rejected {
  ok: false;
  reason: RejectionReason;
  /** Human-readable; never contains the token. */
  detail: string;
  fingerprint: string;
  /** What the token claims, if it decodes at all. Trust it only when signatureVerified. */
  decoded: DecodedToken | null;
  /** true when the signature was good and a claim (exp, aud ...) or policy failed. */
  signatureVerified: boolean;
  /** insufficient_scope: the scopes missing. */
  missingScopes?: string[];
}

export type VerifyOutcome = Verified | Rejected;

export interface Verifier {
  verify(token: string, ctx?: VerifyContext): Promise<VerifyOutcome>;
  /** Forget remembered verifications (called when the key set changes). */
  clearCache(): void;
  readonly keys: KeyStore;
}

interface Remembered {
  verified: Verified;
  /** KeyStore.generation when it was verified. */
  generation: number;
}

const DEFAULT_MAX_TOKEN_BYTES = 16 * 1024;
const KID_MAX = 256;

/** Validates the options at construction: unsafe configurations never get as far as a request. */
function checkOptions(o: VerifierOptions): void {
  if (!Array.isArray(o.algorithms) || o.algorithms.length === 0) throw new JwtConfigError('algorithms: at least one algorithm is required');
  for (const alg of o.algorithms) {
    if (alg.toLowerCase() === 'none') throw new JwtConfigError('algorithms: "none" is never accepted');
    if (!SUPPORTED_ALGS.has(alg)) throw new JwtConfigError(`algorithms: ${alg} is not supported (use one of ${[...SUPPORTED_ALGS].join(', ')})`);
    if (o.keys.asymmetric && isHmac(alg))
      throw new JwtConfigError(`algorithms: ${alg} is an HMAC algorithm but the keys are public keys (this is the alg-confusion hole)`);
    if (!o.keys.asymmetric && !isHmac(alg)) throw new JwtConfigError(`algorithms: ${alg} needs public keys but the keys are HMAC secrets`);
  }
}

export function missingScopes(required: readonly string[] | undefined, granted: readonly string[]): string[] {
  if (!required || required.length === 0) return [];
  const have = new Set(granted);
  return required.filter((s) => !have.has(s));
}

/**
 * Verifies bearer JWTs and classifies every failure into one of the audit schema's rejection
 * reasons. The cheap, attacker-facing checks (size, shape, alg allowlist, kid) run before any
 * key lookup or crypto; jose then verifies the signature and the registered claims.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  checkOptions(options);
  const algorithms = new Set(options.algorithms);
  const maxBytes = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
  const tolerance = options.clockToleranceSec ?? 30;
  const now = options.now ?? Date.now;
  const required = [...new Set(['exp', ...(options.requiredClaims ?? [])])];
  const cacheSize = options.cacheSize ?? 10_000;
  // keyed by the token's SHA-256, not the token: the cache holds no bearer token for a heap dump to show
  const cache = cacheSize > 0 ? new LRUCache<string, Remembered>({ max: cacheSize, ttl: options.cacheTtlMs ?? 60_000 }) : undefined;
  const maxLifetime = options.maxLifetimeSec ?? 86_400;
  const flagOnly = options.claimsPolicy === 'flag';

  const joseOptions = (): JWTVerifyOptions => ({
    algorithms: [...algorithms],
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
    ...(options.typ !== undefined ? { typ: options.typ } : {}),
    clockTolerance: tolerance,
    requiredClaims: required,
    currentDate: new Date(now()),
  });

  const reject = (fingerprint: string, decoded: DecodedToken | null, reason: RejectionReason, detail: string, signatureVerified = false): Rejected => ({
    ok: false,
    reason,
    detail,
    fingerprint,
    decoded,
    signatureVerified,
  });

  /** Policy checks that hold for fresh and remembered verifications alike. */
  const policy = (v: Verified, ctx: VerifyContext | undefined): VerifyOutcome => {
    const c = v.claims;
    const nowSec = now() / 1000;
    if (typeof c.exp === 'number' && c.exp + tolerance <= nowSec) return reject(v.fingerprint, v.decoded, 'expired', 'token expired', true);
    if (typeof c.nbf === 'number' && c.nbf - tolerance > nowSec) return reject(v.fingerprint, v.decoded, 'not_yet_valid', 'token not valid yet (nbf)', true);
    // a token issued "in the future", or one that lives for years, is a forged or misconfigured issuer's
    let flags: ClaimFlag[] | undefined;
    if (typeof c.iat === 'number' && c.iat - tolerance > nowSec) {
      if (!flagOnly) return reject(v.fingerprint, v.decoded, 'iat_in_future', 'token issued in the future (iat beyond the clock tolerance)', true);
      (flags ??= []).push('iat_in_future');
    }
    if (maxLifetime > 0 && typeof c.exp === 'number') {
      const from = typeof c.iat === 'number' ? c.iat : nowSec;
      if (!(c.exp - from <= maxLifetime)) {
        if (!flagOnly) return reject(v.fingerprint, v.decoded, 'lifetime_too_long', `token lifetime above ${maxLifetime} s`, true);
        (flags ??= []).push('lifetime_too_long');
      }
    }
    const revocations = ctx?.revocations;
    if (revocations) {
      if (typeof c.jti === 'string' && revocations.isJtiRevoked(c.jti)) return reject(v.fingerprint, v.decoded, 'revoked', 'token revoked (jti)', true);
      if (typeof c.sub === 'string' && revocations.isSubjectRevoked(c.sub))
        return reject(v.fingerprint, v.decoded, 'subject_deprovisioned', 'subject deprovisioned', true);
    }
    const missing = missingScopes(ctx?.requiredScopes, scopesOf(c));
    if (missing.length > 0)
      return { ...reject(v.fingerprint, v.decoded, 'insufficient_scope', `missing scope: ${missing.join(' ')}`, true), missingScopes: missing };
    return flags ? { ...v, flags } : v;
  };

  const verify = async (token: string, ctx?: VerifyContext): Promise<VerifyOutcome> => {
    const cacheKey = cache ? hash('sha256', token, 'base64url') : '';
    const cached = cache?.get(cacheKey);
    // remembered under another key set: its key may be gone, so it is verified again
    if (cached && cached.generation === options.keys.generation) return policy(cached.verified, ctx);
    if (token.length > maxBytes) return reject(tokenFingerprint(token), null, 'malformed', `token longer than ${maxBytes} bytes`);
    // over the canonical form, so a variant below has the fingerprint of the token it varies
    const fingerprint = tokenFingerprint(token);
    const canonical = canonicalJws(token);
    const decoded = decodeUnverified(canonical ?? token);
    if (!decoded) return reject(fingerprint, null, 'malformed', 'not a compact JWS (header.payload.signature)');
    // the same bytes spelled another way (padding, non-zero trailing bits) verify too: one token, one spelling
    if (canonical !== token) return reject(fingerprint, decoded, 'non_canonical', 'token is not in canonical base64url (padding or non-zero trailing bits)');
    const { header } = decoded;
    if (typeof header.alg !== 'string') return reject(fingerprint, decoded, 'malformed', 'header has no alg');
    if (header.alg.toLowerCase() === 'none') return reject(fingerprint, decoded, 'alg_not_allowed', 'alg none is never accepted');
    if (!algorithms.has(header.alg)) return reject(fingerprint, decoded, 'alg_not_allowed', `alg ${header.alg.slice(0, 32)} not allowed`);
    if (header.kid !== undefined && (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > KID_MAX)) {
      return reject(fingerprint, decoded, 'malformed', 'header kid is not a short string');
    }
    if (!decoded.claims) return reject(fingerprint, decoded, 'malformed', 'payload is not a JSON object');
    // RFC 7515 4.1.11: a token naming an extension this verifier does not implement must be refused (no extension is implemented)
    if (header.crit !== undefined)
      return reject(fingerprint, decoded, 'unknown_crit', `crit names extensions not understood: ${JSON.stringify(header.crit).slice(0, 64)}`);
    // the generation before the lookup: a set loaded by it makes the next use verify once more, never the reverse
    const generation = options.keys.generation;
    const found = await options.keys.lookup(header.kid as string | undefined, header.alg);
    if (!found.ok) return reject(fingerprint, decoded, found.reason, found.detail);

    let lastError: unknown;
    for (const key of found.keys) {
      try {
        const result = await jwtVerify(token, key as CryptoKey, joseOptions());
        const v: Verified = { ok: true, fingerprint, header: result.protectedHeader as Claims, claims: result.payload as Claims, decoded };
        cache?.set(cacheKey, { verified: v, generation });
        return policy(v, ctx);
      } catch (err) {
        lastError = err;
        if ((err as { code?: string }).code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') break;
      }
    }
    return classify(lastError, fingerprint, decoded);
  };

  const classify = (err: unknown, fingerprint: string, decoded: DecodedToken): Rejected => {
    const e = err as { code?: string; claim?: string; reason?: string; message?: string };
    switch (e.code) {
      case 'ERR_JWT_EXPIRED':
        return reject(fingerprint, decoded, 'expired', 'token expired', true);
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        if (e.claim === 'nbf') return reject(fingerprint, decoded, 'not_yet_valid', 'token not valid yet (nbf)', true);
        if (e.claim === 'iss') return reject(fingerprint, decoded, 'wrong_issuer', e.reason === 'missing' ? 'iss claim missing' : 'unexpected issuer', true);
        if (e.claim === 'aud')
          return reject(fingerprint, decoded, 'wrong_audience', e.reason === 'missing' ? 'aud claim missing' : 'unexpected audience', true);
        if (e.claim === 'typ') return reject(fingerprint, decoded, 'malformed', 'unexpected typ header', true);
        return reject(fingerprint, decoded, 'malformed', `claim ${String(e.claim).slice(0, 32)} ${e.reason === 'missing' ? 'missing' : 'invalid'}`, true);
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return reject(fingerprint, decoded, 'bad_signature', 'signature does not verify');
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED':
        return reject(fingerprint, decoded, 'alg_not_allowed', 'algorithm not allowed for this key');
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return reject(fingerprint, decoded, 'unknown_kid', 'no matching key');
      default:
        // ERR_JWS_INVALID / ERR_JWT_INVALID and anything else jose refuses to parse
        return reject(fingerprint, decoded, 'malformed', 'token is not a valid JWT');
    }
  };

  return {
    verify,
    clearCache: () => cache?.clear(),
    keys: options.keys,
  };
}

/**
 * The bearer token from an Authorization header value (RFC 6750 2.1): scheme `Bearer`
 * (case-insensitive), then a b64token. `missing` when there is no header or another scheme,
 * `malformed` when the Bearer value is empty or has characters a b64token cannot.
 */
export function bearerToken(header: string | string[] | undefined): { token: string } | { error: 'missing' | 'malformed' } {
  if (header === undefined) return { error: 'missing' };
  if (Array.isArray(header)) return { error: 'malformed' };
  const m = /^\s*bearer(?:\s+(.*))?$/i.exec(header);
  if (!m) return { error: 'missing' };
  const value = (m[1] ?? '').trim();
  if (value === '' || !/^[A-Za-z0-9\-._~+/]+=*$/.test(value)) return { error: 'malformed' };
  return { token: value };
}
