/**
 * `npm start` driven as a user drives it: settings checked before anything starts, a second
 * start refused at once, a port in use named, and Ctrl-C (SIGINT to the whole foreground process
 * group, as a terminal sends it) stopping everything in order with no error line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '@jwt-audit/runtime/testing/wait';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Run {
  child: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

function start(env: Record<string, string>): Run {
  const begun = Date.now();
  // detached: its own process group, like a shell job, so the test can signal the whole group
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    let rest = '';
    s.on('data', (c: Buffer) => {
      const parts = (rest + c.toString()).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - begun })),
  );
  return { child, lines, exited };
}

async function freePortBlock(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const held: Server[] = [];
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      const srv = createServer();
      ok = await new Promise<boolean>((resolve) => {
        srv.once('error', () => resolve(false));
        srv.listen(base + i, '127.0.0.1', () => resolve(true));
      });
      if (ok) held.push(srv);
    }
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error('no free block of ports');
}

const errorLine = /^\d\d:\d\d:\d\d \S+\s+(error|fatal)\s/;

test('npm start: bad settings named at once; a second start refused; a busy port named; Ctrl-C stops everything cleanly', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'npm-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = await freePortBlock(15);
  const env = {
    AUDIT_DATA_DIR: path.join(dir, 'data'),
    AUDIT_KAFKA_PORT: String(base),
    AUDIT_ES_PORT: String(base + 1),
    AUDIT_INTERCEPTOR_PORT: String(base + 2),
    AUDIT_DEMO_AUTH_PORT: String(base + 3),
    AUDIT_DEMO_UPSTREAM_PORT: String(base + 4),
    AUDIT_DEMO_WEBHOOK_PORT: String(base + 5),
    AUDIT_OPS_BASE_PORT: String(base + 6),
    AUDIT_CONSOLE_PORT: String(base + 14),
  };

  // Every wrong setting at once, each by its variable, before anything starts.
  const bad = start({ ...env, AUDIT_KAFKA_PORT: 'abc', AUDIT_ES_URL: 'garbage', AUDIT_LOG_LEVEL: 'loud', AUDIT_DEMO_AUTH_PORT: String(base + 2) });
  const badExit = await bad.exited;
  assert.equal(badExit.code, 2, bad.lines.join('\n'));
  const badText = bad.lines.join('\n');
  for (const v of ['AUDIT_KAFKA_PORT', 'AUDIT_ES_URL', 'AUDIT_LOG_LEVEL', 'AUDIT_DEMO_AUTH_PORT: port']) assert.match(badText, new RegExp(v), `names ${v}`);

  const first = start(env);
  t.after(() => {
    if (first.child.exitCode === null) process.kill(-first.child.pid!, 'SIGKILL');
  });
  await until('ready', () => first.lines.some((l) => /\bready\. Try:/.test(l)), 240_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${first.lines.slice(-40).join('\n')}`);
  });
  // the console's URL is printed with the rest, and it answers (a demo login on npm start)
  assert.ok(
    first.lines.some((l) => l.includes(`http://127.0.0.1:${base + 14}/`)),
    'the console URL is printed',
  );
  const login = await fetch(`http://127.0.0.1:${base + 14}/login`);
  assert.equal(login.status, 200);
  assert.match(await login.text(), /Demo login/);

  // A second start on the same data directory refuses at once, naming the running one.
  const second = start(env);
  const secondExit = await second.exited;
  assert.equal(secondExit.code, 1, second.lines.join('\n'));
  assert.ok(secondExit.ms < 5_000 + 5_000, `refused in ${secondExit.ms} ms`);
  assert.match(second.lines.join('\n'), new RegExp(`pid ${first.child.pid}\\) already runs`));

  // Another data directory, the same ports: refused, naming each busy port and its variable.
  const third = start({ ...env, AUDIT_DATA_DIR: path.join(dir, 'other') });
  const thirdExit = await third.exited;
  assert.equal(thirdExit.code, 1, third.lines.join('\n'));
  assert.match(third.lines.join('\n'), new RegExp(`AUDIT_INTERCEPTOR_PORT: port ${base + 2} on 127\\.0\\.0\\.1 is in use`));
  assert.ok(!third.lines.some((l) => /starting /.test(l)), 'nothing was started');

  // Ctrl-C: SIGINT to the whole process group.
  const before = first.lines.length;
  process.kill(-first.child.pid!, 'SIGINT');
  const stopped = await first.exited;
  const after = first.lines.slice(before);
  assert.equal(stopped.code, 0, after.join('\n'));
  assert.deepEqual(
    after.filter((l) => errorLine.test(l)),
    [],
    'no error line while stopping',
  );
  assert.ok(
    after.some((l) => /stopped; data kept in/.test(l)),
    after.join('\n'),
  );
  assert.ok(!after.some((l) => /second signal/.test(l)), 'every component stopped cleanly, not forced');
});
