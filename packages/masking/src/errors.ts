import { defineErrors } from '@jwt-audit/runtime';

/** The codes this package defines (listed in its README). */
export const MASKING_ERRORS = defineErrors({
  /** A masking policy that does not fit its schema, names an unknown detector or field, or cannot be read. */
  AUDIT_ERR_MASKING_POLICY: { message: '%s' },
  /** A masking key ring that is empty, malformed, too weak, or lacks its active key. */
  AUDIT_ERR_MASKING_KEYS: { message: '%s' },
  /** An event `audit-mask` cannot read (not JSON, or not an audit event); the input is never echoed. */
  AUDIT_ERR_MASKING_INPUT: { message: '%s' },
});
