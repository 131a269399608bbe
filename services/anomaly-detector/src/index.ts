export { createDetectorService, alertKey, type DetectorService, type DetectorServiceDeps } from './service.js';
export { configSchema, defaults, env, type DetectorServiceConfig } from './config.js';
export { PartitionStateStore } from './state-store.js';
