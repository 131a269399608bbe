import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readSchemaFile } from '@jwt-audit/events';
import { EVENT_FIELDS } from './event-fields.js';

type Avro = string | Avro[] | { type: Avro; name?: string; fields?: Array<{ name: string; type: Avro }>; items?: Avro; values?: Avro; symbols?: string[] };

/** Every string-typed path of an Avro schema (named types resolved; the shared Body type as `http.*.body`). */
function stringPaths(schema: Avro): string[] {
  const named = new Map<string, Avro>();
  const out = new Set<string>();
  const walk = (t: Avro, path: string): void => {
    if (typeof t === 'string') {
      if (t === 'string') out.add(path);
      else if (named.has(t)) walk(named.get(t)!, path);
      return;
    }
    if (Array.isArray(t)) return t.forEach((u) => walk(u, path));
    if (t.name && (t.type === 'record' || t.type === 'enum')) named.set(t.name, t);
    if (t.type === 'record') for (const f of t.fields ?? []) walk(f.type, path ? `${path}.${f.name}` : f.name);
    else if (t.type === 'array') walk(t.items!, `${path}[]`);
    else if (t.type === 'map') {
      out.add(`${path}{key}`);
      walk(t.values!, `${path}{value}`);
    } else if (typeof t.type === 'string' && t.type !== 'enum') walk(t.type, path);
  };
  walk(schema, '');
  return [...out]
    .map((p) => p.replace(/^http\.(request|response)\.body\./, 'http.*.body.'))
    .filter((p, i, a) => a.indexOf(p) === i)
    .sort();
}

const avroPaths = stringPaths(readSchemaFile('avro/audit-event.avsc') as Avro);

test('every string field of the Avro event schema has a treatment in event-fields.ts, and nothing else is listed', () => {
  assert.ok(avroPaths.length >= 60, `walked ${avroPaths.length} string fields`);
  assert.deepEqual(Object.keys(EVENT_FIELDS).sort(), avroPaths);
});

test('every string field of the Avro event schema is a row of the field table in the README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const rows = new Set([...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));
  const missing = avroPaths.filter((p) => !rows.has(p));
  assert.deepEqual(missing, [], `string fields without a row in packages/masking/README.md: ${missing.join(', ')}`);
});

test('the walk itself finds nested, array, map and shared-type strings (a schema change it missed would pass silently)', () => {
  for (const p of [
    'token.jti',
    'actor.roles[]',
    'attributes{key}',
    'attributes{value}',
    'http.*.body.content',
    'http.response.headers{key}',
    'enrichment.userAgent.os',
  ])
    assert.ok(avroPaths.includes(p), p);
  assert.ok(!avroPaths.includes('kind') || EVENT_FIELDS.kind!.kind === 'enum');
  assert.ok(!avroPaths.includes('token.typ'), 'enums are not strings');
});
