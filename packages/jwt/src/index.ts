export {
  createVerifier,
  bearerToken,
  missingScopes,
  type Verifier,
  type VerifierOptions,
  type VerifyOutcome,
  type Verified,
  type Rejected,
  type VerifyContext,
  type RevocationCheck,
} from './verifier.js';
export { staticKeyStore, remoteJwksStore, type KeyStore, type KeySetChange, type StaticKey, type RemoteJwksOptions, type KeyLookup } from './keys.js';
export { decodeUnverified, tokenInfo, actorFromClaims, scopesOf, rolesOf, claimString, type Claims, type DecodedToken } from './decode.js';
export { canonicalJws, tokenFingerprint } from './fingerprint.js';
export { JWT_ERRORS, JwtConfigError, JwksFetchError } from './errors.js';
export { SUPPORTED_ALGS, ASYMMETRIC_ALGS, HMAC_ALGS, jwkFitsAlg } from './algorithms.js';
