import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

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
  const services = ['interceptor', 'masker', 'enricher', 'indexer', 'archiver', 'anomaly-detector', 'sessionizer', 'alert-webhook', 'console'];
  for (const s of services) {
    assert.match(out, new RegExp(`\\n  ${s}:\\n`), `service ${s} missing from docker-compose.yml`);
    assert.match(out, new RegExp(`services/${s}/dist/main\\.js`), `service ${s} must run its built main.js`);
  }
  for (const infra of ['kafka', 'kafka-setup', 'elasticsearch', 'es-setup', 'kibana', 'kibana-setup']) {
    assert.match(out, new RegExp(`\\n  ${infra}:\\n`), `${infra} missing`);
  }
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
  const cfg = loadConfig({
    service: 'interceptor',
    schema: configSchema,
    defaults,
    env,
    file: path.join(root, 'config', 'interceptor.docker.json'),
    environment: {},
  });
  assert.equal(cfg.listen.host, '0.0.0.0');
  assert.ok(cfg.routes.some((r) => r.tokenEndpoint === 'token'));
});

interface ComposeService {
  image?: string;
  environment?: Record<string, string | number | null>;
  volumes?: string[];
  command?: string[];
}

/** docker-compose.yml as compose itself resolves it (anchors, merges, .env.example values). */
function resolvedCompose(): { services: Record<string, ComposeService>; volumes: Record<string, unknown> } {
  const [cmd, ...pre] = composeCommand();
  const out = execFileSync(cmd!, [...pre, '--env-file', '.env.example', 'config'], { cwd: root, encoding: 'utf8' });
  return parseYaml(out) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
}

/** Named volumes a service mounts: target path -> volume name (bind mounts of the repo are read-only config). */
function namedMounts(s: ComposeService): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const v of s.volumes ?? []) {
    const [source, target] = v.split(':');
    if (source && target && !source.startsWith('.') && !source.startsWith('/')) mounts.set(target, source);
  }
  return mounts;
}

test('every stateful path of the stack is on a named volume, created in the image with its user as owner', () => {
  const compose = resolvedCompose();
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  // The runtime stage creates each writable path with `install -d -o node -g node -m 0700 ...`.
  const install = /install -d -o node -g node -m 0700((?:\s+\\?\s*\/var\/lib\/jwt-audit[^\s\\]*)+)/.exec(dockerfile);
  assert.ok(install, 'the Dockerfile creates /var/lib/jwt-audit paths owned by node');
  const created = new Set(install[1]!.split(/[\s\\]+/).filter(Boolean));
  assert.match(dockerfile, /\nUSER node\n/);
  // service -> the settings that name a directory it writes to
  const writes: Record<string, string[]> = {
    interceptor: ['AUDIT_SPOOL_DIR'],
    archiver: ['AUDIT_ARCHIVE_DIR', 'AUDIT_ARCHIVE_KEY_DIR'],
    'anomaly-detector': ['AUDIT_DETECTOR_STATE_DIR'],
    sessionizer: ['AUDIT_SESSIONIZER_STATE_DIR'],
  };
  for (const [name, settings] of Object.entries(writes)) {
    const s = compose.services[name];
    assert.ok(s, name);
    const mounts = namedMounts(s);
    for (const setting of settings) {
      const dir: string | number | null | undefined = s.environment?.[setting];
      assert.equal(typeof dir, 'string', `${name}: ${setting} is set`);
      const volume = mounts.get(dir as string);
      assert.ok(volume, `${name}: ${setting}=${dir} is on a named volume`);
      assert.ok(volume in compose.volumes, `${name}: volume ${volume} is declared`);
      assert.ok(created.has(dir as string), `${name}: ${dir} is created in the image, owned by node`);
    }
    assert.ok(s.environment?.AUDIT_HEALTH_WRITABLE, `${name}: the healthcheck proves its directory is writable`);
  }
  // every named volume mounted by a jwt-audit service is one of the created paths
  for (const [name, s] of Object.entries(compose.services)) {
    if (s.image !== 'jwt-audit:latest') continue;
    for (const target of namedMounts(s).keys()) assert.ok(created.has(target), `${name}: ${target} exists in the image`);
  }
  // Kafka writes where its volume is mounted (its image defaults to /tmp/kraft-combined-logs)
  const kafka = compose.services.kafka!;
  const logDirs = String(kafka.environment?.KAFKA_LOG_DIRS ?? '');
  assert.ok(namedMounts(kafka).has(logDirs), `KAFKA_LOG_DIRS=${logDirs} is the kafka-data volume's mount point`);
  assert.ok(namedMounts(compose.services.elasticsearch!).has('/usr/share/elasticsearch/data'));
});

test('topics come from the project table, and every variable docker-compose.yml needs is in .env.example', () => {
  const compose = resolvedCompose();
  assert.deepEqual(compose.services['kafka-setup']?.command, ['node', 'packages/cli/dist/bin.js', 'topics', 'apply']);
  assert.equal(compose.services['kafka-setup']?.image, 'jwt-audit:latest');
  const text = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
  const example = readFileSync(path.join(root, '.env.example'), 'utf8');
  const defined = new Set([...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
  const used = new Set([...text.matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
  assert.ok(used.size >= 5);
  for (const v of used) assert.ok(defined.has(v), `${v} is used by docker-compose.yml but not documented in .env.example`);
});
