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
import { alertToEcsDocument, toEcsDocument } from '@jwt-audit/ecs';
import { newId, readSchemaFile, type Alert, type AuditEvent } from '@jwt-audit/events';

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

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-search-'));
  node = await startSearchNode({ dir, port: 0 });
  const es = new Client({ node: node.url });
  await es.indices.putIndexTemplate({ name: 'e', ...(readSchemaFile('elasticsearch/template-logs-jwt_audit.events.json') as object) } as never);
  const base = readSchemaFile('examples/token.rejected.json') as AuditEvent;
  const now = Date.now();
  const events: AuditEvent[] = [
    { ...base, id: newId(), occurredAt: now - 60_000, actor: { ...base.actor, sub: 'alice' } },
    { ...base, id: newId(), occurredAt: now - 30_000, actor: { ...base.actor, sub: 'bob' } },
    { ...(readSchemaFile('examples/token.validated.json') as AuditEvent), id: newId(), occurredAt: now - 20_000, actor: { ...base.actor, sub: 'alice' } },
    { ...base, id: newId(), occurredAt: now - 3 * 86_400_000, actor: { ...base.actor, sub: 'alice' } },
    // one login: an access, a refresh and an id token, which were three identical token-issued rows
    ...(['access', 'refresh', 'id'] as const).map((typ, i) => {
      const issued = readSchemaFile('examples/token.issued.json') as AuditEvent;
      return { ...issued, id: newId(), occurredAt: now - 10_000 + i, actor: { ...issued.actor, sub: 'carol' }, token: { ...issued.token!, typ } };
    }),
  ];
  await es.bulk({ refresh: true, operations: events.flatMap((e) => [{ create: { _index: 'logs-jwt_audit.events-test', _id: e.id } }, toEcsDocument(e)]) });
  await es.close();
});

after(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

test('audit search: a query string and a time window, as a table', async () => {
  const r = await audit(['search', 'user.id:alice AND event.action:token-rejected', '--since', '1h']);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n');
  assert.match(rows[0]!, /^time\s+action\s+outcome\s+user/);
  assert.equal(rows.length, 2, 'the 3-day-old rejection is outside the window');
  assert.match(rows[1]!, /token-rejected \(access\)\s+failure\s+alice\s+203\.0\.113\.24\s+GET \/orders\/1042 401\s+expired/);
  assert.match(r.stderr, /1 shown of 1 matching/);
});

test('audit search: access, refresh and id tokens are told apart in the rows', async () => {
  const r = await audit(['search', 'user.id:carol', '--since', '1h']);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').slice(1);
  assert.deepEqual(
    rows.map((l) => /token-issued \((\w+)\)/.exec(l)?.[1]),
    ['access', 'refresh', 'id'],
  );
  assert.match(rows[0]!, /token-issued \(access\)\s+success\s+carol/);
});

test('audit search --json prints one ECS document per line, oldest first', async () => {
  const r = await audit(['search', 'event.action:token-rejected', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const docs = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    docs.map((d) => d.user.id),
    ['alice', 'alice', 'bob'],
  );
  assert.ok(docs.every((d) => d.event.reason === 'expired'));
});

test("audit search: a malformed query exits 2 with Elasticsearch's reason; an unreachable node exits 3", async () => {
  const bad = await audit(['search', 'user.id:(alice']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Failed to parse query/);
  const down = await audit(['search', '--es-url', 'http://127.0.0.1:9', 'x']);
  assert.equal(down.code, 3);
  const usage = await audit(['search', '--since', 'yesterday']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /expected a duration/);
});

test('audit search --alerts: a table of severity, rule and description; a pattern matching no index is an error, not "0 matching"', async () => {
  const es = new Client({ node: node.url });
  const alert = { ...(readSchemaFile('examples/alert.json') as Alert), id: newId(), raisedAt: Date.now() - 5_000 };
  try {
    await es.indices.putIndexTemplate({ name: 'a', ...(readSchemaFile('elasticsearch/template-logs-jwt_audit.alerts.json') as object) } as never);
    await es.index({ index: 'logs-jwt_audit.alerts-test', id: alert.id, op_type: 'create', refresh: true, document: alertToEcsDocument(alert) });
  } finally {
    await es.close();
  }
  const r = await audit(['search', '--alerts', '--since', '1h']);
  assert.equal(r.code, 0, r.stderr);
  const [header, row] = r.stdout.trim().split('\n');
  assert.match(header!, /^time\s+severity\s+rule\s+user\s+source ip\s+count\s+description$/);
  assert.match(row!, /CRITICAL\s+refresh-token-reuse\s+alice@example\.com\s+198\.51\.100\.7\s+x2\s+refresh token of family fam-5d1e was exchanged twice/);
  // --json: the alert's document, the one shape `audit alerts tail --json` prints too
  const json = await audit(['search', '--alerts', '--since', '1h', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout.trim()), JSON.parse(JSON.stringify(alertToEcsDocument(alert))));
  const missing = await audit(['search', '--index', 'logs-nothing-here-*', 'x']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no index or data stream matches logs-nothing-here-\*/);
});

test('audit --version prints the version; a usage error prints one line pointing at --help, not the whole help', async () => {
  const v = await audit(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
  const typo = await audit(['serach', 'x']);
  assert.equal(typo.code, 2);
  assert.ok(typo.stderr.trim().split('\n').length <= 3, typo.stderr);
  assert.match(typo.stderr, /--help/);
  const badFlag = await audit(['search', '--sizee', '3']);
  assert.equal(badFlag.code, 2);
  assert.ok(badFlag.stderr.trim().split('\n').length <= 3, badFlag.stderr);
});
