export { createSessionizerService, type SessionizerService, type SessionizerDeps } from './service.js';
export { configSchema, defaults, env, type SessionizerConfig } from './config.js';
export {
  apply,
  applyAlert,
  tick,
  drainChanges,
  createSessionState,
  groupingOf,
  derivedId,
  DEFAULT_RULES,
  SESSIONIZER_SOURCE,
  type SessionizerRules,
  type SessionState,
} from './sessionize.js';
