/**
 * Every leaf the ECS mapper writes is a field of the index template, with a value its mapped type
 * accepts: for a maximal event of every kind (generated from schemas/avro/audit-event.avsc, so a
 * new schema field is covered at once), every example, a maximal alert, and every boundary value
 * Avro accepts at every leaf. Checked against the field table read from the templates
 * (fields.ts); services/indexer/src/mapping.test.ts indexes the same documents for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { alertCodec, EVENT_KINDS, eventCodec, readSchemaFile, SCHEMAS_DIR, SchemaValidationError, type Alert, type AuditEvent } from '@jwt-audit/events';
import { boundaryValues, LONG_STRING, maximal, withLeaf } from '@jwt-audit/ecs/testing';
import {
  ALERT_FIELDS,
  alertToEcsDocument,
  checkDocument,
  EVENT_FIELDS,
  leafPaths,
  toEcsDocument,
  withIndexTimes,
  type FieldProblem,
  type FieldTable,
} from './index.js';

const eventSchema = readSchemaFile('avro/audit-event.avsc') as never;
const alertSchema = readSchemaFile('avro/alert.avsc') as never;
const NOW = '2026-03-01T10:00:01.000Z';

/** What the indexer writes: the mapper's document plus its index times, after an Avro round trip. */
const eventDoc = (e: AuditEvent) => withIndexTimes(toEcsDocument(avroEvent(e)), NOW, 'default');
const alertDoc = (a: Alert) => withIndexTimes(alertToEcsDocument(avroAlert(a)), NOW, 'default');
const avroEvent = (e: AuditEvent) => eventCodec.decode(eventCodec.encode(e).value);
const avroAlert = (a: Alert) => alertCodec.decode(alertCodec.encode(a).value);

const show = (ps: FieldProblem[]) => ps.map((p) => `${p.kind} ${p.path}: ${p.reason}`).join('\n');
const assertClean = (what: string, doc: Record<string, unknown>, table: FieldTable) => {
  const problems = checkDocument(doc, table);
  assert.deepEqual(problems, [], `${what}:\n${show(problems)}`);
};

const maximalEvent = (kind: string) => maximal(eventSchema, { kind }).value as unknown as AuditEvent;
const maximalAlert = () => maximal(alertSchema).value as unknown as Alert;

test('a maximal event of every kind maps to mapped fields only, each value of its mapped type', () => {
  for (const kind of EVENT_KINDS) assertClean(kind, eventDoc(maximalEvent(kind)), EVENT_FIELDS);
});

test('the maximal event reaches every part of the mapper: each top-level schema field lands in the document', () => {
  const doc = eventDoc(maximalEvent('http.exchange'));
  const paths = leafPaths(doc, EVENT_FIELDS);
  // one ECS home per schema part; a new top-level field without a home fails here
  const homes: Record<string, string> = {
    id: 'event.id',
    schemaVersion: 'jwt_audit.schema_version',
    kind: 'event.action',
    occurredAt: '@timestamp',
    observedAt: 'event.created',
    source: 'service.name',
    outcome: 'event.outcome',
    actor: 'user.id',
    token: 'jwt_audit.token.fingerprint',
    rejection: 'event.reason',
    key: 'jwt_audit.key_rotation.jwks_url',
    session: 'jwt_audit.session.id',
    http: 'http.request.method',
    network: 'source.ip',
    trace: 'trace.id',
    masking: 'jwt_audit.masking.policy_version',
    enrichment: 'jwt_audit.enriched_at',
    attributes: 'jwt_audit.attributes',
    approval: 'jwt_audit.approval.id',
  };
  const top = (eventSchema as { fields: { name: string }[] }).fields.map((f) => f.name);
  for (const f of top) {
    assert.ok(homes[f], `schema field ${f} has no ECS home named in this test`);
    assert.ok(paths.includes(homes[f]!), `${f} -> ${homes[f]} missing from the document`);
  }
  // and what the indexer adds
  assert.ok(paths.includes('event.ingested') && paths.includes('data_stream.namespace'));
});

test('every example event maps to mapped fields only', () => {
  const dir = path.join(SCHEMAS_DIR, 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'alert.json');
  assert.ok(files.length >= 10);
  for (const f of files) assertClean(f, eventDoc(readSchemaFile(`examples/${f}`) as AuditEvent), EVENT_FIELDS);
});

test('the example alert and a maximal alert map to the alerts template, with ecs.version and event.ingested', () => {
  for (const [what, a] of [
    ['example', readSchemaFile('examples/alert.json') as Alert],
    ['maximal', maximalAlert()],
  ] as const) {
    const doc = alertDoc(a) as { ecs?: { version?: string }; event?: { ingested?: string } };
    assertClean(`${what} alert`, doc, ALERT_FIELDS);
    assert.equal(typeof doc.ecs?.version, 'string');
    assert.equal(ALERT_FIELDS.get('ecs.version')?.type, 'keyword');
    assert.equal(doc.event?.ingested, NOW);
    assert.equal(ALERT_FIELDS.get('event.ingested')?.type, 'date');
  }
});

/**
 * At every leaf, every boundary value Avro accepts: the document is still accepted whole (no
 * rejected value: a refused value would send the event to the DLQ, so whoever chose it could keep
 * it out of the index), nothing unmapped, and a value left out is named in jwt_audit.unindexable.
 * Our own times out of range are refused naming the field instead.
 */
function boundaries(kind: 'event' | 'alert') {
  const gen = kind === 'event' ? maximal(eventSchema, { kind: 'token.validated' }) : maximal(alertSchema);
  const table = kind === 'event' ? EVENT_FIELDS : ALERT_FIELDS;
  const own = kind === 'event' ? ['occurredAt', 'observedAt'] : ['raisedAt', 'firstSeen', 'lastSeen', 'window.start', 'window.end'];
  let checked = 0;
  let refused = 0;
  const failures: string[] = [];
  for (const leaf of gen.leaves) {
    for (const x of boundaryValues(leaf)) {
      const v = withLeaf(gen.value, leaf.path, x);
      const where = `${leaf.path.join('.')} = ${typeof x === 'string' ? JSON.stringify(x.slice(0, 30)) : String(x)}`;
      let decoded: AuditEvent | Alert;
      try {
        decoded = kind === 'event' ? avroEvent(v as unknown as AuditEvent) : avroAlert(v as unknown as Alert);
      } catch (err) {
        // refused by the codec's validation (naming the field): such a value never reaches the mapper
        if (!(err instanceof SchemaValidationError && err.fields.some((f) => f.field === leaf.path.join('.'))))
          failures.push(`${where}: codec: ${(err as Error).message}`);
        refused++;
        continue;
      }
      let doc: Record<string, unknown>;
      try {
        doc = withIndexTimes(kind === 'event' ? toEcsDocument(decoded as AuditEvent) : alertToEcsDocument(decoded as Alert), NOW, 'default');
      } catch (err) {
        const named = err instanceof SchemaValidationError && own.includes(leaf.path.join('.')) && err.fields[0]?.field === leaf.path.join('.');
        if (!named) failures.push(`${where}: mapper threw ${(err as Error).message}`);
        continue;
      }
      const problems = checkDocument(doc, table).filter(
        (p) => !(p.kind === 'unsearchable' && x === LONG_STRING) && !(p.kind === 'unsearchable' && typeof x === 'string' && x.length > 1024),
      );
      if (problems.length > 0) failures.push(`${where}:\n  ${show(problems).replace(/\n/g, '\n  ')}`);
      checked++;
    }
  }
  assert.equal(failures.length, 0, `${failures.length} boundary values broke the document:\n${failures.join('\n')}`);
  return { checked, refused };
}

test('boundary values at every event leaf: the document is still accepted whole', () => {
  const { checked, refused } = boundaries('event');
  assert.ok(checked > 500 && refused < checked, `${checked} mapped, ${refused} refused by the codec`);
});

test('boundary values at every alert leaf: the document is still accepted whole', () => {
  const { checked, refused } = boundaries('alert');
  assert.ok(checked > 50 && refused < checked, `${checked} mapped, ${refused} refused by the codec`);
});

test('the checker itself fails what Elasticsearch would refuse or not index', () => {
  const kinds = (doc: Record<string, unknown>) => checkDocument(doc, EVENT_FIELDS).map((p) => `${p.kind}:${p.path}`);
  assert.deepEqual(kinds({ event: { nonsense: 'x' } }), ['unmapped:event.nonsense']);
  assert.deepEqual(kinds({ source: { ip: 'not an ip' } }), ['rejected:source.ip']);
  assert.deepEqual(kinds({ '@timestamp': '+010000-01-01T00:00:00.000Z' }), ['rejected:@timestamp']);
  assert.deepEqual(kinds({ http: { response: { status_code: 1.5 } } }), ['rejected:http.response.status_code']);
  assert.deepEqual(kinds({ event: { duration: Number.NaN } }), ['rejected:event.duration']);
  assert.deepEqual(kinds({ jwt_audit: { lifetime_exceeds_policy: 'yes' } }), ['rejected:jwt_audit.lifetime_exceeds_policy']);
  assert.deepEqual(kinds({ audit: { kind: 'token.issued' } }), ['unmapped:audit.kind'], 'the old namespace is gone');
  assert.deepEqual(kinds({ user: { id: { nested: 1 } } }), ['rejected:user.id']);
  assert.deepEqual(kinds({ source: { geo: { location: { lat: 91, lon: 0 } } } }), ['rejected:source.geo.location']);
  assert.deepEqual(kinds({ url: { query: 'x'.repeat(1025) } }), ['unsearchable:url.query']);
  // url.path is ECS's wildcard type: no ignore_above, no term limit
  assert.deepEqual(kinds({ url: { path: 'x'.repeat(40_000) } }), []);
  assert.deepEqual(kinds({ jwt_audit: { attributes: { a: 1 } } }), ['rejected:jwt_audit.attributes.a']);
});
