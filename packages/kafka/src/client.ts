import { Kafka, logLevel, type KafkaConfig, type logCreator, type SASLOptions } from 'kafkajs';
import {
  createLogThrottle,
  dependencyLog,
  kafkajsRetry,
  kafkaTlsOption,
  RETRY_POLICIES,
  type DependencyLog,
  type KafkaConnectionConfig,
  type Logger,
} from '@jwt-audit/runtime';
import { isConnectionError } from './errors.js';

/** Message templates: numbers (ports, delays, offsets, correlation ids) do not make a line new. */
const template = (message: string): string => message.replace(/\d+/g, '#').slice(0, 200);

/**
 * kafkajs log lines go to pino, on our levels (issue #25 item 2):
 * - a line saying the broker could not be reached is a failed attempt of the `kafka` dependency
 *   (DependencyLog: one line when it goes down, a count per interval, one when it is back), and
 *   while it is down every other kafkajs warning or error (a consumer crashing and restarting
 *   because of it, retries exhausted) is counted there too, written at debug only;
 * - kafkajs' ERROR lines are warnings for us: it retries what it logs (a crashed consumer is
 *   restarted by kafkajs or our supervisor); what it cannot recover from reaches our code, which
 *   logs it with its class. Each message template is written at most once per interval, the next
 *   one saying how many were dropped;
 * - its INFO chatter (joins, commits) is debug; a stack is only ever written at debug.
 */
function pinoLogCreator(logger: Logger, kafka: DependencyLog): logCreator {
  const throttle = createLogThrottle();
  return () =>
    ({ namespace, level, log }) => {
      // kafkajs' own timestamp and logger name repeat what pino writes
      const {
        message,
        stack,
        timestamp: _timestamp,
        logger: _logger,
        ...extra
      } = log as { message: string; stack?: string; timestamp?: string; logger?: string; [k: string]: unknown };
      const fields: Record<string, unknown> = { kafkajs: namespace, ...extra };
      const debug = logger.isLevelEnabled('debug');
      // We bound the idempotent producer's retries on purpose: callers retry whole batches (and the
      // interceptor spools), which beats a send that never returns while Kafka is down.
      if (level > logLevel.WARN || message.startsWith('Limiting retries for the idempotent producer')) {
        if (debug) logger.debug(fields, message);
        return;
      }
      if (isConnectionError(message) || (typeof extra.error === 'string' && isConnectionError(extra.error))) {
        kafka.failed(message, typeof extra.broker === 'string' ? { broker: extra.broker } : undefined);
        if (debug && stack) logger.debug({ ...fields, stack }, message);
        return;
      }
      if (kafka.down) {
        if (debug) logger.debug(stack ? { ...fields, stack } : fields, message);
        return;
      }
      const dropped = throttle.admit(`${namespace}:${template(message)}`);
      if (dropped === undefined) {
        if (debug) logger.debug(stack ? { ...fields, stack } : fields, message);
        return;
      }
      if (dropped > 0) fields.dropped = dropped;
      if (debug && stack) fields.stack = stack;
      logger.warn(fields, dropped > 0 ? `${message} (${dropped} similar lines dropped)` : message);
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

export interface KafkaClientOptions {
  /**
   * The state the client reports connection failures to and successes from; default the `kafka`
   * dependency of the logger's destination (shared by every client of the process).
   */
  dependency?: DependencyLog;
}

/**
 * A kafkajs client for real Kafka (TLS/SASL from config) or the embedded broker (neither). Its
 * consumers, producers and admin clients report every completed request to the `kafka`
 * dependency state (the "reachable again" line), and kafkajs' log lines go through it.
 */
export function createKafkaClient(config: KafkaConnectionConfig, logger: Logger, overrides: Partial<KafkaConfig> = {}, opts: KafkaClientOptions = {}): Kafka {
  dropKafkajsNegativeTimeoutWarning();
  const dependency = opts.dependency ?? dependencyLog(logger, 'kafka');
  const sasl = config.sasl ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions) : undefined;
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: kafkaTlsOption(config),
    ...(sasl ? { sasl } : {}),
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' }), dependency),
    retry: kafkajsRetry(RETRY_POLICIES.kafkaClient),
    ...overrides,
  });
  // A completed request is the broker answering: the one signal every kind of client gives.
  const up = () => dependency.ok();
  const consumer = kafka.consumer.bind(kafka);
  const producer = kafka.producer.bind(kafka);
  const admin = kafka.admin.bind(kafka);
  kafka.consumer = (config) => {
    const c = consumer(config);
    c.on(c.events.REQUEST, up);
    return c;
  };
  kafka.producer = (config) => {
    const p = producer(config);
    p.on(p.events.REQUEST, up);
    return p;
  };
  kafka.admin = (config) => {
    const a = admin(config);
    a.on(a.events.REQUEST, up);
    return a;
  };
  return kafka;
}
