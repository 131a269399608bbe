/**
 * Checks the index templates and the mapper's documents against a real Elasticsearch (a check run
 * by hand; the tests use the embedded search node): PUTs the ILM policy and the three templates,
 * indexes every example, a maximal event of every kind, a maximal alert and session, and every
 * boundary value Avro accepts at every event and alert leaf, then reads each data stream's
 * mapping back and compares every field's type with the field table. Lists every refusal.
 *
 *   npm run check:real-es -w packages/ecs -- [--url http://127.0.0.1:39200] [--keep] [--json]
 *
 * Exit codes: 0 everything accepted, 1 refusals or mismatches (listed), 2 bad arguments or
 * Elasticsearch unreachable. Writes only under the namespace `ecscheck` (removed afterwards unless
 * --keep) and the templates / ILM policy the indexer installs anyway.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alertCodec, EVENT_KINDS, eventCodec, readSchemaFile, SCHEMAS_DIR, type Alert, type AuditEvent, type SessionSummary } from '@jwt-audit/events';
import { boundaryValues, maximal, withLeaf } from '@jwt-audit/ecs/testing';
import {
  ALERT_FIELDS,
  alertsDataStream,
  alertToEcsDocument,
  EVENT_FIELDS,
  eventsDataStream,
  SESSION_FIELDS,
  sessionToEcsDocument,
  toEcsDocument,
  withIndexTimes,
  type FieldTable,
} from '../src/index.js';

const USAGE = 'usage: check-real-es [--url <elasticsearch url>] [--keep] [--json]\n';
let opts;
try {
  opts = parseArgs({
    options: {
      url: { type: 'string', default: process.env.AUDIT_TEST_ES_URL ?? 'http://127.0.0.1:39200' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(`${USAGE}PUTs schemas/elasticsearch/* to a real Elasticsearch and indexes the mapper's documents, listing what it refuses.\n`);
  process.exit(0);
}
let base: URL;
try {
  base = new URL(opts.url!);
} catch {
  process.stderr.write(`--url: not a URL: ${opts.url}\n${USAGE}`);
  process.exit(2);
}

const NS = 'ecscheck';
const progress = (m: string) => {
  if (!opts.json) process.stderr.write(`${m}\n`);
};

async function es(method: string, p: string, body?: unknown, ndjson = false): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(p, base), {
    method,
    headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    body: body === undefined ? undefined : ndjson ? `${(body as unknown[]).map((l) => JSON.stringify(l)).join('\n')}\n` : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const refusals: { what: string; reason: string }[] = [];
const refuse = (what: string, reason: unknown) => refusals.push({ what, reason: typeof reason === 'string' ? reason : JSON.stringify(reason).slice(0, 400) });

let version: string;
try {
  version = (await es('GET', '/')).body.version.number;
} catch (err) {
  process.stderr.write(`Elasticsearch at ${base.href} did not answer: ${(err as Error).message}\n`);
  process.exit(2);
}
progress(`Elasticsearch ${version} at ${base.href}`);

// --- the templates, as the indexer installs them (services/indexer/src/templates.ts)
const templates: [string, string][] = [
  ['logs-jwt_audit.events', 'template-logs-jwt_audit.events.json'],
  ['logs-jwt_audit.alerts', 'template-logs-jwt_audit.alerts.json'],
  ['audit-sessions', 'template-audit-sessions.json'],
];
const ilm = await es('PUT', '/_ilm/policy/logs-audit', readSchemaFile('elasticsearch/ilm-logs-audit.json'));
if (ilm.status !== 200) refuse('ILM policy logs-audit', ilm.body);
for (const [name, file] of templates) {
  const r = await es('PUT', `/_index_template/${name}`, readSchemaFile(`elasticsearch/${file}`));
  if (r.status !== 200) refuse(`template ${name}`, r.body);
}
progress(`templates: ${templates.length} PUT`);

// --- the documents, as the indexer writes them (services/indexer/src/sink.ts)
const now = new Date().toISOString();
const eventSchema = readSchemaFile('avro/audit-event.avsc') as never;
const alertSchema = readSchemaFile('avro/alert.avsc') as never;
const docs: { what: string; index: string; doc: Record<string, unknown> }[] = [];
const addEvent = (what: string, e: AuditEvent) => docs.push({ what, index: eventsDataStream(NS), doc: withIndexTimes(toEcsDocument(e), now, NS) });
const addAlert = (what: string, a: Alert) => docs.push({ what, index: alertsDataStream(NS), doc: withIndexTimes(alertToEcsDocument(a), now, NS) });
for (const f of readdirSync(path.join(SCHEMAS_DIR, 'examples'))
  .filter((x) => x.endsWith('.json'))
  .sort()) {
  const v = readSchemaFile(`examples/${f}`);
  if (f === 'alert.json') addAlert(`example ${f}`, v as Alert);
  else addEvent(`example ${f}`, v as AuditEvent);
}
for (const kind of EVENT_KINDS) addEvent(`maximal ${kind}`, maximal(eventSchema, { kind }).value as unknown as AuditEvent);
addAlert('maximal alert', maximal(alertSchema).value as unknown as Alert);
const session = maximal(readSchemaFile('avro/session.avsc') as never).value as unknown as SessionSummary;
for (const endedAt of [null, session.startedAt + 60_000]) {
  docs.push({
    what: `maximal session ended=${endedAt !== null}`,
    index: `audit-sessions-${NS}`,
    doc: withIndexTimes(sessionToEcsDocument({ ...session, id: `${session.id}-${endedAt}`, endedAt }), now),
  });
}
// every boundary value Avro accepts at every leaf, through the codec as the pipeline carries it
for (const [kind, schema] of [
  ['event', eventSchema],
  ['alert', alertSchema],
] as const) {
  const gen = kind === 'event' ? maximal(schema, { kind: 'token.validated' }) : maximal(schema);
  for (const leaf of gen.leaves) {
    for (const x of boundaryValues(leaf)) {
      const v = withLeaf(gen.value, leaf.path, x);
      try {
        if (kind === 'event') addEvent(`${leaf.path.join('.')} boundary`, eventCodec.decode(eventCodec.encode(v as unknown as AuditEvent).value));
        else addAlert(`${leaf.path.join('.')} boundary`, alertCodec.decode(alertCodec.encode(v as unknown as Alert).value));
      } catch {
        // refused before the index, naming its field (packages/ecs/src/mapping.test.ts checks that)
      }
    }
  }
}
progress(`documents: ${docs.length}`);

for (let at = 0; at < docs.length; at += 200) {
  const chunk = docs.slice(at, at + 200);
  // _id: the document's position (the indexer uses the event id; a boundary id may be longer than _id's 512 bytes)
  const ops = chunk.flatMap((d, k) => [{ create: { _index: d.index, _id: `check-${at + k}` } }, d.doc]);
  const r = await es('POST', '/_bulk?refresh=true', ops, true);
  if (r.status !== 200) {
    refuse(`bulk ${at}..${at + chunk.length}`, r.body);
    continue;
  }
  (r.body.items as Record<string, { status: number; error?: unknown }>[]).forEach((item, k) => {
    const res = Object.values(item)[0]!;
    if (res.status >= 300) refuse(chunk[k]!.what, res.error);
  });
  progress(`indexed ${Math.min(at + 200, docs.length)}/${docs.length}`);
}

// --- the mapping Elasticsearch made of the templates, field by field against the field table
const mismatches: string[] = [];
for (const [index, table] of [
  [eventsDataStream(NS), EVENT_FIELDS],
  [alertsDataStream(NS), ALERT_FIELDS],
  [`audit-sessions-${NS}`, SESSION_FIELDS],
] as [string, FieldTable][]) {
  const r = await es('GET', `/${index}/_mapping`);
  if (r.status !== 200) {
    refuse(`mapping of ${index}`, r.body);
    continue;
  }
  const real = new Map<string, string>();
  const walk = (props: Record<string, any>, prefix: string) => {
    for (const [k, m] of Object.entries(props)) {
      if (m.properties && (m.type === undefined || m.type === 'object')) walk(m.properties, `${prefix}${k}.`);
      else {
        real.set(prefix + k, m.type);
        for (const [sub, sm] of Object.entries((m.fields ?? {}) as Record<string, { type: string }>)) real.set(`${prefix}${k}.${sub}`, sm.type);
      }
    }
  };
  walk((Object.values(r.body)[0] as { mappings: { properties: Record<string, unknown> } }).mappings.properties, '');
  for (const [p, spec] of table)
    if (real.get(p) !== spec.type) mismatches.push(`${index}: ${p} is ${real.get(p) ?? 'unmapped'}, the template says ${spec.type}`);
}

if (!opts.keep) {
  await es('DELETE', `/_data_stream/${eventsDataStream(NS)},${alertsDataStream(NS)}`);
  await es('DELETE', `/audit-sessions-${NS}`);
}

const ok = refusals.length === 0 && mismatches.length === 0;
if (opts.json)
  process.stdout.write(`${JSON.stringify({ ok, elasticsearch: version, templates: templates.length, documents: docs.length, refusals, mismatches })}\n`);
else {
  for (const r of refusals) process.stdout.write(`REFUSED ${r.what}: ${r.reason}\n`);
  for (const m of mismatches) process.stdout.write(`MISMATCH ${m}\n`);
  process.stdout.write(
    `${ok ? 'ok' : 'FAILED'}: Elasticsearch ${version}, ${templates.length} templates, ${docs.length} documents, ${refusals.length} refused, ${mismatches.length} mapping mismatches\n`,
  );
}
process.exit(ok ? 0 : 1);
