import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createLogger, loadConfig } from '@jwt-audit/runtime';
import { Writable } from 'node:stream';
import { createMaskerService, loadPolicy, maskerConfigSchema, maskerDefaults, maskerEnv } from './index.js';

const load = (environment: Record<string, string>, file?: string) =>
  loadConfig({ service: 'masker', schema: maskerConfigSchema, defaults: maskerDefaults, env: maskerEnv, environment, argv: [], ...(file ? { file } : {}) });

test('config: the HMAC key from the environment or a file, every problem reported at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'masker-config-'));
  try {
    const c = load({ AUDIT_KAFKA_BROKERS: 'k1:9092,k2:9092', AUDIT_MASKING_HMAC_KEY: 'a-key-of-enough-length', AUDIT_MASKING_KEY_ID: '2026-01' });
    assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9092']);
    assert.deepEqual(c.hmac, { keyId: '2026-01', key: 'a-key-of-enough-length' });
    await writeFile(join(dir, 'key'), 'key-from-a-secret-file\n');
    assert.equal(load({ AUDIT_MASKING_HMAC_KEY_FILE: join(dir, 'key') }).hmac.key, 'key-from-a-secret-file');
    // no key at all, a bad key id and a bad concurrency: all three named
    assert.throws(
      () => load({ AUDIT_MASKING_KEY_ID: 'bad id!', AUDIT_MASKER_CONCURRENCY: '0' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 3 &&
        /hmac\.key/.test(err.message) &&
        /hmac\.keyId/.test(err.message) &&
        /concurrency/.test(err.message),
    );
    const policyFile = join(dir, 'policy.json');
    await writeFile(policyFile, JSON.stringify({ version: 'site-1', fields: { '^nick$': 'drop' } }));
    assert.equal(loadPolicy(policyFile).version, 'site-1');
    await writeFile(policyFile, JSON.stringify({ version: 'site-1', fields: { '^nick$': 'burn' } }));
    assert.throws(() => loadPolicy(policyFile), /policy\.json: .*must be equal to one of the allowed values/);
    const quiet = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    assert.throws(
      () => createMaskerService({ ...c, policyFile }, { logger: quiet }),
      /AUDIT_ERR_MASKING_POLICY|invalid masking policy/,
      'a bad policy stops the service before it consumes anything',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
