import { defineErrors } from '@jwt-audit/runtime';

/** The codes the indexer defines (listed in its README). */
export const INDEXER_ERRORS = defineErrors({
  /** Elasticsearch refused the credentials (401/403): the fatal class, the partition is held until fixed. */
  AUDIT_ERR_ES_UNAUTHORIZED: { message: '%s: HTTP %s %s', retriable: true },
  /** Elasticsearch is unreachable, overloaded (429) or failing (5xx), or some bulk items must be retried. */
  AUDIT_ERR_ES_UNAVAILABLE: { message: '%s', retriable: true },
  /** Elasticsearch refused a request (another 4xx). */
  AUDIT_ERR_ES_REJECTED: { message: '%s: HTTP %s %s' },
  /** Elasticsearch refused one document (mapping, parse): that record is dead-lettered. */
  AUDIT_ERR_ES_MAPPING: { message: 'Elasticsearch refused the document: %s: %s' },
  /** Anything else the Elasticsearch client threw. */
  AUDIT_ERR_ES: { message: '%s', retriable: true },
});
