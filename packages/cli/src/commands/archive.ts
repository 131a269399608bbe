import { promises as fs } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  checkpointPayload,
  checkpointPrefix,
  checkProof,
  exportEvents,
  generateSigningKey,
  headLine,
  loadJwks,
  localStorage,
  parseExpectedHead,
  prove,
  readCheckpointChain,
  sha256hex,
  verifyArchive,
  verifyJws,
  type ArchiveStorage,
  type ExpectedHead,
  type InclusionProof,
} from '@jwt-audit/archive';
import { TOPICS } from '@jwt-audit/events';
import { readPublishedCheckpoints } from '../checkpoint-topic.js';
import { kafkaConnection, kafkaFailure } from '../connections.js';
import type { KafkaConnectionConfig } from '@jwt-audit/runtime';
import { EXIT } from '../program.js';
import { parseSince } from './search.js';
import { cliError } from '../errors.js';

/**
 * `audit archive verify | prove | check-proof | export | keygen`: everything an auditor needs to
 * check the archive's integrity, prove that an event is in it, and get events out of it.
 */

const dirOption = () => new Option('--dir <path>', 'archive directory').env('AUDIT_ARCHIVE_DIR').default('./.data/archive');
const jwksOption = () =>
  new Option('--jwks <file>', 'public keys (JWKS) trusted for manifests').env('AUDIT_ARCHIVE_JWKS').default('./.data/keys/archive-public.jwks.json');

/** Ends the command: bin.ts prints `audit: archive: <message>` and exits with the code. */
function fail(message: string, code: number): never {
  throw cliError(code, `archive: ${message}`);
}

async function jwksFrom(file: string) {
  try {
    return await loadJwks(file);
  } catch (err) {
    return fail(`cannot read the public keys ${file}: ${(err as Error).message}`, EXIT.unavailable);
  }
}

const brokersOption = () =>
  new Option(
    '--brokers <list>',
    'Kafka brokers for --from-topic, comma separated (default: AUDIT_KAFKA_BROKERS or 127.0.0.1:9092; SASL and TLS from AUDIT_KAFKA_*)',
  );
const checkpointTopicOption = () =>
  new Option('--checkpoint-topic <topic>', 'where the archiver publishes its checkpoints')
    .env('AUDIT_ARCHIVE_CHECKPOINT_TOPIC')
    .default(TOPICS.archiveCheckpoints);
const archiveIdOption = () =>
  new Option('--archive-id <id>', "the archive's key on the checkpoint topic (default: the archive id in the directory's newest checkpoint)").env(
    'AUDIT_ARCHIVE_ID',
  );

function partitionNumber(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 2 ** 31 - 1) throw new InvalidArgumentError('a partition number');
  return Number(v);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
function duration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError('expected a duration: milliseconds, or a number with ms, s, m, h or d (90s, 15m, 7d)');
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

async function expectedHeadFrom(value: string): Promise<ExpectedHead> {
  const fromFile = await fs
    .readFile(value, 'utf8')
    .catch((err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' || err.code === 'ENAMETOOLONG' ? undefined : fail(`--expect-head: cannot read ${value}: ${err.message}`, EXIT.usage),
    );
  const parsed = parseExpectedHead(fromFile ?? value);
  if (!parsed)
    fail(
      `--expect-head: ${fromFile !== undefined ? `${value} holds` : 'expected'} a SHA-256 (64 hex digits, optionally sha256:), a line of \`audit archive head\`, or a file holding one or a checkpoint JWS`,
      EXIT.usage,
    );
  return parsed;
}

/** The newest checkpoint the archiver published for this archive, as an expected head. */
async function headFromTopic(
  storage: ArchiveStorage,
  o: { brokers?: string; checkpointTopic: string; archiveId?: string },
): Promise<ExpectedHead & { jws: string }> {
  let conn: KafkaConnectionConfig;
  try {
    conn = kafkaConnection(o.brokers !== undefined ? { brokers: o.brokers } : {});
  } catch (err) {
    return fail((err as Error).message, EXIT.usage);
  }
  let published: Map<string, string>;
  try {
    published = await readPublishedCheckpoints(conn, o.checkpointTopic);
  } catch (err) {
    const e = await kafkaFailure(err, `cannot read ${o.checkpointTopic}`, conn);
    return fail(e.message, (e as Error & { exitCode: number }).exitCode);
  }
  let id = o.archiveId;
  if (!id) {
    for (const topic of await storage.topics()) id ??= (await readCheckpointChain(storage, topic).catch(() => undefined))?.last?.archive;
  }
  if (!id && published.size === 1) id = [...published.keys()][0];
  if (!id)
    fail(
      `--from-topic: which archive? ${o.checkpointTopic} holds ${published.size === 0 ? 'no checkpoint' : `checkpoints of ${[...published.keys()].join(', ')}`} and the directory names none: give --archive-id`,
      EXIT.usage,
    );
  const jws = published.get(id);
  if (!jws)
    fail(
      `no checkpoint of archive ${id} on ${o.checkpointTopic}${published.size > 0 ? ` (it holds ${[...published.keys()].join(', ')})` : ''}: expected the archiver to publish one at every checkpoint`,
      EXIT.failed,
    );
  return { jws, sha256: sha256hex(jws) };
}

/**
 * The times `audit search` takes, read here because export has no Elasticsearch to do the date
 * math: ISO 8601, epoch milliseconds, `now`, and date math on either (`now-1h`, `now-7d/d`,
 * `2026-11-20T10:00:00Z||+1h`): units y M w d h H m s, `/unit` rounds down (UTC).
 */
export function parseTime(v: string, now = Date.now()): number {
  const text = v.trim();
  const anchorEnd = text.startsWith('now') ? 3 : text.indexOf('||');
  const anchorText = text.startsWith('now') ? 'now' : anchorEnd >= 0 ? text.slice(0, anchorEnd) : text;
  let math = text.startsWith('now') ? text.slice(3) : anchorEnd >= 0 ? text.slice(anchorEnd + 2) : '';
  let t = anchorText === 'now' ? now : /^\d+$/.test(anchorText) ? Number(anchorText) : Date.parse(anchorText);
  if (Number.isNaN(t) || (anchorText !== 'now' && !/^\d+$/.test(anchorText) && !/^\d{4}-\d\d-\d\d/.test(anchorText))) {
    throw new InvalidArgumentError('expected an ISO 8601 time, epoch milliseconds, now, or date math like now-1h, now-7d/d, 2026-11-20T10:00:00Z||+1h');
  }
  while (math.length > 0) {
    const m = /^([+-])(\d+)([yMwdhHms])|^\/([yMwdhHms])/.exec(math);
    if (!m)
      throw new InvalidArgumentError(
        `date math: cannot read "${math}" (expected +N or -N with a unit y M w d h m s, or /unit to round, e.g. now-1h, now-1d/d)`,
      );
    math = math.slice(m[0].length);
    const d = new Date(t);
    if (m[4]) t = roundDown(d, m[4]);
    else {
      const n = Number(m[2]) * (m[1] === '-' ? -1 : 1);
      const unit = m[3]!;
      if (unit === 'y') d.setUTCFullYear(d.getUTCFullYear() + n);
      else if (unit === 'M') d.setUTCMonth(d.getUTCMonth() + n);
      else d.setTime(d.getTime() + n * MATH_MS[unit]!);
      t = d.getTime();
    }
  }
  return t;
}
const MATH_MS: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, H: 3_600_000, m: 60_000, s: 1000 };
function roundDown(d: Date, unit: string): number {
  const parts = [
    d.getUTCFullYear(),
    unit === 'y' ? 0 : d.getUTCMonth(),
    ['y', 'M'].includes(unit) ? 1 : d.getUTCDate(),
    ['y', 'M', 'w', 'd'].includes(unit) ? 0 : d.getUTCHours(),
    ['h', 'H', 'm', 's'].includes(unit) ? (['h', 'H'].includes(unit) ? 0 : d.getUTCMinutes()) : 0,
    unit === 's' ? d.getUTCSeconds() : 0,
  ] as const;
  let t = Date.UTC(...parts);
  if (unit === 'w') t -= ((new Date(t).getUTCDay() + 6) % 7) * 86_400_000; // weeks start on Monday, as in Elasticsearch
  return t;
}

/**
 * `check-proof --json`: ECS names and ISO times, as every --json of the CLI (packages/cli/README.md):
 *   { ok, event: { id }, archive: { topic, partition, offset, segment, record, records, sealed_at } }
 *   { ok: false, event: { id }, error: { message } }
 */
export function proofResult(proof: InclusionProof, r: Awaited<ReturnType<typeof checkProof>>): Record<string, unknown> {
  if (!r.ok) return { ok: false, event: { id: proof.eventId }, error: { message: r.reason } };
  return {
    ok: true,
    event: { id: proof.eventId },
    archive: {
      topic: r.manifest.topic,
      partition: r.manifest.partition,
      offset: proof.offset,
      segment: proof.segment,
      record: proof.leafIndex + 1,
      records: proof.treeSize,
      sealed_at: new Date(r.manifest.sealedAt).toISOString(),
    },
  };
}

/**
 * When a new signing key is used (issue #25): the archiver picks its key at start, the private
 * key file whose name sorts last, unless AUDIT_ARCHIVE_PRIVATE_KEY_FILE names one.
 */
async function keyTakesEffect(dir: string, k: { kid: string; privateFile: string; jwksFile: string }): Promise<string> {
  const keys = (await fs.readdir(dir)).filter((f) => f.endsWith('.private.jwk.json')).sort();
  const last = keys.at(-1);
  const wrote = `new signing key ${k.kid}: ${k.privateFile}; its public key was appended to ${k.jwksFile} (copy it to wherever archives are verified).`;
  const pinned = process.env.AUDIT_ARCHIVE_PRIVATE_KEY_FILE;
  if (pinned)
    return `${wrote} The archiver signs with AUDIT_ARCHIVE_PRIVATE_KEY_FILE (${pinned}): set it to ${k.privateFile} and restart the archiver to use the new key.`;
  if (last === path.basename(k.privateFile))
    return `${wrote} A running archiver keeps signing with its current key: the new key takes effect when the archiver restarts (it signs with the key file whose name sorts last, this one).`;
  return `${wrote} It does not take effect on its own: ${last} sorts after it, and the archiver signs with the key file whose name sorts last; set AUDIT_ARCHIVE_PRIVATE_KEY_FILE=${k.privateFile} and restart the archiver to use it.`;
}

export function register(program: Command): void {
  const archive = program.command('archive').description('verify, prove and export the tamper-evident archive');

  archive
    .command('verify')
    .description(
      'check every signature, hash, Merkle root, chain link and offset, and that nothing the newest checkpoint (or an expected head) names was removed; exit 1 naming what is wrong',
    )
    .addOption(dirOption())
    .addOption(jwksOption())
    .option('--partition <n>', 'only this partition', partitionNumber)
    .option(
      '--expect-head <hash|file>',
      'a head from outside the archive (SHA-256, a line of `audit archive head`, or a file holding one or the checkpoint JWS): the archive must reach it',
    )
    .option('--from-topic', 'take the expected head from the checkpoint topic (the newest checkpoint the archiver published)')
    .addOption(brokersOption())
    .addOption(checkpointTopicOption())
    .addOption(archiveIdOption())
    .option(
      '--max-age <duration>',
      'warn when the checkpoint verified from is older (e.g. 90s, 15m, 2h, 7d; default 3 of its checkpoint intervals: 30 s with the archiver defaults)',
      duration,
    )
    .option('--duplicates', 'also count, per partition, records repeating an event id archived earlier (information, not tampering; ~1.3x the CPU time)')
    .option('--json', 'print the report as JSON')
    .action(
      async (o: {
        dir: string;
        jwks: string;
        partition?: number;
        json?: boolean;
        duplicates?: boolean;
        expectHead?: string;
        fromTopic?: boolean;
        brokers?: string;
        checkpointTopic: string;
        archiveId?: string;
        maxAge?: number;
      }) => {
        if (o.expectHead !== undefined && o.fromTopic) fail('--expect-head and --from-topic: give one of them', EXIT.usage);
        const jwks = await jwksFrom(o.jwks);
        const dir = path.resolve(o.dir);
        const storage = localStorage(dir);
        if (
          !(await fs.stat(dir).then(
            (st) => st.isDirectory(),
            () => false,
          ))
        ) {
          const finding = {
            kind: 'not-found',
            stream: '',
            file: '',
            message: `archive directory ${o.dir} does not exist (expected <topic>/<partition>/ streams of segments and manifests, and <topic>/checkpoints/)`,
          };
          if (o.json)
            process.stdout.write(
              `${JSON.stringify({ ok: false, streams: 0, manifests: 0, segments: 0, records: 0, bytes: 0, findings: [finding], warnings: [], checkpoints: [] }, null, 2)}\n`,
            );
          else process.stdout.write(`FAIL ${finding.kind.padEnd(18)} ${finding.message}\nTAMPERED: nothing to verify, 1 finding(s)\n`);
          process.exitCode = EXIT.failed;
          return;
        }
        let expectHead: ExpectedHead | undefined;
        if (o.expectHead !== undefined) expectHead = await expectedHeadFrom(o.expectHead);
        if (o.fromTopic) expectHead = await headFromTopic(storage, o);
        const bar =
          process.stderr.isTTY && !o.json
            ? new cliProgress.SingleBar(
                { format: 'verifying {stream} [{bar}] {value}/{total} segments {mb} MB', stream: process.stderr },
                cliProgress.Presets.shades_classic,
              )
            : undefined;
        let current = '';
        let lastLine = 0;
        const report = await verifyArchive(storage, jwks, {
          location: o.dir,
          ...(o.partition !== undefined ? { partition: o.partition } : {}),
          ...(expectHead ? { expectHead } : {}),
          ...(o.maxAge !== undefined ? { maxAgeMs: o.maxAge } : {}),
          duplicates: o.duplicates ?? false,
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
          for (const f of report.findings)
            process.stdout.write(`FAIL ${f.kind.padEnd(18)} ${f.stream}${f.file}${f.stream || f.file ? ': ' : ''}${f.message}\n`);
          for (const w of report.warnings)
            process.stdout.write(`WARN ${w.kind.padEnd(18)} ${w.stream}${w.file}${w.stream || w.file ? ': ' : ''}${w.message}\n`);
          for (const d of report.duplicates)
            process.stdout.write(
              `INFO duplicates          ${d.stream}: ${d.records} record(s) repeat an event id archived earlier in this partition (e.g. ${d.example.eventId} in ${d.example.segment}): re-delivery upstream, not tampering; \`audit archive export\` drops them\n`,
            );
          for (const c of report.checkpoints) {
            const from =
              c.source === 'expected-head'
                ? 'the expected head (not in the archive)'
                : `checkpoint ${c.sequence}${c.anchored ? ', matching the expected head' : ''}`;
            process.stdout.write(
              `checked against ${from}: ${c.archive}, ${c.partitionCount} partition(s), written ${new Date(c.createdAt).toISOString()}, sha256:${c.sha256}\n`,
            );
          }
          process.stdout.write(
            `${report.ok ? 'OK' : 'TAMPERED'}: ${report.streams} partition(s), ${report.manifests} manifests, ${report.segments} segments, ${report.records} records, ${(report.bytes / 1e6).toFixed(1)} MB, ${report.findings.length} finding(s), ${report.warnings.length} warning(s)\n`,
          );
        }
        process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
      },
    );

  archive
    .command('head')
    .description(
      "print the archive's newest checkpoint as one line (archive, sequence, time, SHA-256) to hand to a notary or a ticket; `verify --expect-head` takes it back",
    )
    .addOption(dirOption())
    .addOption(jwksOption())
    .option('--jws', 'print the whole signed checkpoint instead (what the checkpoint topic holds)')
    .option('--from-topic', "the newest checkpoint published to the checkpoint topic instead of the archive's")
    .addOption(brokersOption())
    .addOption(checkpointTopicOption())
    .addOption(archiveIdOption())
    .action(async (o: { dir: string; jwks: string; jws?: boolean; fromTopic?: boolean; brokers?: string; checkpointTopic: string; archiveId?: string }) => {
      const jwks = await jwksFrom(o.jwks);
      const storage = localStorage(path.resolve(o.dir));
      let jws: string;
      if (o.fromTopic) jws = (await headFromTopic(storage, o)).jws!;
      else {
        const topics = await storage.topics();
        const newest: string[] = [];
        for (const topic of topics) {
          const key = (await storage.list(checkpointPrefix(topic))).filter((k) => k.endsWith('.checkpoint.jws')).at(-1);
          if (key) newest.push((await storage.get(key)).toString());
        }
        if (newest.length === 0) fail(`no checkpoint in ${o.dir} (expected <topic>/checkpoints/<seq>.checkpoint.jws)`, EXIT.failed);
        if (newest.length > 1 && !o.archiveId)
          fail(
            `${o.dir} holds checkpoints of ${newest.length} archives (${newest.map((j) => checkpointPayload(j)?.archive).join(', ')}): choose one with --archive-id`,
            EXIT.usage,
          );
        jws =
          newest.find((j) => !o.archiveId || checkpointPayload(j)?.archive === o.archiveId) ??
          fail(`no checkpoint of archive ${o.archiveId} in ${o.dir}`, EXIT.failed);
      }
      const sig = await verifyJws(jws, jwks);
      if (!sig.ok) fail(`the newest checkpoint does not verify with ${o.jwks} (${sig.reason}): run \`audit archive verify\``, EXIT.failed);
      const c = checkpointPayload(jws)!;
      process.stdout.write(o.jws ? `${jws}\n` : `${headLine(c, sha256hex(jws))}\n`);
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
      if (!o.out) return void process.stdout.write(text);
      await fs.writeFile(o.out, text);
      // what was written, on stdout: the proof itself is in the file
      process.stdout.write(
        `wrote the inclusion proof of event ${eventId} (record ${proof!.leafIndex + 1} of ${proof!.treeSize} in ${proof!.topic}/${proof!.partition} ${proof!.segment}) to ${o.out}; check it with: audit archive check-proof ${o.out}\n`,
      );
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
      if (o.json) process.stdout.write(`${JSON.stringify(proofResult(proof, r))}\n`);
      else
        process.stdout.write(
          r.ok
            ? `VALID: event ${proof.eventId} is record ${proof.leafIndex + 1} of ${proof.treeSize} in ${r.manifest.topic}/${r.manifest.partition} ${proof.segment}, sealed ${new Date(r.manifest.sealedAt).toISOString()}\n`
            : `INVALID: ${r.reason}\n`,
        );
      process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
    });

  archive
    .command('export')
    .description('stream archived events as JSON lines, for an auditor; each event once (by event id) unless --keep-duplicates')
    .option('--since <duration>', 'the last 30s / 15m / 2h / 7d (as `audit search --since`)', (v: string) => parseTime(parseSince(v)))
    .option('--from <time>', 'start: ISO 8601, epoch ms, or date math like now-1d (as `audit search`)', (v: string) => parseTime(v))
    .option('--to <time>', 'end, same syntax (default: now)', (v: string) => parseTime(v))
    .addOption(dirOption())
    .option('--keep-duplicates', 'also print records whose event id was already printed (at-least-once re-deliveries)')
    .action(async (o: { since?: number; from?: number; to?: number; dir: string; keepDuplicates?: boolean }) => {
      if (o.since !== undefined && o.from !== undefined) fail('export: --since and --from: give one of them', EXIT.usage);
      const from = o.since ?? o.from;
      if (from === undefined)
        fail(
          `export: missing --from (or --since): where the export starts${o.to === undefined ? '; --to defaults to now' : ''}, e.g. --from now-1h or --from 2026-11-20T10:00:00Z`,
          EXIT.usage,
        );
      const to = o.to ?? Date.now();
      if (to < from) fail(`export: --to (${new Date(to).toISOString()}) is before --from (${new Date(from).toISOString()})`, EXIT.usage);
      const stats = { events: 0, duplicates: 0 };
      for await (const r of exportEvents(localStorage(path.resolve(o.dir)), from, to, { dedupe: !o.keepDuplicates, stats }))
        process.stdout.write(`${JSON.stringify(r)}\n`);
      process.stderr.write(
        o.keepDuplicates
          ? `${stats.events} record(s), duplicates kept\n`
          : `${stats.events} event(s), ${stats.duplicates} duplicate(s) dropped (an event id already exported: re-delivery upstream)\n`,
      );
    });

  archive
    .command('keygen')
    .description('create a new Ed25519 manifest signing key and add its public key to the JWKS (rotation)')
    .option('--keys-dir <path>', 'key directory', './.data/keys')
    .option('--kid <id>', 'key id')
    .action(async (o: { keysDir: string; kid?: string }) => {
      const k = await generateSigningKey(o.keysDir, o.kid);
      process.stdout.write(`${JSON.stringify(k)}\n`);
      process.stderr.write(`${await keyTakesEffect(o.keysDir, k)}\n`);
    });
}
