import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, KAFKA_ENV, kafkaConfigSchema, loadConfig, opsConfigSchema } from './config.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['kafka', 'batchSize', 'mode'],
  properties: {
    kafka: kafkaConfigSchema,
    ops: opsConfigSchema,
    batchSize: { type: 'integer', minimum: 1 },
    mode: { enum: ['enforce', 'observe'] },
    dryRun: { type: 'boolean' },
  },
};
const defaults = { kafka: { brokers: ['127.0.0.1:9092'], clientId: 'test' }, batchSize: 100, mode: 'enforce', dryRun: false };

test('defaults <- file <- environment, with types read from the schema', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ batchSize: 500, mode: 'observe' }));
  const cfg = loadConfig({
    service: 'svc',
    schema,
    defaults,
    file,
    env: { ...KAFKA_ENV, AUDIT_DRY_RUN: 'dryRun', AUDIT_BATCH_SIZE: 'batchSize' },
    environment: { AUDIT_KAFKA_BROKERS: 'k1:9092, k2:9093', AUDIT_DRY_RUN: 'true', AUDIT_BATCH_SIZE: '250' },
  });
  assert.deepEqual(cfg, { kafka: { brokers: ['k1:9092', 'k2:9093'], clientId: 'test' }, batchSize: 250, mode: 'observe', dryRun: true });
  assert.deepEqual(defaults.kafka.brokers, ['127.0.0.1:9092'], 'defaults are not mutated');
});

test('every problem is reported at once, naming the setting', () => {
  assert.throws(
    () =>
      loadConfig({
        service: 'svc',
        schema,
        defaults: { ...defaults, extra: 1 },
        env: { ...KAFKA_ENV, AUDIT_MODE: 'mode', AUDIT_BATCH_SIZE: 'batchSize' },
        environment: { AUDIT_KAFKA_BROKERS: 'not a broker', AUDIT_MODE: 'panic', AUDIT_BATCH_SIZE: '0' },
        argv: [],
      }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      assert.match(text, /extra: unknown setting/);
      assert.match(text, /kafka\.brokers\.0: must match pattern/);
      assert.match(text, /mode: must be one of "enforce", "observe"/);
      assert.match(text, /batchSize: must be >= 1/);
      assert.equal(err.problems.length, 4);
      return true;
    },
  );
});

test('secrets can come from a file named by VAR_FILE', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'pw'), 's3cret\n');
  const cfg = loadConfig({
    service: 'svc',
    schema,
    defaults,
    env: KAFKA_ENV,
    environment: {
      AUDIT_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      AUDIT_KAFKA_SASL_USERNAME: 'audit',
      AUDIT_KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'pw'),
    },
    argv: [],
  });
  assert.deepEqual(cfg.kafka, { brokers: ['127.0.0.1:9092'], clientId: 'test', sasl: { mechanism: 'scram-sha-512', username: 'audit', password: 's3cret' } });
});

test('an unreadable or malformed config file is a config error, not a crash', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'bad.json'), '{ not json');
  for (const file of [path.join(dir, 'bad.json'), path.join(dir, 'missing.json')]) {
    assert.throws(
      () => loadConfig({ service: 'svc', schema, defaults, file, environment: {} }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /config file/);
        return true;
      },
    );
  }
  assert.throws(() => loadConfig({ service: 'svc', schema, defaults, argv: ['--config', path.join(dir, 'bad.json')], environment: {} }), ConfigError);
});
