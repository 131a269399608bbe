import { defineErrors } from '@jwt-audit/runtime';

/** The demo's failures (listed in its README). */
export const DEMO_ERRORS = defineErrors({
  /** The traffic generator could not sign in through the edge (npm start not running, or not ready). */
  AUDIT_ERR_DEMO_LOGIN: { message: 'cannot log in through %s: is npm start running?' },
  /** The demo identity provider's signing key file cannot be read or written. */
  AUDIT_ERR_DEMO_KEY: { message: 'demo IdP key file %s: %s' },
  /** A request body above the demo servers' limit. */
  AUDIT_ERR_DEMO_BODY_TOO_LARGE: { message: 'body too large' },
});
