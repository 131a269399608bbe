import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { defineComponent, STOPPED } from './component.js';
import { EXIT_CODES } from './service.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata', 'run-service-fixture.ts');

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** The fixture as a process: its log lines as they come, a wait for one, and its exit code. */
function run(env: Record<string, string>, args: string[] = []) {
  const child: ChildProcess = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fixture, ...args], {
    env: { ...process.env, AUDIT_LOG_LEVEL: 'info', AUDIT_LOG_PRETTY: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let stderr = '';
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    if (!l.startsWith('{')) return;
    lines.push(JSON.parse(l) as Line);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = (msg: string) =>
    new Promise<Line>((resolve, reject) => {
      const look = () => {
        const found = lines.find((l) => l.msg === msg);
        if (found) return resolve(found);
        waiters.push(look);
      };
      void exited.then(() =>
        setImmediate(() => (lines.some((l) => l.msg === msg) ? look() : reject(new Error(`exited without "${msg}": ${JSON.stringify(lines)}\n${stderr}`)))),
      );
      look();
    });
  return { child, lines, line, exited, messages: () => lines.map((l) => l.msg), stderr: () => stderr };
}

test('SIGTERM during a slow start: the start settles, the service stops cleanly, exit 0, no "ready"', async () => {
  const p = run({ FIXTURE_START: 'slow', FIXTURE_START_MS: '3000' });
  await p.line('component starting');
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, EXIT_CODES.stopped, p.stderr());
  const msgs = p.messages();
  assert.ok(msgs.indexOf('stopping') < msgs.indexOf('component stopped'), msgs.join(' | '));
  assert.equal(p.lines.find((l) => l.msg === 'component stopped')?.started, true, 'stop ran after the start it waited for');
  assert.ok(msgs.includes('stopped'));
  assert.ok(!msgs.includes('fixture ready'), 'a service stopping during its start never says ready');
});

test('SIGTERM once ready: clean stop, exit 0', async () => {
  const p = run({});
  const ready = await p.line('fixture ready');
  assert.equal(ready.opsUrl, 'http://127.0.0.1:1', 'the ready line carries what start() resolved to');
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, EXIT_CODES.stopped, p.stderr());
  assert.ok(p.messages().includes('component stopped'));
});

test('a second signal during a slow stop: exit 1 at once, without waiting for the stop', async () => {
  const p = run({ FIXTURE_STOP_MS: '60000' });
  await p.line('fixture ready');
  p.child.kill('SIGTERM');
  await p.line('component stopping slowly');
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, EXIT_CODES.failed, p.stderr());
  assert.ok(p.messages().includes('second signal: exiting without a clean stop'));
  assert.ok(!p.messages().includes('stopped'), 'the stop did not finish');
});

test('an invalid configuration: every problem (environment, file, semantic check) in one fatal line, exit 2, nothing started', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'run-service-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ mode: 'c', nested: { limit: 0, extra: 1 }, names: ['good', 'bad-one', 'bad-two'] }));
  const p = run({ AUDIT_FIXTURE_PORT: 'eighty' }, ['--config', file]);
  assert.equal(await p.exited, EXIT_CODES.config, p.stderr());
  const fatal = p.lines.filter((l) => l.level === 60);
  assert.equal(fatal.length, 1, JSON.stringify(p.lines));
  const problems = fatal[0]!.problems as string[];
  for (const named of ['AUDIT_FIXTURE_PORT', 'mode', 'nested.limit', 'nested.extra', 'names: "bad-one"', 'names: "bad-two"']) {
    assert.ok(
      problems.some((x) => x.includes(named)),
      `${named} in ${JSON.stringify(problems)}`,
    );
  }
  assert.equal(problems.length, 6, JSON.stringify(problems));
  assert.ok(!p.messages().includes('component starting'));
});

test('a create() that throws is a configuration error: exit 2', async () => {
  const p = run({ FIXTURE_START: 'create-throws' });
  assert.equal(await p.exited, EXIT_CODES.config, p.stderr());
  assert.match(p.lines.find((l) => l.level === 60)?.msg ?? '', /invalid configuration for fixture: the policy file does not parse/);
});

test('a start failure: one fatal line "<name> cannot start: <why>", what was started is stopped, exit 1', async () => {
  const p = run({ FIXTURE_START: 'fail' });
  assert.equal(await p.exited, EXIT_CODES.failed, p.stderr());
  assert.deepEqual(
    p.lines.filter((l) => l.level === 60).map((l) => l.msg),
    ['fixture cannot start: the dependency is unreachable'],
  );
  assert.ok(p.messages().includes('component stopped'));
});

test('a refused setting at start: exit 2, the setting named', async () => {
  const p = run({ FIXTURE_START: 'refused' });
  assert.equal(await p.exited, EXIT_CODES.settingsRefused, p.stderr());
  assert.match(p.lines.find((l) => l.level === 60)?.msg ?? '', /fixture cannot start: .*AUDIT_KAFKA_SASL_USERNAME/);
});

test('a failure after start (a consumer stopped for good): stopped, exit 75 for the supervisor to restart', async () => {
  const p = run({ FIXTURE_START: 'fail-later' });
  assert.equal(await p.exited, EXIT_CODES.restart, p.stderr());
  const msgs = p.messages();
  assert.ok(msgs.includes('fixture ready') && msgs.includes('component stopped'), msgs.join(' | '));
  assert.equal(p.lines.find((l) => l.level === 60)?.err && (p.lines.find((l) => l.level === 60)!.err as { code: string }).code, 'AUDIT_ERR_CONSUMER_CRASHED');
});

test('the component contract: start and stop idempotent, stop before start safe, stop during start waits for it', async () => {
  const calls: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const make = () =>
    defineComponent({
      start: async () => {
        calls.push('start');
        await gate;
        return 42;
      },
      stop: async () => {
        calls.push('stop');
      },
    });

  const never = make();
  await never.stop();
  await never.stop();
  await assert.rejects(never.start(), (err: { code?: string }) => err.code === STOPPED, 'a stopped component is not started');
  assert.equal(calls.length, 0, 'stop before start starts and stops nothing');

  const c = make();
  const s1 = c.start();
  const s2 = c.start();
  const stopping = c.stop();
  let stopped = false;
  void stopping.then(() => (stopped = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(stopped, false, 'stop waits for the start in progress');
  release();
  assert.equal(await s1, 42);
  assert.equal(await s2, 42);
  await stopping;
  await c.stop();
  assert.deepEqual(calls, ['start', 'stop'], 'one start, one stop');

  const failing = defineComponent({
    start: async () => {
      calls.push('failing start');
      throw new Error('half started');
    },
    stop: async () => {
      calls.push('failing stop');
    },
  });
  await assert.rejects(failing.start(), /half started/);
  await failing.stop();
  assert.deepEqual(calls.slice(2), ['failing start', 'failing stop'], 'a failed start is still stopped');
});
