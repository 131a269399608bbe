import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@jwt-audit/runtime';
import { testServiceConfig } from '@jwt-audit/runtime/testing/service-config';
import { serviceConfig } from './config.js';
import { createInterceptor } from './service.js';

// testdata/valid.json and invalid.json (+ invalid.expected.json), generated hostile values, stop() before start()
testServiceConfig({
  ...serviceConfig,
  testdata: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testdata'),
  create: (config) => createInterceptor(config, { logger: createLogger({ name: 'interceptor', level: 'silent' }) }),
});
