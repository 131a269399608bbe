import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Spool, decodeRecords, encodeRecord, type SpoolRecord } from './spool.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const tmp = async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'spool-'));
  dirs.push(d);
  return d;
};
const rec = (i: number): SpoolRecord => ({ topic: 'audit.raw.v1', key: i % 2 ? `sub:${i}` : null, value: i % 3 ? Buffer.from(`value-${i}`) : null, headers: { n: String(i) } });

it('round-trips records, nulls included, and stops at a corrupt one', () => {
  const buf = Buffer.concat([rec(1), rec(2), rec(3)].map(encodeRecord));
  const { entries, corrupt } = decodeRecords(buf, 0);
  assert.equal(corrupt, false);
  assert.deepEqual(entries.map((e) => e.record), [rec(1), rec(2), rec(3)]);
  const bad = Buffer.from(buf);
  bad.writeUInt8(bad.readUInt8(bad.length - 2) ^ 0xff, bad.length - 2);
  const r = decodeRecords(bad, 0);
  assert.equal(r.entries.length, 2);
  assert.equal(r.corrupt, true);
});

it('keeps order across reopen, resumes from the cursor, cuts a torn tail, and truncates when drained', async () => {
  const dir = await tmp();
  let s = new Spool(dir, 1024 * 1024, 'always');
  await s.open();
  assert.equal(await s.append([rec(1), rec(2), rec(3), rec(4)]), 4);
  const first = await s.peek(2);
  await s.ack(first[1]!.end, 2);
  await s.close();
  await appendFile(path.join(dir, 'events.spool'), encodeRecord(rec(5)).subarray(0, 7)); // crash mid-write
  s = new Spool(dir, 1024 * 1024, 'always');
  await s.open();
  assert.ok(s.droppedTailBytes > 0);
  const rest = await s.peek(10);
  assert.deepEqual(rest.map((e) => e.record), [rec(3), rec(4)]);
  await s.ack(rest[1]!.end, 2);
  assert.deepEqual(s.stats(), { pendingBytes: 0, pendingRecords: 0 });
  assert.equal(s.pending, false);
  await s.close();
});

it('refuses what does not fit', async () => {
  const s = new Spool(await tmp(), 200, 'never');
  await s.open();
  const big = { ...rec(1), value: Buffer.alloc(60) };
  assert.equal(await s.append([big, big]), 1);
  assert.equal(s.hasRoom(120), false);
  await s.close();
});
