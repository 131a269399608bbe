import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventCodec, newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import {
  auditPath,
  checkProof,
  decodeSegment,
  encodeSegment,
  exportEvents,
  generateSigningKey,
  leafHash,
  loadJwks,
  loadSigner,
  localStorage,
  merkleRoot,
  prove,
  readHead,
  recordDeletion,
  recoverStream,
  rootFromPath,
  seal,
  verifyArchive,
  manifestsOf,
  type ArchivedRecord,
  type SegmentFormat,
  appendCheckpoint,
  markOf,
  readCheckpointChain,
} from './index.js';
import { canonical } from './format.js';
import { merkleRootFlat } from './merkle.js';
import { checkSegment } from './segment-check.js';

const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;
const TOPIC = 'audit.enriched.v1';

function records(from: number, n: number): ArchivedRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const e: AuditEvent = { ...base, id: newId(), occurredAt: 1_795_000_000_000 + (from + i) * 1000 };
    const enc = eventCodec.encode(e);
    return {
      offset: from + i,
      timestamp: e.occurredAt,
      key: Buffer.from(`sub:${e.actor.sub}`),
      eventId: e.id,
      schemaFingerprint: enc.headers['audit-schema-fingerprint']!,
      event: enc.value,
    };
  });
}

async function archive(t: { after: (fn: () => void) => void }, format: Partial<SegmentFormat> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await generateSigningKey(path.join(dir, 'keys'), 'k1');
  const signer = await loadSigner(keys.privateFile);
  const storage = localStorage(path.join(dir, 'data'));
  const head = await readHead(storage, TOPIC, 0);
  const all = [records(0, 10), records(10, 7), records(17, 12)];
  const chain = await readCheckpointChain(storage, TOPIC);
  for (const batch of all) {
    await seal(storage, signer, head, batch, Date.now(), format);
    await appendCheckpoint(storage, signer, chain, { archive: 'test', partitionCount: 1, marks: [markOf(head)], createdAt: Date.now(), intervalMs: 60_000 });
  }
  const jwks = await loadJwks(keys.jwksFile);
  const streamDir = path.join(dir, 'data', TOPIC, '0');
  const files = readdirSync(streamDir).sort();
  const segs = files.filter((f) => f.endsWith('.avro')).map((f) => path.join(streamDir, f));
  const mans = files.filter((f) => f.endsWith('.jws')).map((f) => path.join(streamDir, f));
  const cpDir = path.join(dir, 'data', TOPIC, 'checkpoints');
  const cps = readdirSync(cpDir)
    .sort()
    .map((f) => path.join(cpDir, f));
  for (const f of [...segs, ...mans, ...cps]) chmodSync(f, 0o644); // the tamperer has write access
  return { dir, storage, signer, jwks, head, chain, all, segs, mans, cps, streamDir, format };
}

const kinds = async (a: Awaited<ReturnType<typeof archive>>) => (await verifyArchive(a.storage, a.jwks)).findings.map((f) => f.kind);

test('Merkle proofs verify for every leaf of every tree size up to 33', () => {
  for (let n = 1; n <= 33; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`r${i}`)));
    const root = merkleRoot(leaves);
    for (let m = 0; m < n; m++) {
      assert.deepEqual(rootFromPath(leaves[m]!, m, n, auditPath(m, leaves)), root, `n=${n} m=${m}`);
      if (n > 1) assert.notDeepEqual(rootFromPath(leafHash(Buffer.from('forged')), m, n, auditPath(m, leaves)), root);
    }
  }
});

test('an untouched archive verifies; segments are readable Avro container files; the chain resumes after a restart', async (t) => {
  const a = await archive(t);
  const report = await verifyArchive(a.storage, a.jwks);
  assert.deepEqual(report.findings, []);
  assert.equal(report.ok, true);
  assert.equal(report.records, 29);
  assert.equal(report.segments, 3);
  const decoded = await decodeSegment(readFileSync(a.segs[0]!));
  assert.equal(decoded.length, 10);
  assert.equal(readFileSync(a.segs[0]!).subarray(0, 4).toString('latin1'), 'Obj\x01', 'Avro object container magic');
  const head = await readHead(a.storage, TOPIC, 0);
  assert.equal(head.sequence, 2);
  assert.equal(head.lastOffset, 28);
  await seal(a.storage, a.signer, head, records(29, 3));
  assert.equal((await verifyArchive(a.storage, a.jwks)).ok, true);
});

test('RFC 6962 root: the flat in-place fold equals the recursive definition for 0..70 leaves', () => {
  for (let n = 0; n <= 70; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`r${i}`)));
    assert.deepEqual(merkleRootFlat(Buffer.concat(leaves), n), merkleRoot(leaves), `n=${n}`);
  }
});

for (const format of [{ codec: 'deflate' }, { codec: 'null' }, { codec: 'deflate', deflateLevel: 1, blockBytes: 4096 }] as Partial<SegmentFormat>[]) {
  test(`segment check (${JSON.stringify(format)}): same hashes as decoding each record; standard Avro reads the file`, async () => {
    const recs = records(100, 40);
    const bytes = await encodeSegment(recs, format);
    const c = checkSegment(bytes, 100, recs.length);
    assert.equal(c.error, undefined);
    assert.equal(c.records, 40);
    assert.equal(c.merkleRoot, merkleRoot(recs.map((r) => leafHash(canonical(r)))).toString('hex'));
    assert.deepEqual(c.offsetMismatches, []);
    assert.deepEqual(
      (await decodeSegment(bytes)).map((r) => r.eventId),
      recs.map((r) => r.eventId),
    );
    assert.deepEqual(checkSegment(bytes, 101, 1).offsetMismatches.slice(0, 2), [
      [0, 100],
      [1, 101],
    ]);
    const copy = Buffer.from(bytes);
    checkSegment(copy, 100, 40);
    assert.deepEqual(copy, bytes, 'the check leaves the bytes as they were');
  });
}

test('segment check: a file that is not a readable container of ArchivedRecord is named, never thrown', async () => {
  const good = await encodeSegment(records(0, 30), { codec: 'null' });
  const deflated = await encodeSegment(records(0, 30));
  const other = await encodeSegment(records(0, 3)).then((b) => b.toString('latin1').replace('ArchivedRecord', 'ArchivedRecorX'));
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /bad magic/],
    ['bad magic', Buffer.concat([Buffer.from('Obj\x02'), good.subarray(4)]), /bad magic/],
    ['truncated header', good.subarray(0, 40), /runs past the end/],
    ['truncated block', good.subarray(0, good.length - 100), /runs past the end/],
    ['bad sync marker', Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([good[good.length - 1]! ^ 1])]), /sync marker/],
    [
      'corrupt deflate data',
      (() => {
        const b = Buffer.from(deflated);
        b.fill(0xff, b.length - 200, b.length - 20);
        return b;
      })(),
      /does not inflate|runs past|after its|cannot fit|union branch|negative/,
    ],
    ['another schema', Buffer.from(other, 'latin1'), /not ArchivedRecord/],
  ];
  for (const [name, bytes, reason] of cases) {
    const c = checkSegment(bytes, 0, 30);
    assert.match(c.error ?? '', reason, name);
    assert.equal(c.records, 0, name);
    assert.equal(c.sha256.length, 64, name);
  }
});

test("segments written before 1 MiB blocks (avsc's 64 KiB default) still verify", async (t) => {
  const a = await archive(t, { blockBytes: 64 * 1024 });
  await seal(a.storage, a.signer, a.head, records(29, 200), Date.now(), { blockBytes: 2048 });
  const report = await verifyArchive(a.storage, a.jwks);
  assert.deepEqual(report.findings, []);
  assert.equal(report.records, 229);
});

test('tamper matrix: every case is detected and named', async (t) => {
  const cases: [string, (a: Awaited<ReturnType<typeof archive>>) => Promise<void> | void, string][] = [
    [
      'flip one byte',
      (a) => {
        const b = readFileSync(a.segs[1]!);
        b[b.length - 20] = b[b.length - 20]! ^ 0x01;
        writeFileSync(a.segs[1]!, b);
      },
      'changed',
    ],
    ['truncate', (a) => truncateSync(a.segs[2]!, 100), 'truncated'],
    ['delete a segment', (a) => unlinkSync(a.segs[0]!), 'segment-deleted'],
    [
      'swap two segments',
      (a) => {
        const x = readFileSync(a.segs[0]!);
        writeFileSync(a.segs[0]!, readFileSync(a.segs[1]!));
        writeFileSync(a.segs[1]!, x);
      },
      'reordered',
    ],
    [
      'insert a forged record',
      async (a) => {
        const r = await decodeSegment(readFileSync(a.segs[1]!));
        r.splice(3, 0, { ...r[3]!, eventId: newId() });
        writeFileSync(a.segs[1]!, await encodeSegment(r, a.format));
      },
      'inserted',
    ],
    [
      're-sign with a wrong key (same kid)',
      async (a) => {
        const other = await loadSigner((await generateSigningKey(path.join(a.dir, 'evil'), 'k1')).privateFile);
        const payload = JSON.parse(Buffer.from(readFileSync(a.mans[1]!, 'utf8').split('.')[1]!, 'base64url').toString());
        payload.recordCount = 99;
        writeFileSync(a.mans[1]!, await other.sign(Buffer.from(JSON.stringify(payload))));
      },
      'forged',
    ],
    [
      'sign with an unknown key',
      async (a) => {
        const other = await loadSigner((await generateSigningKey(path.join(a.dir, 'evil2'), 'intruder')).privateFile);
        writeFileSync(a.mans[2]!, await other.sign(Buffer.from(Buffer.from(readFileSync(a.mans[2]!, 'utf8').split('.')[1]!, 'base64url'))));
      },
      'unknown-key',
    ],
    ['drop a manifest', (a) => unlinkSync(a.mans[1]!), 'manifest-deleted'],
    [
      'reorder manifests',
      (a) => {
        renameSync(a.mans[1]!, `${a.mans[1]}.x`);
        renameSync(a.mans[2]!, a.mans[1]!);
        renameSync(`${a.mans[1]}.x`, a.mans[2]!);
      },
      'reordered',
    ],
  ];
  for (const format of [{ codec: 'deflate' }, { codec: 'null' }] as Partial<SegmentFormat>[]) {
    for (const [name, tamper, expected] of cases) {
      const a = await archive(t, format);
      await tamper(a);
      const found = await kinds(a);
      assert.ok(found.includes(expected as never), `${format.codec}: ${name}: expected ${expected}, got ${found.join(', ') || 'nothing'}`);
    }
  }
});

test('a segment left without its manifest by a crash is removed at recovery; the chain stays valid', async (t) => {
  const a = await archive(t);
  unlinkSync(a.mans[2]!); // the crash hit between the segment write and its manifest
  unlinkSync(a.cps[2]!); // so the checkpoint after that seal was never written either
  const { head, removed } = await recoverStream(a.storage, TOPIC, 0);
  assert.deepEqual(
    removed.map((k) => k.split('/').pop()),
    [path.basename(a.segs[2]!)],
  );
  assert.equal(head.sequence, 1);
  assert.equal(head.lastOffset, 16);
  assert.deepEqual((await verifyArchive(a.storage, a.jwks)).findings, []);
  await seal(a.storage, a.signer, head, records(17, 12));
  assert.equal((await verifyArchive(a.storage, a.jwks)).ok, true);
});

test('an offset gap between segments is named', async (t) => {
  const a = await archive(t);
  await seal(a.storage, a.signer, a.head, records(40, 2));
  const report = await verifyArchive(a.storage, a.jwks);
  assert.deepEqual(
    report.findings.map((f) => [f.kind, f.message]),
    [['gap', 'offsets 29..39 were never archived']],
  );
});

test('inclusion proofs check offline with the public key; a proof for a modified record fails', async (t) => {
  const a = await archive(t);
  const target = a.all[2]![5]!;
  const proof = (await prove(a.storage, target.eventId))!;
  assert.equal(proof.offset, 22);
  const ok = await checkProof(JSON.parse(JSON.stringify(proof)), a.jwks);
  assert.ok(ok.ok);
  assert.equal((ok.event as AuditEvent).id, target.eventId);
  const altered = { ...proof, record: Buffer.from(Buffer.from(proof.record, 'base64').map((b, i) => (i === 40 ? b ^ 1 : b))).toString('base64') };
  const bad = await checkProof(altered, a.jwks);
  assert.equal(bad.ok, false);
  assert.equal((await checkProof(proof, { keys: [] })).ok, false);
  assert.equal(await prove(a.storage, newId()), undefined);
});

test('retention deletes a segment only through a recorded deletion; export streams events in a time range', async (t) => {
  const a = await archive(t);
  const [first] = await manifestsOf(a.storage, `${TOPIC}/0/`);
  await recordDeletion(a.storage, a.signer, a.head, first!.m);
  const report = await verifyArchive(a.storage, a.jwks);
  assert.deepEqual(report.findings, []);
  assert.equal(report.records, 19);
  const out = [];
  for await (const r of exportEvents(a.storage, 1_795_000_012_000, 1_795_000_015_000)) out.push(r);
  assert.deepEqual(
    out.map((r) => r.offset),
    [12, 13, 14, 15],
  );
});

test('a newest manifest that is not a manifest (what a torn write used to leave) stops the writer with a named error', async (t) => {
  const a = await archive(t);
  writeFileSync(path.join(a.streamDir, '0000000003.manifest.jws'), '');
  await assert.rejects(
    recoverStream(a.storage, TOPIC, 0),
    (err: Error & { code?: string }) =>
      err.code === 'AUDIT_ERR_ARCHIVE_MANIFEST_UNREADABLE' && /0000000003\.manifest\.jws is not a readable manifest \(0 bytes\)/.test(err.message),
  );
});

test('duplicates (generated): an event archived at two offsets is information in verify, and export gives each event once', async (t) => {
  for (let seed = 1; seed <= 12; seed++) {
    let a = seed * 2654435761;
    const rand = (n: number) => {
      a = (Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
      return a % n;
    };
    const dir = mkdtempSync(path.join(tmpdir(), 'archive-dup-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const signer = await loadSigner((await generateSigningKey(path.join(dir, 'keys'), 'k1')).privateFile);
    const jwks = await loadJwks(path.join(dir, 'keys', 'archive-public.jwks.json'));
    const storage = localStorage(path.join(dir, 'data'));
    const chain = await readCheckpointChain(storage, TOPIC);
    const expected = new Map<string, number>();
    const all: string[] = [];
    for (let p = 0; p < 2; p++) {
      const head = await readHead(storage, TOPIC, p);
      const seen: ArchivedRecord[] = [];
      let repeats = 0;
      for (let s = 0; s < 1 + rand(4); s++) {
        // a stage that crashed re-produces a batch it had produced: the same events at new offsets
        const fresh = records(head.lastOffset + 1, 1 + rand(12));
        const replay = seen.length > 0 && rand(2) === 0 ? seen.slice(seen.length - 1 - rand(Math.min(seen.length, 5))) : [];
        const batch = [...fresh, ...replay].map((r, i) => ({ ...r, offset: head.lastOffset + 1 + i }));
        repeats += replay.length;
        seen.push(...fresh);
        await seal(storage, signer, head, batch);
        all.push(...batch.map((r) => r.eventId));
      }
      if (repeats > 0) expected.set(`${TOPIC}/${p}/`, repeats);
      await appendCheckpoint(storage, signer, chain, { archive: 'dup', partitionCount: 2, marks: [markOf(head)], createdAt: Date.now(), intervalMs: 60_000 });
    }
    const report = await verifyArchive(storage, jwks, { duplicates: true });
    assert.deepEqual(report.findings, [], `seed ${seed}: duplicates are not tampering`);
    assert.deepEqual(new Map(report.duplicates.map((d) => [d.stream, d.records])), expected, `seed ${seed}`);
    for (const d of report.duplicates) assert.ok(all.includes(d.example.eventId));
    assert.deepEqual((await verifyArchive(storage, jwks)).duplicates, [], 'not counted unless asked');
    const stats = { events: 0, duplicates: 0 };
    const out = [];
    for await (const r of exportEvents(storage, 0, Number.MAX_SAFE_INTEGER, { stats })) out.push((r.event as AuditEvent).id);
    assert.equal(new Set(out).size, out.length, `seed ${seed}: each event once`);
    assert.deepEqual(new Set(out), new Set(all));
    assert.deepEqual(stats, { events: new Set(all).size, duplicates: all.length - new Set(all).size });
    const kept = [];
    for await (const r of exportEvents(storage, 0, Number.MAX_SAFE_INTEGER, { dedupe: false })) kept.push(r.offset);
    assert.equal(kept.length, all.length, `seed ${seed}: --keep-duplicates keeps every record`);
  }
});
