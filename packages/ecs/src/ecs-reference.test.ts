/**
 * The mapping as Elastic defines ECS: every template field that ECS defines has ECS's type,
 * ignore_above and multi-fields exactly (reference/ecs-<version>.json, extracted from Elastic's
 * generated/ecs/ecs_flat.yml by scripts/vendor-ecs.mjs); every other field is under the one custom
 * namespace `jwt_audit.*`; the event.kind / category / type / outcome the mapper writes are ECS's
 * allowed values, each type one its category expects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT_KINDS, readSchemaFile, SCHEMAS_DIR, type Alert, type AuditEvent, type SessionSummary } from '@jwt-audit/events';
import { maximal } from '@jwt-audit/ecs/testing';
import {
  ALERT_FIELDS,
  alertToEcsDocument,
  categoryOf,
  ECS_VERSION,
  EVENT_FIELDS,
  SESSION_FIELDS,
  sessionToEcsDocument,
  splitHost,
  toEcsDocument,
  type FieldTable,
} from './index.js';

interface EcsField {
  type: string;
  ignore_above?: number;
  multi_fields?: Record<string, { type: string }>;
}
interface Reference {
  version: string;
  allowed: Record<'event.kind' | 'event.type' | 'event.outcome', string[]>;
  categories: Record<string, string[]>;
  fields: Record<string, EcsField>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const ref = JSON.parse(readFileSync(path.join(here, '..', 'reference', `ecs-${ECS_VERSION}.json`), 'utf8')) as Reference;

const TEMPLATES: [string, string, FieldTable][] = [
  ['events', 'elasticsearch/template-logs-jwt_audit.events.json', EVENT_FIELDS],
  ['alerts', 'elasticsearch/template-logs-jwt_audit.alerts.json', ALERT_FIELDS],
  ['sessions', 'elasticsearch/template-audit-sessions.json', SESSION_FIELDS],
];

interface Node {
  type?: string;
  ignore_above?: number;
  properties?: Record<string, Node>;
  fields?: Record<string, Node>;
}
/** Leaves with their multi-fields, as the template writes them (not flattened like the field table). */
function leaves(template: unknown): Map<string, Node> {
  const out = new Map<string, Node>();
  const walk = (props: Record<string, Node>, prefix: string) => {
    for (const [k, n] of Object.entries(props)) {
      if (n.properties && (n.type === undefined || n.type === 'object')) walk(n.properties, `${prefix}${k}.`);
      else out.set(prefix + k, n);
    }
  };
  walk((template as { template: { mappings: { properties: Record<string, Node> } } }).template.mappings.properties, '');
  return out;
}

test('the reference is the ECS version the documents declare', () => {
  assert.equal(ref.version, ECS_VERSION);
  assert.ok(Object.keys(ref.fields).length > 200);
});

test('every ECS field of every template is mapped exactly as ECS defines it; every other field is under jwt_audit.*', () => {
  const problems: string[] = [];
  for (const [name, file] of TEMPLATES) {
    for (const [p, n] of leaves(readSchemaFile(file))) {
      const ecs = ref.fields[p];
      if (!ecs) {
        if (!p.startsWith('jwt_audit.')) problems.push(`${name}: ${p} is neither an ECS field nor under jwt_audit.*`);
        continue;
      }
      const want = { type: ecs.type, ignore_above: ecs.ignore_above, fields: ecs.multi_fields };
      const got = {
        type: n.type,
        ignore_above: n.ignore_above,
        fields: n.fields ? Object.fromEntries(Object.entries(n.fields).map(([k, f]) => [k, { type: f.type }])) : undefined,
      };
      if (JSON.stringify(got) !== JSON.stringify(want))
        problems.push(`${name}: ${p} is ${JSON.stringify(got)}, ECS ${ref.version} says ${JSON.stringify(want)}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every keyword and flattened field has an ignore_above (a long value is kept in _source, never fails the document)', () => {
  const missing: string[] = [];
  for (const [name, , table] of TEMPLATES)
    for (const [p, s] of table) if ((s.type === 'keyword' || s.type === 'flattened') && s.ignore_above === undefined) missing.push(`${name}: ${p}`);
  assert.deepEqual(missing, []);
});

test('no custom field repeats an ECS one', () => {
  // what the mapper once wrote twice: event.action, event.created, event.duration, event.ingested,
  // event.reason, event.start/end, organization.id
  const duplicates = new Set(['kind', 'observed_at', 'latency_ms', 'indexed_at', 'reason', 'tenant', 'started_at', 'ended_at', 'duration_ms', 'end_reason']);
  const found: string[] = [];
  for (const [name, , table] of TEMPLATES)
    for (const p of table.keys()) if (p.startsWith('jwt_audit.') && duplicates.has(p.split('.').at(-1)!)) found.push(`${name}: ${p}`);
  assert.deepEqual(found, []);
});

/** ECS's rule for event.type: an allowed value, expected by one of the event's categories; each category gets one of its types. */
function categorization(doc: Record<string, unknown>): string[] {
  const e = doc.event as { kind: string; category: string[]; type: string[]; outcome?: string };
  const out: string[] = [];
  if (!ref.allowed['event.kind'].includes(e.kind)) out.push(`kind ${e.kind}`);
  if (e.outcome !== undefined && !ref.allowed['event.outcome'].includes(e.outcome)) out.push(`outcome ${e.outcome}`);
  for (const c of e.category) {
    const expected = ref.categories[c];
    if (!expected) out.push(`category ${c} is not an ECS category`);
    else if (!e.type.some((t) => expected.includes(t))) out.push(`category ${c} has none of its expected types (${expected.join('/')}) in ${e.type.join(',')}`);
  }
  for (const t of e.type) {
    if (!ref.allowed['event.type'].includes(t)) out.push(`type ${t} is not an ECS type`);
    else if (!e.category.some((c) => ref.categories[c]?.includes(t))) out.push(`type ${t} is expected by none of ${e.category.join(',')}`);
  }
  return out;
}

test('every event kind, with and without an exchange, at every status class, gets an ECS categorisation', () => {
  const problems: string[] = [];
  for (const kind of [...EVENT_KINDS, 'a.kind.added.later']) {
    for (const web of [false, true]) {
      for (const status of [undefined, 200, 302, 401, 404, 500, 503]) {
        const c = categoryOf(kind, web, status);
        for (const p of categorization({ event: { kind: 'event', ...c } })) problems.push(`${kind} web=${web} status=${status}: ${p}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('every document the mapper writes (maximal events, examples, alerts, sessions) has ECS kind, category, type and outcome', () => {
  const eventSchema = readSchemaFile('avro/audit-event.avsc') as never;
  const docs: [string, Record<string, unknown>][] = [];
  for (const kind of EVENT_KINDS) docs.push([`maximal ${kind}`, toEcsDocument(maximal(eventSchema, { kind }).value as unknown as AuditEvent)]);
  for (const f of readdirSync(path.join(SCHEMAS_DIR, 'examples')).filter((x) => x.endsWith('.json'))) {
    const v = readSchemaFile(`examples/${f}`);
    docs.push([f, f === 'alert.json' ? alertToEcsDocument(v as Alert) : toEcsDocument(v as AuditEvent)]);
  }
  docs.push(['maximal alert', alertToEcsDocument(maximal(readSchemaFile('avro/alert.avsc') as never).value as unknown as Alert)]);
  for (const endedAt of [null, 1796112700000]) {
    docs.push([
      `session ended=${endedAt}`,
      sessionToEcsDocument({ ...(maximal(readSchemaFile('avro/session.avsc') as never).value as unknown as SessionSummary), endedAt }),
    ]);
  }
  const problems = docs.flatMap(([what, d]) => categorization(d).map((p) => `${what}: ${p}`));
  assert.deepEqual(problems, []);
  // the alert is an ECS alert, not a threat-intel indicator
  const alert = docs.find(([w]) => w === 'alert.json')![1].event as { kind: string; type: string[] };
  assert.equal(alert.kind, 'alert');
  assert.equal(alert.type.includes('indicator'), false);
});

test('the Host header splits into url.domain and url.port; anything else stays whole in url.domain', () => {
  assert.deepEqual(splitHost('api.example.com'), { domain: 'api.example.com' });
  assert.deepEqual(splitHost('api.example.com:8443'), { domain: 'api.example.com', port: 8443 });
  assert.deepEqual(splitHost('[2001:db8::1]:8080'), { domain: '2001:db8::1', port: 8080 });
  assert.deepEqual(splitHost('[2001:db8::1]'), { domain: '2001:db8::1' });
  // generated: every port 0..65535 at a sample, and what an attacker puts in a Host header
  for (let port = 0; port <= 65_535; port += 4099) assert.deepEqual(splitHost(`h:${port}`), { domain: 'h', port });
  for (const host of ['h:65536', 'h:99999', 'h:', 'h:-1', 'h:1e3', 'h:0x10', 'h:80:80', '2001:db8::1', 'h: 80', ':80x', 'h:123456', '', ':80', '[]:80']) {
    const r = splitHost(host);
    assert.equal(r.port, undefined, host);
    assert.equal(r.domain, host, host);
  }
});
