/**
 * The archiver: audit.enriched.v1 -> sealed, signed segments, one stream per partition.
 *
 * Exactly-once archive: records are buffered per partition and sealed by size, count or age; the
 * offsets of a partition are committed only after its seal is durable (segment, then manifest,
 * each fsynced). After a crash or a rebalance, each partition resumes from its last sealed
 * manifest (records at or below its last offset are skipped, the consumer seeks past it), so no
 * offset is archived twice and none is missing. The consumer is driven directly (not the shared
 * runner) because its commits follow seals, not batches.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Consumer } from '@jwt-audit/kafka';
import { eventCodec, headerString, HEADER_FINGERPRINT } from '@jwt-audit/events';
import {
  ARCHIVE_ERRORS,
  generateSigningKey,
  loadSigner,
  localStorage,
  manifestsOf,
  readHead,
  recordDeletion,
  recoverStream,
  seal,
  type ArchivedRecord,
  type Signer,
  type StreamHead,
} from '@jwt-audit/archive';
import { createAuditProducer, createKafkaClient, superviseConsumer, type AuditProducer, type SupervisedConsumer } from '@jwt-audit/kafka';
import { createMetrics, startOpsServer, type AuditError, type Logger, type Metrics, type OpsServer } from '@jwt-audit/runtime';
import type { ArchiverConfig } from './config.js';
import { ARCHIVER_ERRORS } from './errors.js';
import { createCheckpointer, type Checkpointer } from './checkpointer.js';

interface PartitionState {
  head: StreamHead;
  buffer: ArchivedRecord[];
  bytes: number;
  openedAt: number;
  lock: Promise<void>;
}

export interface ArchiverService {
  start(): Promise<{ metricsUrl: string | undefined; jwksFile: string }>;
  stop(): Promise<void>;
}

async function resolveSigner(config: ArchiverConfig, logger: Logger): Promise<{ signer: Signer; jwksFile: string }> {
  const jwksFile = path.join(config.keys.dir, 'archive-public.jwks.json');
  let file = config.keys.privateKeyFile;
  if (!file) {
    const existing = existsSync(config.keys.dir) ? (await fs.readdir(config.keys.dir)).filter((f) => f.endsWith('.private.jwk.json')).sort() : [];
    if (existing.length > 0) file = path.join(config.keys.dir, existing[existing.length - 1]!);
    else if (config.keys.generate) {
      const k = await generateSigningKey(config.keys.dir);
      logger.info({ kid: k.kid, jwks: k.jwksFile }, 'archive signing key generated');
      file = k.privateFile;
    } else throw ARCHIVER_ERRORS.AUDIT_ERR_ARCHIVER_NO_KEY.create(config.keys.dir);
  }
  return { signer: await loadSigner(file), jwksFile };
}

export function createArchiverService(
  config: ArchiverConfig,
  deps: { logger: Logger; metrics?: Metrics; now?: () => number; onFailure?: (err: AuditError) => void },
): ArchiverService {
  const logger = deps.logger.child({ component: 'archiver' });
  const metrics = deps.metrics ?? createMetrics();
  const now = deps.now ?? Date.now;
  const storage = localStorage(config.dir);
  const kafka = createKafkaClient(config.kafka, logger);
  const sealed = metrics.counter('audit_archiver_segments_sealed_total', 'Segments sealed');
  const archived = metrics.counter('audit_archiver_records_total', 'Records archived');
  const buffered = metrics.counter('audit_archiver_records_buffered_total', 'Records read into an open segment (archived once it is sealed)');
  const sealSeconds = metrics.histogram('audit_archiver_seal_duration_seconds', 'Time to write and fsync a segment and its manifest');
  const partitions = new Map<number, PartitionState>();
  /** Partition states being created (or created) for the current assignment. */
  const creating = new Map<number, Promise<PartitionState>>();
  /** The lock of each state of the previous assignment, until the new state of that partition exists. */
  const retired = new Map<number, Promise<void>>();
  /** Counts assignments, so a state created for an earlier one is not kept. */
  let generation = 0;
  let supervised: SupervisedConsumer | undefined;
  /** The consumer in use now: a new one after the supervisor re-created it. */
  const current = (): Consumer | undefined => supervised?.consumer;
  let signer: Signer | undefined;
  let checkpointer: Checkpointer | undefined;
  let producer: AuditProducer | undefined;
  const admin = kafka.admin();
  let adminConnected: Promise<void> | undefined;
  let partitionCount: { n: number; at: number } | undefined;
  /** The topic's partition count (cached a minute): checkpoints name every partition, owned here or not. */
  async function topicPartitions(): Promise<number | undefined> {
    if (partitionCount && Date.now() - partitionCount.at < 60_000) return partitionCount.n;
    try {
      await (adminConnected ??= admin.connect().catch((err: unknown) => {
        adminConnected = undefined;
        throw err;
      }));
      const md = await admin.fetchTopicMetadata({ topics: [config.topic] });
      const n = md.topics[0]?.partitions.length;
      if (n) partitionCount = { n, at: Date.now() };
      return n ?? partitionCount?.n;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'partition count unavailable; the checkpoint keeps the previous one');
      return partitionCount?.n;
    }
  }
  let ops: OpsServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let retentionTimer: NodeJS.Timeout | undefined;
  let state = 'idle';
  let lastError: string | undefined;
  let started: Promise<{ metricsUrl: string | undefined; jwksFile: string }> | undefined;
  let stopped: Promise<void> | undefined;

  /** Resolves once nothing is queued on the state's lock any more (work may queue while waiting). */
  const drained = async (p: PartitionState) => {
    let current: Promise<void>;
    do {
      current = p.lock;
      await current;
    } while (current !== p.lock);
  };

  const withLock = (p: PartitionState, fn: () => Promise<void>) => {
    const next = p.lock.then(fn, fn);
    p.lock = next.catch(() => undefined);
    return next;
  };

  /** The stream's head after removing a segment a crash left without its manifest. */
  async function recover(n: number): Promise<StreamHead> {
    const { head, removed } = await recoverStream(storage, config.topic, n);
    if (removed.length > 0) logger.warn({ partition: n, removed }, 'removed segment(s) written before a crash but never sealed by a manifest');
    return head;
  }

  /**
   * The state of partition n, created on first use after an assignment. Creation waits for what
   * the previous assignment's state still has in flight (a timer-driven seal can be between its
   * segment and its manifest when the group rebalances): recovery must not remove that segment
   * as unsealed, nor read a head its manifest is about to extend.
   */
  function partition(n: number): Promise<PartitionState> {
    let p = creating.get(n);
    if (!p) {
      const g = generation;
      p = (retired.get(n) ?? Promise.resolve()).then(async () => {
        if (g === generation) retired.delete(n);
        const head = await recover(n);
        await checkpointer!.checkRecovered(head);
        checkpointer!.note(head);
        return { head, buffer: [], bytes: 0, openedAt: now(), lock: Promise.resolve() } satisfies PartitionState;
      });
      creating.set(n, p);
      p.then(
        (state) => {
          if (g === generation) partitions.set(n, state);
        },
        () => {
          if (creating.get(n) === p) creating.delete(n);
        },
      );
    }
    return p;
  }

  /** Seals what the partition holds, then commits past it. Caller holds the lock. */
  async function sealAndCommit(n: number, p: PartitionState): Promise<void> {
    if (p.buffer.length === 0) return;
    const t = process.hrtime.bigint();
    const records = p.buffer;
    const m = await seal(storage, signer!, p.head, records, now(), config.segment);
    p.buffer = [];
    p.bytes = 0;
    p.openedAt = now();
    sealSeconds.observe(Number(process.hrtime.bigint() - t) / 1e9);
    sealed.inc();
    archived.inc(records.length);
    checkpointer!.note(p.head);
    checkpointer!.sealed();
    logger.debug({ partition: n, sequence: m.sequence, first: m.firstOffset, last: m.lastOffset }, 'segment sealed');
    await current()!.commitOffsets([{ topic: config.topic, partition: n, offset: String(m.lastOffset + 1) }]);
  }

  const due = (p: PartitionState) =>
    p.buffer.length >= config.seal.maxRecords || p.bytes >= config.seal.maxBytes || (p.buffer.length > 0 && now() - p.openedAt >= config.seal.maxAgeMs);

  async function sealDue(force = false): Promise<void> {
    for (const [n, p] of partitions) {
      if (p.buffer.length > 0 && (force || due(p))) {
        await withLock(p, () => sealAndCommit(n, p)).catch((err: unknown) => {
          lastError = (err as Error).message;
          logger.error({ err: lastError, partition: n }, 'seal failed; the records stay buffered and are retried');
        });
      }
    }
  }

  async function applyRetention(): Promise<void> {
    if (config.retention.maxAgeMs <= 0) return;
    const cutoff = now() - config.retention.maxAgeMs;
    for (const [n, p] of partitions) {
      await withLock(p, async () => {
        const all = await manifestsOf(storage, `${config.topic}/${n}/`);
        const deleted = new Set(all.filter((x) => x.m.type === 'deletion').map((x) => x.m.deleted!.sequence));
        for (const { m } of all) {
          if (m.type === 'segment' && !deleted.has(m.sequence) && m.lastTimestamp < cutoff) {
            await recordDeletion(storage, signer!, p.head, m, now());
            checkpointer!.note(p.head);
            checkpointer!.sealed();
            logger.info({ partition: n, segment: m.segment }, 'retention: segment deleted and recorded');
          }
        }
      });
    }
  }

  return {
    start: () =>
      (started ??= (async () => {
        const keys = await resolveSigner(config, logger);
        signer = keys.signer;
        if (config.checkpoint.publish) {
          producer = createAuditProducer(kafka, { logger });
          await producer.connect();
        }
        checkpointer = createCheckpointer(
          {
            topic: config.topic,
            archive: config.checkpoint.archiveId ?? `${config.groupId}/${config.topic}`,
            intervalMs: config.checkpoint.intervalMs,
            minIntervalMs: config.checkpoint.minIntervalMs,
          },
          {
            storage,
            signer,
            logger,
            metrics,
            now,
            partitionCount: topicPartitions,
            ...(producer
              ? { publish: (archive: string, jws: string) => producer!.send(config.checkpoint.topic, [{ key: archive, value: Buffer.from(jws) }]) }
              : {}),
          },
        );
        await checkpointer.start();
        if (config.ops.port !== undefined) {
          ops = await startOpsServer({
            port: config.ops.port,
            ...(config.ops.host ? { host: config.ops.host } : {}),
            registry: metrics.registry,
            logger,
            health: () => {
              // a consumer being re-created (or given up) is not a running archiver
              const s = state === 'running' && supervised && supervised.state !== 'running' ? supervised.state : state;
              const why = lastError ?? supervised?.lastCrash;
              return { ok: s === 'running' && !why, state: s, ...(why ? { lastError: why } : {}) };
            },
          });
        }
        // supervised: a consumer kafkajs stops without restarting it is re-created and rejoins (issue #28)
        supervised = superviseConsumer({
          kafka,
          stage: 'archiver',
          logger,
          metrics,
          ...(deps.onFailure ? { onFailure: deps.onFailure } : {}),
          config: {
            groupId: config.groupId,
            allowAutoTopicCreation: false,
            maxWaitTimeInMs: 500,
            sessionTimeout: config.sessionTimeoutMs,
            heartbeatInterval: Math.max(300, Math.floor(config.sessionTimeoutMs / 10)),
          },
          run: (consumer) => run(consumer),
        });
        const run = async (consumer: Consumer) => {
          consumer.on(consumer.events.GROUP_JOIN, (e) => {
            // Unsealed buffers belong to the previous assignment: drop them, and resume every
            // assigned partition right after its last sealed record.
            const assigned = (e.payload.memberAssignment[config.topic] ?? []) as number[];
            generation++;
            for (const [n, p] of creating) {
              const before = retired.get(n);
              retired.set(
                n,
                Promise.all([before, p.then(drained, () => undefined)]).then(() => undefined),
              );
            }
            partitions.clear();
            creating.clear();
            void (async () => {
              for (const n of assigned) {
                // read-only here: removing unsealed files happens once, when the partition's state is created
                const head = await readHead(storage, config.topic, n);
                if (head.lastOffset >= 0) consumer.seek({ topic: config.topic, partition: n, offset: String(head.lastOffset + 1) });
              }
            })().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'resume after rebalance failed'));
          });
          await consumer.subscribe({ topics: [config.topic], fromBeginning: true });
          await consumer.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: 3,
            eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
              let p: PartitionState;
              try {
                p = await partition(batch.partition);
              } catch (err) {
                if ((err as { code?: string }).code !== ARCHIVE_ERRORS.behindCheckpoint) throw err;
                // Not retried: only an operator can decide what a removed tail means.
                lastError = (err as Error).message;
                logger.error(
                  { code: ARCHIVE_ERRORS.behindCheckpoint, partition: batch.partition, err: lastError },
                  'partition paused: its archive is behind the checkpoint',
                );
                consumer.pause([{ topic: config.topic, partitions: [batch.partition] }]);
                return;
              }
              await withLock(p, async () => {
                for (const msg of batch.messages) {
                  if (!isRunning() || isStale()) return;
                  const offset = Number(msg.offset);
                  if (offset <= p.head.lastOffset || (p.buffer.length > 0 && offset <= p.buffer[p.buffer.length - 1]!.offset)) {
                    resolveOffset(msg.offset);
                    continue; // already sealed (resumed after a crash) or already buffered
                  }
                  const value = msg.value ?? Buffer.alloc(0);
                  const headers = msg.headers as Record<string, Buffer | string | undefined>;
                  let eventId = `undecodable:${offset}`;
                  try {
                    eventId = eventCodec.decode(value, headers).id;
                  } catch {
                    // archived as consumed all the same: the archive keeps what the topic held
                  }
                  if (p.buffer.length === 0) p.openedAt = now();
                  p.buffer.push({
                    offset,
                    timestamp: Number(msg.timestamp),
                    key: msg.key ?? null,
                    eventId,
                    schemaFingerprint: headerString(headers, HEADER_FINGERPRINT) ?? '',
                    event: value,
                  });
                  buffered.inc();
                  p.bytes += value.length;
                  resolveOffset(msg.offset);
                  if (due(p)) await sealAndCommit(batch.partition, p);
                }
              });
              await heartbeat();
            },
          });
        };
        await supervised.start();
        timer = setInterval(() => void sealDue(), Math.min(1000, config.seal.maxAgeMs));
        retentionTimer = setInterval(
          () => void applyRetention().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'retention failed')),
          config.retention.intervalMs,
        );
        timer.unref();
        retentionTimer.unref();
        state = 'running';
        logger.info({ dir: config.dir, kid: signer.kid, seal: config.seal, segment: config.segment }, 'archiver started');
        return { metricsUrl: ops?.url, jwksFile: keys.jwksFile };
      })()),
    stop: () =>
      (stopped ??= (async () => {
        await started?.catch(() => undefined);
        clearInterval(timer);
        clearInterval(retentionTimer);
        state = 'stopping';
        const consumer = current();
        if (consumer) {
          // Seal what is buffered and commit it while the consumer still runs (kafkajs skips or
          // refuses commits once it is stopped: "Consumer group was not initialized", issue #28),
          // with fetching paused so nothing new is buffered meanwhile; then leave the group. A
          // batch still in flight may buffer records after the seal: they are not committed,
          // and the next start archives them (a partition resumes after its last sealed offset).
          try {
            consumer.pause([{ topic: config.topic }]);
          } catch {
            // not running (never joined, or being re-created): nothing is fetched anyway
          }
          await sealDue(true);
        }
        await supervised?.stop();
        await checkpointer?.stop();
        await producer?.disconnect().catch(() => undefined);
        if (adminConnected) await admin.disconnect().catch(() => undefined);
        state = 'stopped';
        await ops?.close();
      })()),
  };
}
