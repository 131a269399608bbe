import { AuditError } from '@jwt-audit/runtime';

/** A verifier configuration that would be unsafe or cannot work (alg `none`, HMAC with public keys ...). */
export class JwtConfigError extends AuditError {
  constructor(message: string) {
    super('AUDIT_ERR_JWT_CONFIG', message);
    this.name = 'JwtConfigError';
  }
}

/** The JWKS endpoint could not be read (network, status, body): retriable. */
export class JwksFetchError extends AuditError {
  constructor(message: string, cause?: unknown) {
    super('AUDIT_ERR_JWKS_FETCH', message, { retriable: true, cause });
    this.name = 'JwksFetchError';
  }
}
