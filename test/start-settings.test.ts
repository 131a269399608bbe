/**
 * `npm start` pointed at an external Kafka / Elasticsearch checks their AUDIT_KAFKA_* / AUDIT_ES_*
 * settings with the services' own loader before anything starts: every wrong one named at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStartSettings } from '../scripts/lib/start-settings.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('npm start: external Kafka/Elasticsearch settings are read as the services read them, every wrong one named by its variable', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'start-settings-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'pw'), 'secret\n');
  const good = readStartSettings(root, {
    AUDIT_KAFKA_BROKERS: 'kafka-1:9093,kafka-2:9093',
    AUDIT_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    AUDIT_KAFKA_SASL_USERNAME: 'audit',
    AUDIT_KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'pw'),
    AUDIT_KAFKA_SSL: 'true',
    AUDIT_ES_URL: 'https://es:9200',
    AUDIT_ES_API_KEY: 'a2V5OnNlY3JldA==',
  });
  assert.deepEqual(good.problems, []);
  assert.equal(good.settings.externalKafka, 'kafka-1:9093,kafka-2:9093');
  assert.deepEqual(good.settings.kafka.sasl, { mechanism: 'scram-sha-512', username: 'audit', password: 'secret' });
  assert.equal(good.settings.elasticsearch.apiKey, 'a2V5OnNlY3JldA==');

  // generated: each wrong setting alone, then all of them at once
  const missing = path.join(dir, 'missing.pem');
  const bad: Array<[Record<string, string>, RegExp]> = [
    [
      { AUDIT_KAFKA_SASL_MECHANISM: 'gssapi', AUDIT_KAFKA_SASL_USERNAME: 'u', AUDIT_KAFKA_SASL_PASSWORD: 'p' },
      /kafka\.sasl\.mechanism: must be one of .*AUDIT_KAFKA_SASL_MECHANISM/,
    ],
    [{ AUDIT_KAFKA_SASL_MECHANISM: 'plain' }, /kafka\.sasl.*username/],
    [{ AUDIT_KAFKA_SASL_PASSWORD_FILE: missing }, /AUDIT_KAFKA_SASL_PASSWORD_FILE: cannot read/],
    [{ AUDIT_KAFKA_SSL: 'yes please' }, /AUDIT_KAFKA_SSL/],
    [{ AUDIT_KAFKA_SSL_CA_FILE: missing }, /AUDIT_KAFKA_SSL_CA_FILE: cannot read/],
    [{ AUDIT_KAFKA_SSL_CERT_FILE: path.join(dir, 'pw') }, /AUDIT_KAFKA_SSL_CERT_FILE and AUDIT_KAFKA_SSL_KEY_FILE go together/],
    [{ AUDIT_ES_CA_FILE: missing }, /AUDIT_ES_CA_FILE: cannot read/],
    [{ AUDIT_ES_PASSWORD_FILE: missing }, /AUDIT_ES_PASSWORD_FILE: cannot read/],
  ];
  for (const [env, pattern] of bad) {
    const { problems } = readStartSettings(root, { AUDIT_KAFKA_BROKERS: 'kafka:9093', AUDIT_ES_URL: 'https://es:9200', ...env });
    assert.ok(
      problems.some((p) => pattern.test(p)),
      `${JSON.stringify(env)} -> ${JSON.stringify(problems)}`,
    );
  }
  const all = readStartSettings(root, {
    AUDIT_KAFKA_BROKERS: 'kafka:9093',
    AUDIT_KAFKA_SASL_MECHANISM: 'gssapi',
    AUDIT_KAFKA_SASL_USERNAME: 'u',
    AUDIT_KAFKA_SASL_PASSWORD: 'p',
    AUDIT_ES_URL: 'nope',
    AUDIT_ES_CA_FILE: missing,
  });
  for (const v of ['AUDIT_KAFKA_SASL_MECHANISM', 'AUDIT_ES_URL', 'AUDIT_ES_CA_FILE'])
    assert.ok(
      all.problems.some((p) => p.includes(v)),
      `${v} named in ${JSON.stringify(all.problems)}`,
    );
});
