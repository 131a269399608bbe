export { createIndexerService, createEsClient, type IndexerService } from './service.js';
export { defaults as indexerDefaults, schema as indexerConfigSchema, env as indexerEnv, type IndexerConfig } from './config.js';
export { indexBatch } from './sink.js';
export { installTemplates } from './templates.js';
export { classifyItem, fromEsError } from './retry.js';
