export { createLogger, REDACT_PATHS, type Logger, type LoggerConfig } from './logger.js';
export {
  dependencyLog,
  createDependencyLog,
  createLogThrottle,
  reasonOf,
  DEPENDENCY_LOG_INTERVAL_MS,
  DEPENDENCY_LOG_MAX_INTERVAL_MS,
  type DependencyLog,
  type DependencyLogOptions,
} from './dependency-log.js';
export { AuditError, toAuditError, defineErrors, RUNTIME_ERRORS, type ErrorDefinition, type ErrorSpec } from './errors.js';
export {
  loadConfig,
  consumerServiceSchema,
  consumerServiceDefaults,
  type ConsumerServiceConfig,
  problemsOf,
  configFileFromArgv,
  ConfigError,
  KAFKA_ENV,
  ES_ENV,
  OPS_ENV,
  kafkaConfigSchema,
  esConfigSchema,
  opsConfigSchema,
  type LoadConfigOptions,
  type KafkaConnectionConfig,
  type EsConnectionConfig,
  type OpsConfig,
} from './config.js';
export { kafkaTlsOption, esClientOptions } from './connections.js';
export {
  SETTINGS_REFUSED,
  EXIT_SETTINGS,
  settingsRefused,
  isSettingsRefused,
  untrustedCertificate,
  speaksTls,
  explainEsError,
  isEsClientError,
} from './connection-errors.js';
export { createMetrics, LATENCY_BUCKETS, type Metrics } from './metrics.js';
export { startOpsServer, type OpsServer, type Health } from './ops-server.js';
export { runService, EXIT_CODES, type RunServiceOptions, type ServiceContext } from './service.js';
export { defineComponent, STOPPED, type Component } from './component.js';
export { onShutdown, EXIT_TEMPFAIL } from './shutdown.js';
export { backoffDelay, sleep, retryDelay, retryPolicy, retriesStatus, attemptsLeft, kafkajsRetry, RETRY_POLICIES, type RetryPolicy } from './backoff.js';
export { startWorker, siblingModule } from './worker.js';
export { pooledRandomBytes } from './random.js';
export { writeFileAtomic, appendDurable, lockDirectory } from './state-files.js';
export { closeOnSignals, nonNegativeInteger, readFlagFile, readSecretTable } from './bin-support.js';
