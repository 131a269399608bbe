/**
 * Checkpoints: signed statements of what the archive of one topic holds, so that removing data
 * (a partition's tail, a whole partition) is as visible as changing it.
 *
 *   <dir>/<topic>/checkpoints/<seq:10>.checkpoint.jws
 *
 * Compact JWS (EdDSA, header kid; the manifests' key set), payload JSON:
 *   { v: 1, type: 'checkpoint', archive, topic, sequence, partitionCount,
 *     partitions: [{ partition, sequence, firstOffset, lastOffset, manifestSha256 }, ...],
 *     createdAt, intervalMs, previousCheckpointSha256 }
 * - `partitions` has one mark per partition 0..partitionCount-1: the last manifest of that
 *   partition's chain when the checkpoint was written (its sequence, the offset range it names,
 *   and the SHA-256 of its file). sequence -1 (hash all zeros) = nothing sealed yet. As each
 *   manifest commits to its predecessor's hash, a mark commits to the partition's whole chain.
 * - `partitionCount` is the topic's partition count (Kafka's metadata), so a partition that
 *   was never archived, or whose folder was removed, is still named.
 * - `previousCheckpointSha256` = SHA-256 of the previous checkpoint file (zeros for the first):
 *   a chain, so a removed checkpoint is a gap. Only the newest checkpoint's signature needs to be
 *   checked; it authenticates every earlier one through the hashes.
 * - `intervalMs`: how often the writer promises a checkpoint while idle; a verifier's default
 *   staleness bound is a few of these.
 * - marks never go back: a checkpoint keeps the previous checkpoint's mark of a partition unless
 *   it has a later one (several archiver instances share one chain, each knowing its partitions).
 *
 * The newest checkpoint (the whole JWS) is also published where the archive's writer cannot
 * erase it (`audit.archive-checkpoints.v1`, keyed by `archive`), and its hash can be written down
 * as a one-line head: `audit archive verify --expect-head` checks a copy against either.
 */
import { ZERO_HASH, pad } from './format.js';
import { ARCHIVE_ERRORS, ArchiveError } from './errors.js';
import type { Signer } from './keys.js';
import { sha256hex } from './segment.js';
import { StorageError, type ArchiveStorage } from './storage.js';
import type { StreamHead } from './writer.js';

export interface PartitionMark {
  partition: number;
  /** Sequence of the partition's last manifest; -1 when nothing was sealed. */
  sequence: number;
  firstOffset: number;
  lastOffset: number;
  manifestSha256: string;
}

export interface Checkpoint {
  v: 1;
  type: 'checkpoint';
  /** Which archive this is (the key on the checkpoint topic). */
  archive: string;
  topic: string;
  sequence: number;
  partitionCount: number;
  partitions: PartitionMark[];
  createdAt: number;
  intervalMs: number;
  previousCheckpointSha256: string;
}

export const CHECKPOINT_DIR = 'checkpoints';
export const checkpointPrefix = (topic: string) => `${topic}/${CHECKPOINT_DIR}/`;
export const checkpointName = (seq: number) => `${pad(seq, 10)}.checkpoint.jws`;
export const emptyMark = (partition: number): PartitionMark => ({ partition, sequence: -1, firstOffset: -1, lastOffset: -1, manifestSha256: ZERO_HASH });

export function markOf(head: StreamHead): PartitionMark {
  return {
    partition: head.partition,
    sequence: head.sequence,
    firstOffset: head.lastManifestRange.firstOffset,
    lastOffset: head.lastManifestRange.lastOffset,
    manifestSha256: head.previousManifestSha256,
  };
}

/** The payload of a checkpoint JWS, unverified; undefined when it is not one. */
export function checkpointPayload(jws: string): Checkpoint | undefined {
  try {
    const c = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString()) as Checkpoint;
    if (c?.type !== 'checkpoint' || !Number.isInteger(c.sequence) || !Number.isInteger(c.partitionCount) || !Array.isArray(c.partitions)) return undefined;
    return c;
  } catch {
    return undefined;
  }
}

/** The writer's view of a topic's checkpoint chain. */
export interface CheckpointChain {
  topic: string;
  /** Sequence of the newest checkpoint; -1 when none. */
  sequence: number;
  sha256: string;
  last: Checkpoint | undefined;
}

/** Reads the newest checkpoint back (at start). Throws when it is not a checkpoint. */
export async function readCheckpointChain(storage: ArchiveStorage, topic: string): Promise<CheckpointChain> {
  const last = (await storage.list(checkpointPrefix(topic))).filter((k) => k.endsWith('.checkpoint.jws')).at(-1);
  if (!last) return { topic, sequence: -1, sha256: ZERO_HASH, last: undefined };
  const bytes = await storage.get(last);
  const c = checkpointPayload(bytes.toString());
  if (!c)
    throw new ArchiveError(
      ARCHIVE_ERRORS.checkpointInvalid,
      `${last} is not a readable checkpoint: the chain cannot be extended; run \`audit archive verify\``,
    );
  return { topic, sequence: c.sequence, sha256: sha256hex(bytes), last: c };
}

/** Follows checkpoints appended by another writer after the one this chain knows. */
export async function catchUp(storage: ArchiveStorage, chain: CheckpointChain): Promise<void> {
  for (;;) {
    let bytes: Buffer;
    try {
      bytes = await storage.get(`${checkpointPrefix(chain.topic)}${checkpointName(chain.sequence + 1)}`);
    } catch (err) {
      if (err instanceof StorageError && err.code === 'not-found') return;
      throw err;
    }
    const c = checkpointPayload(bytes.toString());
    if (!c) throw new ArchiveError(ARCHIVE_ERRORS.checkpointInvalid, `checkpoint ${chain.sequence + 1} of ${chain.topic} is not a readable checkpoint`);
    chain.sequence = c.sequence;
    chain.sha256 = sha256hex(bytes);
    chain.last = c;
  }
}

const later = (a: PartitionMark | undefined, b: PartitionMark | undefined): PartitionMark | undefined => (!a ? b : !b ? a : b.sequence > a.sequence ? b : a);

/**
 * Appends a checkpoint: for each partition, the later of the previous checkpoint's mark and the
 * one given. Another writer may append first (exclusive create fails): its checkpoint is read
 * and merged, then this one is written after it.
 */
export async function appendCheckpoint(
  storage: ArchiveStorage,
  signer: Signer,
  chain: CheckpointChain,
  input: { archive: string; partitionCount: number; marks: Iterable<PartitionMark>; createdAt: number; intervalMs: number },
): Promise<{ checkpoint: Checkpoint; jws: string; sha256: string }> {
  const given = new Map<number, PartitionMark>();
  for (const m of input.marks) given.set(m.partition, later(given.get(m.partition), m)!);
  for (let attempt = 0; attempt < 20; attempt++) {
    const previous = chain.last;
    // partitions are never removed from a Kafka topic: the count only grows
    const count = Math.max(input.partitionCount, previous?.partitionCount ?? 0, ...[...given.keys()].map((p) => p + 1));
    const partitions = Array.from({ length: count }, (_, p) => later(later(previous?.partitions[p], given.get(p)), emptyMark(p))!);
    const checkpoint: Checkpoint = {
      v: 1,
      type: 'checkpoint',
      archive: input.archive,
      topic: chain.topic,
      sequence: chain.sequence + 1,
      partitionCount: count,
      partitions,
      createdAt: input.createdAt,
      intervalMs: input.intervalMs,
      previousCheckpointSha256: chain.sha256,
    };
    const jws = await signer.sign(Buffer.from(JSON.stringify(checkpoint)));
    try {
      await storage.putExclusive(`${checkpointPrefix(chain.topic)}${checkpointName(checkpoint.sequence)}`, Buffer.from(jws));
    } catch (err) {
      if (err instanceof StorageError && err.code === 'exists') {
        await catchUp(storage, chain);
        continue;
      }
      throw err;
    }
    chain.sequence = checkpoint.sequence;
    chain.sha256 = sha256hex(jws);
    chain.last = checkpoint;
    return { checkpoint, jws, sha256: chain.sha256 };
  }
  throw new ArchiveError(ARCHIVE_ERRORS.checkpointContended, `checkpoint chain of ${chain.topic}: another writer appended 20 times in a row`, {
    retriable: true,
  });
}

/** The one-line head for a notary or a ticket: archive, sequence, time, SHA-256 of the file. */
export function headLine(c: Checkpoint, sha256: string): string {
  return `${c.archive} checkpoint ${c.sequence} ${new Date(c.createdAt).toISOString()} sha256:${sha256}`;
}

export type ExpectedHead = { sha256: string; jws?: undefined } | { jws: string; sha256: string };

/**
 * What `--expect-head` was given: a bare SHA-256 (hex, optionally `sha256:`), a head line, or the
 * text of a file holding either or the checkpoint JWS itself. Undefined when it is none of them.
 */
export function parseExpectedHead(text: string): ExpectedHead | undefined {
  const t = text.trim();
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(t) && checkpointPayload(t)) return { jws: t, sha256: sha256hex(t) };
  const m = /(?:^|\s)(?:sha256:)?([0-9a-fA-F]{64})$/.exec(t);
  return m ? { sha256: m[1]!.toLowerCase() } : undefined;
}
