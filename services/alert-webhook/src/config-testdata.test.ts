import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@jwt-audit/runtime';
import { testServiceConfig } from '@jwt-audit/runtime/testing/service-config';
import { serviceConfig } from './config.js';
import { createAlertWebhookService } from './service.js';

// testdata/valid.json and invalid.json (+ invalid.expected.json), generated hostile values, stop() before start()
testServiceConfig({
  ...serviceConfig,
  testdata: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testdata'),
  environment: { AUDIT_WEBHOOK_SECRET: 'a-test-webhook-secret-long-enough' },
  create: (config) => createAlertWebhookService(config, { logger: createLogger({ name: 'alert-webhook', level: 'silent' }) }),
});
