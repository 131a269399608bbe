import { logLevel } from '@jwt-audit/kafka';
import { createKafkaClient } from '@jwt-audit/kafka';
import { createLogger, type KafkaConnectionConfig } from '@jwt-audit/runtime';
import { Writable } from 'node:stream';
import { alertCodec, newId, TOPICS, type Alert, type Severity } from '@jwt-audit/events';
import { alertToEcsDocument } from '@jwt-audit/ecs';

export const SEVERITIES: Severity[] = ['low', 'medium', 'high', 'critical'];

export interface TailOptions {
  /** Brokers, SASL and TLS: the same settings as the services' (see connections.ts). */
  kafka: KafkaConnectionConfig;
  topic?: string;
  /** Minimum severity shown. */
  severity?: Severity;
  /** Only these rules (empty: all). */
  rules?: string[];
  json?: boolean;
  fromBeginning?: boolean;
  /** Stop after this many alerts shown. */
  max?: number;
}

export function matches(alert: Alert, opts: Pick<TailOptions, 'severity' | 'rules'>): boolean {
  if (opts.severity && SEVERITIES.indexOf(alert.severity) < SEVERITIES.indexOf(opts.severity)) return false;
  if (opts.rules && opts.rules.length > 0 && !opts.rules.includes(alert.rule)) return false;
  return true;
}

/** One readable line per alert: time, severity, rule, the keys that are set, count, description. */
export function formatAlert(a: Alert): string {
  const keys = Object.entries(a.keys)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const count = a.suppressed > 0 ? `count=${a.count} (+${a.suppressed} suppressed)` : `count=${a.count}`;
  return `${new Date(a.lastSeen).toISOString()} ${a.severity.toUpperCase().padEnd(8)} ${a.rule.padEnd(30)} ${keys} ${count}  ${a.description}`;
}

/**
 * Follows the alerts topic with a throwaway consumer group (nothing is committed on the
 * pipeline's groups) until `signal` aborts or `max` alerts were shown. Undecodable records are
 * reported on `err` and skipped.
 */
export async function tailAlerts(opts: TailOptions, io: { out(line: string): void; err(line: string): void; signal?: AbortSignal }): Promise<number> {
  // The CLI reports failures itself, in one line; kafkajs's own log lines would only repeat them.
  const silent = createLogger({ name: 'audit-cli', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const kafka = createKafkaClient(opts.kafka, silent, { logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 200 }, connectionTimeout: 3_000 });
  const consumer = kafka.consumer({ groupId: `audit-cli-tail-${newId()}`, maxWaitTimeInMs: 200 });
  let shown = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [opts.topic ?? TOPICS.alerts], fromBeginning: opts.fromBeginning ?? false });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        if (opts.max !== undefined && shown >= opts.max) return;
        let alert: Alert;
        try {
          alert = alertCodec.decode(message.value ?? Buffer.alloc(0), message.headers);
        } catch (err) {
          io.err(`skipping undecodable record at partition ${partition} offset ${message.offset}: ${(err as Error).message}`);
          return;
        }
        if (!matches(alert, opts)) return;
        // the same document as `audit search --alerts --json` (the indexer's, ECS names, ISO times)
        io.out(opts.json ? JSON.stringify(alertToEcsDocument(alert)) : formatAlert(alert));
        shown++;
        if (opts.max !== undefined && shown >= opts.max) done();
      },
    });
    if (io.signal?.aborted) done();
    io.signal?.addEventListener('abort', () => done(), { once: true });
    await finished;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return shown;
}
