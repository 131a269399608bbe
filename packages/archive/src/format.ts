/**
 * Archive layout and formats (one stream per topic-partition):
 *
 *   <dir>/<topic>/<partition>/<seq:10>.<first:20>-<last:20>.avro           a sealed segment
 *   <dir>/<topic>/<partition>/<seq:10>.manifest.jws                          its signed manifest
 *
 * Segment: an Avro object container file (readable by standard Avro tools), schema `ArchivedRecord`:
 *   { offset: long, timestamp: long, key: bytes|null, eventId: string, event: bytes }
 * where `event` is the audit event's Avro binary as consumed (writer fingerprint in `schemaFingerprint`).
 *
 * Record hash (Merkle leaf data) = the canonical encoding: the Avro binary of ArchivedRecord. It is
 * what the segment holds for that record, independent of container block boundaries.
 *
 * Manifest: compact JWS (EdDSA, header kid), payload JSON:
 *   { v: 1, type: 'segment' | 'deletion', topic, partition, sequence, segment, firstOffset,
 *     lastOffset, recordCount, firstTimestamp, lastTimestamp, segmentSha256, segmentBytes, merkleRoot,
 *     previousManifestSha256, sealedAt, deleted?: { sequence, segment, segmentSha256 } }
 * previousManifestSha256 = SHA-256 of the previous manifest file's bytes in this partition
 * (all zeros for the first): a chain per partition, so a removed, reordered or inserted manifest breaks it.
 */
import avro from 'avsc';

export const RECORD_SCHEMA = {
  type: 'record',
  name: 'ArchivedRecord',
  namespace: 'io.jwtaudit.archive.v1',
  fields: [
    { name: 'offset', type: 'long' },
    { name: 'timestamp', type: 'long' },
    { name: 'key', type: ['null', 'bytes'], default: null },
    { name: 'eventId', type: 'string' },
    { name: 'schemaFingerprint', type: 'string' },
    { name: 'event', type: 'bytes' },
  ],
} as const;

export const recordType = avro.Type.forSchema(RECORD_SCHEMA as unknown as avro.Schema);

export interface ArchivedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  eventId: string;
  schemaFingerprint: string;
  event: Buffer;
}

export interface Manifest {
  v: 1;
  type: 'segment' | 'deletion';
  topic: string;
  partition: number;
  sequence: number;
  segment: string;
  firstOffset: number;
  lastOffset: number;
  recordCount: number;
  firstTimestamp: number;
  lastTimestamp: number;
  segmentSha256: string;
  /** Size of the segment file, so a truncation is named as such. */
  segmentBytes: number;
  merkleRoot: string;
  previousManifestSha256: string;
  sealedAt: number;
  deleted?: { sequence: number; segment: string; segmentSha256: string };
}

export const ZERO_HASH = '0'.repeat(64);
export const pad = (n: number, w: number) => String(n).padStart(w, '0');
export const segmentName = (seq: number, first: number, last: number) => `${pad(seq, 10)}.${pad(first, 20)}-${pad(last, 20)}.avro`;
export const manifestName = (seq: number) => `${pad(seq, 10)}.manifest.jws`;

export function canonical(r: ArchivedRecord): Buffer {
  return recordType.toBuffer(r);
}
