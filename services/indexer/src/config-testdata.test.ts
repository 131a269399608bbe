import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@jwt-audit/runtime';
import { testServiceConfig } from '@jwt-audit/runtime/testing/service-config';
import { defaults, env, schema } from './config.js';
import { createIndexerService } from './service.js';

// testdata/valid.json and invalid.json (+ invalid.expected.json), generated hostile values, stop() before start()
testServiceConfig({
  service: 'indexer',
  schema,
  defaults,
  env,
  testdata: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testdata'),
  create: (config) => createIndexerService(config, { logger: createLogger({ name: 'indexer', level: 'silent' }) }),
});
