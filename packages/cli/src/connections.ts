import { explainKafkaError } from '@jwt-audit/kafka';
import {
  ConfigError,
  explainEsError,
  isSettingsRefused,
  ES_ENV,
  esConfigSchema,
  KAFKA_ENV,
  kafkaConfigSchema,
  loadConfig,
  type EsConnectionConfig,
  type KafkaConnectionConfig,
} from '@jwt-audit/runtime';
import { EXIT } from './program.js';
import { cliError } from './errors.js';

/**
 * The CLI reaches Kafka and Elasticsearch with the same settings as the services: the
 * `AUDIT_KAFKA_*` and `AUDIT_ES_*` variables (SASL, TLS with CA and client certificate files,
 * API key or username/password, `_FILE` for secrets), loaded and validated by the runtime's
 * config loader. A command-line flag, where a command has one, wins over the environment.
 * A bad setting is a usage error (exit 2) naming the setting, and so is a setting the other side
 * refused (credentials, SASL mechanism, a certificate no configured CA trusts, plaintext at a TLS
 * listener): the translation of kafkajs / Elasticsearch client errors into those lines is
 * @jwt-audit/kafka's explainKafkaError and @jwt-audit/runtime's explainEsError, used here once.
 */

function usage(err: unknown): never {
  if (err instanceof ConfigError) throw cliError(EXIT.usage, err.message);
  throw err;
}

export function kafkaConnection(flags: { brokers?: string } = {}, environment: NodeJS.ProcessEnv = process.env): KafkaConnectionConfig {
  let cfg: { kafka: KafkaConnectionConfig };
  try {
    cfg = loadConfig<{ kafka: KafkaConnectionConfig }>({
      service: 'audit',
      schema: { type: 'object', additionalProperties: false, required: ['kafka'], properties: { kafka: kafkaConfigSchema } },
      defaults: { kafka: { brokers: ['127.0.0.1:9092'], clientId: 'audit-cli' } },
      env: KAFKA_ENV,
      environment,
      argv: [],
    });
  } catch (err) {
    usage(err);
  }
  if (flags.brokers === undefined) return cfg.kafka;
  const brokers = flags.brokers
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0 || brokers.some((b) => !/^[^\s:]+:\d+$/.test(b))) {
    throw cliError(EXIT.usage, `--brokers: expected host:port[,host:port...], got ${JSON.stringify(flags.brokers)}`);
  }
  return { ...cfg.kafka, brokers };
}

export function esConnection(flags: { esUrl?: string; apiKey?: string } = {}, environment: NodeJS.ProcessEnv = process.env): EsConnectionConfig {
  let cfg: { elasticsearch: EsConnectionConfig };
  try {
    cfg = loadConfig<{ elasticsearch: EsConnectionConfig }>({
      service: 'audit',
      schema: { type: 'object', additionalProperties: false, required: ['elasticsearch'], properties: { elasticsearch: esConfigSchema } },
      defaults: { elasticsearch: { url: 'http://127.0.0.1:9200' } },
      env: ES_ENV,
      environment,
      argv: [],
    });
  } catch (err) {
    usage(err);
  }
  const es = { ...cfg.elasticsearch };
  if (flags.esUrl !== undefined) {
    try {
      new URL(flags.esUrl);
    } catch {
      throw cliError(EXIT.usage, `--es-url: expected a URL like http://127.0.0.1:9200, got ${JSON.stringify(flags.esUrl)}`);
    }
    es.url = flags.esUrl;
  }
  if (flags.apiKey !== undefined) es.apiKey = flags.apiKey;
  return es;
}

/**
 * The error a command ends with when Kafka failed it: the refused setting named (exit 2), else
 * `<what> on <brokers>: <why>` (exit 3, unreachable), with a hint where one can be told.
 */
export async function kafkaFailure(err: unknown, what: string, conn: KafkaConnectionConfig): Promise<Error> {
  const explained = await explainKafkaError(err, conn).catch(() => undefined);
  if (explained && isSettingsRefused(explained)) return cliError(EXIT.usage, `${what}: ${explained.message}`);
  return cliError(EXIT.unavailable, `${what} on ${conn.brokers.join(',')}: ${(explained ?? (err as Error)).message ?? String(err)}`);
}

/** The same for Elasticsearch: the refused setting (exit 2), or undefined (the caller reports it). */
export async function esRefused(err: unknown, conn: EsConnectionConfig): Promise<string | undefined> {
  const explained = await explainEsError(err, conn).catch(() => undefined);
  return explained && isSettingsRefused(explained) ? explained.message : undefined;
}
