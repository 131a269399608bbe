/**
 * Archive write MB/s and events/s (seal = Avro container + Merkle tree + signed manifest, fsynced),
 * and verify MB/s against `sha256sum` over the same segment files, in the same run.
 *   npm run bench -w services/archiver          (BENCH_EVENTS=100000, 5,000 per segment)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSigningKey, loadJwks, loadSigner, localStorage, readHead, seal, verifyArchive, type ArchivedRecord } from '@jwt-audit/archive';
import { eventCodec, newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';

const N = Number(process.env.BENCH_EVENTS ?? 100_000);
const PER = 5_000;
const dir = mkdtempSync(path.join(tmpdir(), 'archiver-bench-'));
try {
  const keys = await generateSigningKey(path.join(dir, 'keys'), 'bench');
  const signer = await loadSigner(keys.privateFile);
  const storage = localStorage(path.join(dir, 'archive'));
  const head = await readHead(storage, 'audit.enriched.v1', 0);
  const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;
  let bytesIn = 0;
  const batches: ArchivedRecord[][] = [];
  for (let i = 0; i < N; i += PER) {
    batches.push(Array.from({ length: Math.min(PER, N - i) }, (_, j) => {
      // varied content, so segments compress like real traffic rather than like one event repeated
      const n = i + j;
      const e: AuditEvent = {
        ...base,
        id: newId(),
        occurredAt: Date.now(),
        actor: { ...base.actor, sub: `user-${(n * 7919) % 50_000}` },
        network: { ...base.network!, clientIp: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` },
        http: { ...base.http!, request: { ...base.http!.request, path: `/orders/${n}`, body: { ...base.http!.request.body!, content: JSON.stringify({ sku: `A-${n % 977}`, quantity: n % 9, note: randomBytes(24).toString('base64') }) } } },
        token: { ...base.token!, jti: randomBytes(16).toString('hex'), fingerprint: randomBytes(32).toString('hex') },
      };
      const enc = eventCodec.encode(e);
      bytesIn += enc.value.length;
      return { offset: i + j, timestamp: e.occurredAt, key: Buffer.from('sub:alice'), eventId: e.id, schemaFingerprint: enc.headers['audit-schema-fingerprint']!, event: enc.value };
    }));
  }
  let t = process.hrtime.bigint();
  for (const b of batches) await seal(storage, signer, head, b);
  const writeSecs = Number(process.hrtime.bigint() - t) / 1e9;

  const streamDir = path.join(dir, 'archive', 'audit.enriched.v1', '0');
  const files = readdirSync(streamDir).filter((f) => f.endsWith('.avro')).map((f) => path.join(streamDir, f));
  t = process.hrtime.bigint();
  execFileSync('sha256sum', files, { stdio: 'ignore' });
  const shaSecs = Number(process.hrtime.bigint() - t) / 1e9;
  const jwks = await loadJwks(keys.jwksFile);
  t = process.hrtime.bigint();
  const report = await verifyArchive(storage, jwks);
  const verifySecs = Number(process.hrtime.bigint() - t) / 1e9;
  if (!report.ok) throw new Error('verify failed on an untouched archive');
  const mb = report.bytes / 1e6;
  const result = {
    bench: 'archiver', events: N, eventMB: +(bytesIn / 1e6).toFixed(1), archiveMB: +mb.toFixed(1),
    write: { eventsPerSec: Math.round(N / writeSecs), eventMBPerSec: +(bytesIn / 1e6 / writeSecs).toFixed(1) },
    verify: { mbPerSec: +(mb / verifySecs).toFixed(1), eventsPerSec: Math.round(N / verifySecs) },
    sha256sum: { mbPerSec: +(mb / shaSecs).toFixed(1) },
    verifyOfSha256sum: +(shaSecs / verifySecs).toFixed(3),
  };
  console.log(`events=${N} (${result.eventMB} MB of Avro events -> ${result.archiveMB} MB of deflated segments)`);
  console.log(`write : ${result.write.eventsPerSec} events/s, ${result.write.eventMBPerSec} MB/s of events (seal: container + Merkle + signed manifest, fsynced)`);
  console.log(`verify: ${result.verify.mbPerSec} MB/s of segments (${result.verify.eventsPerSec} events/s) = ${result.verifyOfSha256sum}x sha256sum (${result.sha256sum.mbPerSec} MB/s) over the same files`);
  console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
