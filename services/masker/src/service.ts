import { readFileSync } from 'node:fs';
import { TOPICS } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, createTransformStage, type AuditProducer, type ConsumerRunner } from '@jwt-audit/kafka';
import { createMasker, DEFAULT_POLICY, DETECTORS, parsePolicy, type MaskingPolicy } from '@jwt-audit/masking';
import { AuditError, createMetrics, startOpsServer, type Logger, type Metrics, type OpsServer } from '@jwt-audit/runtime';
import type { MaskerConfig } from './config.js';

export interface MaskerService {
  start(): Promise<{ metricsUrl: string | undefined }>;
  stop(): Promise<void>;
}

export function loadPolicy(file: string | undefined): MaskingPolicy {
  if (!file) return DEFAULT_POLICY;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AuditError('AUDIT_ERR_MASKING_POLICY', `cannot read masking policy ${file}: ${(err as Error).message}`);
  }
  return parsePolicy(doc, DETECTORS.map((d) => d.name));
}

/** audit.raw.v1 -> mask -> audit.masked.v1; undecodable records go to the DLQ (restricted, like raw). */
export function createMaskerService(config: MaskerConfig, deps: { logger: Logger; metrics?: Metrics; producer?: AuditProducer; sessionTimeoutMs?: number }): MaskerService {
  const logger = deps.logger.child({ component: 'masker' });
  const metrics = deps.metrics ?? createMetrics();
  const policy = loadPolicy(config.policyFile);
  const masker = createMasker(policy, { id: config.hmac.keyId, secret: config.hmac.key });
  const applied = metrics.counter('audit_masker_rules_applied_total', 'Masking rules applied, by rule', ['rule'] as const);
  const kafka = createKafkaClient(config.kafka, logger);
  const producer = deps.producer ?? createAuditProducer(kafka, { logger });
  let stage: ConsumerRunner | undefined;
  let ops: OpsServer | undefined;
  let started: Promise<{ metricsUrl: string | undefined }> | undefined;
  let stopped: Promise<void> | undefined;
  return {
    start: () =>
      (started ??= (async () => {
        if (config.ops.port !== undefined) {
          ops = await startOpsServer({ port: config.ops.port, ...(config.ops.host ? { host: config.ops.host } : {}), registry: metrics.registry, logger, health: () => stage?.health() ?? { ok: false, state: 'starting' } });
        }
        stage = createTransformStage({
          kafka,
          groupId: config.groupId,
          stage: 'masker',
          inputTopic: TOPICS.raw,
          outputTopic: TOPICS.masked,
          logger,
          producer,
          metrics,
          partitionsConsumedConcurrently: config.concurrency,
          ...(deps.sessionTimeoutMs ? { sessionTimeoutMs: deps.sessionTimeoutMs, heartbeatIntervalMs: Math.floor(deps.sessionTimeoutMs / 5) } : {}),
          transform: (event) => {
            const before = new Set(event.masking?.rulesApplied ?? []);
            const out = masker.mask(event);
            for (const r of out.masking!.rulesApplied) if (!before.has(r)) applied.inc({ rule: r });
            return out;
          },
        });
        await stage.start();
        logger.info({ policy: policy.version, keyId: config.hmac.keyId }, 'masker started');
        return { metricsUrl: ops?.url };
      })()),
    stop: () =>
      (stopped ??= (async () => {
        await started?.catch(() => undefined);
        await stage?.stop();
        await producer.disconnect().catch(() => undefined);
        await ops?.close();
      })()),
  };
}
