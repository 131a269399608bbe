import { defineErrors } from '@jwt-audit/runtime';

/** The codes the console defines (listed in its README); its config problems are AUDIT_ERR_CONFIG. */
export const CONSOLE_ERRORS = defineErrors({
  /** An archive verification was asked for, but no archive directory is configured. */
  AUDIT_ERR_CONSOLE_NO_ARCHIVE: { message: 'no archive configured' },
});
