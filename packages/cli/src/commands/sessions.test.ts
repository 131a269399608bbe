import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { sessionToEcsDocument, withIndexTimes } from '@jwt-audit/ecs';
import { readSchemaFile, type SessionSummary } from '@jwt-audit/events';
import { runAudit } from '../run.js';

const run = promisify(execFile);
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin.ts');
let node: SearchNode;
let dir: string;

async function audit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], { env: { ...process.env, AUDIT_ES_URL: node.url } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const now = Date.now();
const summary = (o: Partial<SessionSummary> & { id: string; subject: string; startedAt: number }): SessionSummary => ({
  schemaVersion: 1,
  revision: 1,
  basis: 'sid',
  sid: o.id,
  familyId: null,
  clientId: 'web',
  tenant: null,
  explicitStart: false,
  lastSeenAt: o.startedAt,
  endedAt: null,
  durationMs: 0,
  endReason: null,
  endDetail: null,
  tokenExpiresAt: null,
  ips: ['203.0.113.1'],
  ipsDropped: 0,
  countries: ['DE'],
  cities: [],
  requests: 3,
  routes: [],
  routesDropped: 0,
  bytesIn: 0,
  bytesOut: 0,
  rejections: 0,
  alerts: 0,
  alertRules: [],
  approvals: 0,
  afterEnd: 0,
  events: 3,
  updatedAt: o.startedAt,
  ...o,
});

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-sessions-'));
  node = await startSearchNode({ dir, port: 0 });
  process.env.AUDIT_ES_URL = node.url; // for the in-process runs
  const es = new Client({ node: node.url });
  await es.indices.putIndexTemplate({ name: 'audit-sessions', ...(readSchemaFile('elasticsearch/template-audit-sessions.json') as object) } as never);
  const sessions = [
    summary({ id: 'a-open', subject: 'alice', startedAt: now - 10 * 60_000, lastSeenAt: now - 60_000, durationMs: 9 * 60_000 }),
    summary({
      id: 'a-old',
      subject: 'alice',
      startedAt: now - 3 * 86_400_000,
      lastSeenAt: now - 3 * 86_400_000 + 60_000,
      endedAt: now - 3 * 86_400_000 + 120_000,
      durationMs: 120_000,
      endReason: 'sign_out',
      afterEnd: 2,
    }),
    summary({
      id: 'b-idle',
      subject: 'bob',
      startedAt: now - 2 * 3_600_000,
      lastSeenAt: now - 90 * 60_000,
      endedAt: now - 60 * 60_000,
      durationMs: 3_600_000,
      endReason: 'idle_timeout',
      clientId: null,
    }),
  ];
  await es.bulk({
    refresh: true,
    operations: sessions.flatMap((s) => [
      { index: { _index: 'audit-sessions-test', _id: s.id } },
      withIndexTimes(sessionToEcsDocument(s), new Date().toISOString()),
    ]),
  });
  await es.close();
});

after(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The same command lines in this process (runAudit is what bin.ts runs): no node start-up each. */
async function auditHere(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((c: string | Uint8Array) => (out.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => (err.push(String(c)), true)) as typeof process.stderr.write;
  try {
    const r = await runAudit(args);
    return { code: r.code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

const ids = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { jwt_audit: { session: { id: string } } }).jwt_audit.session.id);

test('audit sessions: every session newest first as a table, filtered by --subject, --open, --since, as --json', async () => {
  const all = await audit(['sessions']);
  assert.equal(all.code, 0, all.stderr);
  const rows = all.stdout.trim().split('\n');
  assert.match(rows[0]!, /^started\s+ended\s+duration\s+user\s+client\s+basis/);
  assert.equal(rows.length, 4);
  assert.match(rows[1]!, /open\s+9m00s\s+alice/);
  assert.match(rows[2]!, /1h00m\s+bob\s+-\s+sid\s+3\s+1\s+DE\s+0\s+idle_timeout$/);
  assert.match(rows[3]!, /sign_out \(\+2 after end\)$/);
  assert.match(all.stderr, /3 shown of 3 matching/);

  assert.deepEqual(ids((await auditHere(['sessions', '--json'])).stdout), ['a-open', 'b-idle', 'a-old']);
  assert.deepEqual(ids((await auditHere(['sessions', '--subject', 'alice', '--json'])).stdout), ['a-open', 'a-old']);
  assert.deepEqual(ids((await auditHere(['sessions', '--open', '--json'])).stdout), ['a-open']);
  assert.deepEqual(ids((await auditHere(['sessions', '--since', '1d', '--json'])).stdout), ['a-open', 'b-idle']);
  assert.deepEqual(ids((await auditHere(['sessions', '--since', '30m', '--subject', 'bob', '--json'])).stdout), []);
  assert.deepEqual(ids((await auditHere(['sessions', '--size', '1', '--json'])).stdout), ['a-open']);
  // a subject that looks like query syntax is a term, not a query
  assert.deepEqual(ids((await auditHere(['sessions', '--subject', 'alice OR bob', '--json'])).stdout), []);
});

test('audit sessions: --help, usage errors exit 2 naming the option, no index exits 1, an unreachable node exits 3', async () => {
  const help = await audit(['sessions', '--help']);
  assert.equal(help.code, 0);
  for (const o of ['--subject', '--open', '--since', '--json', '--size']) assert.ok(help.stdout.includes(o), o);
  // generated bad values for each option that takes one
  for (const [opt, bad] of [
    ['--size', '0'],
    ['--size', '-1'],
    ['--size', '10001'],
    ['--size', '1.5'],
    ['--size', 'x'],
    ['--since', '5'],
    ['--since', '1y'],
    ['--since', 'now-1h'],
    ['--since', ''],
    ['--subject', ''],
    ['--subject', 'x'.repeat(1025)],
  ] as const) {
    const r = await auditHere(['sessions', opt, bad]);
    assert.equal(r.code, 2, `${opt} ${bad}: ${r.stderr}`);
    assert.ok(r.stderr.includes(opt), `${opt} ${bad} named: ${r.stderr}`);
  }
  const unknown = await auditHere(['sessions', '--bogus']);
  assert.equal(unknown.code, 2);
  const none = await auditHere(['sessions', '--index', 'audit-sessions-nothing']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no index matches audit-sessions-nothing/);
  const down = await auditHere(['sessions', '--es-url', 'http://127.0.0.1:1']);
  assert.equal(down.code, 3, down.stderr);
});
