import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@jwt-audit/runtime';
import { testServiceConfig } from '@jwt-audit/runtime/testing/service-config';
import { configSchema, defaults, env } from './config.js';
import { createSessionizerService } from './service.js';

// testdata/valid.json and invalid.json (+ invalid.expected.json), generated hostile values, stop() before start()
testServiceConfig({
  service: 'sessionizer',
  schema: configSchema,
  defaults,
  env,
  testdata: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testdata'),
  create: (config) => createSessionizerService(config, { logger: createLogger({ name: 'sessionizer', level: 'silent' }) }),
});
