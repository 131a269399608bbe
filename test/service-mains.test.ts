/**
 * Every service's main.ts, as a process, given its testdata/invalid.json: one fatal line listing
 * exactly the problems of testdata/invalid.expected.json, exit 2 (EXIT_CODES.config), whichever
 * service it is (before runService four services exited 1 on a configuration error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT_CODES } from '@jwt-audit/runtime';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const services = readdirSync(path.join(root, 'services')).filter((s) => existsSync(path.join(root, 'services', s, 'testdata', 'invalid.expected.json')));

// what a deployment gives through the environment (the config-testdata tests give the same)
const SECRETS = {
  AUDIT_WEBHOOK_SECRET: 'a-test-webhook-secret-long-enough',
  AUDIT_MASKING_HMAC_KEY: 'a-test-hmac-key-of-enough-length',
  AUDIT_DEMO_WEBHOOK_SECRET: 'a-demo-webhook-secret-long-enough',
};

function run(service: string): Promise<{ code: number | null; lines: Array<{ level: number; msg: string; problems?: string[] }>; out: string }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      path.join(root, 'services', service, 'src', 'main.ts'),
      '--config',
      path.join(root, 'services', service, 'testdata', 'invalid.json'),
    ],
    {
      env: { ...process.env, AUDIT_LOG_LEVEL: 'info', AUDIT_LOG_PRETTY: '0', ...SECRETS },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve) =>
    child.once('exit', (code) =>
      resolve({
        code,
        out,
        lines: out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { level: number; msg: string; problems?: string[] }),
      }),
    ),
  );
}

test('every main.ts: an invalid config file is one fatal line naming every problem, exit 2', async () => {
  assert.ok(services.length >= 10, `services with testdata: ${services.join(', ')}`);
  // three processes at a time: each spends most of its ~2-5 s loading modules through tsx, and
  // one after another they took ~48 s of CI's run
  const runs = new Map<string, ReturnType<typeof run>>();
  const pending = [...services];
  const next = (): Promise<void> | undefined => {
    const service = pending.shift();
    if (service === undefined) return undefined;
    const r = run(service);
    runs.set(service, r);
    return r.then(() => next());
  };
  await Promise.all([next(), next(), next()]);
  for (const service of services) {
    const expected = JSON.parse(readFileSync(path.join(root, 'services', service, 'testdata', 'invalid.expected.json'), 'utf8')) as string[];
    const r = await runs.get(service)!;
    assert.equal(r.code, EXIT_CODES.config, `${service}: exit ${r.code}\n${r.out}`);
    const fatal = r.lines.filter((l) => l.level === 60);
    assert.equal(fatal.length, 1, `${service}: ${r.out}`);
    const problems = fatal[0]!.problems ?? [];
    assert.equal(problems.length, expected.length, `${service}: ${JSON.stringify(problems)}`);
    for (const field of expected)
      assert.ok(
        problems.some((p) => p.startsWith(field)),
        `${service}: ${field} in ${JSON.stringify(problems)}`,
      );
    assert.match(fatal[0]!.msg, new RegExp(`^invalid configuration for ${service}:`));
  }
});
