import { deadLetterCodec, TOPICS } from '@jwt-audit/events';
import {
  createAuditProducer,
  createKafkaClient,
  createTransformService,
  DLQ_TOPIC,
  stageTransactionalId,
  type AuditProducer,
  type OutRecord,
  type TransformService,
  type TransformServiceDeps,
} from '@jwt-audit/kafka';
import { createMasker, type Masker } from '@jwt-audit/masking';
import { createMetrics, siblingModule } from '@jwt-audit/runtime';
import type { MaskerConfig } from './config.js';
import { loadPolicy, type MaskerTransformData } from './transform.js';

export type MaskerService = TransformService;

export { loadPolicy };

const TRANSFORM_MODULE = siblingModule(import.meta.url, 'transform').href;

/**
 * A dead letter of the masker carries the raw record it could not read, secrets and all. By
 * default (`dlqPayload: 'raw'`) it keeps the raw payload and headers, so that `audit dlq replay`
 * can re-inject it once the cause is fixed: audit.dlq.v1 is then restricted like audit.raw.v1
 * (issue #28: masked-only dead letters were events lost for good). `masked` keeps the payload and
 * the origin headers as masked text (readable, not replayable), `drop` removes the payload. The
 * reason is masked as text in every mode: it is not needed to replay and may quote the record.
 */
export function maskDeadLetters(inner: AuditProducer, masker: Masker, mode: 'masked' | 'drop' | 'raw'): AuditProducer {
  const maskLetter = (r: OutRecord): OutRecord => {
    const letter = deadLetterCodec.decode(r.value!, r.headers);
    const payload =
      letter.payload === null || mode === 'drop'
        ? null
        : mode === 'raw'
          ? letter.payload
          : Buffer.from(masker.maskText(letter.payload.toString('utf8')).text, 'utf8');
    const originHeaders =
      mode === 'raw' ? letter.originHeaders : Object.fromEntries(Object.entries(letter.originHeaders).map(([k, v]) => [k, masker.maskText(v).text]));
    const encoded = deadLetterCodec.encode({ ...letter, payload, originHeaders, reason: masker.maskText(letter.reason).text });
    // says what the payload is, so that `audit dlq replay` never re-injects masked text as a record
    return { ...r, value: encoded.value, headers: mode === 'raw' ? encoded.headers : { ...encoded.headers, 'audit-dlq-payload': mode } };
  };
  return {
    get raw() {
      return inner.raw;
    },
    connect: () => inner.connect(),
    disconnect: () => inner.disconnect(),
    send: (topic, records) => inner.send(topic, topic === DLQ_TOPIC ? records.map(maskLetter) : records),
    ...(inner.transaction ? { transaction: inner.transaction.bind(inner) } : {}),
  };
}

/** audit.raw.v1 -> mask -> audit.masked.v1; undecodable records go to the DLQ (restricted, like raw). */
export function createMaskerService(config: MaskerConfig, deps: TransformServiceDeps): MaskerService {
  const logger = deps.logger.child({ component: 'masker' });
  const metrics = deps.metrics ?? createMetrics();
  const policy = loadPolicy(config.policyFile);
  const masker = createMasker(policy, { id: config.hmac.keyId, secret: config.hmac.key });
  const applied = metrics.counter(
    'audit_masker_rules_applied_total',
    'Masking rules applied, counted once per event and rule; field and unlisted header names folded into field:<action> / header:<action>',
    ['rule'] as const,
  );
  // Counted in a map and flushed once a second: a labelled inc() per rule per event was a
  // measurable share of the stage's time (bench/). Field and header names come from the outside,
  // so they are folded into the action to keep the label set bounded.
  const ruleCounts = new Map<string, number>();
  const knownHeaders = new Set(Object.keys(policy.headers).map((h) => h.toLowerCase()));
  const label = (rule: string): string => {
    const first = rule.indexOf(':');
    const last = rule.lastIndexOf(':');
    const kind = rule.slice(0, first);
    const action = rule.slice(last + 1);
    if (kind === 'field') return `field:${action}`;
    if (kind === 'header' && !knownHeaders.has(rule.slice(first + 1, last))) return `header:${action}`;
    return rule;
  };
  const countRules = (rules: string[]) => {
    for (const r of rules) ruleCounts.set(r, (ruleCounts.get(r) ?? 0) + 1);
  };
  const flushRuleCounts = () => {
    for (const [r, n] of ruleCounts) applied.inc({ rule: label(r) }, n);
    ruleCounts.clear();
  };
  let flushTimer: NodeJS.Timeout | undefined;
  const kafka = createKafkaClient(config.kafka, logger);
  const producer = maskDeadLetters(
    deps.producer ??
      createAuditProducer(kafka, {
        logger,
        ...(config.kafka.exactlyOnce ? { transactionalId: stageTransactionalId(config.groupId, config.kafka.transactionalId) } : {}),
      }),
    masker,
    config.dlqPayload ?? 'raw',
  );
  return createTransformService(
    { kafka, logger, metrics, producer, ops: config.ops, deps },
    {
      beforeStart: () => {
        flushTimer = setInterval(flushRuleCounts, 1_000);
        flushTimer.unref();
      },
      stage: () => ({
        groupId: config.groupId,
        stage: 'masker',
        inputTopic: TOPICS.raw,
        outputTopic: TOPICS.masked,
        partitionsConsumedConcurrently: config.concurrency,
        transform: (event) => {
          const out = masker.mask(event);
          countRules(out.masking!.rulesApplied);
          return out;
        },
        ...((config.threads ?? 1) > 0
          ? {
              offload: {
                module: TRANSFORM_MODULE,
                data: {
                  ...(config.policyFile ? { policyFile: config.policyFile } : {}),
                  keyId: config.hmac.keyId,
                  key: config.hmac.key,
                } satisfies MaskerTransformData,
                threads: config.threads ?? 1,
                onNotes: (rules: unknown) => countRules(rules as string[]),
              },
            }
          : {}),
      }),
      afterStart: () => logger.info({ policy: policy.version, keyId: config.hmac.keyId }, 'masker started'),
      afterRunnerStop: () => {
        clearInterval(flushTimer);
        flushRuleCounts();
      },
    },
  );
}
