import type { Kafka } from 'kafkajs';
import {
  defineComponent,
  startOpsServer,
  type Component,
  type AuditError,
  type Logger,
  type Metrics,
  type OpsConfig,
  type OpsServer,
} from '@jwt-audit/runtime';
import { createAuditProducer, type AuditProducer } from './producer.js';
import { createConsumerRunner, type ConsumerRunner, type ConsumerRunnerOptions } from './runner.js';
import { createTransformStage, type TransformStageOptions } from './transform-stage.js';
import { defaultTopics, ensureTopics, type TopicSpec } from './topics.js';

/** What every service made by the helpers here is given (runService's ServiceContext fits it). */
interface ServiceDeps {
  logger: Logger;
  metrics?: Metrics;
  /** A consumer that stopped for good; runService exits 75 (EXIT_CODES.restart) there. */
  onFailure?: (err: AuditError) => void;
}

/** What a consumer service is given: tests hand in a client or a registry, or turn the ops listener off. */
export interface ConsumerServiceDeps extends ServiceDeps {
  kafka?: Kafka;
  /** false: no /metrics + /healthz listener. Default true. */
  ops?: boolean;
}

/** A consumer service as runService and tests see it. */
export interface MeteredConsumerService extends Component<{ opsUrl: string | null }> {
  health(): { ok: boolean; [k: string]: unknown };
  readonly metrics: Metrics;
}

/** What a transform service is given. */
export interface TransformServiceDeps extends ServiceDeps {
  /** Tests: a producer that fails on purpose. */
  producer?: AuditProducer;
  /** Tests of take-over after a crash: a shorter consumer session. */
  sessionTimeoutMs?: number;
}

/** A transform service as runService and tests see it. */
export type TransformService = Component<{ metricsUrl: string | undefined }>;

export interface ConsumerServiceOptions {
  kafka: Kafka;
  logger: Logger;
  metrics: Metrics;
  /** Topics created at start if missing: a pipeline topic by name (its defaultTopics() spec), or a spec of its own. */
  ensure: Array<string | TopicSpec>;
  /** The consumer runner's options; kafka, logger, producer, metrics and onFailure come from here. */
  runner: Omit<ConsumerRunnerOptions, 'kafka' | 'logger' | 'producer' | 'metrics' | 'onFailure'>;
  /** The /metrics + /healthz listener (port 0 when unset), or false for none. */
  ops: OpsConfig | false;
  /** Fields /healthz shows beside the runner's. */
  health?: () => Record<string, unknown>;
  onFailure?: (err: AuditError) => void;
  /** After the runner started, before the ops listener (timers, the "running" line). */
  afterStart?: () => void | Promise<void>;
  /** When stop() begins, before the runner stops (abort retries, clear timers). */
  beforeStop?: () => void | Promise<void>;
  /** After the runner stopped (its last batch committed), before the producer disconnects (final snapshots). */
  afterRunnerStop?: () => void | Promise<void>;
}

export interface ConsumerService extends Component<{ opsUrl: string | null }> {
  health(): { ok: boolean; [k: string]: unknown };
  /** For the handler's output (alerts, re-keyed records) and the runner's dead letters. */
  readonly producer: AuditProducer;
}

/**
 * The start/stop scaffolding of a service that consumes topics with the runner and produces
 * (anomaly detector, sessionizer, alert webhook): ensure the topics, run the consumer, serve
 * /metrics + /healthz; stop in order: the runner (its batch in flight commits), the service's own
 * final step, the producer, the ops listener. A Component: idempotent, stop safe before start.
 */
export function createConsumerService(o: ConsumerServiceOptions): ConsumerService {
  const producer = createAuditProducer(o.kafka, { logger: o.logger });
  let runner: ConsumerRunner | undefined;
  let ops: OpsServer | undefined;
  const health = () => ({ ...(runner?.health() ?? { ok: false, state: 'idle' }), ...o.health?.() });
  const component = defineComponent({
    start: async () => {
      const pipeline = new Map(defaultTopics().map((t) => [t.topic, t]));
      const specs = o.ensure.map((t) => (typeof t === 'string' ? pipeline.get(t) : t)).filter((t): t is TopicSpec => t !== undefined);
      if (specs.length > 0) await ensureTopics(o.kafka, specs, o.logger);
      runner = createConsumerRunner({
        ...o.runner,
        ...(o.onFailure ? { onFailure: o.onFailure } : {}),
        kafka: o.kafka,
        logger: o.logger,
        producer,
        metrics: o.metrics,
      });
      await runner.start();
      await o.afterStart?.();
      if (o.ops !== false) ops = await startOpsServer({ port: o.ops.port ?? 0, host: o.ops.host, registry: o.metrics.registry, health, logger: o.logger });
      return { opsUrl: ops?.url ?? null };
    },
    stop: async () => {
      await o.beforeStop?.();
      await runner?.stop();
      await o.afterRunnerStop?.();
      await producer.disconnect().catch(() => undefined);
      await ops?.close();
    },
  });
  return { start: component.start, stop: component.stop, health, producer };
}

/** What every transform service hands over the same way. */
export interface TransformWiring {
  kafka: Kafka;
  logger: Logger;
  metrics: Metrics;
  /** The producer of the output and the dead letters (the masker's masks what it dead-letters). */
  producer: AuditProducer;
  /** The /metrics + /healthz listener, only when a port is set. */
  ops: OpsConfig;
  /** The service's deps: onFailure, and a shorter consumer session (tests; the heartbeat is a fifth of it). */
  deps: Pick<TransformServiceDeps, 'onFailure' | 'sessionTimeoutMs'>;
}

/** What is the service's own. */
export interface TransformServiceOptions {
  /** The stage's options, made at start (after `beforeStart`, which may open what the transform reads). */
  stage: () => Omit<TransformStageOptions, 'kafka' | 'logger' | 'producer' | 'metrics' | 'onFailure' | 'sessionTimeoutMs' | 'heartbeatIntervalMs'>;
  beforeStart?: () => void | Promise<void>;
  afterStart?: () => void | Promise<void>;
  /** After the stage stopped (its last batch committed), before the producer disconnects. */
  afterRunnerStop?: () => void | Promise<void>;
}

/**
 * The start/stop scaffolding of a transform service (masker, enricher): the ops listener, the
 * transform stage (input topic -> output topic, commit after the output is acknowledged); stop
 * in order: the stage, the service's own final step, the producer, the ops listener. A Component.
 */
export function createTransformService(w: TransformWiring, o: TransformServiceOptions): TransformService {
  let stage: ConsumerRunner | undefined;
  let ops: OpsServer | undefined;
  return defineComponent({
    start: async () => {
      await o.beforeStart?.();
      if (w.ops.port !== undefined) {
        ops = await startOpsServer({
          port: w.ops.port,
          ...(w.ops.host ? { host: w.ops.host } : {}),
          registry: w.metrics.registry,
          logger: w.logger,
          health: () => stage?.health() ?? { ok: false, state: 'starting' },
        });
      }
      stage = createTransformStage({
        ...o.stage(),
        ...(w.deps.onFailure ? { onFailure: w.deps.onFailure } : {}),
        ...(w.deps.sessionTimeoutMs ? { sessionTimeoutMs: w.deps.sessionTimeoutMs, heartbeatIntervalMs: Math.floor(w.deps.sessionTimeoutMs / 5) } : {}),
        kafka: w.kafka,
        logger: w.logger,
        producer: w.producer,
        metrics: w.metrics,
      });
      await stage.start();
      await o.afterStart?.();
      return { metricsUrl: ops?.url };
    },
    stop: async () => {
      await stage?.stop();
      await o.afterRunnerStop?.();
      await w.producer.disconnect().catch(() => undefined);
      await ops?.close();
    },
  });
}
