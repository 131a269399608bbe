/**
 * The documents packages/ecs/src/mapping.test.ts checks against the field table, indexed for real:
 * through the indexer's sink (indexBatch) into the embedded search node with the real templates
 * (installTemplates), then every leaf of every stored document found again by a query of its
 * mapped type (term for keyword/ip/number/boolean, match for text, a range for dates, the key for
 * flattened fields, each multi-field too).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, type estypes } from '@elastic/elasticsearch';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { ALERT_FIELDS, EVENT_FIELDS, leafPaths, type FieldTable } from '@jwt-audit/ecs';
import { maximal } from '@jwt-audit/ecs/testing';
import { alertCodec, EVENT_KINDS, eventCodec, newId, readSchemaFile, SCHEMAS_DIR, TOPICS, type Alert, type AuditEvent } from '@jwt-audit/events';
import type { InputRecord } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { indexBatch, installTemplates } from './index.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let dir: string;
let node: SearchNode | undefined;
let es: Client;

// AUDIT_TEST_ES_URL runs the same test against another Elasticsearch (a real 8.x, side by side:
// `../shared/real-elasticsearch.sh start`, then AUDIT_TEST_ES_URL=http://127.0.0.1:39200)
const external = process.env.AUDIT_TEST_ES_URL;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'indexer-mapping-'));
  if (!external) node = await startSearchNode({ dir, port: 0 });
  es = new Client({ node: external ?? node!.url });
  if (external) await es.indices.deleteDataStream({ name: 'logs-jwt_audit.*-mapping' }).catch(() => undefined);
  await installTemplates(es, logger);
});

after(async () => {
  await es.close();
  await node?.close();
  rmSync(dir, { recursive: true, force: true });
});

const record = (topic: string, value: Buffer, headers: Record<string, Buffer | string>, offset: number): InputRecord => ({
  topic,
  partition: 0,
  offset: String(offset),
  key: null,
  value,
  headers,
  timestamp: Date.now(),
});

function events(): AuditEvent[] {
  const schema = readSchemaFile('avro/audit-event.avsc') as never;
  const out: AuditEvent[] = EVENT_KINDS.map((kind) => maximal(schema, { kind }).value as unknown as AuditEvent);
  for (const f of readdirSync(path.join(SCHEMAS_DIR, 'examples')).filter((n) => n.endsWith('.json') && n !== 'alert.json')) {
    out.push({ ...(readSchemaFile(`examples/${f}`) as AuditEvent), id: newId() });
  }
  // values the mapped types would refuse: the document is still indexed, the value left out
  const odd = maximal(schema, { kind: 'token.rejected' }).value as unknown as AuditEvent;
  odd.network = { clientIp: 'unknown', forwardedFor: ['_hidden', '198.51.100.9'], userAgent: 'x'.repeat(2000) };
  odd.actor = { ...odd.actor, sub: 'ü'.repeat(20_000) };
  out.push(odd);
  return out;
}

const alerts = (): Alert[] => [
  { ...(readSchemaFile('examples/alert.json') as Alert), id: newId() },
  maximal(readSchemaFile('avro/alert.avsc') as never).value as unknown as Alert,
];

/** A query that finds `value` in `field` by the field's mapped type. */
function queryFor(field: string, type: string, value: unknown): estypes.QueryDslQueryContainer {
  switch (type) {
    case 'text':
    case 'match_only_text':
      return { match: { [field]: { query: String(value), operator: 'and' } } };
    case 'date':
      return { range: { [field]: { gte: value as string, lte: value as string } } };
    default:
      return { term: { [field]: value as string } };
  }
}

/** Every (field, type, value) of a stored document that must be searchable, multi-fields and flattened keys included. */
function searchable(source: Record<string, unknown>, table: FieldTable): { field: string; type: string; value: unknown }[] {
  const out: { field: string; type: string; value: unknown }[] = [];
  const valueAt = (p: string) => p.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], source);
  for (const p of leafPaths(source, table)) {
    const spec = table.get(p)!;
    const values = ([] as unknown[]).concat(valueAt(p));
    for (const v of values) {
      if (spec.type === 'flattened') {
        for (const [k, x] of Object.entries(v as Record<string, string>))
          if (x.length <= (spec.ignore_above ?? Infinity)) out.push({ field: `${p}.${k}`, type: 'keyword', value: x });
        continue;
      }
      if (spec.type === 'geo_point') continue; // the embedded node keeps geo points in _source only (no geo queries): checked there
      if (typeof v === 'string' && spec.ignore_above !== undefined && v.length > spec.ignore_above) continue; // kept, not indexed: as in Elasticsearch
      out.push({ field: p, type: spec.type, value: v });
      for (const [sub, s] of table) if (sub.startsWith(`${p}.`) && !sub.slice(p.length + 1).includes('.')) out.push({ field: sub, type: s.type, value: v });
    }
  }
  return out;
}

async function assertSearchable(index: string, ids: string[], table: FieldTable): Promise<number> {
  const stored = await es.search<Record<string, unknown>>({ index, size: ids.length, query: { ids: { values: ids } } });
  assert.equal(stored.hits.hits.length, ids.length, `${index}: ${stored.hits.hits.length} of ${ids.length} stored`);
  let checks = 0;
  const missed: string[] = [];
  for (const h of stored.hits.hits) {
    const fields = searchable(h._source!, table);
    const found = await Promise.all(
      fields.map(async (f) => {
        const r = await es.search({
          index,
          size: 0,
          track_total_hits: true,
          query: { bool: { filter: [{ ids: { values: [h._id!] } }, queryFor(f.field, f.type, f.value)] } },
        });
        return typeof r.hits.total === 'number' ? r.hits.total : r.hits.total!.value;
      }),
    );
    fields.forEach((f, i) => {
      checks++;
      if (found[i] !== 1) missed.push(`${h._id} ${f.field} (${f.type}) = ${JSON.stringify(f.value).slice(0, 60)}`);
    });
  }
  assert.deepEqual(missed, [], `not found by their mapped type:\n${missed.join('\n')}`);
  return checks;
}

test('maximal events of every kind, every example and values the types would refuse: all indexed, every leaf searchable by its type', async () => {
  const evs = events();
  const records = evs.map((e, i) => {
    const enc = eventCodec.encode(e);
    return record(TOPICS.enriched, enc.value, enc.headers as Record<string, Buffer | string>, i);
  });
  const out = await indexBatch(es, records, 'mapping');
  assert.deepEqual(
    out.deadLetters.map((d) => d.error.message),
    [],
  );
  assert.equal(out.written, evs.length);
  await es.indices.refresh({ index: 'logs-jwt_audit.events-mapping' });
  const checks = await assertSearchable(
    'logs-jwt_audit.events-mapping',
    evs.map((e) => e.id),
    EVENT_FIELDS,
  );
  assert.ok(checks > 500, `${checks} leaf checks`);
  const located = await es.search<any>({ index: 'logs-jwt_audit.events-mapping', size: evs.length, query: { ids: { values: evs.map((e) => e.id) } } });
  for (const h of located.hits.hits) {
    const geo = evs.find((e) => e.id === h._id)!.enrichment?.geo;
    if (geo?.lat != null && geo.lon != null) assert.deepEqual(h._source.source.geo.location, { lat: geo.lat, lon: geo.lon });
  }
  // the refused values: left out of their typed fields, the address kept as ECS source.address, named in jwt_audit.unindexable
  // a search by id: Elasticsearch refuses GET /<data stream>/_doc/<id> (index_not_found_exception)
  const odd = (await es.search<any>({ index: 'logs-jwt_audit.events-mapping', query: { ids: { values: [evs.at(-1)!.id] } } })).hits.hits[0]!._source;
  assert.equal(odd.source.address, 'unknown');
  assert.equal(odd.source.ip, undefined);
  assert.deepEqual(odd.jwt_audit.forwarded_for, ['198.51.100.9']);
  assert.deepEqual(odd.jwt_audit.unindexable, ['source.ip', 'jwt_audit.forwarded_for']);
  const bySub = await es.search({ index: 'logs-jwt_audit.events-mapping', query: { term: { 'jwt_audit.unindexable': 'source.ip' } } });
  assert.deepEqual(
    bySub.hits.hits.map((h) => h._id),
    [evs.at(-1)!.id],
  );
});

test('the example alert and a maximal alert: indexed with ecs.version and event.ingested, every leaf searchable by its type', async () => {
  const as = alerts();
  const records = as.map((a, i) => {
    const enc = alertCodec.encode(a);
    return record(TOPICS.alerts, enc.value, enc.headers as Record<string, Buffer | string>, i);
  });
  const out = await indexBatch(es, records, 'mapping');
  assert.deepEqual(
    out.deadLetters.map((d) => d.error.message),
    [],
  );
  assert.equal(out.written, as.length);
  await es.indices.refresh({ index: 'logs-jwt_audit.alerts-mapping' });
  await assertSearchable(
    'logs-jwt_audit.alerts-mapping',
    as.map((a) => a.id),
    ALERT_FIELDS,
  );
  for (const field of ['ecs.version', 'event.ingested']) {
    const r = await es.search({ index: 'logs-jwt_audit.alerts-mapping', size: 0, track_total_hits: true, query: { exists: { field } } });
    assert.equal(typeof r.hits.total === 'number' ? r.hits.total : r.hits.total!.value, as.length, field);
  }
});
