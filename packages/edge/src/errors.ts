import { AuditError, defineErrors } from '@jwt-audit/runtime';

/** The codes this package defines (listed in its README). */
export const EDGE_ERRORS = defineErrors({
  /** A route table that cannot mean what it says (every problem named at once). */
  AUDIT_ERR_EDGE_ROUTES: { message: 'invalid routes:\n  - %s' },
  /** A trustedProxies entry that is not an address, CIDR or range name (every bad entry named at once). */
  AUDIT_ERR_EDGE_TRUSTED_PROXIES: { message: 'invalid %s' },
});

/** A route table that cannot mean what it says (every problem named at once): a configuration error, not retriable. */
export class RouteConfigError extends AuditError {
  constructor(readonly problems: string[]) {
    super(EDGE_ERRORS.AUDIT_ERR_EDGE_ROUTES.code, `invalid routes:\n  - ${problems.join('\n  - ')}`);
    this.name = 'RouteConfigError';
  }
}
