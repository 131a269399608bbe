/**
 * npm start's supervisor leaves no component running behind it, however it ends: killAll() on
 * its own exit, and the preloaded watchdog when it is killed outright (kill -9, the OOM killer),
 * which its children, in process groups of their own, would otherwise outlive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Supervisor } from '../scripts/lib/supervisor.js';
import { until } from '@jwt-audit/runtime/testing/wait';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A component that records its pid, and on SIGTERM records that its shutdown ran, then exits. */
function component(dir: string, name: string): string {
  const script = path.join(dir, `${name}.mts`);
  writeFileSync(
    script,
    `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(path.join(dir, `${name}.pid`))}, String(process.pid));
process.on('SIGTERM', () => { writeFileSync(${JSON.stringify(path.join(dir, `${name}.stopped`))}, 'yes'); process.exit(0); });
setInterval(() => {}, 1_000);
`,
  );
  return script;
}

const pidOf = (dir: string, name: string) => Number(readFileSync(path.join(dir, `${name}.pid`), 'utf8'));

test('killAll() kills every component at once, each in its own process group', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'supervisor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const sup = new Supervisor((l) => lines.push(l));
  t.after(() => sup.killAll());
  for (const name of ['a', 'b', 'c']) {
    await sup.start({ name, script: component(dir, name), ready: async () => existsSync(path.join(dir, `${name}.pid`)) });
  }
  const pids = ['a', 'b', 'c'].map((n) => pidOf(dir, n));
  assert.ok(pids.every(alive));
  sup.killAll();
  await until('every component gone', () => !pids.some(alive), 30_000);
  assert.deepEqual(
    lines.filter((l) => /restarting/.test(l)),
    [],
    'nothing is restarted after killAll',
  );
});

test('a supervisor killed with SIGKILL leaves no component running: each stops itself gracefully', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'supervisor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const names = ['broker', 'masker'];
  for (const n of names) component(dir, n);
  const parentScript = path.join(dir, 'parent.mts');
  writeFileSync(
    parentScript,
    `import { Supervisor } from ${JSON.stringify(path.join(root, 'scripts/lib/supervisor.ts'))};
import { existsSync } from 'node:fs';
const sup = new Supervisor(() => {});
for (const n of ${JSON.stringify(names)}) {
  await sup.start({ name: n, script: ${JSON.stringify(dir)} + '/' + n + '.mts', ready: async () => existsSync(${JSON.stringify(dir)} + '/' + n + '.pid') });
}
process.stdout.write('ready\\n');
setInterval(() => {}, 1_000);
`,
  );
  const parent = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', parentScript], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (parent.exitCode === null) parent.kill('SIGKILL');
  });
  let out = '';
  parent.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await until('the supervisor ready', () => out.includes('ready'), 60_000);
  const pids = names.map((n) => pidOf(dir, n));
  t.after(() => pids.filter(alive).forEach((p) => process.kill(p, 'SIGKILL')));
  assert.ok(pids.every(alive));

  parent.kill('SIGKILL');
  await until('every orphaned component gone', () => !pids.some(alive), 60_000);
  for (const n of names) assert.ok(existsSync(path.join(dir, `${n}.stopped`)), `${n} ran its own shutdown (SIGTERM), not killed`);
});
