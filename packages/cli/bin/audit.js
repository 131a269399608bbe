#!/usr/bin/env node
// The `audit` command as npm links or installs it (package.json "bin"; `npm link -w packages/cli`).
// Built (`npm run build`): dist/bin.js in this process. In a checkout that was only installed
// (`npm ci`): the TypeScript source through tsx with the workspace packages' "source" condition,
// in a child node, because conditions are fixed when a process starts. Plain JavaScript, executable
// in git: tsc's output (dist/bin.js) never has the execute bit, so it cannot be the bin itself.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/bin.js', import.meta.url);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  // tsx from this checkout, whatever the working directory
  const tsx = import.meta.resolve('tsx');
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', tsx, fileURLToPath(new URL('../src/bin.ts', import.meta.url)), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  // Ctrl-C reaches the child too (same process group): let it stop, and end as it ends.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (signal !== 'SIGINT') child.kill(signal);
    });
  }
  child.on('error', (err) => {
    process.stderr.write(`audit: cannot start node: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1)));
}
