import { defineErrors } from '@jwt-audit/runtime';

/** The codes the sessionizer defines (listed in its README). */
export const SESSIONIZER_ERRORS = defineErrors({
  /** A state snapshot this version cannot read (not version 1): the sessionizer does not start on it. */
  AUDIT_ERR_SESSIONIZER_SNAPSHOT: { message: 'not a sessionizer snapshot (version 1)' },
});
