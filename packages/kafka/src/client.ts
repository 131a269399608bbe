import { Kafka, logLevel, type KafkaConfig, type logCreator, type SASLOptions } from 'kafkajs';
import { kafkaTlsOption, type KafkaConnectionConfig, type Logger } from '@jwt-audit/runtime';

/** kafkajs log lines go to pino; its INFO chatter (joins, commits) is debug for us. */
function pinoLogCreator(logger: Logger): logCreator {
  return () => ({ namespace, level, log }) => {
    const { message, ...extra } = log;
    const fields = { kafkajs: namespace, ...extra };
    // We bound the idempotent producer's retries on purpose: callers retry whole batches (and the
    // interceptor spools), which beats a send that never returns while Kafka is down.
    if (message.startsWith('Limiting retries for the idempotent producer')) return logger.debug(fields, message);
    if (level === logLevel.ERROR) logger.error(fields, message);
    else if (level === logLevel.WARN) logger.warn(fields, message);
    else logger.debug(fields, message);
  };
}

let filtered = false;
/**
 * kafkajs 2.2.4 arms timers with negative delays (its request queue's throttle arithmetic), which
 * Node has always run as 1 ms; Node 24 also prints a TimeoutNegativeWarning for each, on stderr,
 * in every service and in the CLI's one-line errors. Only that warning is dropped, once per process.
 */
function dropKafkajsNegativeTimeoutWarning(): void {
  if (filtered) return;
  filtered = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'TimeoutNegativeWarning' || (warning instanceof Error && warning.name === 'TimeoutNegativeWarning')) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** A kafkajs client for real Kafka (TLS/SASL from config) or the embedded broker (neither). */
export function createKafkaClient(config: KafkaConnectionConfig, logger: Logger, overrides: Partial<KafkaConfig> = {}): Kafka {
  dropKafkajsNegativeTimeoutWarning();
  const sasl = config.sasl ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions) : undefined;
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: kafkaTlsOption(config),
    ...(sasl ? { sasl } : {}),
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' })),
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 5_000 },
    ...overrides,
  });
}
