import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata', 'guarded-process.ts');

it('an unhandled rejection or an uncaught exception is logged and counted, and the process keeps running', async () => {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const lines = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(code, 0, out);
  const logged = lines.filter((l) => l.level === 50);
  assert.deepEqual(
    logged.map((l) => l.msg),
    ['unhandled promise rejection (kept serving)', 'uncaught exception (kept serving)'],
  );
  assert.match(String((logged[0]!.err as { message: string }).message), /boom-rejection/);
  assert.match(String((logged[1]!.err as { message: string }).message), /boom-exception/);
  // the process was still alive to report, after both
  const metrics = String(lines.find((l) => 'metrics' in l)?.metrics);
  assert.match(metrics, /audit_interceptor_process_errors_total\{kind="unhandled_rejection"\} 1/);
  assert.match(metrics, /audit_interceptor_process_errors_total\{kind="uncaught_exception"\} 1/);
});
