export { createArchiverService, type ArchiverService } from './service.js';
export { defaults as archiverDefaults, schema as archiverConfigSchema, env as archiverEnv, type ArchiverConfig } from './config.js';
