/**
 * npm start's supervisor restarts a component that stays alive but unhealthy (/healthz 503 for
 * longer than AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS): a process without a working consumer is
 * as useless as one that exited (issue #28 item 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Supervisor } from '../scripts/lib/supervisor.js';
import { readStartSettings } from '../scripts/lib/start-settings.js';
import { until } from '@jwt-audit/runtime/testing/wait';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('supervisor: a component unhealthy for longer than the limit is stopped and restarted; a healthy one, or one unhealthy for less, is left alone', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'supervisor-health-'));
  // a service that is healthy for its first second, then answers 503 for good (its consumer gave
  // up), and writes its port and its run number where the probe finds them
  const script = path.join(dir, 'svc.mjs');
  writeFileSync(
    script,
    `import http from 'node:http';
import { appendFileSync, writeFileSync } from 'node:fs';
const started = Date.now();
appendFileSync(${JSON.stringify(path.join(dir, 'runs'))}, 'run\\n');
const srv = http.createServer((req, res) => { res.statusCode = process.env.FLAKY === '1' && Date.now() - started > 1000 ? 503 : 200; res.end(); });
srv.listen(0, '127.0.0.1', () => writeFileSync(process.env.PORT_FILE, String(srv.address().port)));
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
`,
  );
  const probe = (portFile: string) => async () => {
    if (!existsSync(portFile)) return false;
    try {
      return (await fetch(`http://127.0.0.1:${readFileSync(portFile, 'utf8')}/`, { signal: AbortSignal.timeout(1_000) })).status < 500;
    } catch {
      return false;
    }
  };
  const lines: string[] = [];
  const supervisor = new Supervisor((l) => lines.push(l), { unhealthyRestartMs: 1_500, healthIntervalMs: 200, graceMs: 2_000 });
  try {
    const flaky = path.join(dir, 'flaky.port');
    const steady = path.join(dir, 'steady.port');
    await supervisor.start({
      name: 'flaky',
      script,
      env: { FLAKY: '1', PORT_FILE: flaky },
      ready: probe(flaky),
      readyTimeoutMs: 30_000,
      healthy: probe(flaky),
    });
    await supervisor.start({
      name: 'steady',
      script,
      env: { FLAKY: '0', PORT_FILE: steady },
      ready: probe(steady),
      readyTimeoutMs: 30_000,
      healthy: probe(steady),
    });
    await until('the unhealthy component restarted twice', () => supervisor.restartsOf('flaky') >= 2, 60_000);
    assert.ok(lines.some((l) => /flaky is unhealthy; restarting it if it stays so for 1500 ms/.test(l)));
    assert.ok(lines.some((l) => /flaky unhealthy for \d+ ms: restarting it/.test(l)));
    assert.equal(supervisor.restartsOf('steady'), 0, 'the healthy one is left alone');
    // a restart is a new process, healthy again for a while: steady's run, flaky's first and the one
    // its first restart spawned (and was restarted again, the second restart)
    assert.ok(readFileSync(path.join(dir, 'runs'), 'utf8').split('\n').filter(Boolean).length >= 3);
  } finally {
    await supervisor.stopAll(5_000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS: 0 or 10 s .. 24 h, anything else named as a problem', () => {
  const problem = (v: string) =>
    readStartSettings(root, { AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS: v }).problems.filter((p) => p.startsWith('AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS'));
  assert.equal(readStartSettings(root, {}).settings.unhealthyRestartMs, 120_000, 'default: 2 minutes');
  let seed = 11;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const valid = ['0', '10000', '86400000', ...Array.from({ length: 50 }, () => String(10_000 + Math.floor(random() * (86_400_000 - 10_000))))];
  for (const v of valid) {
    assert.deepEqual(problem(v), [], v);
    assert.equal(readStartSettings(root, { AUDIT_SUPERVISOR_UNHEALTHY_RESTART_MS: v }).settings.unhealthyRestartMs, Number(v));
  }
  const invalid = [
    '1',
    '9999',
    '86400001',
    '-1',
    '-10000',
    '1e5',
    '10000.5',
    'abc',
    '0x2710',
    '12 000',
    '120s',
    ...Array.from({ length: 30 }, () => String(1 + Math.floor(random() * 9_999))),
  ];
  for (const v of invalid) {
    const p = problem(v);
    assert.equal(p.length, 1, v);
    assert.match(p[0]!, /expected 0 \(never\) or milliseconds 10000\.\.86400000/);
    assert.ok(p[0]!.includes(JSON.stringify(v)), 'the value is quoted');
  }
});
