export { createEnricherService, type EnricherService } from './service.js';
export { defaults as enricherDefaults, schema as enricherConfigSchema, env as enricherEnv, type EnricherConfig } from './config.js';
