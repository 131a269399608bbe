import { promises as fs } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkProof, exportEvents, generateSigningKey, loadJwks, localStorage, prove, verifyArchive, type InclusionProof } from '@jwt-audit/archive';
import { EXIT } from '../program.js';

/**
 * `audit archive verify | prove | check-proof | export | keygen`: everything an auditor needs to
 * check the archive's integrity, prove that an event is in it, and get events out of it.
 */

const dirOption = () => new Option('--dir <path>', 'archive directory').env('AUDIT_ARCHIVE_DIR').default('./.data/archive');
const jwksOption = () => new Option('--jwks <file>', 'public keys (JWKS) trusted for manifests').env('AUDIT_ARCHIVE_JWKS').default('./.data/keys/archive-public.jwks.json');

function fail(message: string, code: number): never {
  process.stderr.write(`audit archive: ${message}\n`);
  process.exit(code);
}

async function jwksFrom(file: string) {
  try {
    return await loadJwks(file);
  } catch (err) {
    return fail(`cannot read the public keys ${file}: ${(err as Error).message}`, EXIT.unavailable);
  }
}

function time(v: string): number {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('expected an ISO 8601 time or epoch milliseconds');
  return ms;
}

export function register(program: Command): void {
  const archive = program.command('archive').description('verify, prove and export the tamper-evident archive');

  archive
    .command('verify')
    .description('check every signature, hash, Merkle root, chain link and offset; exit 1 naming what is wrong')
    .addOption(dirOption())
    .addOption(jwksOption())
    .option('--partition <n>', 'only this partition', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('a partition number');
      return Number(v);
    })
    .option('--json', 'print the report as JSON')
    .action(async (o: { dir: string; jwks: string; partition?: number; json?: boolean }) => {
      const jwks = await jwksFrom(o.jwks);
      const bar = process.stderr.isTTY && !o.json ? new cliProgress.SingleBar({ format: 'verifying {stream} [{bar}] {value}/{total} segments {mb} MB', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
      let current = '';
      let lastLine = 0;
      const report = await verifyArchive(localStorage(path.resolve(o.dir)), jwks, {
        ...(o.partition !== undefined ? { partition: o.partition } : {}),
        onProgress: (p) => {
          const mb = (p.bytes / 1e6).toFixed(1);
          if (bar) {
            if (p.stream !== current) {
              if (current) bar.stop();
              bar.start(p.total, 0, { stream: p.stream, mb });
              current = p.stream;
            }
            bar.update(p.done, { mb });
          } else if (!o.json && Date.now() - lastLine > 2000) {
            lastLine = Date.now();
            process.stderr.write(`verifying ${p.stream} ${p.done}/${p.total} segments, ${mb} MB\n`);
          }
        },
      });
      bar?.stop();
      if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        for (const f of report.findings) process.stdout.write(`FAIL ${f.kind.padEnd(16)} ${f.stream}${f.file}: ${f.message}\n`);
        process.stdout.write(`${report.ok ? 'OK' : 'TAMPERED'}: ${report.streams} partition(s), ${report.manifests} manifests, ${report.segments} segments, ${report.records} records, ${(report.bytes / 1e6).toFixed(1)} MB, ${report.findings.length} finding(s)\n`);
      }
      if (report.streams === 0 && !o.json) process.stderr.write(`note: no archive streams under ${o.dir}\n`);
      process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
    });

  archive
    .command('prove')
    .description('print an inclusion proof for an event: its record, Merkle audit path and signed manifest')
    .argument('<event-id>', 'the event id (UUIDv7)')
    .addOption(dirOption())
    .option('--out <file>', 'write the proof to a file instead of stdout')
    .action(async (eventId: string, o: { dir: string; out?: string }) => {
      const proof = await prove(localStorage(path.resolve(o.dir)), eventId);
      if (!proof) fail(`event ${eventId} is not in the archive`, EXIT.failed);
      const text = `${JSON.stringify(proof, null, 2)}\n`;
      if (o.out) await fs.writeFile(o.out, text);
      else process.stdout.write(text);
    });

  archive
    .command('check-proof')
    .description('verify an inclusion proof offline with the public key(s) alone')
    .argument('<file>', 'a proof written by `audit archive prove`')
    .addOption(jwksOption())
    .option('--json', 'print the result as JSON')
    .action(async (file: string, o: { jwks: string; json?: boolean }) => {
      let proof: InclusionProof;
      try {
        proof = JSON.parse(await fs.readFile(file, 'utf8')) as InclusionProof;
      } catch (err) {
        return fail(`cannot read proof ${file}: ${(err as Error).message}`, EXIT.usage);
      }
      const r = await checkProof(proof, await jwksFrom(o.jwks));
      if (o.json) process.stdout.write(`${JSON.stringify(r.ok ? { ok: true, eventId: proof.eventId, topic: r.manifest.topic, partition: r.manifest.partition, offset: proof.offset, sealedAt: r.manifest.sealedAt } : r)}\n`);
      else process.stdout.write(r.ok ? `VALID: event ${proof.eventId} is record ${proof.leafIndex + 1} of ${proof.treeSize} in ${r.manifest.topic}/${r.manifest.partition} ${proof.segment}, sealed ${new Date(r.manifest.sealedAt).toISOString()}\n` : `INVALID: ${r.reason}\n`);
      process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
    });

  archive
    .command('export')
    .description('stream archived events as JSON lines, for an auditor')
    .requiredOption('--from <time>', 'start (ISO 8601 or epoch ms)', time)
    .requiredOption('--to <time>', 'end (ISO 8601 or epoch ms)', time)
    .addOption(dirOption())
    .action(async (o: { from: number; to: number; dir: string }) => {
      let n = 0;
      for await (const r of exportEvents(localStorage(path.resolve(o.dir)), o.from, o.to)) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        n++;
      }
      process.stderr.write(`${n} event(s)\n`);
    });

  archive
    .command('keygen')
    .description('create a new Ed25519 manifest signing key and add its public key to the JWKS (rotation)')
    .option('--keys-dir <path>', 'key directory', './.data/keys')
    .option('--kid <id>', 'key id')
    .action(async (o: { keysDir: string; kid?: string }) => {
      const k = await generateSigningKey(o.keysDir, o.kid);
      process.stdout.write(`${JSON.stringify(k)}\n`);
    });
}
