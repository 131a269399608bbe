import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@jwt-audit/runtime';
import { createKafkaClient, ensureTopics, explainKafkaError } from '@jwt-audit/kafka';
import type { StartSettings } from './components.js';

/**
 * First-run setup for `npm start`, idempotent: topics (partitions, retention, compaction) and
 * the local secrets the demo needs (the masking HMAC key). Index templates and ILM are installed
 * by the indexer itself at start; archive signing keys by the archiver.
 */
export async function setup(s: StartSettings): Promise<string> {
  const quiet = createLogger({ name: 'setup', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  // the services' own AUDIT_KAFKA_* settings (SASL, TLS), read and checked by readStartSettings
  const conn = { ...s.kafka, brokers: s.externalKafka ? s.externalKafka.split(',').map((b) => b.trim()) : [`${s.host}:${s.kafkaPort}`] };
  const kafka = createKafkaClient(conn, quiet, { retry: { retries: 3, initialRetryTime: 300 } });
  let created: string[];
  try {
    created = await ensureTopics(kafka);
  } catch (err) {
    // a refused setting is named (AUDIT_KAFKA_SASL_PASSWORD ...) rather than a kafkajs message
    const explained = await explainKafkaError(err, conn).catch(() => undefined);
    throw new Error(`creating topics on ${conn.brokers.join(',')}: ${(explained ?? (err as Error)).message}`, { cause: err });
  }
  const keys = path.join(s.dataDir, 'keys');
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  const hmac = path.join(keys, 'masking-hmac.key');
  if (!existsSync(hmac)) writeFileSync(hmac, randomBytes(32).toString('base64'), { mode: 0o600 });
  return created.length > 0 ? `created topics: ${created.join(', ')}` : 'topics already exist';
}
