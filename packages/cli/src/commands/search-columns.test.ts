/**
 * The columns `audit search` prints are fields of the index templates: formatRow / formatAlertRow
 * are run on a maximal document (every field the mapper writes) wrapped in a proxy that records
 * every field they read, and each field read must be in the field table of its data stream
 * (packages/ecs fields.ts, read from schemas/elasticsearch). A column added for a field the
 * mapper does not write, or spelled differently, fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALERT_FIELDS, alertToEcsDocument, EVENT_FIELDS, toEcsDocument, withIndexTimes, type FieldTable } from '@jwt-audit/ecs';
import { maximal } from '@jwt-audit/ecs/testing';
import { EVENT_KINDS, readSchemaFile, type Alert, type AuditEvent } from '@jwt-audit/events';
import { formatAlertRow, formatRow, type AlertRow, type SearchRow } from './search.js';

/** Runs `read` on `doc` and returns the dotted paths of the leaves it read (present or not). */
function fieldsRead(doc: Record<string, unknown>, read: (d: never) => unknown): Set<string> {
  const paths = new Set<string>();
  const wrap = (v: Record<string, unknown>, prefix: string): object =>
    new Proxy(v, {
      get(target, key) {
        if (typeof key !== 'string') return Reflect.get(target, key);
        const p = prefix + key;
        const x = target[key];
        if (x !== null && typeof x === 'object' && !Array.isArray(x)) return wrap(x as Record<string, unknown>, `${p}.`);
        paths.add(p);
        return x;
      },
    });
  read(wrap(doc, '') as never);
  return paths;
}

const eventSchema = readSchemaFile('avro/audit-event.avsc') as never;
const unmapped = (paths: Set<string>, table: FieldTable) => [...paths].filter((p) => !table.has(p));

test('every field an event row reads is a mapped field of logs-jwt_audit.events-*', () => {
  const read = new Set<string>();
  for (const kind of EVENT_KINDS) {
    const doc = withIndexTimes(toEcsDocument(maximal(eventSchema, { kind }).value as unknown as AuditEvent), new Date().toISOString());
    for (const p of fieldsRead(doc, (d: SearchRow) => formatRow(d))) read.add(p);
  }
  assert.ok(read.has('event.action') && read.has('user.id') && read.has('source.ip'), [...read].join(', '));
  assert.deepEqual(unmapped(read, EVENT_FIELDS), []);
});

test('every field an alert row reads is a mapped field of logs-jwt_audit.alerts-*', () => {
  const doc = withIndexTimes(alertToEcsDocument(maximal(readSchemaFile('avro/alert.avsc') as never).value as unknown as Alert), new Date().toISOString());
  const read = fieldsRead(doc, (d: AlertRow) => formatAlertRow(d));
  assert.ok(read.has('rule.name') && read.has('jwt_audit.alert.severity'), [...read].join(', '));
  assert.deepEqual(unmapped(read, ALERT_FIELDS), []);
});

test('the recorder sees a column on a field the mapper does not write', () => {
  const read = fieldsRead(
    { event: { action: 'x' } },
    (d: { event?: { action?: string; nonsense?: string } }) => `${d.event?.action}${d.event?.nonsense ?? ''}`,
  );
  assert.deepEqual(unmapped(read, EVENT_FIELDS), ['event.nonsense']);
});
