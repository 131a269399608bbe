export { createConsoleService, type ConsoleService } from './service.js';
export { defaults as consoleDefaults, configSchema as consoleConfigSchema, env as consoleEnv, type ConsoleConfig } from './config.js';
export { accessEvent, CONSOLE_CLIENT_ID, type AccessAction, type AccessFacts } from './access-event.js';
