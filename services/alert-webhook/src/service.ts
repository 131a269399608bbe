import { alertCodec, EVENTS_ERRORS, type Alert, type Severity } from '@jwt-audit/events';
import {
  createConsumerService,
  createKafkaClient,
  KAFKA_ERRORS,
  type ConsumerServiceDeps,
  type DeadLetterRequest,
  type MeteredConsumerService,
} from '@jwt-audit/kafka';
import { attemptsLeft, AuditError, createMetrics, retryDelay, retryPolicy, RETRY_POLICIES, sleep, toAuditError, type Logger } from '@jwt-audit/runtime';
import type { AlertWebhookConfig } from './config.js';
import { WEBHOOK_ERRORS } from './errors.js';
import { classifyError, classifyResponse, type Outcome } from './retry.js';
import { ALERT_ID_HEADER, sign, SIGNATURE_HEADER } from './signature.js';

export type AlertWebhookDeps = ConsumerServiceDeps;

export type AlertWebhookService = MeteredConsumerService;

const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/**
 * Source audit.alerts.v1 (own consumer group) -> JSON body, signed -> POST with retries -> commit.
 * An alert that cannot be delivered after maxAttempts (or that the receiver rejects with a
 * permanent 4xx) goes to audit.dlq.v1 with the reason; the partition moves on.
 */
export function createAlertWebhookService(config: AlertWebhookConfig, deps: AlertWebhookDeps): AlertWebhookService {
  const delivery = retryPolicy(RETRY_POLICIES.webhookDelivery, {
    attempts: config.maxAttempts,
    initialMs: config.retry.initialMs,
    maxMs: config.retry.maxMs,
    timeoutMs: config.webhook.timeoutMs,
  });
  const logger = deps.logger.child({ service: 'alert-webhook' });
  const metrics = deps.metrics ?? createMetrics();
  const deliveries = metrics.counter('audit_webhook_deliveries_total', 'Webhook deliveries by result', ['result'] as const);
  const attemptsTotal = metrics.counter('audit_webhook_attempts_total', 'HTTP attempts by outcome', ['outcome'] as const);
  const latency = metrics.histogram('audit_webhook_request_duration_seconds', 'Webhook request latency');
  const kafka = deps.kafka ?? createKafkaClient(config.kafka, logger);
  const abort = new AbortController();

  async function attempt(body: string, alert: Alert): Promise<Outcome> {
    const t0 = process.hrtime.bigint();
    try {
      const res = await fetch(config.webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: sign(config.webhook.secret, body, Date.now()),
          [ALERT_ID_HEADER]: alert.id,
          'user-agent': 'jwt-audit-alert-webhook/0.1',
        },
        body,
        signal: AbortSignal.timeout(delivery.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return classifyResponse(res.status, res.headers.get('retry-after'), delivery);
    } catch (err) {
      return classifyError(err);
    } finally {
      latency.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }

  /** Delivers one alert; resolves null when delivered, else the error to dead-letter it with. */
  async function deliver(alert: Alert, ctx: { heartbeat(): Promise<void>; isRunning(): boolean; logger: Logger }): Promise<AuditError | null> {
    const body = JSON.stringify(alert);
    for (let n = 1; ; n++) {
      const outcome = await attempt(body, alert);
      attemptsTotal.inc({ outcome: outcome.kind });
      if (outcome.kind === 'delivered') return null;
      if (outcome.kind === 'permanent') return WEBHOOK_ERRORS.AUDIT_ERR_WEBHOOK_REJECTED.create(alert.id, outcome.reason);
      if (!attemptsLeft(delivery, n)) return WEBHOOK_ERRORS.AUDIT_ERR_WEBHOOK_UNDELIVERABLE.create(alert.id, n, outcome.reason);
      const delay = Math.min(delivery.maxMs, Math.max(outcome.retryAfterMs ?? 0, retryDelay(delivery, n - 1)));
      ctx.logger.warn({ alert: alert.id, attempt: n, reason: outcome.reason, delayMs: delay }, 'webhook delivery failed: retrying');
      const until = Date.now() + delay;
      while (Date.now() < until) {
        // stopping: leave the batch uncommitted, it is redelivered on the next start
        if (!ctx.isRunning() || abort.signal.aborted) throw WEBHOOK_ERRORS.AUDIT_ERR_STOPPING.create();
        await sleep(Math.min(1_000, until - Date.now()), abort.signal);
        await ctx.heartbeat().catch(() => undefined);
      }
    }
  }

  const service = createConsumerService({
    kafka,
    logger,
    metrics,
    ensure: [],
    runner: {
      groupId: config.groupId,
      topics: [config.topic],
      stage: 'alert_webhook',
      fromBeginning: true,
      handler: async (records, ctx) => {
        const deadLetters: DeadLetterRequest[] = [];
        for (const record of records) {
          let alert: Alert;
          try {
            if (!record.value) throw KAFKA_ERRORS.AUDIT_ERR_EMPTY_RECORD.create();
            alert = alertCodec.decode(record.value, record.headers);
          } catch (err) {
            deadLetters.push({ record, error: toAuditError(err, EVENTS_ERRORS.AUDIT_ERR_UNDECODABLE) });
            continue;
          }
          if (RANK[alert.severity] < RANK[config.minSeverity]) {
            deliveries.inc({ result: 'filtered' });
            continue;
          }
          const error = await deliver(alert, ctx);
          if (error) {
            deliveries.inc({ result: 'dead_lettered' });
            ctx.logger.error({ alert: alert.id, rule: alert.rule, code: error.code }, error.message);
            deadLetters.push({ record, error });
          } else {
            deliveries.inc({ result: 'delivered' });
            ctx.logger.info({ alert: alert.id, rule: alert.rule, severity: alert.severity }, 'alert delivered');
          }
        }
        return { deadLetters };
      },
    },
    ops: deps.ops === false ? false : config.ops,
    ...(deps.onFailure ? { onFailure: deps.onFailure } : {}),
    afterStart: () => logger.info({ topic: config.topic, url: config.webhook.url }, 'forwarding alerts'),
    beforeStop: () => abort.abort(),
  });
  return { metrics, health: service.health, start: service.start, stop: service.stop };
}
