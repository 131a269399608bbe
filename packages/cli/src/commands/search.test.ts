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
import { toEcsDocument } from '@jwt-audit/ecs';
import { newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';

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
  await es.indices.putIndexTemplate({ name: 'e', ...(readSchemaFile('elasticsearch/template-logs-audit.events.json') as object) } as never);
  const base = readSchemaFile('examples/token.rejected.json') as AuditEvent;
  const now = Date.now();
  const events: AuditEvent[] = [
    { ...base, id: newId(), occurredAt: now - 60_000, actor: { ...base.actor, sub: 'alice' } },
    { ...base, id: newId(), occurredAt: now - 30_000, actor: { ...base.actor, sub: 'bob' } },
    { ...(readSchemaFile('examples/token.validated.json') as AuditEvent), id: newId(), occurredAt: now - 20_000, actor: { ...base.actor, sub: 'alice' } },
    { ...base, id: newId(), occurredAt: now - 3 * 86_400_000, actor: { ...base.actor, sub: 'alice' } },
  ];
  await es.bulk({ refresh: true, operations: events.flatMap((e) => [{ create: { _index: 'logs-audit.events-test', _id: e.id } }, toEcsDocument(e)]) });
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
  assert.match(rows[1]!, /token-rejected\s+failure\s+alice\s+203\.0\.113\.24\s+GET \/orders\/1042 401\s+expired/);
  assert.match(r.stderr, /1 shown of 1 matching/);
});

test('audit search --json prints one ECS document per line, oldest first', async () => {
  const r = await audit(['search', 'event.action:token-rejected', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(docs.map((d) => d.user.id), ['alice', 'alice', 'bob']);
  assert.ok(docs.every((d) => d.event.reason === 'expired'));
});

test('audit search: a malformed query exits 2 with Elasticsearch\'s reason; an unreachable node exits 3', async () => {
  const bad = await audit(['search', 'user.id:(alice']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Failed to parse query/);
  const down = await audit(['search', '--es-url', 'http://127.0.0.1:9', 'x']);
  assert.equal(down.code, 3);
  const usage = await audit(['search', '--since', 'yesterday']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /expected a duration/);
});
