/**
 * One partition's log on disk: a directory of segments, each a pair of files
 *
 *   <baseOffset, 20 digits>.log    record batches v2, appended as received (offsets assigned)
 *   <baseOffset, 20 digits>.index  one 40-byte entry per batch, appended after the batch:
 *        int32 relativeOffset  int32 position  int32 size  int32 lastOffsetDelta
 *        int64 maxTimestamp    int64 producerId  int32 baseSequence  int16 producerEpoch  int16 flags
 *   flags (transaction-state.ts): bit 0 transactional, bit 1 control batch, bit 2 abort marker;
 *   indexes written before transactions existed hold 0 there, which reads as "not transactional".
 *
 * Recovery at open: index entries pointing past the end of the log are dropped, the log is scanned
 * from the last indexed batch on, and a torn or corrupt tail (a crash mid-append) is truncated away.
 * Everything needed to serve fetches and to rebuild idempotent-producer and transaction state
(open and aborted transactions, the last stable offset) is in the index.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from './crc32c.js';
import { readJson, writeFileAtomic } from './durable-file.js';
import {
  crcValid,
  decodeRecords,
  readBatchHeader,
  rebuildBatch,
  type BatchHeader,
  type DecodedRecord,
  CONTROL_BIT,
  TIMESTAMP_TYPE_BIT,
  TRANSACTIONAL_BIT,
} from './record-batch.js';
import { ABORT_FLAG, CONTROL_FLAG, PartitionTxns, TXN_FLAG } from './transaction-state.js';
import { Writer } from '../protocol/primitives.js';

const ENTRY = 40;
const START_FILE = 'log-start-offset';

export type FsyncPolicy = 'always' | 'interval' | 'never';

interface Entry {
  offset: number;
  last: number;
  pos: number;
  size: number;
  maxTimestamp: number;
  producerId: number;
  baseSequence: number;
  producerEpoch: number;
  /** TXN_FLAG | CONTROL_FLAG | ABORT_FLAG. */
  flags: number;
}

interface Segment {
  baseOffset: number;
  logPath: string;
  indexPath: string;
  logFd: number;
  indexFd: number;
  size: number;
  entries: Entry[];
  createdAt: number;
}

export interface LogOptions {
  fsync: FsyncPolicy;
  /** Roll the active segment past this size (bytes). */
  segmentBytes: number;
  /** Roll the active segment past this age (ms). */
  segmentMs: number;
  /** Told when opening a segment cut a torn or corrupt tail (a crash mid-append): never silent. */
  onTornTail?: (cut: TornTail) => void;
}

export interface TornTail {
  segment: string;
  /** Where the last whole batch ends: the segment's size from now on. */
  validBytes: number;
  cutBytes: number;
  /** Offset of the last whole batch kept in the segment, -1 if none. */
  lastOffset: number;
}

export interface ProducerBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastSequence: number;
  baseOffset: number;
}

const name = (offset: number) => String(offset).padStart(20, '0');

export class PartitionLog {
  private segments: Segment[] = [];
  private dirty = false;
  /** Bytes of the closed segments as the last compaction left them (0 at open: all dirty). */
  private cleanBytes = 0;
  private leo = 0;
  /** Last batches per producer id (up to 5, as Kafka keeps), rebuilt from the index at open. */
  readonly producers = new Map<number, ProducerBatch[]>();
  /** Open and aborted transactions, rebuilt from the index at open. */
  readonly txns = new PartitionTxns();

  /** Log start offset set by DeleteRecords (0 when never set); segments may begin below it. */
  private logStart = 0;

  constructor(
    readonly dir: string,
    private opts: LogOptions,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.logStart = Number(readJson<number>(path.join(dir, START_FILE), 0)) || 0;
    const bases = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => Number(f.slice(0, -4)))
      .sort((a, b) => a - b);
    try {
      // Only the active (last) segment keeps descriptors open: closed segments are opened for a
      // read and closed again, so a partition costs two descriptors however many segments it has.
      for (const base of bases) {
        const prev = this.segments[this.segments.length - 1];
        if (prev) closeFds(prev);
        this.segments.push(this.openSegment(base, true));
      }
      if (this.segments.length === 0) this.segments.push(this.openSegment(0, false));
    } catch (err) {
      for (const seg of this.segments) closeFds(seg);
      throw err;
    }
    for (const s of this.segments) for (const e of s.entries) this.trackProducer(e);
    this.leo = this.active.baseOffset;
    for (const s of this.segments) for (const e of s.entries) this.leo = Math.max(this.leo, e.last + 1);
  }

  /** The offset the next record gets (log end offset = high watermark on a single broker). */
  get nextOffset(): number {
    return this.leo;
  }

  get startOffset(): number {
    const first = this.segments.find((s) => s.entries.length > 0);
    return Math.max(this.logStart, first ? first.entries[0]!.offset : this.leo);
  }

  /**
   * DeleteRecords: moves the log start offset up to `offset` (persisted in `log-start-offset`, as
   * Kafka's log-start-offset checkpoint) and deletes the segments wholly below it. Returns the new start.
   */
  deleteRecordsBefore(offset: number): number {
    if (offset > this.logStart) {
      this.logStart = offset;
      writeFileAtomic(path.join(this.dir, START_FILE), String(offset), this.opts.fsync !== 'never');
    }
    this.deleteWhile((seg) => seg.entries.length > 0 && seg.entries[seg.entries.length - 1]!.last < this.logStart);
    return this.startOffset;
  }

  /** New segment.bytes / segment.ms (AlterConfigs): they apply from the next append. */
  reconfigure(opts: Pick<LogOptions, 'segmentBytes' | 'segmentMs'>): void {
    this.opts = { ...this.opts, ...opts };
  }

  get sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0);
  }

  private openSegment(baseOffset: number, existing: boolean): Segment {
    const logPath = path.join(this.dir, `${name(baseOffset)}.log`);
    const indexPath = path.join(this.dir, `${name(baseOffset)}.index`);
    const logFd = fs.openSync(logPath, existing ? 'r+' : 'w+');
    let indexFd = -1;
    try {
      indexFd = fs.openSync(indexPath, fs.existsSync(indexPath) ? 'r+' : 'w+');
      const st = fs.fstatSync(logFd);
      const seg: Segment = { baseOffset, logPath, indexPath, logFd, indexFd, size: st.size, entries: [], createdAt: st.birthtimeMs || Date.now() };
      if (existing) this.recover(seg);
      return seg;
    } catch (err) {
      fs.closeSync(logFd);
      if (indexFd >= 0) fs.closeSync(indexFd);
      throw err;
    }
  }

  private recover(seg: Segment): void {
    const indexSize = fs.fstatSync(seg.indexFd).size;
    const idx = Buffer.alloc(indexSize - (indexSize % ENTRY));
    if (idx.length > 0) fs.readSync(seg.indexFd, idx, 0, idx.length, 0);
    let validEnd = 0;
    for (let p = 0; p < idx.length; p += ENTRY) {
      const e: Entry = {
        offset: seg.baseOffset + idx.readInt32BE(p),
        pos: idx.readInt32BE(p + 4),
        size: idx.readInt32BE(p + 8),
        last: seg.baseOffset + idx.readInt32BE(p) + idx.readInt32BE(p + 12),
        maxTimestamp: Number(idx.readBigInt64BE(p + 16)),
        producerId: Number(idx.readBigInt64BE(p + 24)),
        baseSequence: idx.readInt32BE(p + 32),
        producerEpoch: idx.readInt16BE(p + 36),
        flags: idx.readInt16BE(p + 38),
      };
      if (e.pos !== validEnd || e.pos + e.size > seg.size) break;
      seg.entries.push(e);
      validEnd = e.pos + e.size;
    }
    // Scan what the index does not cover: batches appended before a crash hit the index, or a torn tail.
    let pos = validEnd;
    const rest = Buffer.alloc(seg.size - pos);
    if (rest.length > 0) fs.readSync(seg.logFd, rest, 0, rest.length, pos);
    let rp = 0;
    for (;;) {
      let h: BatchHeader | undefined;
      try {
        h = readBatchHeader(rest, rp);
      } catch {
        h = undefined;
      }
      if (!h || !crcValid(rest, rp, h)) break;
      const e = this.entryFor(h, pos, flagsOf(h, rest.subarray(rp, rp + h.size)));
      seg.entries.push(e);
      this.writeIndex(seg, e);
      pos += h.size;
      rp += h.size;
    }
    if (pos < seg.size) {
      const cutBytes = seg.size - pos;
      fs.ftruncateSync(seg.logFd, pos);
      seg.size = pos;
      this.opts.onTornTail?.({ segment: seg.logPath, validBytes: pos, cutBytes, lastOffset: seg.entries[seg.entries.length - 1]?.last ?? -1 });
    }
    fs.ftruncateSync(seg.indexFd, seg.entries.length * ENTRY);
  }

  private entryFor(h: BatchHeader, pos: number, flags: number): Entry {
    return {
      offset: h.baseOffset,
      last: h.baseOffset + h.lastOffsetDelta,
      pos,
      size: h.size,
      maxTimestamp: h.maxTimestamp,
      producerId: h.producerId,
      baseSequence: h.baseSequence,
      producerEpoch: h.producerEpoch,
      flags,
    };
  }

  private writeIndex(seg: Segment, e: Entry): void {
    const b = Buffer.alloc(ENTRY);
    b.writeInt32BE(e.offset - seg.baseOffset, 0);
    b.writeInt32BE(e.pos, 4);
    b.writeInt32BE(e.size, 8);
    b.writeInt32BE(e.last - e.offset, 12);
    b.writeBigInt64BE(BigInt(e.maxTimestamp), 16);
    b.writeBigInt64BE(BigInt(e.producerId), 24);
    b.writeInt32BE(e.baseSequence, 32);
    b.writeInt16BE(e.producerEpoch, 36);
    b.writeInt16BE(e.flags, 38);
    fs.writeSync(seg.indexFd, b, 0, ENTRY, (seg.entries.length - 1) * ENTRY);
  }

  private trackProducer(e: Entry): void {
    this.txns.track(e.producerId, e.offset, e.flags);
    // A marker carries no sequence: the producer's sequences go on across it.
    if (e.producerId < 0 || (e.flags & CONTROL_FLAG) !== 0) return;
    const list = this.producers.get(e.producerId) ?? [];
    list.push({
      producerId: e.producerId,
      producerEpoch: e.producerEpoch,
      baseSequence: e.baseSequence,
      lastSequence: e.baseSequence + (e.last - e.offset),
      baseOffset: e.offset,
    });
    if (list.length > 5) list.shift();
    this.producers.set(e.producerId, list);
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Appends batches (already validated); assigns offsets by rewriting each base offset. Returns the first. */
  append(batches: { header: BatchHeader; bytes: Buffer }[], now = Date.now()): number {
    const first = this.nextOffset;
    if (this.active.size >= this.opts.segmentBytes || (this.active.entries.length > 0 && now - this.active.createdAt >= this.opts.segmentMs)) this.roll();
    let next = first;
    const seg = this.active;
    for (const { header, bytes } of batches) {
      bytes.writeBigInt64BE(BigInt(next), 0);
      const e = this.entryFor({ ...header, baseOffset: next }, seg.size, flagsOf(header, bytes));
      fs.writeSync(seg.logFd, bytes, 0, bytes.length, seg.size);
      seg.size += bytes.length;
      seg.entries.push(e);
      this.writeIndex(seg, e);
      this.trackProducer(e);
      next = e.last + 1;
    }
    this.leo = next;
    if (this.opts.fsync === 'always') this.sync();
    else this.dirty = true;
    return first;
  }

  /**
   * Writes a transaction marker (a control batch of one record, as Kafka's EndTransactionMarker):
   * key = version INT16 0, type INT16 (0 abort, 1 commit); value = version INT16 0,
   * coordinator_epoch INT32. The batch has the transactional and control bits, the producer's id
   * and epoch, and sequence -1. Returns its offset.
   */
  appendMarker(producerId: number, producerEpoch: number, commit: boolean, now = Date.now()): number {
    const key = Buffer.alloc(4);
    key.writeInt16BE(commit ? 1 : 0, 2);
    const value = Buffer.alloc(6);
    const rec = new Writer(32).int8(0).varlong(0n).varint(0).varint(key.length).raw(key).varint(value.length).raw(value).varint(0).toBuffer();
    const w = new Writer(128);
    w.int64(0).int32(0).int32(0).int8(2).uint32(0);
    w.int16(TRANSACTIONAL_BIT | CONTROL_BIT)
      .int32(0)
      .int64(now)
      .int64(now);
    w.int64(producerId).int16(producerEpoch).int32(-1).int32(1);
    w.varint(rec.length).raw(rec);
    const bytes = Buffer.from(w.toBuffer());
    bytes.writeInt32BE(bytes.length - 12, 8);
    bytes.writeUInt32BE(crc32cOf(bytes), 17);
    return this.append([{ header: readBatchHeader(bytes)!, bytes }], now);
  }

  /** Kafka's last stable offset: the first offset of the oldest open transaction, else the log end. */
  get lastStableOffset(): number {
    return this.txns.lastStableOffset(this.leo);
  }

  sync(): void {
    if (this.opts.fsync === 'never') return;
    const seg = this.active;
    fs.fsyncSync(seg.logFd);
    fs.fsyncSync(seg.indexFd);
    this.dirty = false;
  }

  syncIfDirty(): void {
    if (this.dirty) this.sync();
  }

  private roll(): void {
    const base = this.nextOffset;
    if (this.opts.fsync !== 'never') this.sync();
    const next = this.openSegment(base, false);
    closeFds(this.active);
    this.segments.push(next);
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes`; with `minOne`, at least one
   * batch even when it is larger (Kafka's minOneMessage), so a batch larger than maxBytes still
   * makes progress.
   */
  read(offset: number, maxBytes: number, minOne = true, endOffset = Number.MAX_SAFE_INTEGER): Buffer {
    const out: Buffer[] = [];
    let total = 0;
    for (const seg of this.segments) {
      if (seg.entries.length === 0 || seg.entries[seg.entries.length - 1]!.last < offset) continue;
      let i = lowerBound(seg.entries, offset);
      while (i < seg.entries.length) {
        const e = seg.entries[i]!;
        if (e.offset >= endOffset) return Buffer.concat(out);
        if (total > 0 && total + e.size > maxBytes) return Buffer.concat(out);
        // Read consecutive batches in one call.
        let j = i;
        let bytes = 0;
        while (
          j < seg.entries.length &&
          seg.entries[j]!.offset < endOffset &&
          ((minOne && total + bytes === 0) || total + bytes + seg.entries[j]!.size <= maxBytes)
        )
          bytes += seg.entries[j++]!.size;
        if (bytes === 0) return Buffer.concat(out);
        const buf = Buffer.allocUnsafe(bytes);
        withLogFd(seg, (fd) => fs.readSync(fd, buf, 0, bytes, e.pos));
        out.push(buf);
        total += bytes;
        i = j;
      }
    }
    return Buffer.concat(out);
  }

  /**
   * The first record (not batch) whose timestamp is >= ts, as Kafka's fetchOffsetByTimestamp:
   * batches are skipped by their max timestamp, the first candidate batch is decoded. Undefined
   * when no record is that new.
   */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } | undefined {
    const start = this.startOffset;
    for (const seg of this.segments) {
      for (const e of seg.entries) {
        if (e.maxTimestamp < ts || e.last < start) continue;
        const hit = this.recordsOf(seg, e).find((r) => r.timestamp >= ts && r.offset >= start);
        if (hit) return { offset: hit.offset, timestamp: hit.timestamp };
      }
    }
    return undefined;
  }

  /** The first record with the largest timestamp (ListOffsets -3, KIP-734). */
  /**
   * ListOffsets v0 (UnifiedLog.legacyFetchOffsetsBefore): each segment stands for its base offset
   * (at least the log start) at its file's modification time, plus the log end now when the last
   * segment holds data; -1 = latest, -2 = earliest, else the entries at or before the time. At
   * most maxNumOffsets, largest first.
   */
  legacyOffsetsBefore(timestamp: number, maxNumOffsets: number, now = Date.now()): number[] {
    const points: [number, number][] = this.segments.map((s) => [Math.max(s.baseOffset, this.startOffset), fs.statSync(s.logPath).mtimeMs]);
    if (this.segments[this.segments.length - 1]!.size > 0) points.push([this.leo, now]);
    let start: number;
    if (timestamp === -1) start = points.length - 1;
    else if (timestamp === -2) start = 0;
    else for (start = points.length - 1; start >= 0 && points[start]![1] > timestamp; start--);
    const out: number[] = [];
    for (let i = start; i >= 0 && out.length < maxNumOffsets; i--) out.push(points[i]![0]);
    return out.sort((a, b) => b - a);
  }

  maxTimestampRecord(): { offset: number; timestamp: number } | undefined {
    let best: { seg: Segment; e: Entry } | undefined;
    for (const seg of this.segments) for (const e of seg.entries) if (!best || e.maxTimestamp > best.e.maxTimestamp) best = { seg, e };
    if (!best) return undefined;
    const { seg, e } = best;
    const hit = this.recordsOf(seg, e).find((r) => r.timestamp === e.maxTimestamp);
    return hit ? { offset: hit.offset, timestamp: hit.timestamp } : { offset: e.last, timestamp: e.maxTimestamp };
  }

  /** A stored batch's records, with the timestamps a consumer sees (LogAppendTime: the batch's). */
  private recordsOf(seg: Segment, e: Entry): { offset: number; timestamp: number }[] {
    const batch = this.readEntry(seg, e);
    const records = tryDecode(batch) ?? [];
    const logAppend = (batch.readInt16BE(21) & TIMESTAMP_TYPE_BIT) !== 0;
    return records.map((r) => ({ offset: r.offset, timestamp: logAppend ? e.maxTimestamp : r.timestamp }));
  }

  /**
   * Deletes the oldest segments past the retention limits, as Kafka's UnifiedLog.deleteOldSegments:
   * a segment whose newest record is older than retention.ms, or while the log without it still
   * holds retention.bytes. The active segment counts too: when every segment is to go, a new empty
   * one is rolled first (UnifiedLog.deleteSegments), so an idle topic's records do expire.
   */
  applyRetention(now: number, retentionMs: number, retentionBytes: number): number {
    return this.deleteWhile((oldest) => {
      const newestTs = oldest.entries.reduce((m, e) => Math.max(m, e.maxTimestamp), 0);
      const tooOld = retentionMs >= 0 && oldest.entries.length > 0 && now - newestTs > retentionMs;
      const tooBig = retentionBytes >= 0 && oldest.entries.length > 0 && this.sizeBytes - oldest.size >= retentionBytes;
      return tooOld || tooBig;
    });
  }

  /** Deletes segments from the oldest while `doomed` says so; rolls first when the active one goes. */
  private deleteWhile(doomed: (seg: Segment) => boolean): number {
    let deleted = 0;
    while (this.segments.length > 0 && doomed(this.segments[0]!)) {
      if (this.segments.length === 1) this.roll();
      const oldest = this.segments.shift()!;
      this.dropSegment(oldest);
      deleted++;
    }
    if (deleted > 0) this.txns.forgetBefore(this.startOffset);
    return deleted;
  }

  private dropSegment(seg: Segment): void {
    closeFds(seg);
    fs.rmSync(seg.logPath, { force: true });
    fs.rmSync(seg.indexPath, { force: true });
  }

  /**
   * cleanup.policy=compact, after Kafka's LogCleaner, over the closed segments (the active one is
   * never cleaned):
   *   - runs when the dirty bytes (closed segments not cleaned since the broker started or since the
   *     last pass: after a restart everything is dirty, so compaction resumes) are at least
   *     min.cleanable.dirty.ratio of all closed bytes;
   *   - cleans segments from the oldest up to the first holding a record newer than
   *     min.compaction.lag.ms;
   *   - keeps per key only the latest record of the whole log; a latest record that is a
   *     tombstone (null value) goes too once its batch is older than delete.retention.ms (Kafka
   *     counts that from the first cleaning: here from the record's timestamp);
   *   - offsets are kept, emptied batches and emptied segments go; batches of every codec are
   *     decoded (codecs.ts) and kept records rewritten uncompressed.
   * Returns how many records were removed.
   */
  compact(now: number, o: { minCleanableDirtyRatio: number; minCompactionLagMs: number; deleteRetentionMs: number }): number {
    const closed = this.segments.slice(0, -1);
    const closedBytes = closed.reduce((n, s) => n + s.size, 0);
    if (closed.length === 0 || closedBytes === 0) return 0;
    if ((closedBytes - this.cleanBytes) / closedBytes < o.minCleanableDirtyRatio) return 0;
    const latest = new Map<string, number>();
    for (const seg of this.segments) {
      for (const e of seg.entries) {
        if ((e.flags & CONTROL_FLAG) !== 0) continue;
        const records = tryDecode(this.readEntry(seg, e));
        for (const r of records ?? []) if (r.key) latest.set(r.key.toString('latin1'), r.offset);
      }
    }
    const newest = (seg: Segment) => seg.entries.reduce((m, e) => Math.max(m, e.maxTimestamp), -1);
    let removed = 0;
    for (const seg of closed) {
      if (newest(seg) > now - o.minCompactionLagMs) break;
      const kept: Buffer[] = [];
      let changed = false;
      for (const e of seg.entries) {
        const batch = this.readEntry(seg, e);
        // Markers stay: they decide the transactions before them (Kafka keeps them until delete.retention.ms).
        const records = (e.flags & CONTROL_FLAG) !== 0 ? undefined : tryDecode(batch);
        if (!records) {
          kept.push(batch);
          continue;
        }
        const expiredTombstones = e.maxTimestamp < now - o.deleteRetentionMs;
        const survivors = records.filter((r) => !r.key || (latest.get(r.key.toString('latin1')) === r.offset && !(r.value === null && expiredTombstones)));
        removed += records.length - survivors.length;
        if (survivors.length === records.length) kept.push(batch);
        else {
          changed = true;
          if (survivors.length > 0) kept.push(rebuildBatch(batch, survivors));
        }
      }
      if (!changed) continue;
      if (kept.length === 0) {
        this.dropSegment(seg);
        this.segments.splice(this.segments.indexOf(seg), 1);
      } else this.rewriteSegment(seg, kept);
    }
    this.cleanBytes = this.segments.slice(0, -1).reduce((n, s) => n + s.size, 0);
    return removed;
  }

  private readEntry(seg: Segment, e: Entry): Buffer {
    const b = Buffer.allocUnsafe(e.size);
    withLogFd(seg, (fd) => fs.readSync(fd, b, 0, e.size, e.pos));
    return b;
  }

  private rewriteSegment(seg: Segment, batches: Buffer[]): void {
    const tmp = `${seg.logPath}.cleaned`;
    fs.writeFileSync(tmp, Buffer.concat(batches));
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const active = seg === this.active;
    closeFds(seg);
    fs.rmSync(seg.indexPath, { force: true });
    fs.renameSync(tmp, seg.logPath);
    const fresh = this.openSegment(seg.baseOffset, true);
    if (!active) closeFds(fresh);
    Object.assign(seg, fresh);
  }

  close(): void {
    this.syncIfDirty();
    for (const s of this.segments) closeFds(s);
    this.segments = [];
  }

  destroy(): void {
    this.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The index flags of a batch: transactional, control, and for a control batch whether it aborts. */
function flagsOf(h: BatchHeader, bytes: Buffer): number {
  let flags = 0;
  if ((h.attributes & TRANSACTIONAL_BIT) !== 0) flags |= TXN_FLAG;
  if ((h.attributes & CONTROL_BIT) !== 0) {
    flags |= CONTROL_FLAG;
    const rec = tryDecode(bytes)?.[0];
    if (rec?.key && rec.key.length >= 4 && rec.key.readInt16BE(2) === 0) flags |= ABORT_FLAG;
  }
  return flags;
}

function crc32cOf(bytes: Buffer): number {
  return crc32c(bytes, 21);
}

/** Records of a stored batch; undefined for one that does not decode (stored before validation existed): kept whole. */
function tryDecode(batch: Buffer): DecodedRecord[] | undefined {
  try {
    return decodeRecords(batch);
  } catch {
    return undefined;
  }
}

function closeFds(seg: Segment): void {
  if (seg.logFd >= 0) fs.closeSync(seg.logFd);
  if (seg.indexFd >= 0) fs.closeSync(seg.indexFd);
  seg.logFd = -1;
  seg.indexFd = -1;
}

/** A closed segment's log is opened read-only for the call and closed again. */
function withLogFd<T>(seg: Segment, fn: (fd: number) => T): T {
  if (seg.logFd >= 0) return fn(seg.logFd);
  const fd = fs.openSync(seg.logPath, 'r');
  try {
    return fn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function lowerBound(entries: Entry[], offset: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.last < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
