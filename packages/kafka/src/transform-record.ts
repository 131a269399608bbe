import { eventCodec, partitionKey, type AuditEvent } from '@jwt-audit/events';
import { toAuditError, type AuditError } from '@jwt-audit/runtime';
import { KAFKA_ERRORS } from './errors.js';
import type { InputRecord } from './record.js';

export type Transform = (event: AuditEvent, record: InputRecord) => AuditEvent | Promise<AuditEvent>;

/** One record through a stage: the output (event, key, encoding) or the error that dead-letters it. */
export type RecordOutcome = { ok: true; event: AuditEvent; key: string; value: Buffer; headers: Record<string, string> } | { ok: false; error: AuditError };

const failed = (err: unknown): RecordOutcome => ({ ok: false, error: toAuditError(err, KAFKA_ERRORS.AUDIT_ERR_TRANSFORM) });

function encoded(event: AuditEvent): RecordOutcome {
  try {
    const { value, headers } = eventCodec.encode(event);
    return { ok: true, event, key: partitionKey(event), value, headers };
  } catch (err) {
    return failed(err);
  }
}

/**
 * decode -> transform -> encode for one record, in the consumer's thread or a transform thread
 * alike. Synchronous when the transform is: the masker's and enricher's are, and an await per
 * record costs a microtask turn each (measured in the stage benches).
 */
export function transformRecord(transform: Transform, record: InputRecord): RecordOutcome | Promise<RecordOutcome> {
  try {
    if (record.value === null) throw KAFKA_ERRORS.AUDIT_ERR_EMPTY_RECORD.create();
    const returned = transform(eventCodec.decode(record.value, record.headers), record);
    return isPromise(returned) ? returned.then(encoded, failed) : encoded(returned);
  } catch (err) {
    return failed(err);
  }
}

export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T>).then === 'function';
}
