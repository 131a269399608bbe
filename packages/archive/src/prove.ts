import type { JSONWebKeySet } from 'jose';
import { eventCodec } from '@jwt-audit/events';
import { canonical, recordType, type ArchivedRecord, type Manifest } from './format.js';
import { verifyJws } from './keys.js';
import { auditPath, leafHash, rootFromPath } from './merkle.js';
import { decodeSegment, segmentDigest } from './segment.js';
import type { ArchiveStorage } from './storage.js';

/**
 * An inclusion proof: the archived record, its leaf index, the audit path to the segment's Merkle
 * root, and the signed manifest that commits to that root. Checkable offline with the public key.
 */
export interface InclusionProof {
  v: 1;
  eventId: string;
  topic: string;
  partition: number;
  offset: number;
  segment: string;
  leafIndex: number;
  treeSize: number;
  /** base64 of the record's canonical encoding (the Merkle leaf data). */
  record: string;
  leafHash: string;
  auditPath: string[];
  manifest: string;
}

async function manifestsOf(storage: ArchiveStorage, stream: string): Promise<{ m: Manifest; jws: string }[]> {
  const out: { m: Manifest; jws: string }[] = [];
  for (const k of (await storage.list(stream)).filter((x) => x.endsWith('.manifest.jws'))) {
    const jws = (await storage.get(k)).toString();
    out.push({ m: JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as Manifest, jws });
  }
  return out;
}

export async function prove(storage: ArchiveStorage, eventId: string): Promise<InclusionProof | undefined> {
  for (const stream of await storage.streams()) {
    for (const { m, jws } of await manifestsOf(storage, stream)) {
      if (m.type !== 'segment') continue;
      let records: ArchivedRecord[];
      try {
        records = await decodeSegment(await storage.get(`${stream}${m.segment}`));
      } catch {
        continue;
      }
      const i = records.findIndex((r) => r.eventId === eventId);
      if (i < 0) continue;
      const { leaves } = segmentDigest(records);
      return {
        v: 1,
        eventId,
        topic: m.topic,
        partition: m.partition,
        offset: records[i]!.offset,
        segment: m.segment,
        leafIndex: i,
        treeSize: records.length,
        record: canonical(records[i]!).toString('base64'),
        leafHash: leaves[i]!.toString('hex'),
        auditPath: auditPath(i, leaves).map((h) => h.toString('hex')),
        manifest: jws,
      };
    }
  }
  return undefined;
}

export type ProofCheck = { ok: true; manifest: Manifest; event: unknown } | { ok: false; reason: string };

/** Verifies a proof with the public keys alone: signature, record -> leaf, path -> signed root. */
export async function checkProof(proof: InclusionProof, jwks: JSONWebKeySet): Promise<ProofCheck> {
  const sig = await verifyJws(proof.manifest, jwks);
  if (!sig.ok) return { ok: false, reason: sig.reason === 'unknown-key' ? 'manifest signed by an unknown key' : 'manifest signature does not verify' };
  const m = JSON.parse(sig.payload.toString()) as Manifest;
  if (m.type !== 'segment' || m.segment !== proof.segment || m.topic !== proof.topic || m.partition !== proof.partition)
    return { ok: false, reason: "the manifest is not the one of the proof's segment" };
  if (m.recordCount !== proof.treeSize) return { ok: false, reason: `tree size ${proof.treeSize} differs from the manifest's record count ${m.recordCount}` };
  const recordBytes = Buffer.from(proof.record, 'base64');
  let record: ArchivedRecord;
  try {
    record = recordType.fromBuffer(recordBytes) as ArchivedRecord;
  } catch {
    return { ok: false, reason: 'the record does not decode' };
  }
  if (record.eventId !== proof.eventId || record.offset !== proof.offset) return { ok: false, reason: 'the record is not the claimed event' };
  const leaf = leafHash(recordBytes);
  const root = rootFromPath(
    leaf,
    proof.leafIndex,
    proof.treeSize,
    proof.auditPath.map((h) => Buffer.from(h, 'hex')),
  );
  if (!root || root.toString('hex') !== m.merkleRoot) return { ok: false, reason: 'the record is not included under the signed Merkle root' };
  let event: unknown;
  try {
    event = eventCodec.decode(record.event, { 'audit-schema-fingerprint': record.schemaFingerprint });
  } catch {
    event = undefined;
  }
  return { ok: true, manifest: m, event };
}

export interface ExportOptions {
  /**
   * Drop a record whose event id was already exported (default true): at-least-once delivery
   * upstream can archive one event at two offsets. Exact, over the exported range (memory: ~100
   * bytes per exported event).
   */
  dedupe?: boolean;
  /** Filled in as the export runs. */
  stats?: { events: number; duplicates: number };
}

/** Every archived event whose occurredAt is within [from, to], as it was consumed; each event once unless `dedupe: false`. */
export async function* exportEvents(
  storage: ArchiveStorage,
  from: number,
  to: number,
  opts: ExportOptions = {},
): AsyncGenerator<{ topic: string; partition: number; offset: number; event: unknown }> {
  const seen = (opts.dedupe ?? true) ? new Set<string>() : undefined;
  const stats = opts.stats ?? { events: 0, duplicates: 0 };
  for (const stream of await storage.streams()) {
    for (const { m } of await manifestsOf(storage, stream)) {
      if (m.type !== 'segment') continue;
      let records: ArchivedRecord[];
      try {
        records = await decodeSegment(await storage.get(`${stream}${m.segment}`));
      } catch {
        continue;
      }
      for (const r of records) {
        const e = eventCodec.decode(r.event, { 'audit-schema-fingerprint': r.schemaFingerprint });
        if (e.occurredAt < from || e.occurredAt > to) continue;
        if (seen) {
          if (seen.has(e.id)) {
            stats.duplicates++;
            continue;
          }
          seen.add(e.id);
        }
        stats.events++;
        yield { topic: m.topic, partition: m.partition, offset: r.offset, event: JSON.parse(JSON.stringify(e)) };
      }
    }
  }
}

export { manifestsOf };
