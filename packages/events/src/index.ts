export * from './types.js';
export { TOPICS, type TopicName } from './topics.js';
export {
  createCodec,
  eventCodec,
  alertCodec,
  revocationCodec,
  deadLetterCodec,
  sessionCodec,
  approvalCodec,
  headerString,
  HEADER_VERSION,
  HEADER_FINGERPRINT,
  type Codec,
  type Encoded,
  type RecordHeaders,
  type HeaderValue,
} from './codec.js';
export { EVENTS_ERRORS, SchemaValidationError, UndecodableRecordError, type FieldError } from './errors.js';
export { newId, uuidv7Time } from './ids.js';
export { partitionKey } from './keys.js';
export { validateIngestRequest, type LifecycleEventInput, type IngestValidation } from './ingest.js';
export { SCHEMAS_DIR, readSchemaFile } from './schemas.js';
