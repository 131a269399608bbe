/**
 * Writes the archive's checkpoints (packages/archive/src/checkpoint.ts): soon after every seal
 * (seals within `minIntervalMs` share one), and every `intervalMs` while idle, so a verifier can
 * tell a quiet archive from one whose newest checkpoints were removed. Each checkpoint is then
 * published to the compacted checkpoint topic, keyed by the archive id: the anchor outside the
 * archive directory. Publishing never holds up a seal; when Kafka refuses, the newest checkpoint
 * is published on the next attempt (only the newest matters on a compacted topic).
 */
import {
  appendCheckpoint,
  ARCHIVE_ERRORS,
  ArchiveError,
  followCheckpointChain,
  headLine,
  manifestName,
  markOf,
  readCheckpointChain,
  readHead,
  sha256hex,
  StorageError,
  type ArchiveStorage,
  type CheckpointChain,
  type PartitionMark,
  type Signer,
  type StreamHead,
} from '@jwt-audit/archive';
import type { Logger, Metrics } from '@jwt-audit/runtime';

export interface CheckpointerConfig {
  topic: string;
  archive: string;
  intervalMs: number;
  minIntervalMs: number;
}

export interface CheckpointerDeps {
  storage: ArchiveStorage;
  signer: Signer;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  /** The topic's partition count from Kafka's metadata; undefined when it cannot be had now. */
  partitionCount: () => Promise<number | undefined>;
  /** Publishes a checkpoint (the JWS) under the archive id; absent: not published. */
  publish?: (archive: string, jws: string) => Promise<void>;
}

export interface Checkpointer {
  start(): Promise<void>;
  /** A partition's chain head after a seal, a deletion or recovery. */
  note(head: StreamHead): void;
  /** Something was sealed: a checkpoint follows within minIntervalMs. */
  sealed(): void;
  /**
   * Throws AUDIT_ERR_ARCHIVE_BEHIND_CHECKPOINT when a recovered stream does not reach what the
   * newest checkpoint says it held (its tail was removed, or its chain rewritten): the archiver
   * must not extend it, which would cover the removal with new manifests.
   */
  checkRecovered(head: StreamHead): Promise<void>;
  /** Writes a final checkpoint and waits for it to be published (bounded). */
  stop(): Promise<void>;
}

export function createCheckpointer(config: CheckpointerConfig, deps: CheckpointerDeps): Checkpointer {
  const { storage, signer, logger, now } = deps;
  const written = deps.metrics.counter('audit_archiver_checkpoints_written_total', 'Checkpoints written to the archive');
  const published = deps.metrics.counter('audit_archiver_checkpoints_published_total', 'Checkpoints published to the checkpoint topic');
  const publishFailed = deps.metrics.counter(
    'audit_archiver_checkpoint_publish_failures_total',
    'Checkpoint publications Kafka refused (retried with the next one)',
  );
  const marks = new Map<number, PartitionMark>();
  let chain: CheckpointChain | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let lastWrite = 0;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let latest: string | undefined;
  let publishing: Promise<void> | undefined;

  const schedule = (at: number) => {
    if (stopped || at >= timerAt) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(
      () => {
        timerAt = Infinity;
        void write().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'checkpoint failed; retried at the next seal or interval'));
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
  };

  function publishLatest(): Promise<void> {
    if (!deps.publish) return Promise.resolve();
    publishing ??= (async () => {
      for (let sent: string | undefined; latest !== sent; ) {
        const jws = latest!;
        try {
          await deps.publish!(config.archive, jws);
          published.inc();
          sent = jws;
        } catch (err) {
          publishFailed.inc();
          logger.warn({ err: (err as Error).message }, 'checkpoint not published; the next checkpoint will be');
          return;
        }
      }
    })().finally(() => (publishing = undefined));
    return publishing;
  }

  async function writeOnce(): Promise<void> {
    const count = await deps.partitionCount().catch(() => undefined);
    const { checkpoint, jws, sha256 } = await appendCheckpoint(storage, signer, chain!, {
      archive: config.archive,
      partitionCount: count ?? 0,
      marks: marks.values(),
      createdAt: now(),
      intervalMs: config.intervalMs,
    });
    lastWrite = Date.now();
    written.inc();
    logger.debug({ head: headLine(checkpoint, sha256) }, 'checkpoint written');
    latest = jws;
    void publishLatest();
  }

  function write(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await writeOnce();
      } while (again);
    })().finally(() => {
      running = undefined;
      schedule(Date.now() + config.intervalMs);
    });
    return running;
  }

  return {
    async start() {
      chain = await readCheckpointChain(storage, config.topic);
      if (!chain.last) {
        // The first checkpoint of an archive (new, or written before checkpoints existed): what
        // every partition's chain holds now, read once from storage.
        const count = (await deps.partitionCount().catch(() => undefined)) ?? 0;
        for (let p = 0; p < count; p++) marks.set(p, markOf(await readHead(storage, config.topic, p)));
      }
      await write();
    },
    note(head) {
      const m = markOf(head);
      const known = marks.get(m.partition);
      if (!known || m.sequence >= known.sequence) marks.set(m.partition, m);
    },
    sealed() {
      schedule(lastWrite + config.minIntervalMs);
    },
    async checkRecovered(head) {
      if (!chain) return;
      await followCheckpointChain(storage, chain);
      const mark = chain.last?.partitions[head.partition];
      if (!mark || mark.sequence < 0) return;
      const stream = `${config.topic}/${head.partition}/`;
      let sha: string | undefined;
      if (head.sequence === mark.sequence) sha = head.previousManifestSha256;
      else if (head.sequence > mark.sequence) {
        sha = await storage.get(`${stream}${manifestName(mark.sequence)}`).then(sha256hex, (err: unknown) => {
          if (err instanceof StorageError && err.code === 'not-found') return undefined;
          throw err;
        });
      }
      if (sha === mark.manifestSha256) return;
      const what = sha === undefined ? `ends at manifest ${head.sequence}` : `holds a different manifest ${mark.sequence}`;
      throw new ArchiveError(
        ARCHIVE_ERRORS.behindCheckpoint,
        `${stream} ${what}, but checkpoint ${chain.last!.sequence} says it reaches manifest ${mark.sequence} (offsets ${mark.firstOffset}..${mark.lastOffset}): its tail was removed or its chain rewritten; the archiver will not extend it (restore the files, or archive into a new directory); \`audit archive verify\` names what is missing`,
      );
    },
    async stop() {
      if (stopped || !chain) return;
      clearTimeout(timer);
      timerAt = Infinity;
      await running?.catch(() => undefined);
      await write().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'final checkpoint failed'));
      stopped = true;
      clearTimeout(timer);
      await Promise.race([publishLatest(), new Promise((r) => setTimeout(r, 5_000).unref())]);
    },
  };
}
