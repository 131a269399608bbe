import path from 'node:path';
import { alertCodec, eventCodec, partitionKey, sessionCodec, TOPICS, type AuditEvent, type SessionSummary } from '@jwt-audit/events';
import {
  createConsumerService,
  createKafkaClient,
  type ConsumerServiceDeps,
  type DeadLetterRequest,
  type InputRecord,
  type MeteredConsumerService,
} from '@jwt-audit/kafka';
import { createMetrics, lockDirectory, toAuditError, type Logger } from '@jwt-audit/runtime';
import type { SessionizerConfig } from './config.js';
import { EVENTS_ERRORS } from '@jwt-audit/events';
import { KAFKA_ERRORS } from '@jwt-audit/kafka';
import { apply, applyAlert, drainChanges, tick, type Context, type SessionState } from './sessionize.js';
import { SessionStateStore } from './state-store.js';

export interface SessionizerDeps extends ConsumerServiceDeps {
  /** Processing clock (idle and expiry ends, updatedAt); default Date.now. */
  now?: () => number;
}

export interface SessionizerService extends MeteredConsumerService {
  /** Runs the idle / expiry timer once now (tests; the service runs it every tickMs). */
  tickNow(): Promise<void>;
}

interface Held {
  state: SessionState;
  store: SessionStateStore;
  /** What was on disk when this instance last read or wrote it. */
  version: string;
}

/**
 * The sessionizer: audit.enriched.v1 + audit.alerts.v1 (both keyed by subject) -> sessions per
 * partition number -> derived session.started / session.ended onto audit.raw.v1 and summaries onto
 * audit.sessions.v1. Output first (acknowledged), then the journal, then the runner commits.
 */
export function createSessionizerService(config: SessionizerConfig, deps: SessionizerDeps): SessionizerService {
  const logger = deps.logger.child({ service: 'sessionizer' });
  const metrics = deps.metrics ?? createMetrics();
  const now = deps.now ?? Date.now;
  const ctx: Context = { rules: config.rules, instance: config.instance };
  const eventsTotal = metrics.counter('audit_sessionizer_inputs_total', 'Events and alerts run through the sessions, by input', ['input'] as const);
  const derivedTotal = metrics.counter('audit_sessionizer_derived_events_total', 'session.started / session.ended events emitted', ['kind'] as const);
  const summariesTotal = metrics.counter('audit_sessionizer_summaries_total', 'Session summary revisions published');
  const duplicatesTotal = metrics.counter(
    'audit_sessionizer_duplicate_events_total',
    'Events whose id the state had run already (re-produced upstream at new offsets), skipped',
  );
  const unmatchedAlerts = metrics.counter(
    'audit_sessionizer_unmatched_alerts_total',
    'Alerts no session of this partition could take (no subject, or none at that time)',
  );
  const openGauge = metrics.gauge('audit_sessionizer_sessions', 'Sessions held, summed over partitions, by state', ['state'] as const);

  const kafka = deps.kafka ?? createKafkaClient(config.kafka, logger);
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  const held = new Map<number, Held>();

  const dirOf = (partition: number) => path.join(config.stateDir, `p${partition}`);

  /** The partition's state: the one in memory unless someone else wrote the folder since. Call under the lock. */
  function stateFor(partition: number, log: Logger): Held {
    const h = held.get(partition);
    if (h && h.store.version() === h.version) return h;
    const store = h?.store ?? new SessionStateStore(dirOf(partition), { fsync: config.fsync, snapshotAfterBytes: config.snapshotAfterBytes });
    const t0 = Date.now();
    const { state, journalLines } = store.load();
    log.info({ partition, sessions: state.sessions.size, journalLines, ms: Date.now() - t0 }, 'session state restored');
    const next = { state, store, version: store.version() };
    held.set(partition, next);
    return next;
  }

  /** Output (derived events, then summaries), then the journal line. Under the partition's lock: nothing changes the state meanwhile. */
  async function persist(h: Held, derived: AuditEvent[]): Promise<void> {
    const { changes, summaries } = drainChanges(h.state);
    // serialised now: the drained objects are the state's own
    const line = `${JSON.stringify(changes)}\n`;
    const summaryRecords = summaries.map((s: SessionSummary) => ({ key: s.id, ...sessionCodec.encode(s), timestamp: s.updatedAt }));
    if (derived.length > 0) {
      await producer.send(
        config.topics.events,
        derived.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e), timestamp: e.occurredAt })),
      );
      for (const e of derived) derivedTotal.inc({ kind: e.kind });
    }
    if (summaryRecords.length > 0) {
      await producer.send(config.topics.sessions, summaryRecords);
      summariesTotal.inc(summaryRecords.length);
    }
    h.store.appendLine(line); // always: the offsets moved
    if (h.store.needsSnapshot) h.store.snapshot(h.state);
    h.version = h.store.version();
  }

  async function handle(records: InputRecord[], c: { topic: string; partition: number; logger: Logger }): Promise<{ deadLetters: DeadLetterRequest[] }> {
    const unlock = await lockDirectory(dirOf(c.partition));
    try {
      const h = stateFor(c.partition, c.logger);
      const name = `${c.topic}-${c.partition}`;
      const done = h.state.offsets[name] === undefined ? -1n : BigInt(h.state.offsets[name]!);
      const deadLetters: DeadLetterRequest[] = [];
      const derived: AuditEvent[] = [];
      const at = now();
      const isAlerts = c.topic === config.topics.alerts;
      const duplicatesBefore = h.state.duplicates;
      let n = 0;
      for (const r of records) {
        if (BigInt(r.offset) <= done) continue; // redelivered: already in the restored state
        try {
          if (r.value === null) throw KAFKA_ERRORS.AUDIT_ERR_EMPTY_RECORD.create();
          if (isAlerts) {
            if (!applyAlert(h.state, alertCodec.decode(r.value, r.headers), at)) unmatchedAlerts.inc();
          } else derived.push(...apply(h.state, eventCodec.decode(r.value, r.headers), at, ctx).events);
          n++;
        } catch (err) {
          deadLetters.push({ record: r, error: toAuditError(err, EVENTS_ERRORS.AUDIT_ERR_UNDECODABLE) });
        }
        h.state.offsets[name] = r.offset;
      }
      await persist(h, derived);
      if (h.state.duplicates > duplicatesBefore) duplicatesTotal.inc(h.state.duplicates - duplicatesBefore);
      eventsTotal.inc({ input: isAlerts ? 'alerts' : 'events' }, n);
      updateGauge();
      return { deadLetters };
    } finally {
      unlock();
    }
  }

  function updateGauge(): void {
    let open = 0;
    let ended = 0;
    for (const h of held.values()) for (const e of h.state.sessions.values()) e.summary.endedAt === null ? open++ : ended++;
    openGauge.set({ state: 'open' }, open);
    openGauge.set({ state: 'ended' }, ended);
  }

  /** Ends idle and expired sessions of every partition this instance holds, traffic or not. */
  async function runTick(): Promise<void> {
    for (const partition of [...held.keys()]) {
      const unlock = await lockDirectory(dirOf(partition));
      try {
        const h = stateFor(partition, logger);
        const out = tick(h.state, now(), ctx);
        if (out.events.length > 0 || h.state.changed.size > 0 || h.state.removed.size > 0) await persist(h, out.events);
      } finally {
        unlock();
      }
    }
    updateGauge();
  }

  function tickNow(): Promise<void> {
    // one at a time; a tick asked for while one runs waits for it and runs again
    const next = (ticking ?? Promise.resolve()).catch(() => undefined).then(runTick);
    ticking = next;
    return next;
  }

  const service = createConsumerService({
    kafka,
    logger,
    metrics,
    ensure: [TOPICS.dlq, config.topics.input, config.topics.alerts, config.topics.events, config.topics.sessions],
    runner: { groupId: config.groupId, topics: [config.topics.input, config.topics.alerts], stage: 'sessionizer', handler: handle },
    ops: deps.ops === false ? false : config.ops,
    health: () => ({ partitions: held.size }),
    ...(deps.onFailure ? { onFailure: deps.onFailure } : {}),
    afterStart: () => {
      timer = setInterval(() => {
        tickNow().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'session timer failed; retrying at the next tick'));
      }, config.tickMs);
      timer.unref();
      logger.info(
        { input: config.topics.input, alerts: config.topics.alerts, sessions: config.topics.sessions, idleMs: config.rules.idleMs },
        'sessionizer running',
      );
    },
    beforeStop: async () => {
      if (timer) clearInterval(timer);
      await ticking?.catch(() => undefined);
    },
    afterRunnerStop: async () => {
      // a clean stop leaves each held partition as one snapshot, if nobody else moved it on
      for (const [partition, h] of held) {
        const unlock = await lockDirectory(dirOf(partition));
        try {
          if (h.store.version() === h.version) h.store.snapshot(h.state);
        } catch (err) {
          logger.warn({ err, partition }, 'final snapshot failed; the journal still holds the state');
        } finally {
          unlock();
        }
      }
      held.clear();
    },
  });
  const producer = service.producer;
  return { metrics, health: service.health, tickNow, start: service.start, stop: service.stop };
}
