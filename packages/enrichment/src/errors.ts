import { defineErrors } from '@jwt-audit/runtime';

/** The codes this package defines (listed in its README). */
export const ENRICHMENT_ERRORS = defineErrors({
  /** An enrichment policy that does not fit its schema (every problem named). */
  AUDIT_ERR_ENRICHMENT_POLICY: { message: 'invalid enrichment policy: %s' },
});
