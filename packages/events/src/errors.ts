import { AuditError, defineErrors } from '@jwt-audit/runtime';

/** The codes this package defines (listed in its README). */
export const EVENTS_ERRORS = defineErrors({
  /** A value that does not fit its schema (every field named). Not retriable: the record goes to the DLQ. */
  AUDIT_ERR_SCHEMA_INVALID: { message: 'invalid %s: %s' },
  /** Bytes that cannot be read with any known writer schema. Not retriable. */
  AUDIT_ERR_UNDECODABLE: { message: '%s' },
});

export interface FieldError {
  /** Dotted path of the field, e.g. `token.fingerprint` or `http.request.method`. */
  field: string;
  message: string;
}

/** A value that does not fit its schema. Not retriable: such a record goes to the DLQ. */
export class SchemaValidationError extends AuditError {
  readonly fields: FieldError[];

  constructor(schema: string, fields: FieldError[]) {
    super(EVENTS_ERRORS.AUDIT_ERR_SCHEMA_INVALID.code, `invalid ${schema}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`);
    this.name = 'SchemaValidationError';
    this.fields = fields;
  }
}

/** Bytes that cannot be read with any known writer schema. Not retriable. */
export class UndecodableRecordError extends AuditError {
  constructor(message: string, cause?: unknown) {
    super(EVENTS_ERRORS.AUDIT_ERR_UNDECODABLE.code, message, { cause });
    this.name = 'UndecodableRecordError';
  }
}
