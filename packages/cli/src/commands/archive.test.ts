import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateSigningKey, loadSigner, localStorage, readHead, seal } from '@jwt-audit/archive';
import { eventCodec, newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';

const run = promisify(execFile);
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

test('audit archive verify / prove / check-proof / export, and verify failing on a tampered segment', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await generateSigningKey(path.join(dir, 'keys'), 'k1');
  const signer = await loadSigner(keys.privateFile);
  const storage = localStorage(path.join(dir, 'archive'));
  const head = await readHead(storage, 'audit.enriched.v1', 0);
  const base = readSchemaFile('examples/token.validated.json') as AuditEvent;
  const ids: string[] = [];
  for (let s = 0; s < 3; s++) {
    await seal(storage, signer, head, Array.from({ length: 5 }, (_, i) => {
      const e = { ...base, id: newId(), occurredAt: Date.parse('2026-11-20T10:00:00Z') + (s * 5 + i) * 60_000 };
      ids.push(e.id);
      const enc = eventCodec.encode(e);
      return { offset: s * 5 + i, timestamp: e.occurredAt, key: null, eventId: e.id, schemaFingerprint: enc.headers['audit-schema-fingerprint']!, event: enc.value };
    }));
  }
  const common = ['--dir', path.join(dir, 'archive'), '--jwks', keys.jwksFile];
  const ok = await audit(['archive', 'verify', ...common]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^OK: 1 partition\(s\), 3 manifests, 3 segments, 15 records/m);
  const json = await audit(['archive', 'verify', ...common, '--json']);
  assert.equal(JSON.parse(json.stdout).records, 15);

  const proofFile = path.join(dir, 'proof.json');
  const proved = await audit(['archive', 'prove', ids[7]!, '--dir', path.join(dir, 'archive'), '--out', proofFile]);
  assert.equal(proved.code, 0, proved.stderr);
  const valid = await audit(['archive', 'check-proof', proofFile, '--jwks', keys.jwksFile]);
  assert.equal(valid.code, 0);
  assert.match(valid.stdout, new RegExp(`^VALID: event ${ids[7]} is record 3 of 5 in audit.enriched.v1/0`));
  const proof = JSON.parse(readFileSync(proofFile, 'utf8'));
  proof.auditPath[0] = '0'.repeat(64);
  writeFileSync(proofFile, JSON.stringify(proof));
  const invalid = await audit(['archive', 'check-proof', proofFile, '--jwks', keys.jwksFile]);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stdout, /^INVALID: the record is not included under the signed Merkle root/);
  assert.equal((await audit(['archive', 'prove', newId(), '--dir', path.join(dir, 'archive')])).code, 1);

  const exported = await audit(['archive', 'export', '--from', '2026-11-20T10:03:00Z', '--to', '2026-11-20T10:06:00Z', '--dir', path.join(dir, 'archive')]);
  assert.equal(exported.code, 0);
  assert.deepEqual(exported.stdout.trim().split('\n').map((l) => JSON.parse(l).offset), [3, 4, 5, 6]);

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
