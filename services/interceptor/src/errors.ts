import { defineErrors } from '@jwt-audit/runtime';

/**
 * The codes the interceptor defines (listed in its README). The problem types it answers HTTP
 * requests with are one table in @jwt-audit/edge (PROBLEMS, AUDIT_ERR_HTTP_*).
 */
export const INTERCEPTOR_ERRORS = defineErrors({
  /** engine / approvals read before start() finished (a middleware mounted too early). */
  AUDIT_ERR_INTERCEPTOR_NOT_STARTED: { message: 'interceptor not started' },
  /** The spool file was used after close (or before open). */
  AUDIT_ERR_SPOOL_CLOSED: { message: 'spool not open' },
  /** The producer thread answered a send with an error, or exited: the batch spools. */
  AUDIT_ERR_PRODUCER_THREAD: { message: '%s', retriable: true },
  /** Kafka did not acknowledge a send within sendTimeoutMs: the batch spools. */
  AUDIT_ERR_SEND_TIMEOUT: { message: 'send timed out after %s ms', retriable: true },
  /** A request the proxy cannot forward (no Host header): answered 400, recorded. */
  AUDIT_ERR_PROXY_REQUEST: { message: '%s' },
  /** The upstream answered with a status the proxy cannot pass on: answered 502, recorded. */
  AUDIT_ERR_UPSTREAM_STATUS: { message: 'upstream answered status %s', retriable: true },
});
