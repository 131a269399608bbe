/**
 * Kafka protocol primitive types (big-endian), as in the protocol guide:
 *   INT8/16/32/64, BOOLEAN (int8), STRING (int16 length + UTF-8), NULLABLE_STRING (-1 = null),
 *   BYTES / NULLABLE_BYTES (int32 length), ARRAY (int32 count, -1 = null), VARINT / VARLONG
 *   (zig-zag, used inside record batches only).
 * Flexible versions (KIP-482) add UNSIGNED_VARINT, COMPACT_STRING / COMPACT_NULLABLE_STRING /
 * COMPACT_BYTES (unsigned varint length + 1, 0 = null), COMPACT_ARRAY (unsigned varint count + 1,
 * 0 = null) and TAGGED_FIELDS (unsigned varint count, each tag uvarint, size uvarint, bytes).
 * Handlers read and write both encodings through the `flex`-taking helpers.
 */
import { KafkaProtocolError } from '../errors.js';

export class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new KafkaProtocolError(`truncated request: need ${n} bytes at ${this.offset} of ${this.buf.length}`);
  }
  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.offset++);
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  /** INT64 as a JS number; offsets and timestamps stay far below 2^53 in practice. */
  int64n(): number {
    return Number(this.int64());
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    this.need(len);
    const s = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return s;
  }
  string(): string {
    const s = this.nullableString();
    if (s === null) throw new KafkaProtocolError('null where a STRING is required');
    return s;
  }
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len < 0) return null;
    this.need(len);
    const b = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return b;
  }
  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }
  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n < 0) return null;
    // Each element takes at least one byte: a count beyond what is left is malformed, not a reason to allocate.
    if (n > this.buf.length - this.offset) throw new KafkaProtocolError(`array of ${n} elements in ${this.buf.length - this.offset} bytes`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  array<T>(item: (r: Reader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      this.need(1);
      const byte = this.buf[this.offset++]!;
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new KafkaProtocolError('varint too long');
    }
    return (result >>> 1) ^ -(result & 1);
  }
  varlong(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      this.need(1);
      const byte = BigInt(this.buf[this.offset++]!);
      result |= (byte & 0x7fn) << shift;
      if ((byte & 0x80n) === 0n) break;
      shift += 7n;
      if (shift > 63n) throw new KafkaProtocolError('varlong too long');
    }
    return (result >> 1n) ^ -(result & 1n);
  }
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      this.need(1);
      const byte = this.buf[this.offset++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new KafkaProtocolError('unsigned varint too long');
    }
    return result;
  }
  /** Length of a compact field: -1 for null. */
  private compactLength(): number {
    return this.uvarint() - 1;
  }
  compactNullableString(): string | null {
    const len = this.compactLength();
    if (len < 0) return null;
    this.need(len);
    const s = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return s;
  }
  compactNullableBytes(): Buffer | null {
    const len = this.compactLength();
    if (len < 0) return null;
    this.need(len);
    const b = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return b;
  }
  compactNullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.compactLength();
    if (n < 0) return null;
    if (n > this.buf.length - this.offset) throw new KafkaProtocolError(`array of ${n} elements in ${this.buf.length - this.offset} bytes`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  /** UUID (16 bytes) as 32 hex digits; the all-zero UUID is null. */
  uuid(): string | null {
    this.need(16);
    const hex = this.buf.toString('hex', this.offset, this.offset + 16);
    this.offset += 16;
    return /^0+$/.test(hex) ? null : hex;
  }
  /** Tagged fields this broker does not interpret are skipped, as KIP-482 allows. */
  skipTaggedFields(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      const size = this.uvarint();
      this.need(size);
      this.offset += size;
    }
  }
  // Version-dependent encodings: `flex` picks the compact form.
  str(flex: boolean): string {
    const s = flex ? this.compactNullableString() : this.nullableString();
    if (s === null) throw new KafkaProtocolError('null where a STRING is required');
    return s;
  }
  nstr(flex: boolean): string | null {
    return flex ? this.compactNullableString() : this.nullableString();
  }
  byts(flex: boolean): Buffer {
    return (flex ? this.compactNullableBytes() : this.nullableBytes()) ?? Buffer.alloc(0);
  }
  nbyts(flex: boolean): Buffer | null {
    return flex ? this.compactNullableBytes() : this.nullableBytes();
  }
  arr<T>(flex: boolean, item: (r: Reader) => T): T[] {
    return (flex ? this.compactNullableArray(item) : this.nullableArray(item)) ?? [];
  }
  narr<T>(flex: boolean, item: (r: Reader) => T): T[] | null {
    return flex ? this.compactNullableArray(item) : this.nullableArray(item);
  }
  /** End of a flexible struct: its tagged fields. */
  tags(flex: boolean): void {
    if (flex) this.skipTaggedFields();
  }
  remaining(): number {
    return this.buf.length - this.offset;
  }
}

/** Grows as needed; `toBuffer()` returns the bytes written. */
export class Writer {
  private buf: Buffer;
  private pos = 0;
  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  int8(v: number): this {
    this.room(1);
    this.buf.writeInt8(v, this.pos++);
    return this;
  }
  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }
  int16(v: number): this {
    this.room(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }
  int32(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }
  uint32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }
  int64(v: number | bigint): this {
    this.room(8);
    this.buf.writeBigInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }
  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const len = Buffer.byteLength(s);
    this.int16(len);
    this.room(len);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += len;
    return this;
  }
  string(s: string): this {
    return this.nullableString(s);
  }
  nullableBytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    return this.raw(b);
  }
  bytes(b: Buffer): this {
    return this.nullableBytes(b);
  }
  raw(b: Buffer): this {
    this.room(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }
  array<T>(items: readonly T[] | null, write: (w: Writer, item: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const it of items) write(this, it);
    return this;
  }
  varint(v: number): this {
    let z = ((v << 1) ^ (v >> 31)) >>> 0;
    while (z >= 0x80) {
      this.int8u((z & 0x7f) | 0x80);
      z >>>= 7;
    }
    return this.int8u(z);
  }
  varlong(v: bigint): this {
    let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    while (z >= 0x80n) {
      this.int8u(Number((z & 0x7fn) | 0x80n));
      z >>= 7n;
    }
    return this.int8u(Number(z));
  }
  uvarint(v: number): this {
    let z = v;
    while (z >= 0x80) {
      this.int8u((z & 0x7f) | 0x80);
      z = Math.floor(z / 128);
    }
    return this.int8u(z);
  }
  str(flex: boolean, s: string | null): this {
    if (!flex) return this.nullableString(s);
    if (s === null) return this.uvarint(0);
    const len = Buffer.byteLength(s);
    this.uvarint(len + 1);
    this.room(len);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += len;
    return this;
  }
  byts(flex: boolean, b: Buffer | null): this {
    if (!flex) return this.nullableBytes(b);
    if (b === null) return this.uvarint(0);
    this.uvarint(b.length + 1);
    return this.raw(b);
  }
  arr<T>(flex: boolean, items: readonly T[] | null, write: (w: Writer, item: T) => void): this {
    if (!flex) return this.array(items, write);
    if (items === null) return this.uvarint(0);
    this.uvarint(items.length + 1);
    for (const it of items) write(this, it);
    return this;
  }
  uuid(hex: string | null): this {
    return this.raw(hex ? Buffer.from(hex, 'hex') : Buffer.alloc(16));
  }
  /** End of a flexible struct: no tagged fields. */
  tags(flex: boolean): this {
    return flex ? this.uvarint(0) : this;
  }
  private int8u(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v;
    return this;
  }
  get length(): number {
    return this.pos;
  }
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
