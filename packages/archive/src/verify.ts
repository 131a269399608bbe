/**
 * Verification of a whole archive, or one partition: every manifest signature, every chain link,
 * sequence and offset continuity, every segment's SHA-256, size, Merkle root, record count and
 * offsets. Each problem is a finding naming what is wrong and where.
 */
import type { JSONWebKeySet } from 'jose';
import { ZERO_HASH, type Manifest } from './format.js';
import { verifyJws } from './keys.js';
import { sha256hex } from './segment.js';
import { checkSegment, type SegmentCheck } from './segment-check.js';
import type { ArchiveStorage } from './storage.js';

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
  | 'malformed';

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
}

export interface VerifyOptions {
  partition?: number;
  onProgress?: (p: { stream: string; done: number; total: number; bytes: number }) => void;
}

/**
 * Segments read ahead of the one being checked, so the next files are read (libuv's thread pool)
 * while this thread hashes. Checks run here, one after the other: a worker_threads pool was
 * measured and not kept (services/archiver/README.md, "What was measured and not kept").
 */
const READ_AHEAD = 3;

export async function verifyArchive(storage: ArchiveStorage, jwks: JSONWebKeySet, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, streams: 0, manifests: 0, segments: 0, records: 0, bytes: 0, findings: [] };
  const streams = (await storage.streams()).filter((s) => opts.partition === undefined || s.endsWith(`/${opts.partition}/`));
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
  for (const plan of plans) await checkSegments(plan, report, nextOutcome, opts.onProgress);
  report.findings = plans.flatMap((p) => p.findings);
  report.ok = report.findings.length === 0;
  return report;
}

interface StreamPlan {
  stream: string;
  /** This stream's findings, manifests' then segments', in file order. */
  findings: Finding[];
  add: (kind: FindingKind, file: string, message: string) => void;
  segmentManifests: Manifest[];
  deletedSeqs: Set<number>;
  segmentKeys: Set<string>;
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
  for (const key of manifestKeys) {
    const file = key.slice(stream.length);
    const fileSeq = Number(file.split('.')[0]);
    const bytes = await storage.get(key);
    report.manifests++;
    const res = await verifyJws(bytes.toString(), jwks);
    if (!res.ok) {
      add(res.reason === 'unknown-key' ? 'unknown-key' : res.reason === 'bad-signature' ? 'forged' : 'malformed', file, res.reason === 'unknown-key' ? 'manifest signed with a key that is not in the trusted key set' : res.reason === 'bad-signature' ? 'manifest signature does not verify: the manifest was altered or forged' : 'manifest is not a valid JWS');
      previousHash = sha256hex(bytes);
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
    if (m.previousManifestSha256 !== previousHash && fileSeq <= expectedSeq) add(fileSeq < expectedSeq ? 'inserted' : 'reordered', file, 'chain broken: previous-manifest hash does not match the manifest before it');
    previousHash = sha256hex(bytes);
    expectedSeq = fileSeq + 1;
    verified.push({ key, m, bytes });
  }
  const deletedSeqs = new Set(verified.filter((v) => v.m.type === 'deletion').map((v) => v.m.deleted!.sequence));
  return { stream, findings, add, segmentManifests: verified.filter((v) => v.m.type === 'segment').map((v) => v.m), deletedSeqs, segmentKeys };
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

async function checkSegments(plan: StreamPlan, report: VerifyReport, nextOutcome: () => Promise<SegmentOutcome>, onProgress?: (p: { stream: string; done: number; total: number; bytes: number }) => void) {
  const { stream, add, segmentManifests, deletedSeqs, segmentKeys } = plan;
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
    const check = checkSegment(outcome.bytes, m.firstOffset, m.recordCount);
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
      add(extra > 0 ? 'inserted' : 'changed', m.segment, extra > 0 ? `${extra} record(s) inserted (Merkle root differs)` : extra < 0 ? `${-extra} record(s) removed (Merkle root differs)` : 'record contents changed (Merkle root differs)');
    } else if (root !== m.merkleRoot) add('changed', m.segment, 'Merkle root does not match the manifest');
    if (sha === m.segmentSha256) for (const [i, offset] of check.offsetMismatches) add('malformed', m.segment, `record ${i} has offset ${offset}, expected ${m.firstOffset + i}`);
  }
  for (const orphan of segmentKeys) add('inserted', orphan.slice(stream.length), 'segment file has no signed manifest');
}
