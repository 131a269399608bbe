// Issue #21 item 3: the Kafka client is named in packages/kafka alone, so it can be swapped there.
// Every other workspace (and the repository's test/, scripts/ and bench/) imports it through
// @jwt-audit/kafka; only the embedded broker's tests use kafkajs itself, as the client users run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const allowed = [path.join(root, 'packages/kafka/'), path.join(root, 'packages/embedded-kafka/')];
const skip = new Set(['node_modules', 'dist', '.git', '.turbo', '.data']);

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(e.name)) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) sources(full, out);
    else if (/\.(ts|mts|js|mjs)$/.test(e.name) || e.name === 'package.json') out.push(full);
  }
  return out;
}

// import ... from 'kafkajs' / 'kafkajs/...', import('kafkajs'), require('kafkajs'), createRequire(...)('kafkajs/...'), export ... from 'kafkajs'
const importsKafkajs = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|Require\([^)]*\)\s*\(\s*)['"]kafkajs(?:\/[^'"]*)?['"]/;

test('no workspace but packages/kafka (and the embedded broker it is tested against) imports or depends on kafkajs', () => {
  const places = ['packages', 'services', 'test', 'scripts', 'bench'].flatMap((d) => {
    try {
      return sources(path.join(root, d));
    } catch {
      return [];
    }
  });
  assert.ok(
    places.some((f) => f.endsWith(path.join('services', 'interceptor', 'src', 'service.ts'))),
    'the scan reaches the services',
  );
  const offenders: string[] = [];
  for (const file of places) {
    if (allowed.some((a) => file.startsWith(a))) continue;
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('package.json')) {
      const pkg = JSON.parse(text) as Record<string, Record<string, string> | undefined>;
      for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
        if (pkg[field]?.kafkajs) offenders.push(`${path.relative(root, file)}: ${field}.kafkajs`);
      }
    } else {
      text.split('\n').forEach((line, i) => {
        if (importsKafkajs.test(line)) offenders.push(`${path.relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(offenders, [], 'import the client from @jwt-audit/kafka instead');
});

test('the guard recognises every form of importing kafkajs, and not mere mentions', () => {
  for (const line of [
    "import { Kafka } from 'kafkajs';",
    'import type { Kafka } from "kafkajs";',
    "import kafkajs from 'kafkajs'",
    "export { logLevel } from 'kafkajs';",
    "const k = await import('kafkajs');",
    "const e = require('kafkajs/src/protocol/error');",
    "createRequire(import.meta.url)('kafkajs/src/protocol/error')",
  ]) {
    assert.ok(importsKafkajs.test(line), line);
  }
  for (const line of ["// kafkajs' own log lines", "import { Kafka } from '@jwt-audit/kafka';", "const name = 'kafkajs-like';", "from 'kafkajs-extra'"]) {
    assert.ok(!importsKafkajs.test(line), line);
  }
});
