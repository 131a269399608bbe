import { defineErrors } from '@jwt-audit/runtime';

/**
 * The search node's own failures, as opposed to the Elasticsearch-shaped answers it gives clients
 * (errors.ts, EsError): a setting it refuses at start and a data log it cannot read back. Listed in
 * the README.
 */
export const SEARCH_NODE_ERRORS = defineErrors({
  /** A setting the node cannot start with (security enabled without a user or API key). */
  AUDIT_ERR_SEARCH_CONFIG: { message: '%s' },
  /** The data log ends inside a record it indexed (the file was cut after the node wrote it). */
  AUDIT_ERR_SEARCH_LOG_TRUNCATED: { message: 'log %s ends before byte %s' },
});
