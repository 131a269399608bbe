import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrameReader, FrameSizeError } from './frame-reader.js';

// Kafka's NetworkReceive: read the INT32 size, allocate exactly that, fill it in place.

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function encode(frames: Buffer[]): Buffer {
  return Buffer.concat(
    frames.flatMap((f) => {
      const h = Buffer.alloc(4);
      h.writeInt32BE(f.length);
      return [h, f];
    }),
  );
}

test('frames split at every kind of boundary come out whole, each in one buffer of its declared size', () => {
  for (let round = 0; round < 400; round++) {
    const rnd = seeded(round + 1);
    const frames = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => randomBytes(8 + Math.floor(rnd() * (rnd() < 0.2 ? 70_000 : 300))));
    const wire = encode(frames);
    const reader = new FrameReader(1 << 20);
    const got: Buffer[] = [];
    let allocations = 0;
    let pos = 0;
    while (pos < wire.length) {
      // chunk sizes from 1 byte (size prefix split across chunks) to several frames at once
      const size = rnd() < 0.3 ? 1 + Math.floor(rnd() * 5) : 1 + Math.floor(rnd() * 100_000);
      const chunk = wire.subarray(pos, Math.min(wire.length, pos + size));
      pos += chunk.length;
      let off = 0;
      while (off < chunk.length || reader.needsBuffer) {
        if (reader.needsBuffer) {
          reader.allocate();
          allocations++;
          continue;
        }
        off += reader.feed(chunk, off);
        if (reader.complete) got.push(reader.take());
      }
    }
    assert.equal(got.length, frames.length, `round ${round}`);
    assert.equal(allocations, frames.length, 'one allocation per frame');
    got.forEach((g, i) => assert.ok(g.equals(frames[i]!), `round ${round} frame ${i}`));
  }
});

test('the size is checked against socket.request.max.bytes before anything is allocated', () => {
  const max = 1000;
  for (const size of [-1, -(2 ** 31), 0, 7, 1001, 2 ** 31 - 1]) {
    const reader = new FrameReader(max);
    const h = Buffer.alloc(4);
    h.writeInt32BE(size);
    assert.throws(
      () => reader.feed(h, 0),
      (e: unknown) => e instanceof FrameSizeError && e.size === size,
      `size ${size}`,
    );
    assert.equal(reader.needsBuffer, false);
  }
  for (const size of [8, 1000]) {
    const reader = new FrameReader(max);
    const h = Buffer.alloc(4);
    h.writeInt32BE(size);
    assert.equal(reader.feed(h, 0), 4);
    assert.equal(reader.needsBuffer, true, `size ${size} accepted`);
  }
});
