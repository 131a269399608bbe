import type { JWK } from 'jose';

export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const;
export const SUPPORTED_ALGS: ReadonlySet<string> = new Set<string>([...ASYMMETRIC_ALGS, ...HMAC_ALGS]);

export function isHmac(alg: string): boolean {
  return alg.startsWith('HS');
}

const EC_CURVES: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/**
 * Whether a JWK can verify `alg`: the key type must fit the algorithm family (an RSA key never
 * verifies an HMAC or EC signature) and a key that names its own `alg` is used for that one only.
 */
export function jwkFitsAlg(jwk: JWK, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg.startsWith('ES')) return jwk.kty === 'EC' && jwk.crv === EC_CURVES[alg];
  if (alg === 'EdDSA' || alg === 'Ed25519') return jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || (alg === 'EdDSA' && jwk.crv === 'Ed448'));
  if (isHmac(alg)) return jwk.kty === 'oct';
  return false;
}
