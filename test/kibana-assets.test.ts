import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { toEcsDocument } from '@jwt-audit/ecs';
import { EVENT_KINDS, readSchemaFile, SCHEMAS_DIR, type AuditEvent } from '@jwt-audit/events';

const objects = readFileSync(path.join(SCHEMAS_DIR, 'kibana', 'jwt-audit.ndjson'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));

test('Kibana saved objects: a data view per data stream, the four saved searches, a dashboard; every reference resolves', () => {
  const byKey = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]));
  assert.equal(byKey.size, objects.length, 'ids are unique');
  assert.deepEqual(
    objects
      .filter((o) => o.type === 'index-pattern')
      .map((o) => o.attributes.title)
      .sort(),
    ['logs-jwt_audit.alerts-*', 'logs-jwt_audit.events-*'],
  );
  assert.deepEqual(
    objects
      .filter((o) => o.type === 'search')
      .map((o) => o.attributes.title)
      .sort(),
    ['Admin sessions', 'Alerts', 'Rejected tokens by reason', 'Revoked-token use'],
  );
  for (const o of objects) for (const r of o.references) assert.ok(byKey.has(`${r.type}:${r.id}`), `${o.id} -> ${r.type}:${r.id}`);
  const dashboard = objects.find((o) => o.type === 'dashboard');
  const panels = JSON.parse(dashboard.attributes.panelsJSON);
  assert.equal(panels.length, 4);
  for (const p of panels) assert.ok(dashboard.references.some((r: { name: string }) => r.name === p.panelRefName));
});

test('every saved search query runs against documents indexed with the template', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kibana-'));
  const node = await startSearchNode({ dir, port: 0 });
  const es = new Client({ node: node.url });
  t.after(async () => {
    await es.close();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const name of ['logs-jwt_audit.events', 'logs-jwt_audit.alerts'])
    await es.indices.putIndexTemplate({ name, ...(readSchemaFile(`elasticsearch/template-${name}.json`) as object) } as never);
  const docs = EVENT_KINDS.map((k) => toEcsDocument(readSchemaFile(`examples/${k}.json`) as AuditEvent));
  const res = await es.bulk({ refresh: true, operations: docs.flatMap((d) => [{ create: { _index: 'logs-jwt_audit.events-default' } }, d]) });
  assert.equal(res.errors, false, JSON.stringify(res.items.find((i) => Object.values(i)[0]!.error)));
  for (const s of objects.filter((o) => o.type === 'search')) {
    const source = JSON.parse(s.attributes.kibanaSavedObjectMeta.searchSourceJSON);
    const view = objects.find((o) => o.id === s.references[0].id);
    const r = await es.search({
      index: view.attributes.title,
      query: { query_string: { query: source.query.query } },
      allow_no_indices: true,
      ignore_unavailable: true,
    });
    if (s.id === 'jwt-audit-rejected-by-reason') assert.equal(r.hits.hits.length, 1, 'the token.rejected example is found');
  }
});
