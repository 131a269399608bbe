import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventCodec, newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import {
  appendCheckpoint,
  generateSigningKey,
  loadJwks,
  loadSigner,
  localStorage,
  markOf,
  parseExpectedHead,
  readCheckpointChain,
  readHead,
  seal,
  verifyArchive,
  type ArchivedRecord,
  type ExpectedHead,
  type StreamHead,
  type VerifyOptions,
} from './index.js';
import { sha256hex } from './segment.js';
import { rng } from '@jwt-audit/runtime/testing/prng';

/**
 * Completeness: what was removed is named as surely as what was changed. Archives are generated
 * (partition count, seals per partition, records per seal, partitions with nothing sealed) from
 * a seeded PRNG, so a failure names a seed that reproduces it; every tamper case runs on a copy.
 */
const TOPIC = 'audit.enriched.v1';
const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;
const T0 = 1_795_000_000_000;

function records(from: number, n: number): ArchivedRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const e: AuditEvent = { ...base, id: newId(), occurredAt: T0 + (from + i) * 1000 };
    const enc = eventCodec.encode(e);
    return {
      offset: from + i,
      timestamp: e.occurredAt,
      key: null,
      eventId: e.id,
      schemaFingerprint: enc.headers['audit-schema-fingerprint']!,
      event: enc.value,
    };
  });
}

interface Shape {
  seed: number;
  partitions: number;
  /** Seals per partition (0 = nothing sealed for it). */
  seals: number[];
}

/** An archive as the archiver writes it: after every seal, a checkpoint covering every partition. */
async function build(root: string, shape: Shape) {
  const rand = rng(shape.seed).int;
  const keys = await generateSigningKey(path.join(root, 'keys'), 'k1');
  const signer = await loadSigner(keys.privateFile);
  const storage = localStorage(path.join(root, 'data'));
  const heads: StreamHead[] = [];
  for (let p = 0; p < shape.partitions; p++) heads.push(await readHead(storage, TOPIC, p));
  const chain = await readCheckpointChain(storage, TOPIC);
  const checkpoint = () =>
    appendCheckpoint(storage, signer, chain, { archive: 'gen', partitionCount: shape.partitions, marks: heads.map(markOf), createdAt: T0, intervalMs: 10_000 });
  await checkpoint(); // at start, before anything is sealed
  // seals interleave across partitions, as they do in the archiver
  const todo = shape.seals.flatMap((n, p) => Array.from({ length: n }, () => p));
  for (let i = todo.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [todo[i], todo[j]] = [todo[j]!, todo[i]!];
  }
  for (const p of todo) {
    await seal(storage, signer, heads[p]!, records(heads[p]!.lastOffset + 1, 1 + rand(6)), T0, { codec: 'null' });
    await checkpoint();
  }
  const jwks = await loadJwks(keys.jwksFile);
  const head = {
    jws: readFileSync(
      path.join(
        root,
        'data',
        TOPIC,
        'checkpoints',
        readdirSync(path.join(root, 'data', TOPIC, 'checkpoints'))
          .sort()
          .at(-1)!,
      ),
      'utf8',
    ),
  };
  return { jwks, head: { ...head, sha256: sha256hex(head.jws) } as ExpectedHead, heads };
}

function shapes(count: number): Shape[] {
  return Array.from({ length: count }, (_, i) => {
    const rand = rng(1000 + i).int;
    const partitions = 1 + rand(4);
    // at least one partition with 2+ seals; sometimes one with none
    const seals = Array.from({ length: partitions }, (_, p) => (p === 0 ? 2 + rand(3) : rand(5)));
    return { seed: 1000 + i, partitions, seals };
  });
}

const writable = (dir: string) => {
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) chmodSync(path.join(e.parentPath, e.name), 0o644);
};

test('completeness tamper matrix (generated archives): every removal is detected and names its partition', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'archive-complete-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  let cases = 0;
  for (const shape of shapes(6)) {
    const src = path.join(root, `src-${shape.seed}`);
    const { jwks, head } = await build(src, shape);
    writable(src);
    const label = `seed ${shape.seed} (${shape.partitions} partitions, seals ${shape.seals.join('/')})`;
    const run = async (name: string, tamper: (data: string) => void, opts: VerifyOptions = {}) => {
      const dir = path.join(root, `case-${cases++}`);
      cpSync(src, dir, { recursive: true });
      const data = path.join(dir, 'data');
      tamper(data);
      const report = await verifyArchive(localStorage(data), jwks, { now: T0 + 1000, ...opts });
      return { report, at: `${label}: ${name}` };
    };
    const streamDir = (data: string, p: number) => path.join(data, TOPIC, String(p));
    const files = (data: string, p: number, ext: string) =>
      readdirSync(streamDir(data, p))
        .filter((f) => f.endsWith(ext))
        .sort()
        .map((f) => path.join(streamDir(data, p), f));
    const expect = (r: Awaited<ReturnType<typeof run>>, kind: string, stream?: string) => {
      const hit = r.report.findings.find((f) => f.kind === kind && (stream === undefined || f.stream === stream));
      assert.ok(
        hit,
        `${r.at}: expected ${kind}${stream ? ` on ${stream}` : ''}, got ${r.report.findings.map((f) => `${f.kind} ${f.stream}${f.file}`).join(', ') || 'nothing'}`,
      );
      assert.equal(r.report.ok, false, r.at);
      return hit;
    };

    const untouched = await run('untouched', () => undefined);
    assert.deepEqual(untouched.report.findings, [], untouched.at);
    assert.deepEqual(untouched.report.warnings, [], untouched.at);
    assert.equal(untouched.report.checkpoints[0]?.partitionCount, shape.partitions);

    for (let p = 0; p < shape.partitions; p++) {
      const stream = `${TOPIC}/${p}/`;
      const n = shape.seals[p]!;
      if (n === 0) continue; // nothing sealed: no folder expected (the untouched case verified without one)
      for (const k of [...new Set([1, n])]) {
        const seg = await run(`partition ${p}: last ${k} segment(s) deleted`, (d) =>
          files(d, p, '.avro')
            .slice(-k)
            .forEach((f) => unlinkSync(f)),
        );
        expect(seg, 'segment-deleted', stream);
        const man = await run(`partition ${p}: last ${k} manifest(s) deleted`, (d) =>
          files(d, p, '.manifest.jws')
            .slice(-k)
            .forEach((f) => unlinkSync(f)),
        );
        const hit = expect(man, 'tail-truncated', stream);
        assert.match(hit.message, new RegExp(`chain ends at manifest ${n - k - 1}, checkpoint \\d+ .* says its chain reaches manifest ${n - 1} `), man.at);
        const both = await run(`partition ${p}: last ${k} segment(s) and manifest(s) deleted`, (d) =>
          [...files(d, p, '.avro').slice(-k), ...files(d, p, '.manifest.jws').slice(-k)].forEach((f) => unlinkSync(f)),
        );
        expect(both, 'tail-truncated', stream);
        assert.ok(
          both.report.findings.every((f) => f.stream === stream),
          `${both.at}: only partition ${p} is named`,
        );
      }
      const gone = await run(`partition ${p}: folder deleted`, (d) => rmSync(streamDir(d, p), { recursive: true }));
      expect(gone, 'partition-missing', stream);
      const filtered = await run(`partition ${p}: folder deleted, verified alone`, (d) => rmSync(streamDir(d, p), { recursive: true }), { partition: p });
      expect(filtered, 'partition-missing', stream);
    }

    // the checkpoints themselves
    const cpDir = (d: string) => path.join(d, TOPIC, 'checkpoints');
    const cps = (d: string) =>
      readdirSync(cpDir(d))
        .sort()
        .map((f) => path.join(cpDir(d), f));
    const noCp = await run('checkpoints deleted', (d) => rmSync(cpDir(d), { recursive: true }));
    expect(noCp, 'checkpoint-missing', `${TOPIC}/checkpoints/`);
    const p0tail = (d: string) => [...files(d, 0, '.avro').slice(-1), ...files(d, 0, '.manifest.jws').slice(-1)].forEach((f) => unlinkSync(f));
    for (const [what, given] of [
      ['the head JWS', head],
      ['the head hash', { sha256: head.sha256 }],
      ['the head line', parseExpectedHead(`gen checkpoint 9 2026-12-02T00:00:00.000Z sha256:${head.sha256}`)!],
    ] as const) {
      const r = await run(
        `checkpoints and partition 0's tail deleted, ${what} given`,
        (d) => {
          rmSync(cpDir(d), { recursive: true });
          p0tail(d);
        },
        { expectHead: given },
      );
      expect(r, 'head-mismatch');
      // with the whole JWS, the head also says what the partitions held
      if (given.jws) expect(r, 'tail-truncated', `${TOPIC}/0/`);
      const ok = await run(`untouched, ${what} given`, () => undefined, { expectHead: given });
      assert.deepEqual(ok.report.findings, [], ok.at);
      assert.equal(ok.report.checkpoints[0]?.anchored, true, ok.at);
    }
    // the careful attacker: the tail and every checkpoint written since it was sealed
    const sealsOfP0 = shape.seals[0]!;
    const careful = (d: string) => {
      // every checkpoint written since partition 0's last seal (a suffix of the chain: marks never go back)
      for (const f of cps(d))
        if (JSON.parse(Buffer.from(readFileSync(f, 'utf8').split('.')[1]!, 'base64url').toString()).partitions[0].sequence === sealsOfP0 - 1) unlinkSync(f);
      p0tail(d);
    };
    const quiet = await run('tail and the checkpoints after it deleted, no head', careful, { now: T0 + 3_600_000 });
    assert.deepEqual(quiet.report.findings, [], `${quiet.at}: without a head only staleness can tell`);
    assert.ok(
      quiet.report.warnings.some((w) => w.kind === 'stale-checkpoint' && /is 60 min old/.test(w.message)),
      `${quiet.at}: stale warning names the age`,
    );
    const caught = await run('tail and the checkpoints after it deleted, head given', careful, { expectHead: head });
    expect(caught, 'head-mismatch');
    expect(caught, 'tail-truncated', `${TOPIC}/0/`);
    if (cps(path.join(src, 'data')).length > 2) {
      const gap = await run('a middle checkpoint deleted', (d) => unlinkSync(cps(d)[1]!));
      expect(gap, 'checkpoint-gap', `${TOPIC}/checkpoints/`);
    }
  }
  t.diagnostic(`${cases} tampered copies verified`);
});

test('a stale checkpoint is a warning that says how old; a fresh one is not', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'archive-stale-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const { jwks } = await build(root, { seed: 7, partitions: 2, seals: [2, 1] });
  const storage = localStorage(path.join(root, 'data'));
  const at = async (now: number, maxAgeMs?: number) => verifyArchive(storage, jwks, { now, ...(maxAgeMs !== undefined ? { maxAgeMs } : {}) });
  assert.deepEqual((await at(T0 + 30_000)).warnings, [], 'default bound: 3 intervals of 10 s');
  const stale = await at(T0 + 30_001);
  assert.equal(stale.ok, true, 'staleness alone is not tampering');
  assert.deepEqual(
    stale.warnings.map((w) => w.kind),
    ['stale-checkpoint'],
  );
  assert.match(stale.warnings[0]!.message, /is 30 s old .*bound 30 s/);
  assert.match((await at(T0 + 2 * 86_400_000, 3_600_000)).warnings[0]!.message, /is 2 days old .*bound 60 min/);
  assert.deepEqual((await at(T0 + 2 * 86_400_000, 3 * 86_400_000)).warnings, []);
});

test('nothing to verify is a failure that says what was expected', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'archive-empty-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const { jwks } = await build(path.join(root, 'a'), { seed: 3, partitions: 3, seals: [2, 0, 1] });
  const data = path.join(root, 'a', 'data');
  const check = async (dir: string, opts: VerifyOptions, pattern: RegExp) => {
    const r = await verifyArchive(localStorage(dir), jwks, { now: T0, location: dir, ...opts });
    assert.equal(r.ok, false, `${dir} ${JSON.stringify(opts)}`);
    assert.ok(
      r.findings.some((f) => f.kind === 'not-found' && pattern.test(f.message)),
      `${JSON.stringify(opts)}: ${r.findings.map((f) => f.message).join(' | ')}`,
    );
  };
  await check(path.join(root, 'does-not-exist'), {}, /holds no topic \(expected <topic>\/<partition>\/ streams/);
  mkdirSync(path.join(root, 'empty'));
  await check(path.join(root, 'empty'), {}, /holds no topic/);
  for (const p of [3, 4, 99, 2 ** 31])
    await check(
      data,
      { partition: p },
      new RegExp(`partition ${p} is not in the archive: no stream ${TOPIC.replaceAll('.', '\\.')}/${p}/, and checkpoint \\d+ names partitions 0\\.\\.2`),
    );
  await check(data, { partition: 1 }, /partition 1 holds nothing to verify: checkpoint \d+ says nothing was sealed for it yet/);
  const r = await verifyArchive(localStorage(data), jwks, { now: T0, partition: 2 });
  assert.deepEqual(r.findings, []);
  assert.equal(r.streams, 1);
});

test('verify while the archiver seals: seals and checkpoints landing between any two reads never make a complete archive look incomplete (generated interleavings)', async (t) => {
  // The archiver keeps sealing while `audit archive verify` (or a test) reads: a partition's first
  // seal, a new checkpoint naming it, a manifest past the checkpoint. Whatever lands between two of
  // verify's reads, what it reads must still be a consistent archive (newer seals are warnings).
  const root = mkdtempSync(path.join(tmpdir(), 'archive-concurrent-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (let round = 0; round < 40; round++) {
    const rand = rng(7000 + round).int;
    const dir = path.join(root, String(round));
    const partitions = 2 + rand(3);
    const keys = await generateSigningKey(path.join(dir, 'keys'), 'k1');
    const signer = await loadSigner(keys.privateFile);
    const inner = localStorage(path.join(dir, 'data'));
    const heads: StreamHead[] = [];
    for (let p = 0; p < partitions; p++) heads.push(await readHead(inner, TOPIC, p));
    const chain = await readCheckpointChain(inner, TOPIC);
    const step = async () => {
      const p = rand(partitions);
      await seal(inner, signer, heads[p]!, records(heads[p]!.lastOffset + 1, 1 + rand(3)), T0, { codec: 'null' });
      // the archiver checkpoints soon after a seal, not always before the next one
      if (rand(3) > 0)
        await appendCheckpoint(inner, signer, chain, {
          archive: 'gen',
          partitionCount: partitions,
          marks: heads.map(markOf),
          createdAt: T0,
          intervalMs: 10_000,
        });
    };
    await appendCheckpoint(inner, signer, chain, { archive: 'gen', partitionCount: partitions, marks: heads.map(markOf), createdAt: T0, intervalMs: 10_000 });
    // partition 0 sealed before verify starts (a topic with data); the rest may come during it
    await seal(inner, signer, heads[0]!, records(0, 2), T0, { codec: 'null' });
    await appendCheckpoint(inner, signer, chain, { archive: 'gen', partitionCount: partitions, marks: heads.map(markOf), createdAt: T0, intervalMs: 10_000 });
    let calls = 0;
    const when = new Set(Array.from({ length: 1 + rand(4) }, () => rand(12)));
    const during = async <T>(read: () => Promise<T>): Promise<T> => {
      const r = await read();
      if (when.has(calls++)) for (let n = 1 + rand(3); n > 0; n--) await step();
      return r;
    };
    const storage = {
      ...inner,
      topics: () => during(() => inner.topics()),
      streams: () => during(() => inner.streams()),
      list: (prefix: string) => during(() => inner.list(prefix)),
      get: (key: string) => during(() => inner.get(key)),
    };
    const jwks = await loadJwks(keys.jwksFile);
    const report = await verifyArchive(storage, jwks, { now: T0 });
    assert.deepEqual(report.findings, [], `round ${round} (seed ${7000 + round}): steps after reads ${[...when].sort((a, b) => a - b).join(',')}`);
    assert.equal(report.ok, true);
    // and once it settles, everything verifies with nothing newer than the checkpoint left over
    await appendCheckpoint(inner, signer, chain, { archive: 'gen', partitionCount: partitions, marks: heads.map(markOf), createdAt: T0, intervalMs: 10_000 });
    const settled = await verifyArchive(inner, jwks, { now: T0 });
    assert.deepEqual([settled.findings, settled.warnings], [[], []], `round ${round} settled`);
  }
});
