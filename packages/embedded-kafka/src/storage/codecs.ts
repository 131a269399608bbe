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
import { Decompress as ZstdStream } from 'fzstd';
import { decompress as lz4Decompress } from 'lz4js';
import { uncompress as snappyUncompress } from 'snappyjs';
import { BROKER_ERRORS } from '../audit-errors.js';

export const Codec = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
export const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export class CodecError extends Error {
  constructor(
    readonly codec: number,
    cause: unknown,
  ) {
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
    if (pos + 4 > body.length) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create('truncated xerial snappy block length');
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < 0 || pos + len > body.length) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create('truncated xerial snappy block');
    const block = Buffer.from(snappyUncompress(body.subarray(pos, pos + len), MAX_DECOMPRESSED_BYTES - total));
    total += block.length;
    parts.push(block);
    pos += len;
  }
  return Buffer.concat(parts);
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/**
 * LZ4 cannot expand a compressed block by more than 255x (each extra input byte of a match length
 * adds at most 255 output bytes); the constant covers the last literals and a block's token.
 */
const LZ4_MAX_RATIO = 256;
const LZ4_BLOCK_SLACK = 64;

/**
 * The most an LZ4 frame can decompress to, from its block headers (a declared content size is
 * checked too, but a frame can lie about it): throws when it passes the cap or the frame is not one.
 * A compressed block counts as the smaller of its frame's block maximum and what its compressed
 * size can expand to, so a 100-byte record does not cost a 4 MiB output buffer.
 */
export function lz4Bound(body: Buffer): number {
  if (body.length < 7 || body.readUInt32LE(0) !== LZ4_MAGIC) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create('invalid LZ4 frame: magic number');
  const flg = body[4]!;
  const blockMax = LZ4_BLOCK_MAX[(body[5]! >> 4) & 7] ?? 0;
  if ((flg & 0xc0) !== 0x40 || blockMax === 0) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create('invalid LZ4 frame descriptor');
  let pos = 6;
  if (flg & 0x08) {
    if (body.length < 15) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create('truncated LZ4 frame');
    if (body.readBigUInt64LE(6) > BigInt(MAX_DECOMPRESSED_BYTES))
      throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create(`more than ${MAX_DECOMPRESSED_BYTES} bytes`);
    pos += 8;
  }
  pos += 1; // header checksum
  let bound = 0;
  for (;;) {
    if (pos + 4 > body.length) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create('truncated LZ4 frame');
    const word = body.readUInt32LE(pos);
    pos += 4;
    if (word === 0) return bound;
    const size = word & 0x7fffffff;
    bound += word & 0x80000000 ? size : Math.min(blockMax, size * LZ4_MAX_RATIO + LZ4_BLOCK_SLACK);
    if (bound > MAX_DECOMPRESSED_BYTES) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create(`more than ${MAX_DECOMPRESSED_BYTES} bytes`);
    pos += size + (flg & 0x10 ? 4 : 0);
  }
}

/** zstd as a stream, stopped as soon as the output passes the cap (a frame may not declare its size). */
function zstd(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  const stream = new ZstdStream((chunk) => {
    total += chunk.length;
    if (total > MAX_DECOMPRESSED_BYTES) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create(`more than ${MAX_DECOMPRESSED_BYTES} bytes`);
    parts.push(Buffer.from(chunk)); // a copy: the chunk may be a view of the stream's window
  });
  stream.push(body, true);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
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
      case Codec.LZ4: {
        // the frame's declared content size, or its blocks times their maximum size: known before
        // anything is allocated, and the output buffer is never larger
        out = Buffer.from(lz4Decompress(body, lz4Bound(body)));
        break;
      }
      case Codec.ZSTD:
        out = zstd(body);
        break;
      default:
        throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create(`unknown compression type id ${codec}`);
    }
    if (out.length > MAX_DECOMPRESSED_BYTES) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CODEC.create(`more than ${MAX_DECOMPRESSED_BYTES} bytes`);
    return out;
  } catch (err) {
    throw new CodecError(codec, err);
  }
}
