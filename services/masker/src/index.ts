export { createMaskerService, loadPolicy, maskDeadLetters, type MaskerService } from './service.js';
export { defaults as maskerDefaults, schema as maskerConfigSchema, env as maskerEnv, type MaskerConfig } from './config.js';
