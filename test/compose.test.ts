import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `docker compose` (v2 plugin) where present, else the standalone docker-compose. */
function composeCommand(): string[] {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  throw new Error('neither `docker compose` nor `docker-compose` is installed (.ci/run installs docker-compose)');
}

test('docker-compose.yml is valid and runs every service of the pipeline', () => {
  const [cmd, ...pre] = composeCommand();
  const out = execFileSync(cmd!, [...pre, '--env-file', '.env.example', 'config'], { cwd: root, encoding: 'utf8' });
  const services = ['interceptor', 'masker', 'enricher', 'indexer', 'archiver', 'anomaly-detector', 'alert-webhook'];
  for (const s of services) {
    assert.match(out, new RegExp(`\\n  ${s}:\\n`), `service ${s} missing from docker-compose.yml`);
    assert.match(out, new RegExp(`services/${s}/dist/main\\.js`), `service ${s} must run its built main.js`);
  }
  for (const infra of ['kafka', 'kafka-setup', 'elasticsearch', 'es-setup', 'kibana', 'kibana-setup']) {
    assert.match(out, new RegExp(`\\n  ${infra}:\\n`), `${infra} missing`);
  }
  assert.match(out, /audit\.revocations\.v1 1 cleanup\.policy=compact/);
});

test('every service docker-compose runs has a main entry in the repository', () => {
  const compose = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
  const mains = [...compose.matchAll(/services\/([a-z-]+)\/dist\/main\.js/g)].map((m) => m[1]!);
  assert.ok(mains.length >= 7);
  for (const name of mains) assert.ok(existsSync(path.join(root, 'services', name, 'src', 'main.ts')), `services/${name}/src/main.ts`);
});

test('the interceptor configuration docker-compose mounts is valid', async () => {
  const { loadConfig } = await import('@jwt-audit/runtime');
  const { configSchema, defaults, env } = await import('@jwt-audit/interceptor');
  const cfg = loadConfig({ service: 'interceptor', schema: configSchema, defaults, env, file: path.join(root, 'config', 'interceptor.docker.json'), environment: {} });
  assert.equal(cfg.listen.host, '0.0.0.0');
  assert.ok(cfg.routes.some((r) => r.tokenEndpoint === 'token'));
});
