import { AuditError } from '@jwt-audit/runtime';

export interface FieldError {
  /** Dotted path of the field, e.g. `token.fingerprint` or `http.request.method`. */
  field: string;
  message: string;
}

/** A value that does not fit its schema. Not retriable: such a record goes to the DLQ. */
export class SchemaValidationError extends AuditError {
  readonly fields: FieldError[];

  constructor(schema: string, fields: FieldError[]) {
    super('AUDIT_ERR_SCHEMA_INVALID', `invalid ${schema}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`);
    this.name = 'SchemaValidationError';
    this.fields = fields;
  }
}

/** Bytes that cannot be read with any known writer schema. Not retriable. */
export class UndecodableRecordError extends AuditError {
  constructor(message: string, cause?: unknown) {
    super('AUDIT_ERR_UNDECODABLE', message, { cause });
    this.name = 'UndecodableRecordError';
  }
}
