/**
 * The one place that decides what an Elasticsearch failure means for the indexer:
 *   - whole request: connection refused / timeout / 429 / 5xx  -> retriable (back off, retry the batch)
 *                    401 / 403                                   -> AUDIT_ERR_ES_UNAUTHORIZED: the fatal class of
 *                                                                   @jwt-audit/kafka's errors.ts, held and retried at
 *                                                                   the longest backoff, unhealthy; never dead-lettered
 *                    any other 4xx                               -> not retriable: the runner splits the batch and
 *                                                                   dead-letters the record still refused alone
 *   - per bulk item: 201 / 200                                    -> written
 *                    409 version_conflict on `create`             -> already written (redelivery): done
 *                    429 / 5xx                                    -> retriable: the batch is retried; written
 *                                                                    items come back as 409 and count as done
 *                    other 4xx (mapping / parsing errors)         -> the record goes to the DLQ with ES's reason
 */
import { errors } from '@elastic/elasticsearch';
import { AuditError, retriesStatus, RETRY_POLICIES } from '@jwt-audit/runtime';
import { INDEXER_ERRORS } from './errors.js';

export type ItemOutcome = 'written' | 'duplicate' | 'retry' | 'reject';

export function classifyItem(status: number): ItemOutcome {
  if (status === 200 || status === 201) return 'written';
  if (status === 409) return 'duplicate';
  if (retriesStatus(RETRY_POLICIES.indexerBulkItem, status)) return 'retry';
  return 'reject';
}

export function fromEsError(err: unknown, what: string): AuditError {
  if (err instanceof errors.ResponseError) {
    const status = err.statusCode ?? 0;
    // credentials are not the records' fault: the partition waits until they are fixed
    if (status === 401 || status === 403) return INDEXER_ERRORS.AUDIT_ERR_ES_UNAUTHORIZED.wrap(err, what, status, err.message);
    const retriable = retriesStatus(RETRY_POLICIES.indexerBulkItem, status);
    return retriable
      ? INDEXER_ERRORS.AUDIT_ERR_ES_UNAVAILABLE.wrap(err, `${what}: HTTP ${status} ${err.message}`)
      : INDEXER_ERRORS.AUDIT_ERR_ES_REJECTED.wrap(err, what, status, err.message);
  }
  if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError) {
    return INDEXER_ERRORS.AUDIT_ERR_ES_UNAVAILABLE.wrap(err, `${what}: ${(err as Error).message}`);
  }
  if (err instanceof AuditError) return err;
  return INDEXER_ERRORS.AUDIT_ERR_ES.wrap(err, `${what}: ${(err as Error)?.message ?? String(err)}`);
}
