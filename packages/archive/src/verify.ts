/**
 * Verification of a whole archive, or one partition: every manifest signature, every chain link,
 * sequence and offset continuity, every segment's SHA-256, size, Merkle root, record count and
 * offsets; and completeness: the checkpoint chain, and every partition and chain the newest
 * checkpoint (or an expected head from outside the archive) names. Each problem is a finding
 * naming what is wrong and where; nothing found to verify is a finding too, never an OK.
 */
import type { JSONWebKeySet } from 'jose';
import { ZERO_HASH, type Manifest } from './format.js';
import { verifyJws } from './keys.js';
import { sha256hex } from './segment.js';
import { checkSegment } from './segment-check.js';
import type { ArchiveStorage } from './storage.js';
import { checkpointName, checkpointPrefix, type ExpectedHead } from './checkpoint.js';
import { checkCheckpoints, checkCoverage, chooseCheckpoint, describeAge, type ChainSummary, type CheckpointUsed } from './verify-checkpoints.js';

export type FindingKind =
  | 'changed'
  | 'truncated'
  | 'appended'
  | 'segment-deleted'
  | 'manifest-deleted'
  | 'reordered'
  | 'inserted'
  | 'forged'
  | 'unknown-key'
  | 'gap'
  | 'duplicate'
  | 'malformed'
  // completeness
  | 'partition-missing'
  | 'tail-truncated'
  | 'checkpoint-gap'
  | 'checkpoint-missing'
  | 'head-mismatch'
  | 'not-found'
  // warnings only
  | 'stale-checkpoint'
  | 'not-covered';

export interface Finding {
  kind: FindingKind;
  stream: string;
  file: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  streams: number;
  manifests: number;
  segments: number;
  records: number;
  bytes: number;
  findings: Finding[];
  /** Worth knowing, not tampering: a stale checkpoint, seals newer than it. */
  warnings: Finding[];
  /** The checkpoint each topic was verified from. */
  checkpoints: CheckpointUsed[];
  /**
   * Information, not tampering: per partition, records whose event id was already archived
   * earlier in that partition (at-least-once re-delivery upstream re-produces an event at a new
   * offset; the archive keeps what the topic held). Within the last DUPLICATE_WINDOW records.
   */
  duplicates: { stream: string; records: number; example: { eventId: string; segment: string } }[];
}

export interface VerifyOptions {
  partition?: number;
  /** A head from outside the archive (`--expect-head`, `--from-topic`): the archive must reach it. */
  expectHead?: ExpectedHead;
  /** A checkpoint older than this is a warning; default 3 of its own `intervalMs`. */
  maxAgeMs?: number;
  now?: number;
  /** Named in the finding when nothing is found (the directory, for the local backend). */
  location?: string;
  /**
   * Count repeated event ids per partition (report.duplicates); default false: it costs verify
   * ~1.3x the CPU time (services/archiver/README.md, benchmark).
   */
  duplicates?: boolean;
  onProgress?: (p: { stream: string; done: number; total: number; bytes: number }) => void;
}

/**
 * Segments read ahead of the one being checked, so the next files are read (libuv's thread pool)
 * while this thread hashes. Checks run here, one after the other: a worker_threads pool was
 * measured and not kept (services/archiver/README.md, "What was measured and not kept").
 */
const READ_AHEAD = 3;

/**
 * How many of a partition's most recent event ids a repeat is looked for in (memory: ~100 bytes
 * each). Re-deliveries come from a stage re-producing a batch it had not committed, so a copy lands
 * within a batch or a few of its original.
 */
export const DUPLICATE_WINDOW = 1_000_000;

export async function verifyArchive(storage: ArchiveStorage, jwks: JSONWebKeySet, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: true,
    streams: 0,
    manifests: 0,
    segments: 0,
    records: 0,
    bytes: 0,
    findings: [],
    warnings: [],
    checkpoints: [],
    duplicates: [],
  };
  const topics = await storage.topics();
  // Checkpoints before streams and manifests: the archiver keeps sealing while verify reads, and a
  // checkpoint is only written after the seals it names, so whatever a checkpoint read here names is
  // in the listings made after it (newer seals are 'not-covered' warnings). Read the other way
  // round, a partition's first seal landing between the two reads looked like a removed partition.
  const checkpointPlans = [];
  for (const topic of topics) checkpointPlans.push(await checkCheckpoints(storage, jwks, topic));
  const allStreams = await storage.streams();
  const streams = allStreams.filter((s) => opts.partition === undefined || s.endsWith(`/${opts.partition}/`));
  // Manifests first, then the segments of every stream through one read-ahead pipeline.
  const plans: StreamPlan[] = [];
  for (const stream of streams) {
    report.streams++;
    plans.push(await checkManifests(storage, jwks, stream, report));
  }
  const toCheck = plans.flatMap((p) => p.segmentManifests.filter((m) => !p.deletedSeqs.has(m.sequence)).map((m) => ({ stream: p.stream, m })));
  const window = new Map<number, Promise<SegmentOutcome>>();
  let next = 0;
  let job = 0;
  const nextOutcome = async () => {
    for (; next < toCheck.length && next <= job + READ_AHEAD; next++) {
      window.set(next, readSegment(storage, toCheck[next]!.stream, toCheck[next]!.m));
    }
    // A turn of the event loop between two checks: the reads in flight need this thread for each
    // of their steps (open, stat, read, close), and awaiting an already-read segment would not
    // give them one. Without it, verify sat idle ~20% of the time waiting for reads (profiled).
    await new Promise((resolve) => setImmediate(resolve));
    const outcome = await window.get(job)!;
    window.delete(job++);
    return outcome;
  };
  for (const plan of plans) await checkSegments(plan, report, nextOutcome, opts.onProgress, opts.duplicates ?? false);
  const completeness: Finding[] = [];
  const add = (kind: FindingKind, stream: string, file: string, message: string) => completeness.push({ kind, stream, file, message });
  const warn = (kind: FindingKind, stream: string, file: string, message: string) => report.warnings.push({ kind, stream, file, message });
  const now = opts.now ?? Date.now();
  const where = opts.location ?? 'the archive';
  if (topics.length === 0)
    add(
      'not-found',
      '',
      '',
      `nothing to verify: ${where} holds no topic (expected <topic>/<partition>/ streams of segments and manifests, and <topic>/checkpoints/)`,
    );
  let headPlaced = opts.expectHead === undefined;
  for (const cp of checkpointPlans) {
    const topic = cp.topic;
    const chains = new Map<number, ChainSummary>(plans.filter((p) => p.stream.startsWith(`${topic}/`)).map((p) => [Number(p.stream.split('/')[1]), p.chain]));
    const expectHere =
      opts.expectHead &&
      (cp.bySha.has(opts.expectHead.sha256) ||
        (opts.expectHead.jws !== undefined && checkpointTopic(opts.expectHead.jws) === topic) ||
        (!opts.expectHead.jws && checkpointPlans.length === 1))
        ? opts.expectHead
        : undefined;
    if (expectHere) headPlaced = true;
    const chosen = await chooseCheckpoint(cp, jwks, expectHere, (kind, file, message) => add(kind, checkpointPrefix(topic), file, message));
    if (!chosen) {
      add(
        'checkpoint-missing',
        checkpointPrefix(topic),
        '',
        `no checkpoint for ${topic}${cp.files > 0 ? ' that verifies' : ''}: expected signed <seq>.checkpoint.jws files, written by the archiver at every seal; without one, a removed tail or partition cannot be told from one never written`,
      );
      continue;
    }
    const { c } = chosen;
    const ageMs = now - c.createdAt;
    report.checkpoints.push({
      topic,
      archive: c.archive,
      sequence: c.sequence,
      sha256: chosen.sha256,
      createdAt: c.createdAt,
      ageMs,
      partitionCount: c.partitionCount,
      source: chosen.source,
      anchored: chosen.anchored,
    });
    const bound = opts.maxAgeMs ?? 3 * c.intervalMs;
    if (ageMs > bound)
      warn(
        'stale-checkpoint',
        checkpointPrefix(topic),
        checkpointName(c.sequence),
        `checkpoint ${c.sequence} is ${describeAge(ageMs)} old (written ${new Date(c.createdAt).toISOString()}; bound ${describeAge(bound)}): what was sealed since is not covered, and newer checkpoints may have been removed with the data`,
      );
    checkCoverage(c, topic, chains, opts.partition, add, warn);
    if (opts.partition !== undefined && !chains.has(opts.partition)) {
      const mark = c.partitions[opts.partition];
      if (opts.partition >= c.partitionCount)
        add(
          'not-found',
          `${topic}/${opts.partition}/`,
          '',
          `partition ${opts.partition} is not in the archive: no stream ${topic}/${opts.partition}/, and checkpoint ${c.sequence} names partitions 0..${c.partitionCount - 1}`,
        );
      else if (mark && mark.sequence < 0)
        add(
          'not-found',
          `${topic}/${opts.partition}/`,
          '',
          `partition ${opts.partition} holds nothing to verify: checkpoint ${c.sequence} says nothing was sealed for it yet`,
        );
    }
  }
  if (opts.partition !== undefined && streams.length === 0 && !completeness.some((f) => f.stream.endsWith(`/${opts.partition}/`))) {
    add('not-found', '', '', `partition ${opts.partition}: no stream of that partition in ${where}`);
  }
  if (!headPlaced) add('head-mismatch', '', '', `the expected head (sha256:${opts.expectHead!.sha256}) matches no checkpoint of any topic in ${where}`);
  report.findings = [...plans.flatMap((p) => p.findings), ...checkpointPlans.flatMap((p) => p.findings), ...completeness];
  report.ok = report.findings.length === 0;
  return report;
}

function checkpointTopic(jws: string): string | undefined {
  try {
    return (JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString()) as { topic?: string }).topic;
  } catch {
    return undefined;
  }
}

interface StreamPlan {
  stream: string;
  /** This stream's findings, manifests' then segments', in file order. */
  findings: Finding[];
  add: (kind: FindingKind, file: string, message: string) => void;
  segmentManifests: Manifest[];
  deletedSeqs: Set<number>;
  segmentKeys: Set<string>;
  chain: ChainSummary;
}

async function checkManifests(storage: ArchiveStorage, jwks: JSONWebKeySet, stream: string, report: VerifyReport): Promise<StreamPlan> {
  const findings: Finding[] = [];
  const add = (kind: FindingKind, file: string, message: string) => findings.push({ kind, stream, file, message });
  const keys = await storage.list(stream);
  const manifestKeys = keys.filter((k) => k.endsWith('.manifest.jws'));
  const segmentKeys = new Set(keys.filter((k) => k.endsWith('.avro')));
  const [topic, partitionText] = stream.split('/');
  const verified: { key: string; m: Manifest; bytes: Buffer }[] = [];
  let previousHash = ZERO_HASH;
  let expectedSeq = 0;
  const chain: ChainSummary = { manifestSha: new Map(), lastSequence: -1 };
  for (const key of manifestKeys) {
    const file = key.slice(stream.length);
    const fileSeq = Number(file.split('.')[0]);
    const bytes = await storage.get(key);
    report.manifests++;
    const sha = sha256hex(bytes);
    chain.manifestSha.set(fileSeq, sha);
    chain.lastSequence = Math.max(chain.lastSequence, fileSeq);
    const res = await verifyJws(bytes.toString(), jwks);
    if (!res.ok) {
      add(
        res.reason === 'unknown-key' ? 'unknown-key' : res.reason === 'bad-signature' ? 'forged' : 'malformed',
        file,
        res.reason === 'unknown-key'
          ? 'manifest signed with a key that is not in the trusted key set'
          : res.reason === 'bad-signature'
            ? 'manifest signature does not verify: the manifest was altered or forged'
            : 'manifest is not a valid JWS',
      );
      previousHash = sha;
      expectedSeq = fileSeq + 1;
      continue;
    }
    let m: Manifest;
    try {
      m = JSON.parse(res.payload.toString()) as Manifest;
    } catch {
      add('malformed', file, 'manifest payload is not JSON');
      continue;
    }
    if (m.topic !== topic || String(m.partition) !== partitionText) add('inserted', file, `manifest belongs to ${m.topic}/${m.partition}, not to this stream`);
    if (m.sequence !== fileSeq) add('reordered', file, `manifest says sequence ${m.sequence} but is stored as ${fileSeq}`);
    if (fileSeq > expectedSeq) add('manifest-deleted', file, `manifest(s) ${expectedSeq}..${fileSeq - 1} missing before this one`);
    if (m.previousManifestSha256 !== previousHash && fileSeq <= expectedSeq)
      add(fileSeq < expectedSeq ? 'inserted' : 'reordered', file, 'chain broken: previous-manifest hash does not match the manifest before it');
    previousHash = sha;
    expectedSeq = fileSeq + 1;
    verified.push({ key, m, bytes });
  }
  const deletedSeqs = new Set(verified.filter((v) => v.m.type === 'deletion').map((v) => v.m.deleted!.sequence));
  return { stream, findings, add, segmentManifests: verified.filter((v) => v.m.type === 'segment').map((v) => v.m), deletedSeqs, segmentKeys, chain };
}

type SegmentOutcome = { missing: true } | { missing: false; bytes: Buffer };

/** Never rejects: a segment that cannot be read is a missing one. */
async function readSegment(storage: ArchiveStorage, stream: string, m: Manifest): Promise<SegmentOutcome> {
  try {
    return { missing: false, bytes: await storage.get(`${stream}${m.segment}`) };
  } catch {
    return { missing: true };
  }
}

/** Repeated event ids of one partition, among its last DUPLICATE_WINDOW records. */
class RepeatCounter {
  private readonly seen = new Set<string>();
  private readonly ring: string[] = [];
  private next = 0;
  records = 0;
  example: { eventId: string; segment: string } | undefined;

  add(ids: string[], segment: string): void {
    for (const id of ids) {
      if (this.seen.has(id)) {
        this.records++;
        this.example ??= { eventId: id, segment };
        continue;
      }
      if (this.ring.length < DUPLICATE_WINDOW) this.ring.push(id);
      else {
        this.seen.delete(this.ring[this.next]!);
        this.ring[this.next] = id;
        this.next = (this.next + 1) % DUPLICATE_WINDOW;
      }
      this.seen.add(id);
    }
  }
}

async function checkSegments(
  plan: StreamPlan,
  report: VerifyReport,
  nextOutcome: () => Promise<SegmentOutcome>,
  onProgress: ((p: { stream: string; done: number; total: number; bytes: number }) => void) | undefined,
  countDuplicates: boolean,
) {
  const { stream, add, segmentManifests, deletedSeqs, segmentKeys } = plan;
  const repeats = countDuplicates ? new RepeatCounter() : undefined;
  const byHash = new Map(segmentManifests.map((m) => [m.segmentSha256, m]));
  let lastOffset: number | undefined;
  let done = 0;
  for (const m of segmentManifests) {
    done++;
    const key = `${stream}${m.segment}`;
    if (lastOffset !== undefined) {
      if (m.firstOffset > lastOffset + 1) add('gap', m.segment, `offsets ${lastOffset + 1}..${m.firstOffset - 1} were never archived`);
      if (m.firstOffset <= lastOffset) add('duplicate', m.segment, `offsets ${m.firstOffset}..${Math.min(lastOffset, m.lastOffset)} archived twice`);
    }
    lastOffset = m.lastOffset;
    segmentKeys.delete(key);
    if (deletedSeqs.has(m.sequence)) continue;
    const outcome = await nextOutcome();
    if (outcome.missing) {
      add('segment-deleted', m.segment, 'segment file is missing and no deletion was recorded for it');
      continue;
    }
    const size = outcome.bytes.length;
    const ids: string[] | undefined = repeats ? [] : undefined;
    const check = checkSegment(outcome.bytes, m.firstOffset, m.recordCount, ids);
    if (ids && check.error === undefined) repeats!.add(ids, m.segment);
    report.segments++;
    report.bytes += size;
    onProgress?.({ stream, done, total: segmentManifests.length, bytes: report.bytes });
    const sha = check.sha256;
    if (sha !== m.segmentSha256) {
      const other = byHash.get(sha);
      if (other) add('reordered', m.segment, `segment holds the bytes of sequence ${other.sequence} (${other.segment}): segments were swapped`);
      else if (size < m.segmentBytes) add('truncated', m.segment, `segment is ${size} bytes, its manifest says ${m.segmentBytes}: truncated`);
      else if (size > m.segmentBytes) add('appended', m.segment, `segment is ${size} bytes, its manifest says ${m.segmentBytes}: bytes were added`);
      else add('changed', m.segment, 'segment SHA-256 does not match its manifest: bytes were changed');
    }
    if (check.error !== undefined) {
      if (sha === m.segmentSha256) add('malformed', m.segment, `segment does not decode: ${check.error}`);
      continue;
    }
    report.records += check.records;
    const root = check.merkleRoot;
    if (sha !== m.segmentSha256 && root !== m.merkleRoot) {
      const extra = check.records - m.recordCount;
      add(
        extra > 0 ? 'inserted' : 'changed',
        m.segment,
        extra > 0
          ? `${extra} record(s) inserted (Merkle root differs)`
          : extra < 0
            ? `${-extra} record(s) removed (Merkle root differs)`
            : 'record contents changed (Merkle root differs)',
      );
    } else if (root !== m.merkleRoot) add('changed', m.segment, 'Merkle root does not match the manifest');
    if (sha === m.segmentSha256)
      for (const [i, offset] of check.offsetMismatches) add('malformed', m.segment, `record ${i} has offset ${offset}, expected ${m.firstOffset + i}`);
  }
  for (const orphan of segmentKeys) add('inserted', orphan.slice(stream.length), 'segment file has no signed manifest');
  if (repeats?.example) report.duplicates.push({ stream, records: repeats.records, example: repeats.example });
}
