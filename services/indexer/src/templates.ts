import type { Client } from '@elastic/elasticsearch';
import { readSchemaFile } from '@jwt-audit/events';
import type { Logger } from '@jwt-audit/runtime';
import { fromEsError } from './retry.js';

/**
 * Installs the ILM policy and index templates from schemas/elasticsearch at start. PUT is
 * idempotent, so every instance may do it; the files are the single source of truth.
 */
export async function installTemplates(es: Client, logger: Logger): Promise<void> {
  try {
    await es.ilm.putLifecycle({ name: 'logs-audit', ...(readSchemaFile('elasticsearch/ilm-logs-audit.json') as object) } as never);
    for (const name of ['logs-jwt_audit.events', 'logs-jwt_audit.alerts', 'audit-sessions']) {
      await es.indices.putIndexTemplate({ name, ...(readSchemaFile(`elasticsearch/template-${name}.json`) as object) } as never);
    }
    logger.info('index templates and ILM policy installed');
  } catch (err) {
    throw fromEsError(err, 'installing index templates');
  }
}
