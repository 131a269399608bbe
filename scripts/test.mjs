#!/usr/bin/env node
// Runs every *.test.ts in the repository (or below the paths given) with node's built-in test
// runner, loading TypeScript through tsx and workspace packages from source ('source' condition).
// Node 20's runner does not expand globs, so the file list is gathered here.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const skip = new Set(['node_modules', 'dist', '.git', '.turbo', '.data', 'testdata', 'fixtures']);

function collect(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) collect(full, out);
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const args = process.argv.slice(2);
// test/ first: its end-to-end files are the longest (the secured pipeline, every main.ts, npm start),
// and the runner starts files in the order given, so the many short unit files fill the other slot
// around them instead of one long file finishing alone at the end.
const roots = args.length > 0 ? args.map((a) => path.resolve(a)) : ['test', 'services', 'packages', 'bench'].map((d) => path.join(root, d));
const files = [];
for (const r of roots) {
  try {
    if (statSync(r).isDirectory()) collect(r, files);
    else files.push(r);
  } catch {
    // a root that does not exist yet simply has no tests
  }
}
if (files.length === 0) {
  process.stderr.write('no test files found\n');
  process.exit(1);
}
// sorted within each root, roots kept in the order given
const rank = (f) => roots.findIndex((r) => f === r || f.startsWith(r + path.sep));
files.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
const child = spawn(
  process.execPath,
  [
    '--conditions=source',
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
    // a per-file limit against hangs, not a speed target: npm start's test starts 13 components
    // and took 37 s alone, over 120 s beside other files on a loaded 2-core machine
    `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 300000}`,
    ...files.map((f) => path.relative(process.cwd(), f)),
  ],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
