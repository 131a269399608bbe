#!/usr/bin/env node
// Extracts from Elastic's generated/ecs/ecs_flat.yml (github.com/elastic/ecs, at the tag of
// ECS_VERSION) what our mapping is checked against: type, ignore_above and multi-fields of every
// field of the field sets we use, and the allowed values of event.kind/category/type/outcome (with
// each category's expected event types). The output, reference/ecs-<version>.json, is committed;
// src/ecs-reference.test.ts compares the index templates and the mapper with it.
//   node packages/ecs/scripts/vendor-ecs.mjs <path/to/ecs_flat.yml> <version>
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const [file, version] = process.argv.slice(2);
if (!file || !version) {
  process.stderr.write('usage: vendor-ecs.mjs <ecs_flat.yml> <version>\n');
  process.exit(2);
}
/** The field sets (first path segment) our templates use; base fields (@timestamp, message, tags, labels) have no dot. */
const SETS = new Set([
  '@timestamp',
  'message',
  'ecs',
  'event',
  'user',
  'source',
  'user_agent',
  'http',
  'url',
  'trace',
  'span',
  'service',
  'rule',
  'related',
  'organization',
  'data_stream',
  'client',
  'tags',
  'labels',
]);
const flat = parse(readFileSync(file, 'utf8'));
const fields = {};
for (const [name, f] of Object.entries(flat)) {
  if (!SETS.has(name.split('.')[0])) continue;
  fields[name] = {
    type: f.type,
    ...(f.ignore_above !== undefined ? { ignore_above: f.ignore_above } : {}),
    ...(f.multi_fields ? { multi_fields: Object.fromEntries(f.multi_fields.map((m) => [m.name, { type: m.type }])) } : {}),
    ...(f.scaling_factor !== undefined ? { scaling_factor: f.scaling_factor } : {}),
  };
}
const allowed = (name) => flat[name].allowed_values.map((a) => a.name);
const out = {
  source: `https://github.com/elastic/ecs/blob/v${version}/generated/ecs/ecs_flat.yml`,
  version,
  allowed: { 'event.kind': allowed('event.kind'), 'event.type': allowed('event.type'), 'event.outcome': allowed('event.outcome') },
  categories: Object.fromEntries(flat['event.category'].allowed_values.map((a) => [a.name, a.expected_event_types ?? []])),
  fields,
};
const dest = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'reference', `ecs-${version}.json`);
writeFileSync(dest, `${JSON.stringify(out, null, 1)}\n`);
process.stdout.write(`${Object.keys(fields).length} fields -> ${dest}\n`);
