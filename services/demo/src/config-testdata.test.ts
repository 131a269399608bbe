import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testServiceConfig } from '@jwt-audit/runtime/testing/service-config';
import { serviceConfig } from './config.js';

// testdata/valid.json and invalid.json (+ invalid.expected.json), generated hostile values
testServiceConfig({
  ...serviceConfig,
  testdata: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testdata'),
  environment: { AUDIT_DEMO_WEBHOOK_SECRET: 'a-demo-webhook-secret-long-enough' },
});
