/** The sessionizer as a process: config file (--config / AUDIT_CONFIG) + AUDIT_* environment; exit codes in packages/runtime/README.md. */
import { explainStartFailure } from '@jwt-audit/kafka';
import { runService } from '@jwt-audit/runtime';
import { serviceConfig } from './config.js';
import { createSessionizerService } from './service.js';

await runService({ ...serviceConfig, create: createSessionizerService, explainStartFailure });
