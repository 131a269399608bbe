import { constants } from 'node:fs';
import { mkdir, open, readFile, statfs, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { INTERCEPTOR_ERRORS } from './errors.js';

/**
 * The disk spool: an append-only file of records waiting for Kafka, and a cursor file saying how
 * far they have been delivered.
 *
 *   events.spool  = header record*
 *   header        = magic:u32be 'ASP2'  generation:u32be  crc32(magic, generation):u32be  reserved:u32be
 *   record        = length:u32be  crc32:u32be  payload[length]      (crc32 of the payload)
 *   payload       = topicLen:u16be topic  keyLen:i32be key(-1 = null)  headersLen:u32be headersJson
 *                   valueLen:i32be value(-1 = null)
 *
 *   events.cursor = slot slot   (two 32-byte slots, written alternately, in place)
 *   slot          = magic:u32be 'ASC1'  seq:u64be  generation:u32be  offset:u64be  crc32(previous 24 bytes):u32be  0:u32
 *
 * - Appends are whole records: a write (or its fsync) that fails is cut back to the last good
 *   length, so a failure never leaves a torn record behind while running. A crash can still leave
 *   one: opening stops at the first record whose length runs past the end or whose checksum
 *   fails, truncates there and reports the bytes cut (`droppedTailBytes`).
 * - The cursor is the byte offset of the first undelivered record. The valid slot with the highest
 *   sequence wins; a torn slot write leaves the other one intact. The slots are allocated when the
 *   file is created and then overwritten in place, so a cursor write needs no new disk space (a
 *   temp file + rename does, and fails on a full disk). It is written after every acknowledged
 *   batch, so a restart re-sends at most the batch in flight.
 * - When every record is delivered the file is truncated and starts a new generation (a new header),
 *   so the file only grows while Kafka is away. A cursor of another generation is ignored (the
 *   whole file is re-sent: duplicates, never a skip), so a cursor write that failed after a
 *   truncation cannot point into records written since.
 * - A spool written before the header existed (records from offset 0, a decimal `cursor` file) is
 *   read as it is and replaced by the new format once drained.
 * - Room: what is pending stays under `maxBytes`, and the filesystem keeps `minFreeBytes` free
 *   (statfs, read at most every `freeCheckMs` or every quarter of the reserve written, so it costs
 *   nothing per request). For `freeCheckMs` after a failed write the spool counts as having no room.
 */

export interface SpoolRecord {
  topic: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface Entry {
  record: SpoolRecord;
  /** offset just past this record */
  end: number;
}

export type SpoolFile = 'events' | 'cursor';

/** The file operations the spool performs: injectable, so tests can fail them (ENOSPC, EIO, short writes). */
export interface SpoolFs {
  write(file: SpoolFile, fh: FileHandle, buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  datasync(file: SpoolFile, fh: FileHandle): Promise<void>;
  truncate(file: SpoolFile, fh: FileHandle, length: number): Promise<void>;
  /** Bytes an unprivileged writer can still use on the filesystem holding `dir`. */
  freeBytes(dir: string): Promise<number>;
}

export const realSpoolFs: SpoolFs = {
  write: async (_file, fh, buf, offset, length, position) => (await fh.write(buf, offset, length, position)).bytesWritten,
  datasync: (_file, fh) => fh.datasync(),
  truncate: (_file, fh, length) => fh.truncate(length),
  freeBytes: async (dir) => {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  },
};

export interface SpoolOptions {
  /** Bytes to leave free on the spool's filesystem; below that the spool takes nothing more. Default 0. */
  minFreeBytes?: number;
  /** How often the free space is read (ms). Default 1000. */
  freeCheckMs?: number;
  fs?: SpoolFs;
}

export interface AppendResult {
  /** records written (the first ones, in order) */
  appended: number;
  /** records refused for want of room (maxBytes or free space) */
  full: number;
  /** records a failed write dropped (nothing of them is left in the file) */
  failed: number;
  error?: unknown;
}

export interface PeekResult {
  entries: Entry[];
  /** The undelivered part was unreadable (corrupt after it was written) and was cut: what it held. */
  cut?: { records: number; bytes: number };
}

export interface SpoolStats {
  /** bytes not yet delivered */
  pendingBytes: number;
  pendingRecords: number;
}

const HEADER = 8;
const MAX_RECORD = 64 * 1024 * 1024;
const FILE_MAGIC = 0x41535032; // 'ASP2'
export const FILE_HEADER = 16;
const SLOT_MAGIC = 0x41534331; // 'ASC1'
const SLOT = 32;
const CHUNK = 1024 * 1024;

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
      if (vl > payload.length - p) throw new RangeError('value runs past the record');
      const value = vl < 0 ? null : Buffer.from(payload.subarray(p, p + vl));
      o += HEADER + len;
      entries.push({ record: { topic, key, value, headers }, end: base + o });
    } catch {
      return { entries, validBytes: o, corrupt: true };
    }
  }
  return { entries, validBytes: o, corrupt: false };
}

export function encodeFileHeader(generation: number): Buffer {
  const b = Buffer.alloc(FILE_HEADER);
  b.writeUInt32BE(FILE_MAGIC, 0);
  b.writeUInt32BE(generation >>> 0, 4);
  b.writeUInt32BE(crc32(b.subarray(0, 8)), 8);
  return b;
}

function decodeFileHeader(b: Buffer): number | undefined {
  if (b.length < FILE_HEADER || b.readUInt32BE(0) !== FILE_MAGIC || crc32(b.subarray(0, 8)) !== b.readUInt32BE(8)) return undefined;
  return b.readUInt32BE(4);
}

interface Slot {
  seq: bigint;
  generation: number;
  offset: number;
}

export function encodeSlot(s: Slot): Buffer {
  const b = Buffer.alloc(SLOT);
  b.writeUInt32BE(SLOT_MAGIC, 0);
  b.writeBigUInt64BE(s.seq, 4);
  b.writeUInt32BE(s.generation >>> 0, 12);
  b.writeBigUInt64BE(BigInt(s.offset), 16);
  b.writeUInt32BE(crc32(b.subarray(0, 24)), 24);
  return b;
}

function decodeSlot(b: Buffer): Slot | undefined {
  if (b.length < SLOT || b.readUInt32BE(0) !== SLOT_MAGIC || crc32(b.subarray(0, 24)) !== b.readUInt32BE(24)) return undefined;
  return { seq: b.readBigUInt64BE(4), generation: b.readUInt32BE(12), offset: Number(b.readBigUInt64BE(16)) };
}

const OPEN_FLAGS = constants.O_RDWR | constants.O_CREAT;

export class Spool {
  private fh: FileHandle | undefined;
  private cfh: FileHandle | undefined;
  private readonly fs: SpoolFs;
  private readonly minFreeBytes: number;
  private readonly freeCheckMs: number;
  private readonly freeCheckBytes: number;
  /** logical end of the file (the header counted even while it waits to be written) */
  private size = FILE_HEADER;
  /** where records start: FILE_HEADER, or 0 in a spool of the old format */
  private start = FILE_HEADER;
  private generation = 1;
  private headerMissing = true;
  /** a failed write could not be cut back: cut it before the next one */
  private tailDirty = false;
  private cursor = FILE_HEADER;
  private pendingRecords = 0;
  private seq = 0n;
  private disk: { generation: number; offset: number } | undefined;
  private cursorAllocated = false;
  private legacyCursorFile = false;
  private free = Number.POSITIVE_INFINITY;
  private freeAt = 0;
  private spentSinceCheck = 0;
  private checking: Promise<void> | undefined;
  private noRoomUntil = 0;
  private readonly file: string;
  private readonly cursorFile: string;
  private readonly legacyCursor: string;
  /** Bytes a torn or corrupt tail held when the spool was opened (reported once). */
  droppedTailBytes = 0;
  /** The cursor found at open did not fall on a record boundary (or was of another generation): records re-sent. */
  cursorRewound = false;
  /** The last failed write or statfs. */
  lastError: unknown;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly fsync: 'always' | 'never',
    options: SpoolOptions = {},
  ) {
    this.file = path.join(dir, 'events.spool');
    this.cursorFile = path.join(dir, 'events.cursor');
    this.legacyCursor = path.join(dir, 'cursor');
    this.fs = options.fs ?? realSpoolFs;
    this.minFreeBytes = options.minFreeBytes ?? 0;
    this.freeCheckMs = options.freeCheckMs ?? 1_000;
    this.freeCheckBytes = Math.max(256 * 1024, Math.floor(this.minFreeBytes / 4));
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.fh = await open(this.file, OPEN_FLAGS, 0o600);
    this.cfh = await open(this.cursorFile, OPEN_FLAGS, 0o600);
    await this.checkFree();
    const slot = await this.readSlots();
    const physical = (await this.fh.stat()).size;
    const head = await this.readRange(0, Math.min(FILE_HEADER, physical));
    const gen = decodeFileHeader(head);
    let cursor: number;
    if (gen !== undefined) {
      this.generation = gen;
      this.start = FILE_HEADER;
      this.headerMissing = false;
      this.size = physical;
      cursor = slot && slot.generation === gen ? slot.offset : FILE_HEADER;
      if (slot && slot.generation !== gen) this.cursorRewound = true;
    } else if (physical >= HEADER && head.readUInt32BE(0) <= MAX_RECORD) {
      // the format before the header: records from 0, a decimal cursor
      this.generation = 0;
      this.start = 0;
      this.headerMissing = false;
      this.size = physical;
      // a slot of generation 0 (new generations start at 1) was written by this code for this file
      cursor = slot && slot.generation === 0 ? slot.offset : await this.readLegacyCursor();
      this.legacyCursorFile = true;
    } else {
      // empty, or a header torn by a crash while it was written
      if (physical > 0) {
        this.droppedTailBytes = physical;
        await this.fs.truncate('events', this.fh, 0);
      }
      this.generation = ((slot?.generation ?? 0) + 1) >>> 0 || 1;
      this.start = FILE_HEADER;
      this.headerMissing = true;
      this.size = FILE_HEADER;
      cursor = FILE_HEADER;
    }
    if (!this.headerMissing) {
      const { validEnd, boundary, records } = await this.scan(Math.max(this.start, Math.min(cursor, this.size)));
      if (boundary !== cursor && cursor !== this.start) this.cursorRewound = true;
      this.cursor = boundary;
      this.pendingRecords = records;
      if (validEnd < this.size) {
        this.droppedTailBytes = this.size - validEnd;
        await this.fs.truncate('events', this.fh, validEnd);
        if (this.fsync === 'always') await this.fs.datasync('events', this.fh);
        this.size = validEnd;
      }
    } else {
      this.cursor = FILE_HEADER;
      this.pendingRecords = 0;
    }
    if (this.pendingRecords === 0 && (this.size > this.start || this.start === 0)) await this.reset();
    else if (this.cursorDirty) await this.flushCursor().catch((err: unknown) => (this.lastError = err));
  }

  stats(): SpoolStats {
    return { pendingBytes: this.size - this.cursor, pendingRecords: this.pendingRecords };
  }

  get pending(): boolean {
    return this.pendingRecords > 0;
  }

  /** The cursor on disk is behind the one in memory (a cursor write failed): a restart would re-send records. */
  get cursorDirty(): boolean {
    return this.disk === undefined || this.disk.generation !== this.generation || this.disk.offset !== this.cursor;
  }

  /** Bytes the filesystem has left for the spool, as last measured less what was written since (0 just after a failed write). */
  freeBytes(): number {
    const now = Date.now();
    if (!this.checking && (now - this.freeAt >= this.freeCheckMs || this.spentSinceCheck >= this.freeCheckBytes)) void this.checkFree();
    if (now < this.noRoomUntil) return 0;
    return this.free - this.spentSinceCheck;
  }

  /** Whether `bytes` more fit: under maxBytes, and leaving minFreeBytes free on the filesystem. */
  hasRoom(bytes = 0): boolean {
    if (this.size - this.cursor + bytes > this.maxBytes) return false;
    if (Date.now() < this.noRoomUntil) return false;
    return this.freeBytes() - bytes >= this.minFreeBytes;
  }

  /** Appends whole records in order: those that fit are written, or (on a failed write) none of them. */
  async append(records: SpoolRecord[]): Promise<AppendResult> {
    if (!this.fh) throw INTERCEPTOR_ERRORS.AUDIT_ERR_SPOOL_CLOSED.create();
    const goodEnd = this.headerMissing ? 0 : this.size;
    if (this.tailDirty) {
      try {
        await this.fs.truncate('events', this.fh, goodEnd);
        this.tailDirty = false;
      } catch (err) {
        this.noteFailure(err);
        return { appended: 0, full: 0, failed: records.length, error: err };
      }
    }
    const bufs: Buffer[] = [];
    let bytes = 0;
    for (const r of records) {
      const b = encodeRecord(r);
      if (!this.hasRoom(bytes + b.length)) break;
      bufs.push(b);
      bytes += b.length;
    }
    const full = records.length - bufs.length;
    if (bufs.length === 0) return { appended: 0, full, failed: 0 };
    if (this.headerMissing) bufs.unshift(encodeFileHeader(this.generation));
    const all = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
    let written = 0;
    try {
      while (written < all.length) {
        const n = await this.fs.write('events', this.fh, all, written, all.length - written, goodEnd + written);
        if (n <= 0) throw Object.assign(new Error('spool write wrote nothing'), { code: 'EIO' });
        written += n;
      }
      if (this.fsync === 'always') await this.fs.datasync('events', this.fh);
    } catch (err) {
      this.noteFailure(err);
      // whole records only: cut what this write left back to the last good length
      try {
        await this.fs.truncate('events', this.fh, goodEnd);
      } catch {
        this.tailDirty = true;
      }
      return { appended: 0, full, failed: records.length - full, error: err };
    }
    this.headerMissing = false;
    this.size = goodEnd + all.length;
    this.spentSinceCheck += all.length;
    this.pendingRecords += records.length - full;
    return { appended: records.length - full, full, failed: 0 };
  }

  /** The next undelivered records, oldest first (at most `limit`). Unreadable ones are cut and reported. */
  async peek(limit: number, maxBytes = 4 * 1024 * 1024): Promise<PeekResult> {
    const len = Math.min(this.size - this.cursor, maxBytes);
    if (len <= 0 || this.pendingRecords === 0) return { entries: [] };
    let buf = await this.readRange(this.cursor, len);
    let r = decodeRecords(buf, this.cursor, limit);
    if (r.entries.length === 0 && !r.corrupt && buf.length >= HEADER) {
      // one record larger than maxBytes
      const first = buf.readUInt32BE(0);
      if (first <= MAX_RECORD && this.cursor + HEADER + first <= this.size) {
        buf = await this.readRange(this.cursor, HEADER + first);
        r = decodeRecords(buf, this.cursor, 1);
      }
    }
    if (r.entries.length > 0) return { entries: r.entries };
    // nothing readable where records should be (a disk error changed them after they were written)
    const cut = { records: this.pendingRecords, bytes: this.size - this.cursor };
    this.size = this.cursor;
    this.pendingRecords = 0;
    this.tailDirty = true; // until reset() truncates the file
    await this.reset();
    return { entries: [], cut };
  }

  /**
   * Marks records up to `end` (an Entry.end) delivered. The new cursor holds in memory at once; if
   * writing it to disk fails this throws, and `flushCursor()` retries it.
   */
  async ack(end: number, count: number): Promise<void> {
    this.cursor = end;
    this.pendingRecords = Math.max(0, this.pendingRecords - count);
    if (this.pendingRecords === 0 && this.cursor >= this.size) await this.reset();
    else await this.flushCursor();
  }

  /** Writes the cursor to the slot not holding the newest one (and fsyncs it). */
  async flushCursor(): Promise<void> {
    const cfh = this.cfh;
    if (!cfh) throw INTERCEPTOR_ERRORS.AUDIT_ERR_SPOOL_CLOSED.create();
    if (!this.cursorAllocated) {
      // both slots get their blocks now, once: later cursor writes overwrite them in place
      const zero = Buffer.alloc(2 * SLOT);
      let w = 0;
      while (w < zero.length) {
        const n = await this.fs.write('cursor', cfh, zero, w, zero.length - w, w);
        if (n <= 0) throw Object.assign(new Error('cursor write wrote nothing'), { code: 'EIO' });
        w += n;
      }
      this.cursorAllocated = true;
      this.seq = 0n;
    }
    const target = { generation: this.generation, offset: this.cursor };
    const seq = this.seq + 1n;
    const buf = encodeSlot({ seq, ...target });
    const at = Number(seq % 2n) * SLOT;
    let w = 0;
    while (w < SLOT) {
      const n = await this.fs.write('cursor', cfh, buf, w, SLOT - w, at + w);
      if (n <= 0) throw Object.assign(new Error('cursor write wrote nothing'), { code: 'EIO' });
      w += n;
    }
    if (this.fsync === 'always') await this.fs.datasync('cursor', cfh);
    this.seq = seq;
    this.disk = target;
    if (this.legacyCursorFile && this.start !== 0) {
      this.legacyCursorFile = false;
      await unlink(this.legacyCursor).catch(() => {});
    }
  }

  async close(): Promise<void> {
    await this.fh?.close();
    await this.cfh?.close();
    this.fh = undefined;
    this.cfh = undefined;
  }

  /** Everything is delivered: a new, empty generation. */
  private async reset(): Promise<void> {
    try {
      await this.fs.truncate('events', this.fh!, 0);
    } catch (err) {
      // keep the file as it is, everything in it delivered; a later reset cuts it
      this.lastError = err;
      await this.flushCursor();
      return;
    }
    this.generation = (this.generation + 1) >>> 0 || 1;
    this.start = FILE_HEADER;
    this.size = FILE_HEADER;
    this.cursor = FILE_HEADER;
    this.headerMissing = true;
    this.tailDirty = false;
    this.pendingRecords = 0;
    // the header is written with the next append; a cursor of the old generation is ignored at open
    await this.flushCursor();
  }

  private noteFailure(err: unknown): void {
    this.lastError = err;
    this.noRoomUntil = Date.now() + this.freeCheckMs;
  }

  private async checkFree(): Promise<void> {
    const p = (async () => {
      try {
        const free = await this.fs.freeBytes(this.dir);
        this.free = free;
        this.spentSinceCheck = 0;
      } catch (err) {
        this.lastError = err;
      }
      this.freeAt = Date.now();
    })();
    this.checking = p;
    try {
      await p;
    } finally {
      this.checking = undefined;
    }
  }

  private async readSlots(): Promise<Slot | undefined> {
    const size = (await this.cfh!.stat()).size;
    if (size < 2 * SLOT) return undefined;
    this.cursorAllocated = true;
    const buf = Buffer.allocUnsafe(2 * SLOT);
    const { bytesRead } = await this.cfh!.read(buf, 0, 2 * SLOT, 0);
    const slots = [decodeSlot(buf.subarray(0, SLOT)), decodeSlot(buf.subarray(SLOT, Math.min(bytesRead, 2 * SLOT)))].filter((s): s is Slot => s !== undefined);
    const best = slots.sort((a, b) => (a.seq < b.seq ? 1 : -1))[0];
    if (best) {
      this.seq = best.seq;
      this.disk = { generation: best.generation, offset: best.offset };
    }
    return best;
  }

  private async readLegacyCursor(): Promise<number> {
    try {
      return Number((await readFile(this.legacyCursor, 'utf8')).trim()) || 0;
    } catch {
      return 0;
    }
  }

  /**
   * Walks the records from `start` (checksums only): where the valid ones end, the last record
   * boundary at or before `cursor`, and how many records lie after it.
   */
  private async scan(cursor: number): Promise<{ validEnd: number; boundary: number; records: number }> {
    let pos = this.start;
    let boundary = this.start;
    let records = 0;
    let end = false;
    while (!end && pos < this.size) {
      let buf = await this.readRange(pos, Math.min(CHUNK, this.size - pos));
      let o = 0;
      while (o + HEADER <= buf.length) {
        const len = buf.readUInt32BE(o);
        if (len > MAX_RECORD) {
          end = true;
          break;
        }
        if (o + HEADER + len > buf.length) {
          if (o > 0) break; // read on from this record
          if (pos + HEADER + len > this.size) {
            end = true; // torn
            break;
          }
          buf = await this.readRange(pos, HEADER + len); // one record larger than a chunk
          if (buf.length < HEADER + len) {
            end = true; // the file ends sooner than it said
            break;
          }
          continue;
        }
        if (crc32(buf.subarray(o + HEADER, o + HEADER + len)) !== buf.readUInt32BE(o + 4)) {
          end = true;
          break;
        }
        o += HEADER + len;
        if (pos + o <= cursor) boundary = pos + o;
        else records++;
      }
      if (o === 0) end = true;
      pos += o;
    }
    return { validEnd: pos, boundary, records };
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
