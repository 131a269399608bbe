import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from '@jwt-audit/kafka';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { defaultTopics } from '@jwt-audit/kafka';
import { esClientOptions, kafkaTlsOption } from '@jwt-audit/runtime';
import { esConnection, kafkaConnection } from './connections.js';

const run = promisify(execFile);
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'bin.ts');

let dir: string;
let broker: Awaited<ReturnType<typeof startBroker>>;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-conn-'));
  broker = await startBroker({ dir: path.join(dir, 'broker'), port: 0 });
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

const usageError = (pattern: RegExp) => (e: { exitCode?: number; message: string }) => e.exitCode === 2 && pattern.test(e.message);

test('the CLI reads the same AUDIT_KAFKA_* settings as the services: SASL, password from a _FILE, TLS files', () => {
  writeFileSync(path.join(dir, 'pw'), 's3cret\n');
  writeFileSync(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const k = kafkaConnection(
    {},
    {
      AUDIT_KAFKA_BROKERS: 'k1:9092, k2:9093',
      AUDIT_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      AUDIT_KAFKA_SASL_USERNAME: 'audit',
      AUDIT_KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'pw'),
      AUDIT_KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem'),
    },
  );
  assert.deepEqual(k.brokers, ['k1:9092', 'k2:9093']);
  assert.deepEqual(k.sasl, { mechanism: 'scram-sha-512', username: 'audit', password: 's3cret' });
  const tls = kafkaTlsOption(k);
  assert.ok(typeof tls === 'object' && tls.ca?.[0]?.toString().includes('BEGIN CERTIFICATE'));
  // a flag wins over the environment; defaults reach the embedded broker
  assert.deepEqual(kafkaConnection({ brokers: 'a:1' }, { AUDIT_KAFKA_BROKERS: 'k1:9092' }).brokers, ['a:1']);
  assert.deepEqual(kafkaConnection({}, {}).brokers, ['127.0.0.1:9092']);
  assert.equal(kafkaTlsOption(kafkaConnection({}, { AUDIT_KAFKA_SSL: 'true' })), true);
});

test('every bad Kafka or Elasticsearch setting is a usage error naming the setting', () => {
  const badKafka: Array<[Record<string, string>, RegExp]> = [
    [{ AUDIT_KAFKA_BROKERS: 'garbage' }, /kafka\.brokers.*AUDIT_KAFKA_BROKERS/],
    [{ AUDIT_KAFKA_BROKERS: 'host:port' }, /AUDIT_KAFKA_BROKERS/],
    [
      { AUDIT_KAFKA_SASL_MECHANISM: 'kerberos', AUDIT_KAFKA_SASL_USERNAME: 'u', AUDIT_KAFKA_SASL_PASSWORD: 'p' },
      /kafka\.sasl\.mechanism: must be one of.*AUDIT_KAFKA_SASL_MECHANISM/,
    ],
    [{ AUDIT_KAFKA_SASL_MECHANISM: 'plain' }, /kafka\.sasl\.username/],
    [{ AUDIT_KAFKA_SSL: 'maybe' }, /AUDIT_KAFKA_SSL/],
    [{ AUDIT_KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'missing') }, /AUDIT_KAFKA_SASL_PASSWORD_FILE: cannot read/],
  ];
  for (const [env, pattern] of badKafka) {
    assert.throws(() => kafkaConnection({}, env), usageError(pattern), JSON.stringify(env));
  }
  for (const flag of ['', ' , ', 'no-port', 'h:', ':9092', 'a b:1', 'h:1,junk']) {
    assert.throws(() => kafkaConnection({ brokers: flag }, {}), usageError(/--brokers/), JSON.stringify(flag));
  }
  assert.throws(() => kafkaTlsOption(kafkaConnection({}, { AUDIT_KAFKA_SSL_CA_FILE: path.join(dir, 'nope.pem') })), /AUDIT_KAFKA_SSL_CA_FILE: cannot read/);
  assert.throws(() => kafkaTlsOption(kafkaConnection({}, { AUDIT_KAFKA_SSL_CERT_FILE: path.join(dir, 'ca.pem') })), /AUDIT_KAFKA_SSL_KEY_FILE go together/);
  assert.throws(() => esConnection({}, { AUDIT_ES_URL: 'garbage' }), usageError(/elasticsearch\.url.*AUDIT_ES_URL/));
  assert.throws(() => esConnection({ esUrl: 'garbage' }, {}), usageError(/--es-url/));
  assert.throws(() => esClientOptions(esConnection({}, { AUDIT_ES_CA_FILE: path.join(dir, 'nope.pem') })), /AUDIT_ES_CA_FILE: cannot read/);
});

test('Elasticsearch credentials: API key, username/password, or in the URL (moved out of it so the URL can be printed)', () => {
  assert.deepEqual(esClientOptions(esConnection({}, { AUDIT_ES_URL: 'https://es:9200', AUDIT_ES_API_KEY: 'k' })).auth, { apiKey: 'k' });
  assert.deepEqual(esClientOptions(esConnection({}, { AUDIT_ES_URL: 'https://es:9200', AUDIT_ES_USERNAME: 'elastic', AUDIT_ES_PASSWORD: 'pw' })).auth, {
    username: 'elastic',
    password: 'pw',
  });
  const fromUrl = esClientOptions(esConnection({ esUrl: 'http://u%40x:p%3Aw@es:9200/' }, {}));
  assert.deepEqual(fromUrl.auth, { username: 'u@x', password: 'p:w' });
  assert.equal(fromUrl.node, 'http://es:9200/');
  assert.deepEqual(esClientOptions(esConnection({ apiKey: 'flag' }, { AUDIT_ES_API_KEY: 'env' })).auth, { apiKey: 'flag' });
});

async function audit(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('audit topics apply creates the table of packages/kafka (idempotently); topics list --json prints it; errors exit 2 / 3', async () => {
  const env = { AUDIT_KAFKA_BROKERS: broker.address };
  const first = await audit(['topics', 'apply', '--partitions', '3', '--json'], env);
  const second = await audit(['topics', 'apply', '--partitions', '3', '--json'], env);
  const list = await audit(['topics', 'list', '--json']);
  const wanted = defaultTopics(3)
    .map((s) => s.topic)
    .sort();
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual((JSON.parse(first.stdout) as { created: string[] }).created.sort(), wanted);
  assert.deepEqual(JSON.parse(second.stdout), { created: [], existing: defaultTopics(3).map((s) => s.topic) });
  assert.deepEqual(JSON.parse(list.stdout), defaultTopics(6));
  const down = await audit(['topics', 'apply', '--brokers', '127.0.0.1:1']);
  assert.equal(down.code, 3);
  assert.match(down.stderr, /cannot apply topics on 127\.0\.0\.1:1/);
  const bad = await audit(['topics', 'apply'], { AUDIT_KAFKA_SASL_MECHANISM: 'kerberos', AUDIT_KAFKA_SASL_USERNAME: 'u', AUDIT_KAFKA_SASL_PASSWORD: 'p' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /AUDIT_KAFKA_SASL_MECHANISM/);
  const admin = new Kafka({ clientId: 't', brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: wanted });
    for (const spec of defaultTopics(3)) {
      assert.equal(meta.topics.find((t) => t.name === spec.topic)?.partitions.length, spec.numPartitions, spec.topic);
    }
  } finally {
    await admin.disconnect();
  }
});
