import { AuditError } from '@jwt-audit/runtime';

/** A route table that cannot mean what it says (every problem named at once): a configuration error, not retriable. */
export class RouteConfigError extends AuditError {
  constructor(readonly problems: string[]) {
    super('AUDIT_ERR_EDGE_ROUTES', `invalid routes:\n  - ${problems.join('\n  - ')}`);
    this.name = 'RouteConfigError';
  }
}
