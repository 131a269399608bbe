/**
 * The base of every error the project throws on purpose. A stable `code` (AUDIT_ERR_*) that logs,
 * metrics, DLQ records and HTTP problem documents carry; `retriable` decides between backing off
 * and dead-lettering; `cause` keeps what was thrown underneath.
 */
export class AuditError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuditError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Normalises anything thrown into an AuditError, once, at the boundary where it was caught. */
export function toAuditError(err: unknown, fallbackCode = 'AUDIT_ERR_INTERNAL', retriable = false): AuditError {
  if (err instanceof AuditError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AuditError(fallbackCode, message, { retriable, cause: err });
}
