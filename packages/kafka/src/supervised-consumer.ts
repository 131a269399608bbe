import type { Consumer, ConsumerConfig, Kafka } from 'kafkajs';
import { AuditError, dependencyLog, retryDelay, retryPolicy, RETRY_POLICIES, type Logger, type Metrics } from '@jwt-audit/runtime';
import { failureClass, fromKafkaError, isConnectionError, KAFKA_ERRORS } from './errors.js';

export interface RestartPolicy {
  /** Backoff before a re-created consumer, from initialMs up to maxMs. Defaults 1 s, 30 s. */
  initialMs?: number;
  maxMs?: number;
  /** Re-creations in a row that never joined the group before giving up. Default 10. */
  maxAttempts?: number;
}

export interface SupervisedConsumerOptions {
  kafka: Kafka;
  config: ConsumerConfig;
  logger: Logger;
  /** Label of the restarts counter: audit_<stage>_consumer_restarts_total. */
  stage: string;
  metrics?: Metrics;
  restart?: RestartPolicy;
  /** Subscribes and runs a newly created consumer (and attaches the caller's own listeners). */
  run(consumer: Consumer): Promise<void>;
  /** Called once when the consumer stopped for good (the services exit 75 there). */
  onFailure?: (err: AuditError) => void;
}

export type SupervisedState = 'idle' | 'starting' | 'running' | 'restarting' | 'failed' | 'stopping' | 'stopped';

export interface SupervisedConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The kafkajs consumer in use now (a new one after each re-creation). */
  readonly consumer: Consumer | undefined;
  readonly state: SupervisedState;
  /** The message of the last crash, until the consumer joins the group again. */
  readonly lastCrash: string | undefined;
}

/**
 * A kafkajs consumer that always comes back. kafkajs restarts a crashed consumer only when the
 * crash's root cause is retriable; otherwise (`consumer crashed ... restart=false`: an unknown
 * member wrapped by a handler, a coordinator that could not be found after a broker restart) it
 * stays disconnected in a live process. This creates a new consumer and runs it again after a
 * backoff; after maxAttempts re-creations in a row that never joined, or a crash of the fatal
 * class (authentication, authorization, configuration), it gives up and calls onFailure.
 */
export function superviseConsumer(opts: SupervisedConsumerOptions): SupervisedConsumer {
  const log = opts.logger.child({ component: 'consumer-supervisor', stage: opts.stage });
  // a crash because the broker is unreachable is the outage's, reported once by the dependency state
  const kafkaState = dependencyLog(opts.logger, 'kafka');
  const label = opts.stage.replace(/[^a-zA-Z0-9_]/g, '_');
  const restarts = opts.metrics?.counter(`audit_${label}_consumer_restarts_total`, 'Consumers re-created after kafkajs stopped one without restarting it');
  const policy = retryPolicy(RETRY_POLICIES.consumerRelaunch, {
    initialMs: opts.restart?.initialMs,
    maxMs: opts.restart?.maxMs,
    attempts: opts.restart?.maxAttempts,
  });
  const maxAttempts = policy.attempts;
  let consumer: Consumer | undefined;
  let state: SupervisedState = 'idle';
  let lastCrash: string | undefined;
  let failedLaunches = 0;
  let timer: NodeJS.Timeout | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  async function launch(): Promise<void> {
    const c = opts.kafka.consumer(opts.config);
    consumer = c;
    c.on(c.events.GROUP_JOIN, () => {
      failedLaunches = 0;
      lastCrash = undefined;
      if (state === 'restarting') state = 'running';
    });
    c.on(c.events.CRASH, (e) => {
      const { error, restart } = e.payload as { error?: Error; restart?: boolean };
      lastCrash = String(error?.message ?? 'consumer crashed');
      if (isConnectionError(error)) {
        kafkaState.failed(error, { stage: opts.stage });
        log.debug({ error: lastCrash, restart }, 'consumer crashed');
      } else log.error({ error: lastCrash, restart }, 'consumer crashed');
      if (!restart && c === consumer) relaunch(error);
    });
    await c.connect();
    await opts.run(c);
  }

  function giveUp(err: AuditError): void {
    if (state === 'failed') return;
    state = 'failed';
    lastCrash = err.message;
    log.fatal({ err: { code: err.code, message: err.message } }, 'consumer stopped for good');
    opts.onFailure?.(err);
  }

  function relaunch(cause: unknown): void {
    if (state === 'stopping' || state === 'stopped' || state === 'failed') return;
    const e = fromKafkaError(cause, 'consuming');
    if (failureClass(cause) === 'fatal') return giveUp(e);
    if (failedLaunches >= maxAttempts) return giveUp(KAFKA_ERRORS.AUDIT_ERR_KAFKA_CONSUMER_STOPPED.wrap(cause, failedLaunches, e.message));
    const delay = retryDelay(policy, failedLaunches);
    failedLaunches++;
    state = 'restarting';
    restarts?.inc();
    if (kafkaState.down) log.debug({ attempt: failedLaunches, delayMs: delay }, 're-creating the consumer');
    else log.warn({ attempt: failedLaunches, delayMs: delay }, 're-creating the consumer');
    const old = consumer;
    timer = setTimeout(() => {
      timer = undefined;
      void (async () => {
        await old?.disconnect().catch(() => undefined);
        if (state !== 'restarting') return;
        await launch();
      })().catch((err: unknown) => relaunch(err));
    }, delay);
  }

  return {
    get consumer() {
      return consumer;
    },
    get state() {
      return state;
    },
    get lastCrash() {
      return lastCrash;
    },
    start: () =>
      (starting ??= (async () => {
        state = 'starting';
        await launch();
        if (state === 'starting') state = 'running';
      })()),
    stop: () =>
      (stopping ??= (async () => {
        if (!starting) {
          state = 'stopped';
          return;
        }
        state = 'stopping';
        clearTimeout(timer);
        await starting.catch(() => undefined);
        // disconnect() waits for the batch in flight, then leaves the group
        await consumer?.disconnect().catch((err: unknown) => log.warn({ err }, 'consumer disconnect failed'));
        state = 'stopped';
      })()),
  };
}
