import { EXIT_SETTINGS, explainEsError, isEsClientError, isSettingsRefused, type EsConnectionConfig, type KafkaConnectionConfig, type Logger } from '@jwt-audit/runtime';
import { explainKafkaError } from './errors.js';

/**
 * The end of a service that could not start. One fatal line whose message says why in terms of
 * the settings (`masker cannot start: Kafka refused the SASL credentials ...: check
 * AUDIT_KAFKA_SASL_USERNAME and AUDIT_KAFKA_SASL_PASSWORD`), then the exit code: 2 (EXIT_SETTINGS,
 * as for an invalid configuration) when a setting was refused (credentials, SASL mechanism, a
 * certificate no configured CA trusts, plaintext at a TLS listener): restarting cannot help;
 * 1 for anything else (a supervisor may retry).
 */
export async function exitOnStartFailure(logger: Logger, service: string, err: unknown, conns: { kafka?: KafkaConnectionConfig; elasticsearch?: EsConnectionConfig }): Promise<never> {
  const explained = await startFailure(err, conns);
  logger.fatal({ err: { code: explained.code, message: explained.message }, exitCode: explained.exitCode }, `${service} cannot start: ${explained.message}`);
  process.exit(explained.exitCode);
}

/**
 * For runService's explainStartFailure: the start failure in terms of the settings (a
 * SETTINGS_REFUSED error when Kafka or Elasticsearch refused one), or undefined when it is none of those.
 */
export async function explainStartFailure(err: unknown, conns: { kafka?: KafkaConnectionConfig; elasticsearch?: EsConnectionConfig }): Promise<unknown> {
  let hasEs = false;
  for (let e: unknown = err, d = 0; e && typeof e === 'object' && d < 8; e = (e as { cause?: unknown }).cause, d++) if (isEsClientError(e)) hasEs = true;
  return (hasEs && conns.elasticsearch ? await explainEsError(err, conns.elasticsearch) : undefined) ?? (!hasEs && conns.kafka ? await explainKafkaError(err, conns.kafka).catch(() => undefined) : undefined);
}

/** What exitOnStartFailure logs and exits with (separate, so it is tested in-process). */
export async function startFailure(err: unknown, conns: { kafka?: KafkaConnectionConfig; elasticsearch?: EsConnectionConfig }): Promise<{ code: string | undefined; message: string; exitCode: number }> {
  const explained = await explainStartFailure(err, conns);
  const e = (explained ?? err) as { code?: string; message?: string };
  const refused = isSettingsRefused(explained ?? err);
  return { code: e.code, message: e.message ?? String(err), exitCode: refused ? EXIT_SETTINGS : 1 };
}
