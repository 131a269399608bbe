/**
 * Raw Kafka protocol for tests: the exact bytes a retrying, pipelining or hostile client sends,
 * which kafkajs never would. Request header v1 (client_id) unless `flexible` (header v2).
 */
import net from 'node:net';
import { Reader, Writer } from '../protocol/primitives.js';
import { crc32c } from '../storage/crc32c.js';

export function frame(apiKey: number, version: number, correlationId: number, body: Buffer, flexible = false): Buffer {
  const w = new Writer();
  w.int32(0).int16(apiKey).int16(version).int32(correlationId).nullableString('raw-test');
  if (flexible) w.uvarint(0);
  w.raw(body);
  const b = Buffer.from(w.toBuffer());
  b.writeInt32BE(b.length - 4, 0);
  return b;
}

/** Sends bytes; resolves with the first response frame's body (after the correlation id), or 'closed'. */
export function exchange(port: number, bytes: Buffer): Promise<Buffer | 'closed'> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        s.destroy();
        resolve(buf.subarray(8, 4 + buf.readInt32BE(0)));
      }
    });
    s.on('close', () => resolve('closed'));
    s.on('error', () => resolve('closed'));
  });
}

/** A connection that reads every response frame in order: { correlationId, body }. */
export class RawConnection {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private chunks: Buffer[] = [];
  private buffered = 0;
  readonly responses: { correlationId: number; body: Buffer }[] = [];
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d) => {
      // Chunks are joined once a whole frame is there (joining each chunk would be quadratic for big responses).
      this.chunks.push(d);
      this.buffered += d.length;
      for (;;) {
        if (this.buf.length < 4 && this.chunks.length > 0) this.join();
        if (this.buf.length < 4) break;
        const size = this.buf.readInt32BE(0);
        if (this.buf.length < 4 + size) {
          if (this.buffered + this.buf.length < 4 + size) break;
          this.join();
        }
        this.responses.push({ correlationId: this.buf.readInt32BE(4), body: Buffer.from(this.buf.subarray(8, 4 + size)) });
        this.buf = this.buf.subarray(4 + size);
      }
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<RawConnection> {
    const c = new RawConnection(port);
    await new Promise<void>((resolve, reject) => {
      c.socket.once('connect', resolve);
      c.socket.once('error', reject);
    });
    return c;
  }

  private join(): void {
    this.buf = Buffer.concat([this.buf, ...this.chunks]);
    this.chunks = [];
    this.buffered = 0;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `n` responses arrived (or the connection closed: then rejects). */
  async waitResponses(n: number): Promise<void> {
    while (this.responses.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.responses.length} of ${n} responses`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  async request(apiKey: number, version: number, body: Buffer, flexible = false): Promise<Buffer> {
    const id = 1_000_000 + this.responses.length;
    this.socket.write(frame(apiKey, version, id, body, flexible));
    await this.waitResponses(this.responses.length + 1);
    const r = this.responses[this.responses.length - 1]!;
    if (r.correlationId !== id) throw new Error(`response ${r.correlationId} for request ${id}`);
    return r.body;
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface TestRecord {
  key?: Buffer | null;
  value: Buffer | null;
  timestampDelta?: number;
  attributes?: number;
}

/** The records section of a batch v2 (uncompressed). */
export function encodeRecords(records: TestRecord[]): Buffer {
  const out = new Writer();
  records.forEach((rec, i) => {
    const r = new Writer();
    r.int8(rec.attributes ?? 0)
      .varlong(BigInt(rec.timestampDelta ?? 0))
      .varint(i);
    const key = rec.key ?? null;
    if (key === null) r.varint(-1);
    else r.varint(key.length).raw(key);
    if (rec.value === null) r.varint(-1);
    else r.varint(rec.value.length).raw(rec.value);
    r.varint(0);
    out.varint(r.length).raw(r.toBuffer());
  });
  return Buffer.from(out.toBuffer());
}

export interface BatchOptions {
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  attributes?: number;
  firstTimestamp?: number;
  /** The records section as sent (e.g. compressed, or garbage); default: encodeRecords(records). */
  body?: Buffer;
  recordCount?: number;
}

export function buildBatch(records: TestRecord[], o: BatchOptions = {}): Buffer {
  const body = o.body ?? encodeRecords(records);
  const first = o.firstTimestamp ?? Date.now();
  const maxDelta = records.reduce((m, r) => Math.max(m, r.timestampDelta ?? 0), 0);
  const w = new Writer();
  w.int64(0)
    .int32(0)
    .int32(0)
    .int8(2)
    .uint32(0)
    .int16(o.attributes ?? 0)
    .int32(Math.max(0, records.length - 1))
    .int64(first)
    .int64(first + maxDelta);
  w.int64(o.producerId ?? -1)
    .int16(o.producerEpoch ?? (o.producerId !== undefined && o.producerId >= 0 ? 0 : -1))
    .int32(o.baseSequence ?? -1)
    .int32(o.recordCount ?? records.length)
    .raw(body);
  const b = Buffer.from(w.toBuffer());
  b.writeInt32BE(b.length - 12, 8);
  b.writeUInt32BE(crc32c(b, 21), 17);
  return b;
}

export function recordBatch(producerId: number, baseSequence: number, values: string[]): Buffer {
  return buildBatch(
    values.map((v) => ({ value: Buffer.from(v) })),
    { producerId, baseSequence, producerEpoch: 0 },
  );
}

/** Produce v3 body: one topic, one partition (0 unless given), the record set as given. */
export function produceBody(topic: string, records: Buffer, opts: { acks?: number; transactionalId?: string | null; partition?: number } = {}): Buffer {
  const w = new Writer();
  w.nullableString(opts.transactionalId ?? null)
    .int16(opts.acks ?? -1)
    .int32(5000);
  w.array([topic], (x, t) => {
    x.string(t);
    x.array([opts.partition ?? 0], (y, p) => y.int32(p).bytes(records));
  });
  return Buffer.from(w.toBuffer());
}

export function readProduceResult(body: Buffer): { error: number; baseOffset: number } {
  // [topics: name, [partition, error, base_offset, log_append_time]], throttle
  let o = 4;
  const nameLen = body.readInt16BE(o);
  o += 2 + nameLen + 4 + 4;
  return { error: body.readInt16BE(o), baseOffset: Number(body.readBigInt64BE(o + 2)) };
}

/** Fetch v4 body from the given partitions. */
export function fetchBody(
  topic: string,
  parts: { partition: number; offset: number; maxBytes: number }[],
  o: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {},
): Buffer {
  const w = new Writer();
  w.int32(-1)
    .int32(o.maxWaitMs ?? 0)
    .int32(o.minBytes ?? 1)
    .int32(o.maxBytes ?? 0x7fffffff)
    .int8(0);
  w.array([topic], (x, t) => {
    x.string(t);
    x.array(parts, (y, p) => y.int32(p.partition).int64(p.offset).int32(p.maxBytes));
  });
  return Buffer.from(w.toBuffer());
}

/** Fetch v4 response: per partition the error, high watermark and the record bytes. */
export function readFetchResult(body: Buffer): { partition: number; error: number; highWatermark: number; records: Buffer }[] {
  const r = new Reader(body);
  r.int32();
  const out: { partition: number; error: number; highWatermark: number; records: Buffer }[] = [];
  r.array((x) => {
    x.string();
    x.array((y) => {
      const partition = y.int32();
      const error = y.int16();
      const highWatermark = y.int64n();
      y.int64();
      y.array((z) => [z.int64(), z.int64()]);
      out.push({ partition, error, highWatermark, records: Buffer.from(y.bytes()) });
    });
  });
  return out;
}

/** The codec ids (attributes bits 0-2) of the record batches stored in a partition, read back with Fetch v4. */
export async function storedCodecs(port: number, topic: string, partition = 0): Promise<number[]> {
  const c = await RawConnection.open(port);
  const [p] = readFetchResult(await c.request(1, 4, fetchBody(topic, [{ partition, offset: 0, maxBytes: 1 << 20 }])));
  c.close();
  const codecs: number[] = [];
  for (let pos = 0; pos + 23 <= p!.records.length; pos += 12 + p!.records.readInt32BE(pos + 8)) codecs.push(p!.records.readInt16BE(pos + 21) & 7);
  return codecs;
}
