export { createLogger, REDACT_PATHS, type Logger, type LoggerConfig } from './logger.js';
export { AuditError, toAuditError } from './errors.js';
