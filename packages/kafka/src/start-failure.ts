import { EXIT_CODES, explainEsError, isEsClientError, isSettingsRefused, type EsConnectionConfig, type KafkaConnectionConfig } from '@jwt-audit/runtime';
import { explainKafkaError } from './errors.js';

/**
 * For runService's explainStartFailure: the start failure in terms of the settings (a
 * SETTINGS_REFUSED error when Kafka or Elasticsearch refused one), or undefined when it is none of those.
 */
export async function explainStartFailure(err: unknown, conns: { kafka?: KafkaConnectionConfig; elasticsearch?: EsConnectionConfig }): Promise<unknown> {
  let hasEs = false;
  for (let e: unknown = err, d = 0; e && typeof e === 'object' && d < 8; e = (e as { cause?: unknown }).cause, d++) if (isEsClientError(e)) hasEs = true;
  return (
    (hasEs && conns.elasticsearch ? await explainEsError(err, conns.elasticsearch) : undefined) ??
    (!hasEs && conns.kafka ? await explainKafkaError(err, conns.kafka).catch(() => undefined) : undefined)
  );
}

/**
 * What runService reports of a start failure and exits with: the explained error, and 2
 * (EXIT_CODES.settingsRefused) when a setting was refused, else 1 (tested in-process).
 */
export async function startFailure(
  err: unknown,
  conns: { kafka?: KafkaConnectionConfig; elasticsearch?: EsConnectionConfig },
): Promise<{ code: string | undefined; message: string; exitCode: number }> {
  const explained = await explainStartFailure(err, conns);
  const e = (explained ?? err) as { code?: string; message?: string };
  const refused = isSettingsRefused(explained ?? err);
  return { code: e.code, message: e.message ?? String(err), exitCode: refused ? EXIT_CODES.settingsRefused : EXIT_CODES.failed };
}
