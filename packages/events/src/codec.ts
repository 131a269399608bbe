import avro from 'avsc';
import { EVENTS_ERRORS, SchemaValidationError, UndecodableRecordError, type FieldError } from './errors.js';
import { nullableUnionHook } from './nullable-union.js';
import { readSchemaFile } from './schemas.js';
import { EVENT_KINDS, type Alert, type ApprovalRecord, type AuditEvent, type DeadLetter, type Revocation, type SessionSummary } from './types.js';

/**
 * Kafka record layout for every topic:
 *   value   = Avro binary encoding (no container framing) of the writer's schema
 *   headers = audit-schema-version: <int>          the writer's schema version
 *             audit-schema-fingerprint: <hex>      SHA-256 of the writer schema's canonical form
 * A reader decodes with the writer schema named by the fingerprint and resolves to its own
 * (Avro schema resolution: added fields take their defaults), so old records stay readable.
 * The topic names the record type (audit.*.v1 -> AuditEvent, audit.alerts.v1 -> Alert ...).
 * Records written before 2026-12-02 also carry `audit-schema` (the type's full name) and
 * `content-type: avro/binary`; readers never needed them, and kafkajs spends ~3 µs of CPU per
 * header per record in every producer of the pipeline, so they are no longer written.
 */
export const HEADER_VERSION = 'audit-schema-version';
export const HEADER_FINGERPRINT = 'audit-schema-fingerprint';

export type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;
export type RecordHeaders = Record<string, HeaderValue>;

export interface Encoded {
  value: Buffer;
  headers: Record<string, string>;
}

export interface Codec<T> {
  readonly name: string;
  readonly version: number;
  readonly fingerprint: string;
  readonly type: avro.Type;
  /** Validates, then encodes. Throws SchemaValidationError naming every bad field. */
  encode(value: T): Encoded;
  /** Decodes bytes written with the current or any earlier version of this schema. */
  decode(value: Buffer, headers?: RecordHeaders): T;
  /** Every field that does not fit the schema (plus semantic checks); empty when valid. */
  validate(value: unknown): FieldError[];
}

interface Version {
  version: number;
  schema: unknown;
}

export function headerString(headers: RecordHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined) return undefined;
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}

/** Largest record whose encoding buffer a codec keeps for reuse (bigger ones get their own). */
const SCRATCH_MAX = 1024 * 1024; // 1 MiB

export function createCodec<T>(current: Version, history: Version[] = [], semantic: (value: T) => FieldError[] = () => []): Codec<T> {
  // the optional fields' unions read and written by nullable-union.ts: same bytes, cheaper
  const type = avro.Type.forSchema(current.schema as avro.Schema, { typeHook: nullableUnionHook });
  const fingerprint = type.fingerprint('sha256').toString('hex');
  const name = type.name ?? 'record';
  const writers = new Map<string, { version: number; resolver: ReturnType<avro.Type['createResolver']> | null }>();
  writers.set(fingerprint, { version: current.version, resolver: null });
  for (const h of history) {
    const writer = avro.Type.forSchema(h.schema as avro.Schema);
    writers.set(writer.fingerprint('sha256').toString('hex'), { version: h.version, resolver: type.createResolver(writer) });
  }
  const headers = {
    [HEADER_VERSION]: String(current.version),
    [HEADER_FINGERPRINT]: fingerprint,
  };

  const validate = (value: unknown): FieldError[] => {
    const errors: FieldError[] = [];
    if (value === null || typeof value !== 'object') return [{ field: '(root)', message: `expected a record, got ${describe(value)}` }];
    type.isValid(value, {
      errorHook(path: string[], v: unknown, t: avro.Type) {
        errors.push({ field: path.join('.') || '(root)', message: `expected ${t.typeName}, got ${describe(v)}` });
      },
    });
    if (errors.length === 0) errors.push(...semantic(value as T));
    return errors;
  };

  // One scratch buffer per codec, grown to the largest record seen (up to SCRATCH_MAX). avsc's
  // toBuffer writes into a fixed 1 KiB buffer and, for any larger value (an audit event is
  // 1.3-2 KiB), writes the whole value a second time into a zero-filled buffer of the exact size:
  // measured as half of an event's encode. type.encode() writes once and throws on a value that
  // does not fit the schema exactly as toBuffer does; the bytes are then copied out
  // (allocUnsafe: pooled, no zero fill, every byte is overwritten by the copy).
  let scratch = Buffer.allocUnsafe(16 * 1024);
  const toBuffer = (value: T): Buffer => {
    let end = type.encode(value, scratch, 0);
    if (end < 0) {
      const size = scratch.length - end; // encode() returns minus the bytes that were missing
      if (size > SCRATCH_MAX) {
        const exact = Buffer.allocUnsafe(size);
        type.encode(value, exact, 0);
        return exact;
      }
      scratch = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(size)));
      end = type.encode(value, scratch, 0);
    }
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    return out;
  };

  return {
    name,
    version: current.version,
    fingerprint,
    type,
    validate,
    encode(value: T): Encoded {
      // Writing checks every type as it writes, so a separate isValid pass first would do the
      // work twice (measured: most of a transform stage's encode cost). The full field-by-field
      // validation runs only to explain a failure; the cheap semantic checks always run.
      let buf: Buffer;
      try {
        if (value === null || typeof value !== 'object') throw EVENTS_ERRORS.AUDIT_ERR_SCHEMA_INVALID.create(name, 'not a record');
        buf = toBuffer(value);
      } catch {
        const errors = validate(value);
        throw new SchemaValidationError(name, errors.length > 0 ? errors : [{ field: '(root)', message: 'does not fit the schema' }]);
      }
      const semanticErrors = semantic(value);
      if (semanticErrors.length > 0) throw new SchemaValidationError(name, semanticErrors);
      return { value: buf, headers };
    },
    decode(value: Buffer, recordHeaders?: RecordHeaders): T {
      const fp = headerString(recordHeaders, HEADER_FINGERPRINT);
      const writer = writers.get(fp ?? fingerprint);
      if (!writer) throw new UndecodableRecordError(`unknown writer schema fingerprint ${fp} for ${name}`);
      try {
        return (writer.resolver ? type.fromBuffer(value, writer.resolver) : type.fromBuffer(value)) as T;
      } catch (err) {
        throw new UndecodableRecordError(`cannot decode ${name} v${writer.version}: ${(err as Error).message}`, err);
      }
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const EVENT_KIND_SET = new Set<string>(EVENT_KINDS);

function checkEvent(e: AuditEvent): FieldError[] {
  const errors: FieldError[] = [];
  if (!UUID.test(e.id)) errors.push({ field: 'id', message: 'expected a UUID' });
  if (!(EVENT_KIND_SET as Set<string>).has(e.kind)) errors.push({ field: 'kind', message: `unknown kind ${JSON.stringify(e.kind)}` });
  if (e.kind === 'token.rejected' && e.rejection === null) errors.push({ field: 'rejection', message: 'required for token.rejected' });
  if (e.kind === 'key.rotated' && e.key === null) errors.push({ field: 'key', message: 'required for key.rotated' });
  if (e.kind.startsWith('approval.') && e.approval === null) errors.push({ field: 'approval', message: `required for ${e.kind}` });
  if (e.approval && !SHA256_HEX.test(e.approval.fingerprint)) errors.push({ field: 'approval.fingerprint', message: 'expected a lower-case hex SHA-256' });
  if (e.token && !SHA256_HEX.test(e.token.fingerprint)) {
    errors.push({ field: 'token.fingerprint', message: 'expected a lower-case hex SHA-256 (never the token itself)' });
  }
  if (e.token?.previousFingerprint && !SHA256_HEX.test(e.token.previousFingerprint)) {
    errors.push({ field: 'token.previousFingerprint', message: 'expected a lower-case hex SHA-256' });
  }
  return errors;
}

export const eventCodec: Codec<AuditEvent> = createCodec<AuditEvent>(
  { version: 4, schema: readSchemaFile('avro/audit-event.avsc') },
  [
    { version: 3, schema: readSchemaFile('avro/history/audit-event.v3.avsc') },
    { version: 2, schema: readSchemaFile('avro/history/audit-event.v2.avsc') },
    { version: 1, schema: readSchemaFile('avro/history/audit-event.v1.avsc') },
  ],
  checkEvent,
);

export const alertCodec: Codec<Alert> = createCodec<Alert>({ version: 1, schema: readSchemaFile('avro/alert.avsc') });
export const revocationCodec: Codec<Revocation> = createCodec<Revocation>({ version: 1, schema: readSchemaFile('avro/revocation.avsc') });
function checkApproval(r: ApprovalRecord): FieldError[] {
  const errors: FieldError[] = [];
  if (!UUID.test(r.approvalId)) errors.push({ field: 'approvalId', message: 'expected a UUID' });
  if (r.step === 'requested' && r.request === null) errors.push({ field: 'request', message: 'required for requested' });
  if (r.request && !SHA256_HEX.test(r.request.fingerprint)) errors.push({ field: 'request.fingerprint', message: 'expected a lower-case hex SHA-256' });
  return errors;
}
export const approvalCodec: Codec<ApprovalRecord> = createCodec<ApprovalRecord>(
  { version: 1, schema: readSchemaFile('avro/approval.avsc') },
  [],
  checkApproval,
);
export const deadLetterCodec: Codec<DeadLetter> = createCodec<DeadLetter>({ version: 1, schema: readSchemaFile('avro/dead-letter.avsc') });
export const sessionCodec: Codec<SessionSummary> = createCodec<SessionSummary>({ version: 1, schema: readSchemaFile('avro/session.avsc') });
