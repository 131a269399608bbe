/**
 * Every client of the project against a secured broker and search node (issue #17): the embedded
 * broker with SASL/SCRAM-SHA-512 over TLS and the search node with authentication over HTTPS,
 * each verified with a test CA made for this run. The services are configured as in production,
 * through the runtime config loader from the documented AUDIT_KAFKA_* / AUDIT_ES_* variables (the
 * password from a _FILE), `npm start`'s setup step creates the topics, and every CLI command that
 * talks to Kafka or Elasticsearch runs as a process with the same variables. A request through the
 * interceptor ends up searchable (`audit search`) and archived (`audit archive verify --from-topic`).
 * Then the wrong settings, generated per client: each fails at once with one line naming the
 * setting and exit 2 (the CLI), or a fatal line naming it and exit 2 (the services).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import { localStorage, prove } from '@jwt-audit/archive';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { startSearchNode } from '@jwt-audit/embedded-search';
import { TOPICS } from '@jwt-audit/events';
import { createKafkaClient, startFailure } from '@jwt-audit/kafka';
import { createLogger, esClientOptions, loadConfig } from '@jwt-audit/runtime';
import { makeTestPki } from '@jwt-audit/runtime/testing/pki';
import { startAuthServer, startUpstream } from '@jwt-audit/demo';
import {
  createInterceptor,
  configSchema as interceptorSchema,
  defaults as interceptorDefaults,
  env as interceptorEnv,
  type InterceptorConfig,
} from '@jwt-audit/interceptor';
import { createMaskerService, maskerConfigSchema, maskerDefaults, maskerEnv, type MaskerConfig } from '@jwt-audit/masker';
import { createEnricherService, enricherConfigSchema, enricherDefaults, enricherEnv, type EnricherConfig } from '@jwt-audit/enricher';
import { createIndexerService, indexerConfigSchema, indexerDefaults, indexerEnv, type IndexerConfig } from '@jwt-audit/indexer';
import { createArchiverService, archiverConfigSchema, archiverDefaults, archiverEnv, type ArchiverConfig } from '@jwt-audit/archiver';
import {
  createDetectorService,
  configSchema as detectorSchema,
  defaults as detectorDefaults,
  env as detectorEnv,
  type DetectorServiceConfig,
} from '@jwt-audit/anomaly-detector';
import { readStartSettings } from '../scripts/lib/start-settings.js';
import { setup } from '../scripts/lib/setup.js';
import { until } from '@jwt-audit/runtime/testing/wait';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const logger = createLogger({ name: 'secured', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** One command line as a user runs it, with exactly the given environment (plus PATH). */
function audit(args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', path.join(root, 'packages/cli/src/bin.ts'), ...args],
      { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** At most `n` at a time: the machine has 2 cores shared with other work. */
async function pooled<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

test('secured Kafka (SASL_SSL, SCRAM-SHA-512) and Elasticsearch (auth over HTTPS): the pipeline and every CLI command with the AUDIT_* settings; wrong settings fail at once naming the setting', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'secured-'));
  const stops: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const pki = makeTestPki();
  t.after(() => rmSync(pki.dir, { recursive: true, force: true }));
  // a second CA nobody configured: its trust is what "untrusted" means below
  const stranger = makeTestPki();
  t.after(() => rmSync(stranger.dir, { recursive: true, force: true }));

  const broker = await startBroker({
    dir: path.join(dir, 'kafka'),
    port: 0,
    sasl: { users: { audit: 'kafka-pw', reader: 'reader-pw' }, mechanisms: ['SCRAM-SHA-512'] },
    tls: { key: pki.key, cert: pki.cert },
  });
  stops.push(() => broker.close());
  const apiKeyId = 'cli-key';
  const apiKeySecret = 'cli-key-secret';
  const search = await startSearchNode({
    dir: path.join(dir, 'search'),
    port: 0,
    security: { users: { elastic: 'es-pw' }, apiKeys: { [apiKeyId]: apiKeySecret } },
    tls: { key: pki.key, cert: pki.cert },
  });
  stops.push(() => search.close());
  assert.match(search.url, /^https:/);

  writeFileSync(path.join(dir, 'kafka-password'), 'kafka-pw\n', { mode: 0o600 });
  const kafkaEnv = {
    AUDIT_KAFKA_BROKERS: broker.address,
    AUDIT_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    AUDIT_KAFKA_SASL_USERNAME: 'audit',
    AUDIT_KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'kafka-password'),
    AUDIT_KAFKA_SSL_CA_FILE: pki.caFile,
  };
  const esEnv = { AUDIT_ES_URL: search.url, AUDIT_ES_USERNAME: 'elastic', AUDIT_ES_PASSWORD: 'es-pw', AUDIT_ES_CA_FILE: pki.caFile };
  const apiKey = Buffer.from(`${apiKeyId}:${apiKeySecret}`).toString('base64');
  // the CLI reaches Elasticsearch with an API key, the indexer with a user: both documented ways
  const cliEnv = { ...kafkaEnv, AUDIT_ES_URL: search.url, AUDIT_ES_API_KEY: apiKey, AUDIT_ES_CA_FILE: pki.caFile };

  // npm start's settings and setup step, pointed at the secured Kafka: the topics are created with its settings
  const start = readStartSettings(root, { ...kafkaEnv, ...esEnv, AUDIT_DATA_DIR: path.join(dir, 'start') });
  assert.deepEqual(start.problems, []);
  assert.match(await setup(start.settings), /created topics: .*audit\.raw\.v1/);

  const environment = { ...kafkaEnv, ...esEnv, AUDIT_MASKING_HMAC_KEY: 'a-secured-test-masking-key', AUDIT_MASKING_KEY_ID: 'secured' };
  const configOf = <T>(service: string, schema: object, defaults: object, env: Record<string, string>, extra: Record<string, string> = {}): T =>
    loadConfig<T>({ service, schema, defaults: defaults as T, env, environment: { ...environment, ...extra }, argv: [] });
  const masker = configOf<MaskerConfig>('masker', maskerConfigSchema, maskerDefaults, maskerEnv);
  assert.equal(masker.kafka.sasl?.password, 'kafka-pw', 'the password from AUDIT_KAFKA_SASL_PASSWORD_FILE');
  const archiveDir = path.join(dir, 'archive');
  const keysDir = path.join(dir, 'keys');
  const services = [
    createMaskerService({ ...masker, ops: {} }, { logger }),
    createEnricherService({ ...configOf<EnricherConfig>('enricher', enricherConfigSchema, enricherDefaults, enricherEnv), ops: {} }, { logger }),
    createIndexerService(
      { ...configOf<IndexerConfig>('indexer', indexerConfigSchema, indexerDefaults, indexerEnv, { AUDIT_INDEXER_NAMESPACE: 'secured' }), ops: {} },
      { logger },
    ),
    createArchiverService(
      {
        ...configOf<ArchiverConfig>('archiver', archiverConfigSchema, archiverDefaults, archiverEnv, {
          AUDIT_ARCHIVE_DIR: archiveDir,
          AUDIT_ARCHIVE_KEY_DIR: keysDir,
          AUDIT_ARCHIVE_SEAL_MAX_AGE_MS: '300',
          AUDIT_ARCHIVE_CHECKPOINT_INTERVAL_MS: '500',
          AUDIT_ARCHIVE_CHECKPOINT_MIN_INTERVAL_MS: '0',
        }),
        ops: {},
      },
      { logger },
    ),
    createDetectorService(
      {
        ...configOf<DetectorServiceConfig>('anomaly-detector', detectorSchema, detectorDefaults, detectorEnv, {
          AUDIT_DETECTOR_STATE_DIR: path.join(dir, 'detector'),
        }),
        fsync: false,
      },
      { logger, ops: false },
    ),
  ];
  for (const s of services) {
    await s.start();
    stops.push(() => s.stop());
  }

  const auth = await startAuthServer({ port: 0, logger });
  stops.push(() => auth.close());
  const upstream = await startUpstream({ port: 0, logger });
  stops.push(() => upstream.close());
  const edgeConfig: InterceptorConfig = {
    ...configOf<InterceptorConfig>('interceptor', interceptorSchema, interceptorDefaults, interceptorEnv, {
      AUDIT_SPOOL_DIR: path.join(dir, 'spool'),
      AUDIT_JWT_JWKS_URL: auth.jwksUrl,
      AUDIT_JWT_ISSUER: auth.issuer,
      AUDIT_JWT_AUDIENCE: 'demo-api',
    }),
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: { auth: auth.url, api: upstream.url },
    routes: [
      { name: 'token', path: '/oauth/token', methods: ['POST'], upstream: 'auth', auth: 'none', tokenEndpoint: 'token' },
      { name: 'orders', path: '/api/orders', methods: ['GET'], upstream: 'api', scopes: ['orders:read'] },
    ],
    ops: {},
  };
  const interceptor = createInterceptor(edgeConfig, { logger, ops: false });
  const { url: edge } = await interceptor.start();
  stops.push(() => interceptor.stop());

  // A request through the interceptor, and a forged token (token-tampering alerts on first sight)
  const basic = 'Basic ' + Buffer.from('demo-web:demo-web-secret').toString('base64');
  const tokenRes = await fetch(`${edge}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=alice-pw',
  });
  assert.equal(tokenRes.status, 200);
  const { access_token: token } = (await tokenRes.json()) as { access_token: string };
  const ok = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();
  const forged = `${token.slice(0, token.lastIndexOf('.') + 1)}${token.at(-2) === 'A' ? 'B' : 'A'}${token.slice(-1)}`;
  const bad = await fetch(`${edge}/api/orders`, { headers: { authorization: `Bearer ${forged}` } });
  assert.equal(bad.status, 401);
  await bad.arrayBuffer();
  // a record nothing can decode: the masker dead-letters it, over the same SASL_SSL listener
  const producer = createKafkaClient(masker.kafka, logger).producer();
  await producer.connect();
  await producer.send({ topic: TOPICS.raw, messages: [{ key: 'ip:192.0.2.1', value: Buffer.from('not avro') }] });
  await producer.disconnect();

  const es = new Client(esClientOptions({ url: search.url, username: 'elastic', password: 'es-pw', caFile: pki.caFile }));
  stops.push(() => es.close());
  const validated = await until('the request indexed', async () => {
    await es.indices.refresh({ index: 'logs-jwt_audit.events-secured' });
    const r = await es.search<Record<string, any>>({
      index: 'logs-jwt_audit.events-secured',
      query: { query_string: { query: 'user.id:alice AND url.path:"/api/orders" AND event.outcome:success' } },
    });
    return r.hits.hits[0];
  });
  await until('the event archived', async () => prove(localStorage(archiveDir), validated._id!));
  await until('the tampering alert indexed', async () => {
    await es.indices.refresh({ index: 'logs-jwt_audit.alerts-secured' });
    return (await es.count({ index: 'logs-jwt_audit.alerts-secured', query: { term: { 'rule.name': 'token-tampering' } } })).count > 0 ? true : undefined;
  });
  // the archiver publishes a checkpoint naming the sealed segment
  const archiveArgs = ['--dir', archiveDir, '--jwks', path.join(keysDir, 'archive-public.jwks.json')];
  await until(
    'a checkpoint published',
    async () => ((await audit(['archive', 'head', '--from-topic', ...archiveArgs], cliEnv)).code === 0 ? true : undefined),
    30_000,
  );

  // Every CLI command that talks to Kafka or Elasticsearch, with the documented variables only
  const since = new Date(Date.now() - 3_600_000).toISOString();
  const commands: Array<[string[], (r: Ran) => void]> = [
    [
      ['search', `event.id:"${validated._id}"`, '--index', 'logs-jwt_audit.events-secured', '--json'],
      (r) => assert.equal((JSON.parse(r.stdout.trim()) as { event: { id: string } }).event.id, validated._id),
    ],
    [['search', '--alerts', 'rule.name:token-tampering', '--json'], (r) => assert.match(r.stdout, /token-tampering/)],
    [
      ['alerts', 'tail', '--from-beginning', '--rule', 'token-tampering', '--max', '1', '--json'],
      (r) => assert.equal((JSON.parse(r.stdout.trim()) as { rule: { name: string } }).rule.name, 'token-tampering'),
    ],
    [['archive', 'verify', '--from-topic', ...archiveArgs], (r) => assert.match(r.stdout, /^OK: /m)],
    [['archive', 'head', '--from-topic', ...archiveArgs], (r) => assert.match(r.stdout, /sha256:[0-9a-f]{64}/)],
    [
      ['archive', 'export', '--from', since, '--to', new Date(Date.now() + 60_000).toISOString(), '--dir', archiveDir],
      (r) => assert.ok(r.stdout.includes(validated._id!)),
    ],
    [['topics', 'apply', '--json'], (r) => assert.deepEqual((JSON.parse(r.stdout) as { created: string[] }).created, [])],
    [['topics', 'list'], (r) => assert.match(r.stdout, /audit\.raw\.v1/)],
    [['dlq', 'replay', '--dry-run', '--stage', 'masker', '--json'], (r) => assert.ok((JSON.parse(r.stdout) as { matched: number }).matched >= 1, r.stdout)],
  ];
  const ran = await pooled(commands, 3, async ([args, check]) => {
    const r = await audit(args, cliEnv);
    return { args, r, check };
  });
  for (const { args, r, check } of ran) {
    assert.equal(r.code, 0, `audit ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    check(r);
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes('kafka-pw') && !r.stderr.includes(apiKeySecret), 'no token or secret printed');
  }

  // Wrong settings, generated per client: the CLI says which setting in one line and exits 2
  writeFileSync(path.join(dir, 'wrong-password'), 'not-the-password\n');
  const kafkaFaults: Array<[string, Record<string, string | undefined>, RegExp]> = [
    ['wrong password', { AUDIT_KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'wrong-password') }, /AUDIT_KAFKA_SASL_PASSWORD/],
    ['unknown user', { AUDIT_KAFKA_SASL_USERNAME: 'mallory' }, /AUDIT_KAFKA_SASL_USERNAME and AUDIT_KAFKA_SASL_PASSWORD/],
    ['wrong mechanism', { AUDIT_KAFKA_SASL_MECHANISM: 'scram-sha-256' }, /does not offer SASL mechanism SCRAM-SHA-256.*AUDIT_KAFKA_SASL_MECHANISM/],
    ['no TLS against TLS', { AUDIT_KAFKA_SSL_CA_FILE: undefined }, /speaks TLS: set AUDIT_KAFKA_SSL=true/],
    ['untrusted CA', { AUDIT_KAFKA_SSL_CA_FILE: stranger.caFile }, /not trusted.*AUDIT_KAFKA_SSL_CA_FILE/],
    ['system CAs only', { AUDIT_KAFKA_SSL_CA_FILE: undefined, AUDIT_KAFKA_SSL: 'true' }, /not trusted.*AUDIT_KAFKA_SSL_CA_FILE/],
  ];
  const esFaults: Array<[string, Record<string, string | undefined>, RegExp]> = [
    ['bad API key', { AUDIT_ES_API_KEY: Buffer.from(`${apiKeyId}:wrong`).toString('base64') }, /refused the API key.*AUDIT_ES_API_KEY/],
    ['unknown API key id', { AUDIT_ES_API_KEY: Buffer.from('nobody:x').toString('base64') }, /AUDIT_ES_API_KEY/],
    [
      'wrong password',
      { AUDIT_ES_API_KEY: undefined, AUDIT_ES_USERNAME: 'elastic', AUDIT_ES_PASSWORD: 'wrong' },
      /refused user "elastic".*AUDIT_ES_USERNAME and AUDIT_ES_PASSWORD/,
    ],
    ['unknown user', { AUDIT_ES_API_KEY: undefined, AUDIT_ES_USERNAME: 'mallory', AUDIT_ES_PASSWORD: 'es-pw' }, /refused user "mallory".*AUDIT_ES_PASSWORD/],
    ['no credentials', { AUDIT_ES_API_KEY: undefined }, /requires authentication.*AUDIT_ES_API_KEY, or AUDIT_ES_USERNAME and AUDIT_ES_PASSWORD/],
    ['http against HTTPS', { AUDIT_ES_URL: search.url.replace('https:', 'http:') }, /answers HTTPS only: AUDIT_ES_URL/],
    ['untrusted CA', { AUDIT_ES_CA_FILE: stranger.caFile }, /not trusted.*AUDIT_ES_CA_FILE/],
  ];
  const withEnv = (over: Record<string, string | undefined>) => {
    const env: Record<string, string> = { ...cliEnv };
    for (const [k, v] of Object.entries(over))
      if (v === undefined) delete env[k];
      else env[k] = v;
    return env;
  };
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ...kafkaFaults.map(([what, over, re], i): [string, string[], Record<string, string>, RegExp] => [
      `Kafka ${what}`,
      // each fault through another command, so every Kafka-talking command meets one
      [
        ['alerts', 'tail', '--max', '1'],
        ['topics', 'apply'],
        ['dlq', 'replay', '--dry-run'],
        ['archive', 'head', '--from-topic', ...archiveArgs],
      ][i % 4]!,
      withEnv(over),
      re,
    ]),
    ...esFaults.map(([what, over, re]): [string, string[], Record<string, string>, RegExp] => [
      `Elasticsearch ${what}`,
      ['search', '--since', '1h'],
      withEnv(over),
      re,
    ]),
  ];
  const failures = await pooled(cases, 3, async ([what, args, env, re]) => ({ what, args, re, r: await audit(args, env) }));
  for (const { what, args, re, r } of failures) {
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !/^waiting for /.test(l));
    assert.equal(r.code, 2, `${what} (audit ${args.join(' ')}): exit ${r.code}\n${r.stderr}`);
    assert.equal(lines.length, 1, `${what}: one line\n${r.stderr}`);
    assert.match(lines[0]!, re, what);
    assert.ok(!r.stderr.includes('not-the-password') && !r.stderr.includes('kafka-pw'), `${what}: no password printed`);
  }

  // The services: the same translation decides their start failure (log line, exit 2); a real one for each kind
  const wrongKafka = configOf<MaskerConfig>('masker', maskerConfigSchema, maskerDefaults, maskerEnv, {
    AUDIT_KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'wrong-password'),
  });
  const failedMasker = createMaskerService({ ...wrongKafka, ops: {}, groupId: 'secured-wrong' }, { logger });
  const maskerErr = await failedMasker.start().then(
    () => undefined,
    (err: unknown) => err,
  );
  await failedMasker.stop().catch(() => undefined);
  assert.ok(maskerErr, 'the masker does not start with a wrong password');
  const maskerExit = await startFailure(maskerErr, { kafka: wrongKafka.kafka });
  assert.equal(maskerExit.exitCode, 2);
  assert.match(maskerExit.message, /AUDIT_KAFKA_SASL_PASSWORD/);

  const wrongEs = configOf<IndexerConfig>('indexer', indexerConfigSchema, indexerDefaults, indexerEnv, {
    AUDIT_ES_PASSWORD: 'wrong',
    AUDIT_INDEXER_GROUP_ID: 'secured-wrong',
  });
  const failedIndexer = createIndexerService({ ...wrongEs, ops: {} }, { logger });
  const indexerErr = await failedIndexer.start().then(
    () => undefined,
    (err: unknown) => err,
  );
  await failedIndexer.stop().catch(() => undefined);
  assert.ok(indexerErr, 'the indexer does not start when Elasticsearch refuses its password (no endless wait)');
  const indexerExit = await startFailure(indexerErr, { kafka: wrongEs.kafka, elasticsearch: wrongEs.elasticsearch });
  assert.equal(indexerExit.exitCode, 2);
  assert.match(indexerExit.message, /AUDIT_ES_USERNAME and AUDIT_ES_PASSWORD/);
  assert.ok(!indexerExit.message.includes('es-pw') && !maskerExit.message.includes('not-the-password'));
});
