/**
 * The record batch codecs (attributes bits 0-2): 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd; 5-7 are
 * unknown (Kafka's CompressionType.forId throws). The broker decompresses a produced batch to
 * validate its records, as Kafka's LogValidator does, and to compact it; it never recompresses
 * what it serves (batches are stored as produced).
 *   gzip:   RFC 1952 (node:zlib)
 *   snappy: the xerial framing Java clients write ("\x82SNAPPY\0", version, compatible version,
 *           then blocks of INT32 length + raw snappy), or one raw snappy block (what some clients send)
 *   lz4:    the LZ4 frame format (Kafka's KafkaLZ4BlockInputStream)
 *   zstd:   a zstd frame
 * Pure-JS decoders (snappyjs, lz4js, fzstd) so the broker installs without native builds.
 */
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { decompress as lz4Decompress } from 'lz4js';
import { uncompress as snappyUncompress } from 'snappyjs';

export const Codec = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
export const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export class CodecError extends Error {
  constructor(readonly codec: number, cause: unknown) {
    super(`failed to decompress the ${CODEC_NAMES[codec] ?? `codec ${codec}`} record stream: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'CodecError';
  }
}

/** Decompressed output larger than this is refused: a 1 MiB batch cannot make the broker allocate gigabytes. */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

function snappy(body: Buffer): Buffer {
  if (body.length < 16 || !body.subarray(0, 8).equals(XERIAL_MAGIC)) return Buffer.from(snappyUncompress(body, MAX_DECOMPRESSED_BYTES));
  const parts: Buffer[] = [];
  let total = 0;
  for (let pos = 16; pos < body.length; ) {
    if (pos + 4 > body.length) throw new Error('truncated xerial snappy block length');
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < 0 || pos + len > body.length) throw new Error('truncated xerial snappy block');
    const block = Buffer.from(snappyUncompress(body.subarray(pos, pos + len), MAX_DECOMPRESSED_BYTES - total));
    total += block.length;
    parts.push(block);
    pos += len;
  }
  return Buffer.concat(parts);
}

/** The uncompressed records section of a batch body; throws CodecError when it does not decode. */
export function decompress(codec: number, body: Buffer): Buffer {
  try {
    let out: Buffer;
    switch (codec) {
      case Codec.NONE:
        return body;
      case Codec.GZIP:
        return gunzipSync(body, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
      case Codec.SNAPPY:
        return snappy(body);
      case Codec.LZ4:
        out = Buffer.from(lz4Decompress(body));
        break;
      case Codec.ZSTD:
        out = Buffer.from(zstdDecompress(body));
        break;
      default:
        throw new Error(`unknown compression type id ${codec}`);
    }
    if (out.length > MAX_DECOMPRESSED_BYTES) throw new Error(`more than ${MAX_DECOMPRESSED_BYTES} bytes`);
    return out;
  } catch (err) {
    throw new CodecError(codec, err);
  }
}
