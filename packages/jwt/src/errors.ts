import { AuditError, defineErrors } from '@jwt-audit/runtime';

/** The codes this package defines (listed in its README). */
export const JWT_ERRORS = defineErrors({
  /** A verifier configuration that would be unsafe or cannot work (alg `none`, HMAC with public keys ...). */
  AUDIT_ERR_JWT_CONFIG: { message: '%s' },
  /** The JWKS endpoint could not be read (network, status, size, body). */
  AUDIT_ERR_JWKS_FETCH: { message: '%s', retriable: true },
});

/** A verifier configuration that would be unsafe or cannot work (alg `none`, HMAC with public keys ...). */
export class JwtConfigError extends AuditError {
  constructor(message: string) {
    super(JWT_ERRORS.AUDIT_ERR_JWT_CONFIG.code, message);
    this.name = 'JwtConfigError';
  }
}

/** The JWKS endpoint could not be read (network, status, body): retriable. */
export class JwksFetchError extends AuditError {
  constructor(message: string, cause?: unknown) {
    super(JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.code, message, { retriable: JWT_ERRORS.AUDIT_ERR_JWKS_FETCH.retriable, cause });
    this.name = 'JwksFetchError';
  }
}
