import { defineErrors } from '@jwt-audit/runtime';

/** The codes the archiver defines (listed in its README); the archive core's codes are @jwt-audit/archive's. */
export const ARCHIVER_ERRORS = defineErrors({
  /** No signing key in keys.dir and keys.generate is false: the archiver does not start. */
  AUDIT_ERR_ARCHIVER_NO_KEY: { message: 'no archive signing key in %s' },
});
