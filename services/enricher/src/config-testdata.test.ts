import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@jwt-audit/runtime';
import { testServiceConfig } from '@jwt-audit/runtime/testing/service-config';
import { checkConfig, defaults, env, schema } from './config.js';
import { createEnricherService } from './service.js';

// testdata/valid.json and invalid.json (+ invalid.expected.json), generated hostile values, stop() before start()
testServiceConfig({
  service: 'enricher',
  schema,
  defaults,
  env,
  check: checkConfig,
  testdata: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testdata'),
  create: (config) => createEnricherService(config, { logger: createLogger({ name: 'enricher', level: 'silent' }) }),
});
