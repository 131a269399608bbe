/**
 * Verification of a whole archive, or one partition: every manifest signature, every chain link,
 * sequence and offset continuity, every segment's SHA-256, size, Merkle root, record count and
 * offsets. Each problem is a finding naming what is wrong and where.
 */
import type { JSONWebKeySet } from 'jose';
import { ZERO_HASH, type Manifest } from './format.js';
import { verifyJws } from './keys.js';
import { rawOffset, rawSegmentRecords, sha256hex } from './segment.js';
import { leafHash, merkleRoot } from './merkle.js';
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

export async function verifyArchive(
  storage: ArchiveStorage,
  jwks: JSONWebKeySet,
  opts: { partition?: number; onProgress?: (p: { stream: string; done: number; total: number; bytes: number }) => void } = {},
): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, streams: 0, manifests: 0, segments: 0, records: 0, bytes: 0, findings: [] };
  const streams = (await storage.streams()).filter((s) => opts.partition === undefined || s.endsWith(`/${opts.partition}/`));
  for (const stream of streams) {
    report.streams++;
    await verifyStream(storage, jwks, stream, report, opts.onProgress);
  }
  report.ok = report.findings.length === 0;
  return report;
}

async function verifyStream(storage: ArchiveStorage, jwks: JSONWebKeySet, stream: string, report: VerifyReport, onProgress?: (p: { stream: string; done: number; total: number; bytes: number }) => void) {
  const add = (kind: FindingKind, file: string, message: string) => report.findings.push({ kind, stream, file, message });
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
  const segmentManifests = verified.filter((v) => v.m.type === 'segment');
  const byHash = new Map(segmentManifests.map((v) => [v.m.segmentSha256, v.m]));
  let lastOffset: number | undefined;
  let done = 0;
  for (const { m } of segmentManifests) {
    done++;
    const key = `${stream}${m.segment}`;
    if (lastOffset !== undefined) {
      if (m.firstOffset > lastOffset + 1) add('gap', m.segment, `offsets ${lastOffset + 1}..${m.firstOffset - 1} were never archived`);
      if (m.firstOffset <= lastOffset) add('duplicate', m.segment, `offsets ${m.firstOffset}..${Math.min(lastOffset, m.lastOffset)} archived twice`);
    }
    lastOffset = m.lastOffset;
    segmentKeys.delete(key);
    if (deletedSeqs.has(m.sequence)) continue;
    let bytes: Buffer;
    try {
      bytes = await storage.get(key);
    } catch {
      add('segment-deleted', m.segment, 'segment file is missing and no deletion was recorded for it');
      continue;
    }
    report.segments++;
    report.bytes += bytes.length;
    onProgress?.({ stream, done, total: segmentManifests.length, bytes: report.bytes });
    const sha = sha256hex(bytes);
    if (sha !== m.segmentSha256) {
      const other = byHash.get(sha);
      if (other) add('reordered', m.segment, `segment holds the bytes of sequence ${other.sequence} (${other.segment}): segments were swapped`);
      else if (bytes.length < m.segmentBytes) add('truncated', m.segment, `segment is ${bytes.length} bytes, its manifest says ${m.segmentBytes}: truncated`);
      else if (bytes.length > m.segmentBytes) add('appended', m.segment, `segment is ${bytes.length} bytes, its manifest says ${m.segmentBytes}: bytes were added`);
      else add('changed', m.segment, 'segment SHA-256 does not match its manifest: bytes were changed');
    }
    let records: Buffer[];
    try {
      records = await rawSegmentRecords(bytes);
    } catch (err) {
      if (sha === m.segmentSha256) add('malformed', m.segment, `segment does not decode: ${(err as Error).message}`);
      continue;
    }
    report.records += records.length;
    const root = merkleRoot(records.map(leafHash)).toString('hex');
    if (sha !== m.segmentSha256 && root !== m.merkleRoot) {
      const extra = records.length - m.recordCount;
      add(extra > 0 ? 'inserted' : extra < 0 ? 'changed' : 'changed', m.segment, extra > 0 ? `${extra} record(s) inserted (Merkle root differs)` : extra < 0 ? `${-extra} record(s) removed (Merkle root differs)` : 'record contents changed (Merkle root differs)');
    } else if (root !== m.merkleRoot) add('changed', m.segment, 'Merkle root does not match the manifest');
    records.forEach((r, i) => {
      const offset = rawOffset(r);
      if (offset !== m.firstOffset + i && sha === m.segmentSha256) add('malformed', m.segment, `record ${i} has offset ${offset}, expected ${m.firstOffset + i}`);
    });
  }
  for (const orphan of segmentKeys) add('inserted', orphan.slice(stream.length), 'segment file has no signed manifest');
}
