import { defineErrors } from '@jwt-audit/runtime';

/** The codes the enricher defines (listed in its README). */
export const ENRICHER_ERRORS = defineErrors({
  /** A configured MaxMind database cannot be opened: the enricher does not start. */
  AUDIT_ERR_GEOIP: { message: 'cannot open the MaxMind database: %s' },
});
