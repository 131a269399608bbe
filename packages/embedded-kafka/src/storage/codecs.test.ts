import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { compress as lz4Compress } from 'lz4js';
import { Codec, CodecError, decompress, lz4Bound, MAX_DECOMPRESSED_BYTES } from './codecs.js';

const testdata = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url));

/**
 * An LZ4 frame of `blocks` copies of one 4 MiB block of zeros (65 of them: 260 MiB from ~1 MiB),
 * or with a content size declared in its header: built by hand, as an attacker would.
 */
function lz4Bomb(blocks: number, declaredSize?: bigint): Buffer {
  const one = Buffer.from(lz4Compress(Buffer.alloc(4 << 20)));
  // lz4js writes: magic (4), FLG, BD, header checksum, then blocks, an end mark (and no content checksum)
  const header = one.subarray(0, 7);
  const blockLen = one.readUInt32LE(7) & 0x7fffffff;
  const block = one.subarray(7, 11 + blockLen);
  if (declaredSize !== undefined) {
    const h = Buffer.alloc(15);
    header.copy(h, 0, 0, 6);
    h[4] = h[4]! | 0x08; // FLG: content size present
    h.writeBigUInt64LE(declaredSize, 6);
    return Buffer.concat([h, block, Buffer.alloc(4)]);
  }
  return Buffer.concat([header, ...Array.from({ length: blocks }, () => block), Buffer.alloc(4)]);
}

test('decompression bombs: a batch body whose output would pass the cap is refused as a codec error, for zstd (with and without a declared size) and lz4 (declared or by blocks)', () => {
  const bombs: Array<[string, number, Buffer]> = [
    ['zstd, content size declared', Codec.ZSTD, testdata('zeros-300m-content-size.zst')],
    ['zstd, streamed (no size)', Codec.ZSTD, testdata('zeros-300m-streamed.zst')],
    ['lz4, 65 blocks of 4 MiB', Codec.LZ4, lz4Bomb(65)],
    ['lz4, 2^40 bytes declared', Codec.LZ4, lz4Bomb(1, 1n << 40n)],
    ['lz4, 2^63 bytes declared', Codec.LZ4, lz4Bomb(1, 1n << 63n)],
    ['gzip', Codec.GZIP, gzipSync(Buffer.alloc(MAX_DECOMPRESSED_BYTES + 1), { level: 9 })],
  ];
  for (const [what, codec, body] of bombs) {
    assert.ok(body.length < 2 << 20, `${what}: a small body (${body.length} bytes)`);
    assert.throws(
      () => decompress(codec, body),
      (err: unknown) =>
        err instanceof CodecError &&
        (err.message.includes(`more than ${MAX_DECOMPRESSED_BYTES} bytes`) || err.message.includes(`larger than ${MAX_DECOMPRESSED_BYTES} bytes`)),
      what,
    );
  }
});

test('an lz4 frame of a small record is bounded by what its compressed blocks can expand to, not by the 4 MiB block maximum', () => {
  for (const size of [1, 100, 1_000, 10_000]) {
    const frame = Buffer.from(lz4Compress(Buffer.from('x'.repeat(size))));
    const bound = lz4Bound(frame);
    assert.ok(bound >= size && bound < 300 * frame.length, `${size} bytes in a ${frame.length}-byte frame: bound ${bound}`);
  }
});

test('decompression under the cap gives the bytes back, for every codec, on generated inputs', () => {
  let seed = 3;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 40; i++) {
    const data = Buffer.from(Array.from({ length: Math.floor(rand() * 200_000) }, () => (rand() < 0.7 ? 97 : Math.floor(rand() * 256))));
    assert.deepEqual(decompress(Codec.GZIP, gzipSync(data)), data);
    assert.deepEqual(decompress(Codec.LZ4, Buffer.from(lz4Compress(data))), data);
  }
  // the most compressible inputs (one repeated byte, up to a whole 4 MiB block) reach LZ4's
  // greatest expansion per compressed byte: the output bound from compressed sizes still holds
  for (const size of [1, 15, 300, 65_536, 1 << 20, (4 << 20) - 1, 4 << 20]) {
    const data = Buffer.alloc(size, 7);
    assert.deepEqual(decompress(Codec.LZ4, Buffer.from(lz4Compress(data))), data, `${size} equal bytes`);
  }
  // zstd has no compressor in node 20: kcat produces zstd batches in the conformance tests
});
