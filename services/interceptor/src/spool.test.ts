import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, cp, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FILE_HEADER, Spool, decodeRecords, encodeRecord, type SpoolRecord } from './spool.js';
import { SimDisk, fsError } from './testdata/sim-disk.js';
import { prng } from './testdata/harness.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const tmp = async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'spool-'));
  dirs.push(d);
  return d;
};
const rec = (i: number, size = 0): SpoolRecord => ({
  topic: 'audit.raw.v1',
  key: i % 2 ? `sub:${i}` : null,
  value: i % 3 ? Buffer.from(`value-${i}-${'x'.repeat(size)}`) : null,
  headers: { n: String(i) },
});
const ids = (rs: { record: SpoolRecord }[] | SpoolRecord[]) => rs.map((r) => Number(('record' in r ? r.record : r).headers.n));
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => a + k);

/** Everything a fresh Spool on `dir` would send, oldest first (read from a copy: draining truncates). */
async function pendingIn(dir: string, opts: ConstructorParameters<typeof Spool>[3] = {}): Promise<{ ids: number[]; cut: number }> {
  const copy = await tmp();
  await cp(dir, copy, { recursive: true });
  const s = new Spool(copy, 1 << 30, 'never', opts);
  await s.open();
  const out: number[] = [];
  for (;;) {
    const { entries } = await s.peek(1000);
    if (entries.length === 0) break;
    out.push(...ids(entries));
    await s.ack(entries[entries.length - 1]!.end, entries.length);
  }
  const cut = s.droppedTailBytes;
  await s.close();
  return { ids: out, cut };
}

/** The spool file read directly: whole records only after the header, or the test fails. */
async function fileRecords(dir: string): Promise<number[]> {
  const buf = await readFile(path.join(dir, 'events.spool'));
  if (buf.length === 0) return [];
  const body = buf.subarray(FILE_HEADER);
  const { entries, validBytes, corrupt } = decodeRecords(body, FILE_HEADER);
  assert.equal(corrupt, false, 'no corrupt record in the file');
  assert.equal(validBytes, body.length, 'no torn record at the end of the file');
  return ids(entries);
}

it('round-trips records, nulls included, and stops at a corrupt one', () => {
  const buf = Buffer.concat([rec(1), rec(2), rec(3)].map(encodeRecord));
  const { entries, corrupt } = decodeRecords(buf, 0);
  assert.equal(corrupt, false);
  assert.deepEqual(
    entries.map((e) => e.record),
    [rec(1), rec(2), rec(3)],
  );
  const bad = Buffer.from(buf);
  bad.writeUInt8(bad.readUInt8(bad.length - 2) ^ 0xff, bad.length - 2);
  const r = decodeRecords(bad, 0);
  assert.equal(r.entries.length, 2);
  assert.equal(r.corrupt, true);
});

it('keeps order across reopen, resumes from the cursor, and truncates when drained', async () => {
  const dir = await tmp();
  let s = new Spool(dir, 1024 * 1024, 'always');
  await s.open();
  assert.equal((await s.append([rec(1), rec(2), rec(3), rec(4)])).appended, 4);
  const first = (await s.peek(2)).entries;
  await s.ack(first[1]!.end, 2);
  await s.close();
  s = new Spool(dir, 1024 * 1024, 'always');
  await s.open();
  assert.equal(s.droppedTailBytes, 0);
  const rest = (await s.peek(10)).entries;
  assert.deepEqual(
    rest.map((e) => e.record),
    [rec(3), rec(4)],
  );
  await s.ack(rest[1]!.end, 2);
  assert.deepEqual(s.stats(), { pendingBytes: 0, pendingRecords: 0 });
  assert.equal(s.pending, false);
  await s.close();
  assert.equal((await stat(path.join(dir, 'events.spool'))).size, 0, 'drained: truncated');
  assert.deepEqual((await pendingIn(dir)).ids, []);
});

it('refuses what does not fit under maxBytes', async () => {
  const s = new Spool(await tmp(), 200, 'never');
  await s.open();
  const big = { ...rec(1), value: Buffer.alloc(60) };
  assert.deepEqual(await s.append([big, big]), { appended: 1, full: 1, failed: 0 });
  assert.equal(s.hasRoom(120), false);
  await s.close();
});

it('cuts a torn tail of every length at start (a prefix of a record, or a record with a bad checksum) and keeps every whole record', async () => {
  const random = prng(28);
  let variants = 0;
  for (const size of [0, 120]) {
    const whole = encodeRecord(rec(98, size));
    for (let len = 1; len <= whole.length; len++) {
      const dir = await tmp();
      const s = new Spool(dir, 1 << 20, 'never');
      await s.open();
      const n = 1 + Math.floor(random() * 5);
      await s.append(range(0, n).map((i) => rec(i, size)));
      const delivered = Math.floor(random() * n); // some already acknowledged
      if (delivered > 0) {
        const e = (await s.peek(delivered)).entries;
        await s.ack(e[e.length - 1]!.end, e.length);
      }
      await s.close();
      // a crash mid-write: a prefix of the next record; the full length: its last byte flipped
      const tail = Buffer.from(whole.subarray(0, len));
      if (len === whole.length) tail[len - 1]! ^= 0x5a;
      await appendFile(path.join(dir, 'events.spool'), tail);
      const got = await pendingIn(dir);
      assert.equal(got.cut, len, `size ${size}, tail ${len}: cut exactly the tail`);
      assert.deepEqual(got.ids, range(delivered, n), `size ${size}, tail ${len}: every whole record kept, none re-sent`);
      variants++;
    }
  }
  assert.ok(variants > 150);
});

it('a header torn at any length is cut at start and the spool works on', async () => {
  for (let len = 1; len < FILE_HEADER; len++) {
    const dir = await tmp();
    let s = new Spool(dir, 1 << 20, 'never');
    await s.open();
    await s.append([rec(1)]);
    await s.close();
    await truncate(path.join(dir, 'events.spool'), len);
    s = new Spool(dir, 1 << 20, 'never');
    await s.open();
    assert.equal(s.droppedTailBytes, len);
    assert.equal(s.pending, false);
    assert.equal((await s.append([rec(2)])).appended, 1);
    await s.close();
    assert.deepEqual((await pendingIn(dir)).ids, [2]);
  }
});

it('a torn or corrupt cursor slot falls back to the other: at most the last acknowledged batch is re-sent', async () => {
  const dir = await tmp();
  const s = new Spool(dir, 1 << 20, 'never');
  await s.open();
  await s.append(range(0, 30).map((i) => rec(i)));
  for (let k = 0; k < 3; k++) {
    const e = (await s.peek(5)).entries;
    await s.ack(e[e.length - 1]!.end, e.length);
  }
  await s.close();
  const cursorFile = path.join(dir, 'events.cursor');
  const good = await readFile(cursorFile);
  assert.equal(good.length, 64);
  assert.deepEqual((await pendingIn(dir)).ids, range(15, 30));
  for (let byte = 0; byte < 64; byte++) {
    const bad = Buffer.from(good);
    bad[byte]! ^= 0x01;
    await writeFile(cursorFile, bad);
    const got = (await pendingIn(dir)).ids;
    // the newest slot (seq 3+1 odd/even) damaged: the previous ack; the other one or padding: unchanged
    assert.ok(got.length === 15 || got.length === 20, `byte ${byte}: ${got.length} pending`);
    assert.deepEqual(got, range(30 - got.length, 30), `byte ${byte}: a suffix, in order`);
  }
  await writeFile(cursorFile, Buffer.alloc(64));
  assert.deepEqual((await pendingIn(dir)).ids, range(0, 30), 'no valid slot: everything re-sent, nothing skipped');
});

it('reads a spool of the format before the header (records from 0, decimal cursor) and drains it', async () => {
  const dir = await tmp();
  const recs = range(0, 6).map((i) => encodeRecord(rec(i)));
  await writeFile(path.join(dir, 'events.spool'), Buffer.concat(recs));
  await writeFile(path.join(dir, 'cursor'), String(recs[0]!.length + recs[1]!.length));
  const s = new Spool(dir, 1 << 20, 'never');
  await s.open();
  const e = (await s.peek(2)).entries;
  assert.deepEqual(ids(e), [2, 3]);
  await s.ack(e[1]!.end, 2);
  await s.close();
  assert.deepEqual((await pendingIn(dir)).ids, [4, 5], 'the new cursor slot wins over the old file');
});

it('room counts the free space left on the filesystem (minFreeBytes) and reads it at most once per interval', async () => {
  const dir = await tmp();
  const disk = new SimDisk(10 * 1024 * 1024, dir);
  const s = new Spool(dir, 1 << 30, 'never', { fs: disk, minFreeBytes: 1024 * 1024, freeCheckMs: 60_000 });
  await s.open();
  disk.reportFree = 1024 * 1024 + 1000; // another writer filled the disk; seen at the next check
  assert.equal(s.hasRoom(500), true, 'the cached figure until the interval is over');
  const calls = disk.calls.freeBytes;
  for (let k = 0; k < 100_000; k++) s.hasRoom(100);
  assert.equal(disk.calls.freeBytes, calls, 'no statfs per call');
  await s.close();

  for (const free of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 499, 1024 * 1024 + 500, 1024 * 1024 + 501, 50 * 1024 * 1024]) {
    const d = await tmp();
    const dk = new SimDisk(1 << 30, d);
    dk.reportFree = free;
    const sp = new Spool(d, 1 << 30, 'never', { fs: dk, minFreeBytes: 1024 * 1024, freeCheckMs: 60_000 });
    await sp.open();
    assert.equal(sp.hasRoom(500), free - 500 >= 1024 * 1024, `free ${free}`);
    assert.equal(sp.freeBytes(), free);
    await sp.close();
  }
});

it('a write that fails (ENOSPC with a short write, EIO, a failed fsync) leaves no torn record: generated disks and batches', async () => {
  const random = prng(4);
  let failures = 0;
  for (let v = 0; v < 90; v++) {
    const dir = await tmp();
    const fsync = v % 2 ? 'always' : 'never';
    const disk = new SimDisk(300 + Math.floor(random() * 6000), dir);
    const kind = v % 3; // 0: the disk fills (short write then ENOSPC); 1: EIO on a write; 2: EIO on fsync
    const s = new Spool(dir, 1 << 30, fsync, { fs: disk, freeCheckMs: 60_000 });
    disk.reportFree = 1 << 30;
    await s.open(); // statfs says there is room: only the writes find out
    const kept: number[] = [];
    let next = 0;
    let failedAt = -1;
    for (let b = 0; b < 30; b++) {
      const batch = range(next, next + 1 + Math.floor(random() * 8)).map((i) => rec(i, Math.floor(random() * 200)));
      next += batch.length;
      if (kind !== 0 && b === 3 + (v % 5)) {
        let once = true;
        disk.fault = (op, file) =>
          file === 'events' && op === (kind === 1 ? 'write' : 'datasync') && once && fsync === (kind === 2 ? 'always' : fsync)
            ? ((once = false), fsError('EIO', op))
            : undefined;
      }
      const r = await s.append(batch);
      disk.fault = undefined;
      if (r.failed > 0) {
        failures++;
        failedAt = b;
        assert.equal(r.appended, 0);
        assert.ok(['ENOSPC', 'EIO'].includes((r.error as NodeJS.ErrnoException).code!));
        assert.equal(s.hasRoom(0), false, 'no room reported right after a failed write');
      } else kept.push(...ids(batch).slice(0, r.appended));
      assert.deepEqual(await fileRecords(dir), kept, `variant ${v} batch ${b}: the file holds whole records, the ones appended`);
      if (kind === 0 && failedAt >= 0) break;
    }
    await s.close();
    const got = await pendingIn(dir);
    assert.equal(got.cut, 0, `variant ${v}: nothing torn to cut at start`);
    assert.deepEqual(got.ids, kept, `variant ${v}: exactly the appended records`);
  }
  assert.ok(failures >= 60, `${failures} failed writes exercised`);
});

it('a failed write whose cut also fails is cut before the next append', async () => {
  const dir = await tmp();
  const disk = new SimDisk(1 << 30, dir);
  const s = new Spool(dir, 1 << 30, 'always', { fs: disk, freeCheckMs: 0 });
  await s.open();
  await s.append([rec(1), rec(2)]);
  let writes = 0;
  disk.fault = (op, file) => {
    if (file !== 'events') return undefined;
    if (op === 'write' && ++writes === 2) return fsError('EIO', 'write'); // the first chunk lands, the rest fails
    if (op === 'truncate') return fsError('EIO', 'ftruncate');
    return undefined;
  };
  const orig = disk.write.bind(disk);
  disk.write = (f, fh, buf, off, len, pos) => orig(f, fh, buf, off, Math.min(len, 10), pos); // short writes
  const r = await s.append([rec(3, 50)]);
  assert.equal(r.failed, 1);
  disk.fault = undefined;
  disk.write = orig;
  assert.ok((await stat(path.join(dir, 'events.spool'))).size > 0);
  assert.equal((await s.append([rec(4)])).appended, 1);
  await s.close();
  assert.deepEqual(await fileRecords(dir), [1, 2, 4]);
  assert.deepEqual((await pendingIn(dir)).ids, [1, 2, 4]);
});

it('cursor writes need no new space (slots overwritten in place), a failed one is retried, and a restart resumes after the last cursor written', async () => {
  const random = prng(9);
  let failed = 0;
  for (let v = 0; v < 60; v++) {
    const dir = await tmp();
    const disk = new SimDisk(1 << 30, dir);
    const s = new Spool(dir, 1 << 30, v % 2 ? 'always' : 'never', { fs: disk, freeCheckMs: 0 });
    await s.open();
    const n = 20 + Math.floor(random() * 60);
    await s.append(range(0, n).map((i) => rec(i)));
    disk.capacity = disk.used(); // the disk is full now
    let onDisk = 0; // records acknowledged as of the last cursor written
    let acked = 0;
    const crashAfter = Math.floor(random() * 12);
    for (let k = 0; s.pending && k < crashAfter; k++) {
      const e = (await s.peek(1 + Math.floor(random() * 10))).entries;
      const failing = random() < 0.4;
      disk.fault = failing ? (op, file) => (file === 'cursor' ? fsError(op === 'write' ? 'ENOSPC' : 'EIO', op) : undefined) : undefined;
      const last = k === crashAfter - 1;
      try {
        await s.ack(e[e.length - 1]!.end, e.length);
        assert.equal(failing, false);
        acked += e.length;
        onDisk = acked;
      } catch (err) {
        acked += e.length;
        failed++;
        assert.equal(failing, true, `variant ${v}: ${(err as Error).message}`);
        assert.equal(s.cursorDirty, true);
        assert.equal((await s.peek(1)).entries.length > 0 ? ids((await s.peek(1)).entries)[0] : n, acked, 'the cursor in memory moved on');
      }
      disk.fault = undefined;
      if (!last && random() < 0.5 && s.cursorDirty) {
        await s.flushCursor(); // the retry succeeds: no new space needed on the full disk
        onDisk = acked;
      }
    }
    // crash: nothing more is written; a new process opens the spool
    const got = await pendingIn(dir);
    assert.deepEqual(
      got.ids,
      acked === n ? [] : range(onDisk, n),
      `variant ${v}: resumes after the last cursor written (${onDisk}), re-sending ${acked - onDisk}`,
    );
    await s.close();
  }
  assert.ok(failed > 20, `${failed} failed cursor writes`);
});

it('a cursor write failing after the truncation of a drained spool never skips the records written after it', async () => {
  const dir = await tmp();
  const disk = new SimDisk(1 << 30, dir);
  const s = new Spool(dir, 1 << 30, 'always', { fs: disk, freeCheckMs: 0 });
  await s.open();
  await s.append(range(0, 10).map((i) => rec(i)));
  const e = (await s.peek(100)).entries;
  disk.fault = (_op, file) => (file === 'cursor' ? fsError('EIO', 'write') : undefined);
  await assert.rejects(s.ack(e[e.length - 1]!.end, e.length)); // file truncated, new generation, cursor not written
  await s.append(range(10, 13).map((i) => rec(i)));
  await s.close();
  disk.fault = undefined;
  assert.deepEqual((await pendingIn(dir)).ids, [10, 11, 12]);
});

it('records damaged on disk after they were written are cut and reported, not stuck', async () => {
  const dir = await tmp();
  const s = new Spool(dir, 1 << 30, 'never');
  await s.open();
  await s.append(range(0, 5).map((i) => rec(i, 20)));
  const e = (await s.peek(2)).entries;
  await s.ack(e[1]!.end, 2);
  const fh = await open(path.join(dir, 'events.spool'), 'r+');
  await fh.write(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, e[1]!.end); // the length of record 2
  await fh.close();
  const r = await s.peek(10);
  assert.deepEqual(r.entries, []);
  assert.deepEqual(r.cut, { records: 3, bytes: s.stats().pendingBytes + r.cut!.bytes });
  assert.equal(s.pending, false);
  assert.equal((await s.append([rec(7)])).appended, 1);
  await s.close();
  assert.deepEqual((await pendingIn(dir)).ids, [7]);
});
