import { alertCodec, eventCodec, TOPICS, type Alert } from '@jwt-audit/events';
import {
  REPARTITIONED,
  detect,
  partitioningOfKey,
  repartitionKeys,
  resolveDetectionConfig,
  stateStats,
  drainChanges,
  type DetectorOptions,
  type DetectorState,
} from '@jwt-audit/detection';
import {
  createConsumerService,
  createKafkaClient,
  type ConsumerServiceDeps,
  type DeadLetterRequest,
  type InputRecord,
  type MeteredConsumerService,
  type OutRecord,
} from '@jwt-audit/kafka';
import { createMetrics, toAuditError, type Logger } from '@jwt-audit/runtime';
import type { DetectorServiceConfig } from './config.js';
import { DETECTOR_ERRORS } from './errors.js';
import { EVENTS_ERRORS } from '@jwt-audit/events';
import { KAFKA_ERRORS } from '@jwt-audit/kafka';
import { lockPartitionState, PartitionStateStore } from './state-store.js';

export interface DetectorServiceDeps extends ConsumerServiceDeps {
  /** Processing clock (stamps raisedAt, bounds event-time skew); default Date.now. */
  now?: () => number;
}

export type DetectorService = MeteredConsumerService;

interface PartitionState {
  state: DetectorState;
  store: PartitionStateStore;
}

/** The alert topic key: the subject (as partitionKey writes it), else the IP, else the rule. */
export function alertKey(a: Alert): string {
  if (a.keys.subject) return `sub:${a.keys.subject}`;
  if (a.keys.ip) return `ip:${a.keys.ip}`;
  if (a.keys.clientId) return `client:${a.keys.clientId}`;
  return `rule:${a.rule}`;
}

/**
 * The anomaly detector: source audit.enriched.v1 (keyed by subject) -> subject-keyed rules ->
 * alerts; events the IP / client-keyed rules want are re-keyed onto the repartition topic, which
 * this service also consumes (same group) -> IP / client rules -> alerts. One detector state per
 * input partition, made durable (journal) before offsets are committed, restored from disk when
 * a partition is (re)assigned.
 */
export function createDetectorService(config: DetectorServiceConfig, deps: DetectorServiceDeps): DetectorService {
  const logger = deps.logger.child({ service: 'anomaly-detector' });
  const metrics = deps.metrics ?? createMetrics();
  const now = deps.now ?? Date.now;
  const ruleConfig = resolveDetectionConfig(config.rules); // fails fast on bad rules config
  const eventsTotal = metrics.counter('audit_detector_events_total', 'Events run through the rules, by stage', ['stage'] as const);
  const alertsTotal = metrics.counter('audit_detector_alerts_total', 'Alerts produced, by rule and severity', ['rule', 'severity'] as const);
  const forwardedTotal = metrics.counter('audit_detector_repartitioned_total', 'Events re-keyed onto the repartition topic');
  const skippedTotal = metrics.counter('audit_detector_redelivered_skipped_total', 'Redelivered records already in the restored state');
  const duplicatesTotal = metrics.counter(
    'audit_detector_duplicate_events_total',
    'Events whose id the state had already run (a stage re-produced them at new offsets), skipped',
  );
  const restoreSeconds = metrics.histogram('audit_detector_restore_duration_seconds', 'Time to restore a partition state from its snapshot and journal');
  const stateKeys = metrics.gauge('audit_detector_state_keys', 'Keys held per rule store, summed over owned partitions', ['rule'] as const);

  const kafka = deps.kafka ?? createKafkaClient(config.kafka, logger);
  const partitions = new Map<string, PartitionState>();

  const detectorOptions = (topic: string): DetectorOptions => ({
    rules: config.rules,
    partitionings: topic === config.topics.input ? ['subject'] : [...REPARTITIONED],
    maxSkewMs: config.maxSkewMs,
    ...(topic === config.topics.input ? {} : { allowedLatenessMs: config.allowedLatenessMs }),
  });

  /** The partition's state, continuing the one in memory only if it ends right before this batch. */
  function stateFor(topic: string, partition: number, firstOffset: string, log: Logger): PartitionState {
    const name = `${topic}-${partition}`;
    const held = partitions.get(name);
    if (held && held.state.offset !== null && BigInt(held.state.offset) + 1n === BigInt(firstOffset)) return held;
    // new assignment, restart, or another instance processed this partition meanwhile: read it back from disk
    const t0 = process.hrtime.bigint();
    const store = new PartitionStateStore(config.stateDir, name, {
      fsync: config.fsync,
      snapshotAfterBytes: config.snapshotAfterBytes,
      detector: detectorOptions(topic),
    });
    const { state, journalLines } = store.load();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    restoreSeconds.observe(seconds);
    log.info(
      {
        partitionState: name,
        offset: state.offset,
        journalLines,
        keys: Object.values(stateStats(state)).reduce((n, s) => n + s.keys, 0),
        ms: Math.round(seconds * 1000),
      },
      'partition state restored',
    );
    const ps = { state, store };
    partitions.set(name, ps);
    return ps;
  }

  async function handle(records: InputRecord[], ctx: { topic: string; partition: number; logger: Logger }): Promise<{ deadLetters: DeadLetterRequest[] }> {
    const unlock = await lockPartitionState(config.stateDir, `${ctx.topic}-${ctx.partition}`);
    try {
      return await handleLocked(records, ctx);
    } finally {
      unlock();
    }
  }

  async function handleLocked(
    records: InputRecord[],
    ctx: { topic: string; partition: number; logger: Logger },
  ): Promise<{ deadLetters: DeadLetterRequest[] }> {
    const ps = stateFor(ctx.topic, ctx.partition, records[0]!.offset, ctx.logger);
    const { state } = ps;
    const fromInput = ctx.topic === config.topics.input;
    const alerts: Alert[] = [];
    const forwards: OutRecord[] = [];
    const deadLetters: DeadLetterRequest[] = [];
    const at = now();
    const done = state.offset === null ? -1n : BigInt(state.offset);
    const duplicatesBefore = state.duplicates;
    let processed = 0;
    for (const r of records) {
      if (BigInt(r.offset) <= done) {
        skippedTotal.inc();
        continue;
      }
      try {
        if (r.value === null) throw KAFKA_ERRORS.AUDIT_ERR_EMPTY_RECORD.create();
        const event = eventCodec.decode(r.value, r.headers);
        if (fromInput) {
          alerts.push(...detect(state, event, at, 'subject').alerts);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k] = v.toString();
          for (const key of repartitionKeys(ruleConfig, event)) forwards.push({ key, value: r.value, headers, timestamp: event.occurredAt });
        } else {
          const p = partitioningOfKey(r.key?.toString() ?? '');
          if (p === null) throw DETECTOR_ERRORS.AUDIT_ERR_DETECTOR_REPARTITION_KEY.create();
          alerts.push(...detect(state, event, at, p).alerts);
        }
        processed++;
      } catch (err) {
        deadLetters.push({ record: r, error: toAuditError(err, EVENTS_ERRORS.AUDIT_ERR_UNDECODABLE) });
      }
      state.offset = r.offset;
    }
    // output first (acknowledged), then the state journal, then the runner commits the offsets
    if (alerts.length > 0) {
      await producer.send(
        config.topics.alerts,
        alerts.map((a) => ({ key: alertKey(a), ...alertCodec.encode(a), timestamp: a.raisedAt })),
      );
      for (const a of alerts) {
        alertsTotal.inc({ rule: a.rule, severity: a.severity });
        ctx.logger.info({ alert: a.id, rule: a.rule, severity: a.severity, keys: a.keys, count: a.count, suppressed: a.suppressed }, a.description);
      }
    }
    if (forwards.length > 0) {
      await producer.send(config.topics.repartition, forwards);
      forwardedTotal.inc(forwards.length);
    }
    ps.store.append(drainChanges(state));
    if (ps.store.needsSnapshot) ps.store.snapshot(state);
    eventsTotal.inc({ stage: fromInput ? 'subject' : 'repartition' }, processed);
    if (state.duplicates > duplicatesBefore) duplicatesTotal.inc(state.duplicates - duplicatesBefore);
    return { deadLetters };
  }

  function updateGauges(): void {
    const sums = new Map<string, number>();
    for (const ps of partitions.values()) for (const [rule, s] of Object.entries(stateStats(ps.state))) sums.set(rule, (sums.get(rule) ?? 0) + s.keys);
    for (const [rule, n] of sums) stateKeys.set({ rule }, n);
  }

  const service = createConsumerService({
    kafka,
    logger,
    metrics,
    ensure: [
      TOPICS.dlq,
      config.topics.input,
      config.topics.alerts,
      {
        topic: config.topics.repartition,
        numPartitions: config.repartitionPartitions,
        configs: { 'retention.ms': String(config.repartitionRetentionMs ?? 86_400_000) },
      },
    ],
    runner: {
      groupId: config.groupId,
      topics: [config.topics.input, config.topics.repartition],
      stage: 'detector',
      handler: async (records, ctx) => {
        const out = await handle(records, ctx);
        updateGauges();
        return out;
      },
    },
    ops: deps.ops === false ? false : config.ops,
    health: () => ({ partitions: partitions.size }),
    ...(deps.onFailure ? { onFailure: deps.onFailure } : {}),
    afterStart: () =>
      logger.info(
        {
          input: config.topics.input,
          repartition: config.topics.repartition,
          alerts: config.topics.alerts,
          rules: Object.keys(ruleConfig).filter((r) => ruleConfig[r]!.enabled),
        },
        'anomaly detector running',
      ),
    afterRunnerStop: async () => {
      // a clean stop leaves every owned partition as one snapshot: the fastest restore
      for (const [name, ps] of partitions) {
        const unlock = await lockPartitionState(config.stateDir, name);
        try {
          // only if no other instance moved the partition on since (its journal would be newer)
          const onDisk = ps.store.load().state.offset;
          if (onDisk === ps.state.offset) ps.store.snapshot(ps.state);
        } catch (err) {
          logger.warn({ err, partitionState: name }, 'final snapshot failed; the journal still holds the state');
        } finally {
          unlock();
        }
      }
      partitions.clear();
    },
  });
  const producer = service.producer;
  return { metrics, health: service.health, start: service.start, stop: service.stop };
}
