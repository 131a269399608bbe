import { AuditError } from '@jwt-audit/runtime';

/** Normalises what kafkajs throws: its `retriable` flag decides between backing off and failing. */
export function fromKafkaError(err: unknown, what: string): AuditError {
  if (err instanceof AuditError) return err;
  const e = err as { message?: string; retriable?: boolean; name?: string };
  // kafkajs marks transient broker/network conditions retriable; a send that failed after its own
  // retries (KafkaJSNumberOfRetriesExceeded) is still worth retrying the whole batch later.
  const retriable = e.retriable === true || e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSRequestTimeoutError';
  return new AuditError('AUDIT_ERR_KAFKA', `${what}: ${e.message ?? String(err)}`, { retriable, cause: err });
}
