/**
 * The Kibana saved objects (schemas/kibana/jwt-audit.ndjson) name only mapped fields: every saved
 * search's columns, sort fields and the fields its query names are in the field table of the data
 * view it references, and every data view's time field is a mapped date.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SCHEMAS_DIR } from '@jwt-audit/events';
import { ALERT_FIELDS, EVENT_FIELDS, type FieldTable } from './index.js';

interface SavedObject {
  type: string;
  id: string;
  attributes: { title?: string; timeFieldName?: string; columns?: string[]; sort?: [string, string][]; kibanaSavedObjectMeta?: { searchSourceJSON?: string } };
  references: { type: string; id: string }[];
}

const objects = readFileSync(path.join(SCHEMAS_DIR, 'kibana/jwt-audit.ndjson'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as SavedObject);
const dataViews = new Map(objects.filter((o) => o.type === 'index-pattern').map((o) => [o.id, o]));
const tableOf = (title: string | undefined): FieldTable => {
  if (title === 'logs-jwt_audit.events-*') return EVENT_FIELDS;
  if (title === 'logs-jwt_audit.alerts-*') return ALERT_FIELDS;
  throw new assert.AssertionError({ message: `data view ${title} matches neither template` });
};

/** Field names a Lucene / KQL query names (`field:value`, `field:(a OR b)`), escaped colons aside. */
function queryFields(q: string): string[] {
  return [...q.matchAll(/(?:^|[\s(!+-])([A-Za-z@_][\w.@-]*)\s*:/g)].map((m) => m[1]!);
}

test('every data view has a mapped date as its time field', () => {
  assert.ok(dataViews.size >= 2);
  for (const v of dataViews.values()) assert.equal(tableOf(v.attributes.title).get(v.attributes.timeFieldName!)?.type, 'date', v.id);
});

test("every saved search's columns, sort and query fields are mapped in its data view's template", () => {
  const searches = objects.filter((o) => o.type === 'search');
  assert.ok(searches.length >= 4);
  const problems: string[] = [];
  for (const s of searches) {
    const view = dataViews.get(s.references.find((r) => r.type === 'index-pattern')!.id);
    const table = tableOf(view?.attributes.title);
    const source = JSON.parse(s.attributes.kibanaSavedObjectMeta?.searchSourceJSON ?? '{}') as { query?: { query?: string } };
    const named = [...(s.attributes.columns ?? []), ...(s.attributes.sort ?? []).map(([f]) => f), ...queryFields(source.query?.query ?? '')];
    assert.ok(named.length > 1, s.id);
    for (const f of named) if (!table.has(f)) problems.push(`${s.id}: ${f}`);
  }
  assert.deepEqual(problems, []);
});

test('the query parser finds the fields a query names', () => {
  assert.deepEqual(queryFields('event.action:token-rejected AND event.reason:(revoked OR subject_deprovisioned)'), ['event.action', 'event.reason']);
  assert.deepEqual(queryFields('user.roles:admin'), ['user.roles']);
  assert.deepEqual(queryFields('NOT @timestamp:[now-1d TO now] OR -source.ip:10.0.0.1'), ['@timestamp', 'source.ip']);
});
