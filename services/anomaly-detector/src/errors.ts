import { defineErrors } from '@jwt-audit/runtime';

/** The codes the anomaly detector defines (listed in its README). */
export const DETECTOR_ERRORS = defineErrors({
  /** A record on the repartition topic whose key is not `ip:<address>` or `client:<id>`: dead-lettered. */
  AUDIT_ERR_DETECTOR_REPARTITION_KEY: { message: 'repartition record without an ip:/client: key' },
});
