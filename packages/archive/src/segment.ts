import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import avro from 'avsc';
import { canonical, recordType, type ArchivedRecord } from './format.js';
import { leafHash, merkleRoot } from './merkle.js';

/** Encodes records as an Avro object container file (deflate blocks). */
export async function encodeSegment(records: ArchivedRecord[]): Promise<Buffer> {
  const enc = new avro.streams.BlockEncoder(recordType, { codec: 'deflate', syncMarker: createHash('sha256').update(String(records[0]?.offset ?? 0)).digest().subarray(0, 16) });
  const chunks: Buffer[] = [];
  enc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    enc.on('end', () => resolve());
    enc.on('error', reject);
  });
  for (const r of records) enc.write(r);
  enc.end();
  await done;
  return Buffer.concat(chunks);
}

/** Decodes a container file; throws when it is not a readable Avro container of ArchivedRecord. */
export async function decodeSegment(bytes: Buffer): Promise<ArchivedRecord[]> {
  const dec = new avro.streams.BlockDecoder({ readerSchema: recordType } as never);
  const out: ArchivedRecord[] = [];
  await new Promise<void>((resolve, reject) => {
    dec.on('data', (r: ArchivedRecord) => out.push(r));
    dec.on('end', () => resolve());
    dec.on('error', reject);
    Readable.from([bytes]).on('error', reject).pipe(dec);
  });
  return out;
}

/**
 * The records of a container as their encoded bytes (the canonical encoding, as written), without
 * decoding them: what verification hashes. Much cheaper than decode + re-encode.
 */
export async function rawSegmentRecords(bytes: Buffer): Promise<Buffer[]> {
  const dec = new avro.streams.BlockDecoder({ noDecode: true } as never);
  const out: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    dec.on('data', (r: Buffer) => out.push(r));
    dec.on('end', () => resolve());
    dec.on('error', reject);
    Readable.from([bytes]).on('error', reject).pipe(dec);
  });
  return out;
}

/** The Kafka offset of an encoded ArchivedRecord: its first field, a zig-zag varint long. */
export function rawOffset(raw: Buffer): number {
  let n = 0;
  let shift = 1;
  for (let i = 0; i < 10; i++) {
    const b = raw[i]!;
    n += (b & 0x7f) * shift;
    if ((b & 0x80) === 0) break;
    shift *= 128;
  }
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

export function segmentDigest(records: ArchivedRecord[]): { leaves: Buffer[]; root: string } {
  const leaves = records.map((r) => leafHash(canonical(r)));
  return { leaves, root: merkleRoot(leaves).toString('hex') };
}

export const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
