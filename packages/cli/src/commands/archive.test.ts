import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { appendCheckpoint, generateSigningKey, loadSigner, localStorage, markOf, readCheckpointChain, readHead, seal } from '@jwt-audit/archive';
import { eventCodec, newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import { runAuditCaptured } from '../run-captured.js';
import { parseTime } from './archive.js';

const run = promisify(execFile);
const sequentially = async <T>(fns: (() => Promise<T>)[]) => {
  const out: T[] = [];
  for (const fn of fns) out.push(await fn()); // one at a time: they share this process's stdout
  return out;
};
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin.ts');
async function audit(args: string[]) {
  try {
    const r = await run(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The command lines in this process, output captured without swallowing the test runner's own reports. */
const auditHere = (args: string[]) => runAuditCaptured(args);

test('audit archive verify / prove / check-proof / export, and verify failing on a tampered segment', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await generateSigningKey(path.join(dir, 'keys'), 'k1');
  const signer = await loadSigner(keys.privateFile);
  const storage = localStorage(path.join(dir, 'archive'));
  const head = await readHead(storage, 'audit.enriched.v1', 0);
  const base = readSchemaFile('examples/token.validated.json') as AuditEvent;
  const ids: string[] = [];
  const chain = await readCheckpointChain(storage, 'audit.enriched.v1');
  for (let s = 0; s < 3; s++) {
    await seal(
      storage,
      signer,
      head,
      Array.from({ length: 5 }, (_, i) => {
        const e = { ...base, id: newId(), occurredAt: Date.parse('2026-11-20T10:00:00Z') + (s * 5 + i) * 60_000 };
        ids.push(e.id);
        const enc = eventCodec.encode(e);
        return {
          offset: s * 5 + i,
          timestamp: e.occurredAt,
          key: null,
          eventId: e.id,
          schemaFingerprint: enc.headers['audit-schema-fingerprint']!,
          event: enc.value,
        };
      }),
    );
    await appendCheckpoint(storage, signer, chain, {
      archive: 'cli-test',
      partitionCount: 1,
      marks: [markOf(head)],
      createdAt: Date.now(),
      intervalMs: 3_600_000,
    });
  }
  const common = ['--dir', path.join(dir, 'archive'), '--jwks', keys.jwksFile];
  const ok = await audit(['archive', 'verify', ...common]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^OK: 1 partition\(s\), 3 manifests, 3 segments, 15 records, 0\.0 MB, 0 finding\(s\), 0 warning\(s\)/m);
  assert.match(ok.stdout, /^checked against checkpoint 2: cli-test, 1 partition\(s\), written .*, sha256:[0-9a-f]{64}$/m);
  const json = await auditHere(['archive', 'verify', ...common, '--json']);
  assert.equal(JSON.parse(json.stdout).records, 15);

  const proofFile = path.join(dir, 'proof.json');
  const proved = await auditHere(['archive', 'prove', ids[7]!, '--dir', path.join(dir, 'archive'), '--out', proofFile]);
  assert.equal(proved.code, 0, proved.stderr);
  // --out says what it wrote (it printed nothing, issue #25)
  assert.match(
    proved.stdout,
    new RegExp(
      `^wrote the inclusion proof of event ${ids[7]} \\(record 3 of 5 in audit\\.enriched\\.v1/0 \\S+\\.avro\\) to ${proofFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; check it with: audit archive check-proof `,
    ),
  );
  const valid = await auditHere(['archive', 'check-proof', proofFile, '--jwks', keys.jwksFile]);
  assert.equal(valid.code, 0);
  assert.match(valid.stdout, new RegExp(`^VALID: event ${ids[7]} is record 3 of 5 in audit.enriched.v1/0`));
  // --json: ECS names, ISO times (packages/cli/README.md)
  const validJson = JSON.parse((await auditHere(['archive', 'check-proof', proofFile, '--jwks', keys.jwksFile, '--json'])).stdout);
  assert.deepEqual(Object.keys(validJson), ['ok', 'event', 'archive']);
  assert.equal(validJson.ok, true);
  assert.deepEqual(validJson.event, { id: ids[7] });
  assert.deepEqual(
    { ...validJson.archive, segment: undefined, sealed_at: undefined },
    { topic: 'audit.enriched.v1', partition: 0, offset: 7, record: 3, records: 5, segment: undefined, sealed_at: undefined },
  );
  assert.match(validJson.archive.sealed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const proof = JSON.parse(readFileSync(proofFile, 'utf8'));
  proof.auditPath[0] = '0'.repeat(64);
  writeFileSync(proofFile, JSON.stringify(proof));
  const invalid = await auditHere(['archive', 'check-proof', proofFile, '--jwks', keys.jwksFile]);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stdout, /^INVALID: the record is not included under the signed Merkle root/);
  const invalidJson = await auditHere(['archive', 'check-proof', proofFile, '--jwks', keys.jwksFile, '--json']);
  assert.equal(invalidJson.code, 1);
  assert.deepEqual(JSON.parse(invalidJson.stdout), {
    ok: false,
    event: { id: ids[7] },
    error: { message: 'the record is not included under the signed Merkle root' },
  });
  assert.equal((await auditHere(['archive', 'prove', newId(), '--dir', path.join(dir, 'archive')])).code, 1);

  const exported = await auditHere(['archive', 'export', '--from', '2026-11-20T10:03:00Z', '--to', '2026-11-20T10:06:00Z', '--dir', path.join(dir, 'archive')]);
  assert.equal(exported.code, 0);
  assert.deepEqual(
    exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).offset),
    [3, 4, 5, 6],
  );
  // the time syntax of `audit search`: date math, epoch ms, --since; --to defaults to now
  const math = await auditHere([
    'archive',
    'export',
    '--from',
    '2026-11-20T10:00:00Z||+3m',
    '--to',
    `${Date.parse('2026-11-20T10:00:00Z')}||+6m`,
    '--dir',
    path.join(dir, 'archive'),
  ]);
  assert.equal(math.code, 0, math.stderr);
  assert.deepEqual(
    math.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).offset),
    [3, 4, 5, 6],
  );
  const sinceEpoch = Math.ceil((Date.now() - Date.parse('2026-11-20T10:14:00Z')) / 86_400_000) + 1;
  const recent = await auditHere(['archive', 'export', '--from', `now-${sinceEpoch}d`, '--dir', path.join(dir, 'archive')]);
  assert.equal(recent.code, 0, recent.stderr);
  assert.equal(recent.stdout.trim().split('\n').length, 15);
  assert.equal((await auditHere(['archive', 'export', '--since', '1h', '--dir', path.join(dir, 'archive')])).stdout, '', 'nothing archived in the last hour');
  const noFrom = await auditHere(['archive', 'export', '--to', 'now', '--dir', path.join(dir, 'archive')]);
  assert.equal(noFrom.code, 2);
  assert.match(noFrom.stderr, /^audit: archive: export: missing --from \(or --since\): where the export starts, e\.g\. --from now-1h/);
  const neither = await auditHere(['archive', 'export', '--dir', path.join(dir, 'archive')]);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /missing --from \(or --since\).*; --to defaults to now/);
  const backwards = await auditHere(['archive', 'export', '--from', 'now', '--to', 'now-1h', '--dir', path.join(dir, 'archive')]);
  assert.equal(backwards.code, 2);
  assert.match(backwards.stderr, /--to \(.*\) is before --from/);
  const badMath = await auditHere(['archive', 'export', '--from', 'now-1x', '--dir', path.join(dir, 'archive')]);
  assert.equal(badMath.code, 2);

  const streamDir = path.join(dir, 'archive', 'audit.enriched.v1', '0');
  const seg = path.join(streamDir, readdirSync(streamDir).find((f) => f.endsWith('.avro'))!);
  chmodSync(seg, 0o644);
  const bytes = readFileSync(seg);
  bytes[bytes.length - 30] = bytes[bytes.length - 30]! ^ 0xff;
  writeFileSync(seg, bytes);
  const bad = await audit(['archive', 'verify', ...common]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /FAIL changed\s+audit\.enriched\.v1\/0\/0000000000\.\d+-\d+\.avro: segment SHA-256 does not match its manifest/);
  assert.match(bad.stdout, /^TAMPERED:/m);
  assert.equal((await audit(['archive', 'verify', '--dir', dir, '--jwks', path.join(dir, 'nope.json')])).code, 3);
});

test('audit archive head, verify --expect-head, and nothing to verify failing with what was expected', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-head-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await generateSigningKey(path.join(dir, 'keys'), 'k1');
  const signer = await loadSigner(keys.privateFile);
  const storage = localStorage(path.join(dir, 'archive'));
  const base = readSchemaFile('examples/token.validated.json') as AuditEvent;
  const chain = await readCheckpointChain(storage, 'audit.enriched.v1');
  const heads = [
    await readHead(storage, 'audit.enriched.v1', 0),
    await readHead(storage, 'audit.enriched.v1', 1),
    await readHead(storage, 'audit.enriched.v1', 2),
  ];
  for (const [p, n] of [
    [0, 3],
    [1, 2],
    [0, 4],
  ] as const) {
    await seal(
      storage,
      signer,
      heads[p]!,
      Array.from({ length: n }, (_, i) => {
        const e = { ...base, id: newId() };
        const enc = eventCodec.encode(e);
        return {
          offset: heads[p]!.lastOffset + 1 + i,
          timestamp: e.occurredAt,
          key: null,
          eventId: e.id,
          schemaFingerprint: enc.headers['audit-schema-fingerprint']!,
          event: enc.value,
        };
      }),
    );
    await appendCheckpoint(storage, signer, chain, {
      archive: 'cli-head',
      partitionCount: 3,
      marks: heads.map(markOf),
      createdAt: Date.now(),
      intervalMs: 3_600_000,
    });
  }
  const archiveDir = path.join(dir, 'archive');
  const common = ['--jwks', keys.jwksFile];
  const head = await auditHere(['archive', 'head', '--dir', archiveDir, ...common]);
  const jws = await auditHere(['archive', 'head', '--dir', archiveDir, '--jws', ...common]);
  assert.equal(head.code, 0, head.stderr);
  assert.match(head.stdout, /^cli-head checkpoint 2 \d{4}-\d\d-\d\dT[\d:.]+Z sha256:[0-9a-f]{64}\n$/);
  writeFileSync(path.join(dir, 'head.jws'), jws.stdout);
  writeFileSync(path.join(dir, 'head.txt'), head.stdout);
  const hash = head.stdout.trim().split('sha256:')[1]!;

  // a copy with partition 0's tail and every checkpoint removed
  const copy = path.join(dir, 'copy');
  cpSync(archiveDir, copy, { recursive: true });
  for (const e of readdirSync(copy, { recursive: true, withFileTypes: true })) if (e.isFile()) chmodSync(path.join(e.parentPath, e.name), 0o644);
  rmSync(path.join(copy, 'audit.enriched.v1', 'checkpoints'), { recursive: true });
  const p0 = path.join(copy, 'audit.enriched.v1', '0');
  for (const f of readdirSync(p0).filter((f) => f.startsWith('0000000001.'))) unlinkSync(path.join(p0, f));

  mkdirSync(path.join(dir, 'empty'));
  const run = (args: string[]) => auditHere(['archive', ...args, ...common]);
  type R = Awaited<ReturnType<typeof auditHere>>;
  const [good, badJws, badHash, noHead, usage, stale, missing, empty, p99, p2, noCheckpointHead] = (await sequentially([
    () => run(['verify', '--dir', archiveDir, '--expect-head', path.join(dir, 'head.txt')]),
    () => run(['verify', '--dir', copy, '--expect-head', path.join(dir, 'head.jws')]),
    () => run(['verify', '--dir', copy, '--expect-head', `sha256:${hash}`]),
    () => run(['verify', '--dir', copy]),
    () => run(['verify', '--dir', archiveDir, '--expect-head', 'not-a-head']),
    () => run(['verify', '--dir', archiveDir, '--max-age', '0s']),
    () => run(['verify', '--dir', path.join(dir, 'nowhere')]),
    () => run(['verify', '--dir', path.join(dir, 'empty'), '--json']),
    () => run(['verify', '--dir', archiveDir, '--partition', '99']),
    () => run(['verify', '--dir', archiveDir, '--partition', '2']),
    () => run(['head', '--dir', copy]),
  ])) as [R, R, R, R, R, R, R, R, R, R, R];
  assert.equal(good.code, 0, good.stdout);
  assert.match(good.stdout, /^checked against checkpoint 2, matching the expected head: cli-head, 3 partition\(s\)/m);
  assert.equal(badJws.code, 1, badJws.stdout);
  assert.match(
    badJws.stdout,
    /^FAIL head-mismatch\s+audit\.enriched\.v1\/checkpoints\/\(expected head\): the expected head, checkpoint 2 of cli-head .* is not in the archive \(it holds no checkpoint\): checkpoints were removed/m,
  );
  assert.match(badJws.stdout, /^FAIL tail-truncated\s+audit\.enriched\.v1\/0\/: chain ends at manifest 0, checkpoint 2 .* says its chain reaches manifest 1/m);
  assert.match(badJws.stdout, /^checked against the expected head \(not in the archive\)/m);
  assert.equal(badHash.code, 1, badHash.stdout);
  assert.match(badHash.stdout, new RegExp(`^FAIL head-mismatch .*no checkpoint in the archive has SHA-256 ${hash}`, 'm'));
  assert.equal(noHead.code, 1);
  assert.match(noHead.stdout, /^FAIL checkpoint-missing\s+audit\.enriched\.v1\/checkpoints\/: no checkpoint for audit\.enriched\.v1: expected signed/m);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--expect-head: expected a SHA-256/);
  assert.equal(stale.code, 0, 'staleness is a warning');
  assert.match(stale.stdout, /^WARN stale-checkpoint\s+audit\.enriched\.v1\/checkpoints\/0000000002\.checkpoint\.jws: checkpoint 2 is \d+ s old/m);
  // nothing to verify: exit 1, saying what was expected
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /^FAIL not-found\s+archive directory .*nowhere does not exist \(expected <topic>\/<partition>\/ streams/m);
  assert.equal(empty.code, 1);
  assert.match(JSON.parse(empty.stdout).findings[0].message, /holds no topic/);
  assert.equal(p99.code, 1);
  assert.match(
    p99.stdout,
    /FAIL not-found\s+audit\.enriched\.v1\/99\/: partition 99 is not in the archive: no stream audit\.enriched\.v1\/99\/, and checkpoint 2 names partitions 0\.\.2/,
  );
  assert.equal(p2.code, 1);
  assert.match(p2.stdout, /partition 2 holds nothing to verify: checkpoint 2 says nothing was sealed for it yet/);
  assert.equal(noCheckpointHead.code, 1);
  assert.match(noCheckpointHead.stderr, /no checkpoint in .*copy \(expected <topic>\/checkpoints\/<seq>\.checkpoint\.jws\)/);
});

test('audit archive export drops repeated event ids and says how many; verify --duplicates names them as information', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-dup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await generateSigningKey(path.join(dir, 'keys'), 'k1');
  const signer = await loadSigner(keys.privateFile);
  const storage = localStorage(path.join(dir, 'archive'));
  const head = await readHead(storage, 'audit.enriched.v1', 0);
  const base = readSchemaFile('examples/token.validated.json') as AuditEvent;
  const events = Array.from({ length: 6 }, (_, i) => ({ ...base, id: newId(), occurredAt: Date.parse('2026-11-20T10:00:00Z') + i * 1000 }));
  // a stage re-produced events 2..4 after a crash: they are archived again at new offsets
  const sequence = [...events, ...events.slice(2, 5)];
  await seal(
    storage,
    signer,
    head,
    sequence.map((e, offset) => {
      const enc = eventCodec.encode(e);
      return { offset, timestamp: e.occurredAt, key: null, eventId: e.id, schemaFingerprint: enc.headers['audit-schema-fingerprint']!, event: enc.value };
    }),
  );
  await appendCheckpoint(storage, signer, await readCheckpointChain(storage, 'audit.enriched.v1'), {
    archive: 'dup',
    partitionCount: 1,
    marks: [markOf(head)],
    createdAt: Date.now(),
    intervalMs: 3_600_000,
  });
  const args = ['--dir', path.join(dir, 'archive')];
  const exported = await auditHere(['archive', 'export', '--from', '2026-11-20T00:00:00Z', '--to', '2026-11-21T00:00:00Z', ...args]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.deepEqual(
    exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).event.id),
    events.map((e) => e.id),
  );
  assert.equal(exported.stderr, '6 event(s), 3 duplicate(s) dropped (an event id already exported: re-delivery upstream)\n');
  const kept = await auditHere(['archive', 'export', '--from', '2026-11-20T00:00:00Z', '--to', '2026-11-21T00:00:00Z', ...args, '--keep-duplicates']);
  assert.equal(kept.stdout.trim().split('\n').length, 9);
  const verified = await auditHere(['archive', 'verify', ...args, '--jwks', keys.jwksFile, '--duplicates']);
  assert.equal(verified.code, 0, verified.stdout);
  assert.match(
    verified.stdout,
    new RegExp(
      `^INFO duplicates\\s+audit\\.enriched\\.v1/0/: 3 record\\(s\\) repeat an event id archived earlier in this partition \\(e\\.g\\. ${events[2]!.id} in 0000000000\\.`,
      'm',
    ),
  );
  assert.match(verified.stdout, /^OK: 1 partition/m);
});

// in a child process: the command writes to stdout, where this file's test reports go too
test('audit archive keygen says when the new key takes effect', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-keygen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keysDir = path.join(dir, 'keys');
  const first = await audit(['archive', 'keygen', '--keys-dir', keysDir, '--kid', 'archive-2026-11-20-a']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).kid, 'archive-2026-11-20-a');
  assert.match(
    first.stderr,
    /^new signing key archive-2026-11-20-a: .*archive-2026-11-20-a\.private\.jwk\.json; its public key was appended to .*archive-public\.jwks\.json .*A running archiver keeps signing with its current key: the new key takes effect when the archiver restarts/,
  );
  // a name that sorts before the newest key: it does not take effect on its own
  const older = await audit(['archive', 'keygen', '--keys-dir', keysDir, '--kid', 'archive-2026-01-01-z']);
  assert.equal(older.code, 0, older.stderr);
  assert.match(
    older.stderr,
    /It does not take effect on its own: archive-2026-11-20-a\.private\.jwk\.json sorts after it.*set AUDIT_ARCHIVE_PRIVATE_KEY_FILE=.*archive-2026-01-01-z\.private\.jwk\.json and restart the archiver/,
  );
  assert.equal(JSON.parse(readFileSync(path.join(keysDir, 'archive-public.jwks.json'), 'utf8')).keys.length, 2);
});

test('parseTime: what `audit search` accepts (ISO, epoch ms, now, date math, rounding), generated against plain arithmetic', () => {
  const now = Date.parse('2026-11-20T10:17:42.123Z');
  assert.equal(parseTime('now', now), now);
  assert.equal(parseTime('now-1h', now), now - 3_600_000);
  assert.equal(parseTime('now+15m', now), now + 900_000);
  assert.equal(parseTime('now-1d/d', now), Date.parse('2026-11-19T00:00:00Z'));
  assert.equal(parseTime('now/h', now), Date.parse('2026-11-20T10:00:00Z'));
  assert.equal(parseTime('now/M', now), Date.parse('2026-11-01T00:00:00Z'));
  assert.equal(parseTime('now/y', now), Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(parseTime('now/w', now), Date.parse('2026-11-16T00:00:00Z'), 'Monday');
  assert.equal(parseTime('now-1M', now), Date.parse('2026-10-20T10:17:42.123Z'));
  assert.equal(parseTime('2026-11-20T10:00:00Z'), Date.parse('2026-11-20T10:00:00Z'));
  assert.equal(parseTime('2026-11-20'), Date.parse('2026-11-20T00:00:00Z'));
  assert.equal(parseTime('1700000000000'), 1_700_000_000_000);
  assert.equal(parseTime('2026-11-20T10:00:00Z||+1h-30m'), Date.parse('2026-11-20T10:30:00Z'));
  const ms: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, H: 3_600_000, m: 60_000, s: 1000 };
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  for (let i = 0; i < 500; i++) {
    const base = Date.UTC(2000 + rand(50), rand(12), 1 + rand(28), rand(24), rand(60), rand(60), rand(1000));
    const steps = Array.from({ length: 1 + rand(3) }, () => ({ sign: rand(2) ? '+' : '-', n: rand(500), unit: Object.keys(ms)[rand(6)]! }));
    const math = steps.map((s) => `${s.sign}${s.n}${s.unit}`).join('');
    const expected = steps.reduce((t, s) => t + (s.sign === '+' ? 1 : -1) * s.n * ms[s.unit]!, base);
    assert.equal(parseTime(`now${math}`, base), expected, `now${math}`);
    assert.equal(parseTime(`${new Date(base).toISOString()}||${math}`), expected);
    assert.equal(parseTime(`${base}||${math}`), expected);
    const day = parseTime(`now${math}/d`, base);
    assert.equal(day, Math.floor(expected / 86_400_000) * 86_400_000);
  }
  for (const bad of ['', 'yesterday', 'now-', 'now-1', 'now-1x', 'now1h', 'now-1h/', 'now/q', 'Tuesday', '2026-13-45', 'now||+1h', '12abc', ' - ']) {
    assert.throws(
      () => parseTime(bad, now),
      (e: Error) => /expected|date math/.test(e.message),
      bad,
    );
  }
});
