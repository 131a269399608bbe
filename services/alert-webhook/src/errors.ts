import { defineErrors } from '@jwt-audit/runtime';

/** The codes the alert webhook defines (listed in its README). */
export const WEBHOOK_ERRORS = defineErrors({
  /** The receiver refused the alert for good (a 4xx other than 408/429): dead-lettered at once. */
  AUDIT_ERR_WEBHOOK_REJECTED: { message: 'receiver rejected alert %s: %s' },
  /** maxAttempts deliveries failed: dead-lettered, the partition moves on. */
  AUDIT_ERR_WEBHOOK_UNDELIVERABLE: { message: 'alert %s not delivered after %s attempts: %s' },
  /** The service is stopping during a retry: the batch is not committed and comes back. */
  AUDIT_ERR_STOPPING: { message: 'stopping during a retry', retriable: true },
});
