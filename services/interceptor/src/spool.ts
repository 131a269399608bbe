import { mkdir, open, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * The disk spool: an append-only file of records waiting for Kafka, and a cursor file saying how
 * far they have been delivered.
 *
 *   events.spool  = record*
 *   record        = length:u32be  crc32:u32be  payload[length]      (crc32 of the payload)
 *   payload       = topicLen:u16be topic  keyLen:i32be key(-1 = null)  headersLen:u32be headersJson
 *                   valueLen:i32be value(-1 = null)
 *   cursor        = decimal byte offset of the first undelivered record (written to a temp file,
 *                   fsynced and renamed, so it is either the old or the new value)
 *
 * A crash can leave a torn last record; opening stops at the first record whose length runs past
 * the end or whose checksum fails, and truncates there. When every record is delivered the file
 * is truncated to zero and the cursor reset, so the file only grows while Kafka is away.
 */

export interface SpoolRecord {
  topic: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

interface Entry {
  record: SpoolRecord;
  /** offset just past this record */
  end: number;
}

const HEADER = 8;
const MAX_RECORD = 64 * 1024 * 1024;

export function encodeRecord(r: SpoolRecord): Buffer {
  const topic = Buffer.from(r.topic);
  const key = r.key === null ? null : Buffer.from(r.key);
  const headers = Buffer.from(JSON.stringify(r.headers));
  const payloadLen = 2 + topic.length + 4 + (key?.length ?? 0) + 4 + headers.length + 4 + (r.value?.length ?? 0);
  const buf = Buffer.allocUnsafe(HEADER + payloadLen);
  let o = HEADER;
  o = buf.writeUInt16BE(topic.length, o);
  o += topic.copy(buf, o);
  o = buf.writeInt32BE(key ? key.length : -1, o);
  if (key) o += key.copy(buf, o);
  o = buf.writeUInt32BE(headers.length, o);
  o += headers.copy(buf, o);
  o = buf.writeInt32BE(r.value ? r.value.length : -1, o);
  if (r.value) r.value.copy(buf, o);
  buf.writeUInt32BE(payloadLen, 0);
  buf.writeUInt32BE(crc32(buf.subarray(HEADER)), 4);
  return buf;
}

/** Decodes records from `buf` (starting at file offset `base`); stops at the first incomplete or corrupt record. */
export function decodeRecords(buf: Buffer, base: number, limit = Infinity): { entries: Entry[]; validBytes: number; corrupt: boolean } {
  const entries: Entry[] = [];
  let o = 0;
  while (o + HEADER <= buf.length && entries.length < limit) {
    const len = buf.readUInt32BE(o);
    if (len > MAX_RECORD) return { entries, validBytes: o, corrupt: true };
    if (o + HEADER + len > buf.length) return { entries, validBytes: o, corrupt: false };
    const payload = buf.subarray(o + HEADER, o + HEADER + len);
    if (crc32(payload) !== buf.readUInt32BE(o + 4)) return { entries, validBytes: o, corrupt: true };
    try {
      let p = 0;
      const tl = payload.readUInt16BE(p);
      p += 2;
      const topic = payload.subarray(p, p + tl).toString();
      p += tl;
      const kl = payload.readInt32BE(p);
      p += 4;
      const key = kl < 0 ? null : payload.subarray(p, p + kl).toString();
      p += Math.max(kl, 0);
      const hl = payload.readUInt32BE(p);
      p += 4;
      const headers = JSON.parse(payload.subarray(p, p + hl).toString()) as Record<string, string>;
      p += hl;
      const vl = payload.readInt32BE(p);
      p += 4;
      const value = vl < 0 ? null : Buffer.from(payload.subarray(p, p + vl));
      o += HEADER + len;
      entries.push({ record: { topic, key, value, headers }, end: base + o });
    } catch {
      return { entries, validBytes: o, corrupt: true };
    }
  }
  return { entries, validBytes: o, corrupt: false };
}

export interface SpoolStats {
  /** bytes not yet delivered */
  pendingBytes: number;
  pendingRecords: number;
}

export class Spool {
  private fh: FileHandle | undefined;
  private size = 0;
  private cursor = 0;
  private pendingRecords = 0;
  private readonly file: string;
  private readonly cursorFile: string;
  /** Bytes a torn or corrupt tail held when the spool was opened (reported once). */
  droppedTailBytes = 0;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly fsync: 'always' | 'never',
  ) {
    this.file = path.join(dir, 'events.spool');
    this.cursorFile = path.join(dir, 'cursor');
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.fh = await open(this.file, 'a+');
    this.size = (await this.fh.stat()).size;
    try {
      this.cursor = Math.min(Number((await readFile(this.cursorFile, 'utf8')).trim()) || 0, this.size);
    } catch {
      this.cursor = 0;
    }
    // validate what is pending; cut a torn / corrupt tail
    const pending = await this.readRange(this.cursor, this.size - this.cursor);
    const { entries, validBytes } = decodeRecords(pending, this.cursor);
    this.pendingRecords = entries.length;
    if (this.cursor + validBytes < this.size) {
      this.droppedTailBytes = this.size - (this.cursor + validBytes);
      await this.fh.truncate(this.cursor + validBytes);
      this.size = this.cursor + validBytes;
    }
    if (this.pendingRecords === 0 && this.size > 0) await this.reset();
  }

  stats(): SpoolStats {
    return { pendingBytes: this.size - this.cursor, pendingRecords: this.pendingRecords };
  }

  get pending(): boolean {
    return this.pendingRecords > 0;
  }

  /** Whether `bytes` more fit under the cap. */
  hasRoom(bytes = 0): boolean {
    return this.size - this.cursor + bytes <= this.maxBytes;
  }

  /** Appends records in order; returns how many fitted (the rest did not: the spool is full). */
  async append(records: SpoolRecord[]): Promise<number> {
    if (!this.fh) throw new Error('spool not open');
    const bufs: Buffer[] = [];
    let bytes = 0;
    for (const r of records) {
      const b = encodeRecord(r);
      if (!this.hasRoom(bytes + b.length)) break;
      bufs.push(b);
      bytes += b.length;
    }
    if (bufs.length === 0) return 0;
    const all = Buffer.concat(bufs, bytes);
    let written = 0;
    while (written < all.length) written += (await this.fh.write(all, written, all.length - written, this.size + written)).bytesWritten;
    if (this.fsync === 'always') await this.fh.datasync();
    this.size += bytes;
    this.pendingRecords += bufs.length;
    return bufs.length;
  }

  /** The next undelivered records, oldest first (at most `limit`). */
  async peek(limit: number, maxBytes = 4 * 1024 * 1024): Promise<Entry[]> {
    const len = Math.min(this.size - this.cursor, maxBytes);
    if (len <= 0) return [];
    let buf = await this.readRange(this.cursor, len);
    let { entries } = decodeRecords(buf, this.cursor, limit);
    if (entries.length === 0 && len < this.size - this.cursor) {
      // one record larger than maxBytes
      const first = buf.readUInt32BE(0);
      buf = await this.readRange(this.cursor, HEADER + first);
      entries = decodeRecords(buf, this.cursor, 1).entries;
    }
    return entries;
  }

  /** Marks records up to `end` (an Entry.end) delivered. */
  async ack(end: number, count: number): Promise<void> {
    this.cursor = end;
    this.pendingRecords = Math.max(0, this.pendingRecords - count);
    if (this.cursor >= this.size) await this.reset();
    else await this.writeCursor();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }

  private async reset(): Promise<void> {
    await this.fh!.truncate(0);
    if (this.fsync === 'always') await this.fh!.datasync();
    this.size = 0;
    this.cursor = 0;
    this.pendingRecords = 0;
    await this.writeCursor();
  }

  private async writeCursor(): Promise<void> {
    const tmp = `${this.cursorFile}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(String(this.cursor));
      if (this.fsync === 'always') await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.cursorFile);
  }

  private async readRange(offset: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(length);
    let read = 0;
    while (read < length) {
      const { bytesRead } = await this.fh!.read(buf, read, length - read, offset + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return buf.subarray(0, read);
  }
}

export async function spoolFileSize(dir: string): Promise<number> {
  try {
    return (await stat(path.join(dir, 'events.spool'))).size;
  } catch {
    return 0;
  }
}
