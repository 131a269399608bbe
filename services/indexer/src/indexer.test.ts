import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import {
  alertCodec,
  deadLetterCodec,
  EVENT_KINDS,
  eventCodec,
  newId,
  readSchemaFile,
  TOPICS,
  partitionKey,
  type Alert,
  type AuditEvent,
} from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, ensureTopics, defaultTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { createIndexerService, indexerDefaults, type IndexerConfig } from './index.js';
import { until as waitFor } from '@jwt-audit/runtime/testing/wait';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let dir: string;
let broker: Broker;
let node: SearchNode;
let es: Client;
let esDir: string;
let esPort: number;

const config = (groupId: string): IndexerConfig => ({
  ...indexerDefaults,
  kafka: { brokers: [broker.address], clientId: 'indexer-test' },
  elasticsearch: { url: node.url },
  ops: {},
  groupId,
  namespace: 'test',
});

const example = (k: string) => readSchemaFile(`examples/${k}.json`) as AuditEvent;
const fresh = (e: AuditEvent): AuditEvent => ({ ...e, id: newId() });

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'indexer-'));
  esDir = path.join(dir, 'es');
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  node = await startSearchNode({ dir: esDir, port: 0 });
  esPort = node.port;
  es = new Client({ node: node.url });
  await ensureTopics(createKafkaClient({ brokers: [broker.address], clientId: 'setup' }, logger), defaultTopics(3));
});

after(async () => {
  await es.close();
  await node.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

async function produce(topic: string, records: { key: string; value: Buffer; headers: Record<string, string> }[]) {
  const p = createAuditProducer(createKafkaClient({ brokers: [broker.address], clientId: 'producer' }, logger), { logger });
  await p.connect();
  await p.send(topic, records);
  await p.disconnect();
}

const count = async (index: string) => {
  await es.indices.refresh({ index });
  return (await es.count({ index })).count;
};

test('every event kind and an alert become searchable ECS documents; mappings come from the template; a second pass adds nothing', async () => {
  const events = EVENT_KINDS.map((k) => fresh(example(k)));
  const alert = { ...(readSchemaFile('examples/alert.json') as Alert), id: newId() };
  await produce(
    TOPICS.enriched,
    events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
  );
  await produce(TOPICS.alerts, [{ key: 'sub:alice', ...alertCodec.encode(alert) }]);

  const svc = createIndexerService(config('idx-1'), { logger });
  await svc.start();
  try {
    await waitFor(`${events.length} events indexed`, async () => ((await count('logs-jwt_audit.events-test')) >= events.length ? true : undefined));
    await waitFor('1 alert indexed', async () => ((await count('logs-jwt_audit.alerts-test')) >= 1 ? true : undefined));
  } finally {
    await svc.stop();
  }
  const mapping = Object.values(await es.indices.getMapping({ index: 'logs-jwt_audit.events-test' }))[0]!.mappings.properties as any;
  assert.equal(mapping['@timestamp'].type, 'date');
  assert.equal(mapping.source.properties.ip.type, 'ip');
  assert.equal(mapping.user.properties.id.type, 'keyword');
  assert.equal(mapping.event.properties.action.type, 'keyword');
  assert.equal(mapping.jwt_audit.properties.token.properties.exp.type, 'date');

  const rejected = await es.search<any>({ index: 'logs-jwt_audit.events-test', q: 'event.action:token-rejected AND event.reason:expired' });
  assert.equal(rejected.hits.hits.length, 1);
  assert.equal(rejected.hits.hits[0]!._id, events.find((e) => e.kind === 'token.rejected')!.id);
  assert.equal(rejected.hits.hits[0]!._source.user.id, 'alice@example.com');
  const a = await es.get<any>({
    index: (await es.indices.getDataStream({ name: 'logs-jwt_audit.alerts-test' })).data_streams[0]!.indices[0]!.index_name,
    id: alert.id,
  });
  assert.equal(a._source.rule.name, 'refresh-token-reuse');

  // the same records consumed again by another group: create ops with the same _id, so nothing changes
  const again = createIndexerService(config('idx-2'), { logger });
  await again.start();
  const admin = createKafkaClient({ brokers: [broker.address], clientId: 'a' }, logger).admin();
  await admin.connect();
  try {
    await waitFor('second pass committed', async () => {
      const offs = await admin.fetchOffsets({ groupId: 'idx-2', topics: [TOPICS.enriched] });
      const committed = offs[0]!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      return committed >= events.length ? true : undefined;
    });
  } finally {
    await admin.disconnect();
    await again.stop();
  }
  assert.equal(await count('logs-jwt_audit.events-test'), events.length);
});

test('a document Elasticsearch refuses goes to the DLQ with its reason; the rest of the batch is indexed', async () => {
  // The mapper never writes a value the project's templates refuse (packages/ecs/src/mapping.test.ts),
  // so a refusal is provoked with an operator's template of higher priority that maps user.id as a number.
  await es.indices.putIndexTemplate({
    name: 'refuse-user-id',
    index_patterns: ['logs-jwt_audit.events-refuse*'],
    data_stream: {},
    priority: 500,
    template: { mappings: { properties: { user: { properties: { id: { type: 'long' } } } } } },
  });
  const good = fresh(example('token.validated'));
  good.actor = { ...good.actor, sub: null };
  const bad = fresh(example('token.validated'));
  await produce(
    TOPICS.enriched,
    [good, bad].map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
  );
  await produce(TOPICS.enriched, [{ key: 'sub:x', value: Buffer.from('garbage'), headers: {} }]);
  const svc = createIndexerService({ ...config('idx-dlq'), namespace: 'refuse' }, { logger });
  await svc.start();
  const seen: ReturnType<typeof deadLetterCodec.decode>[] = [];
  const consumer = createKafkaClient({ brokers: [broker.address], clientId: 'dlq' }, logger).consumer({ groupId: `dlq-${newId()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPICS.dlq], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(deadLetterCodec.decode(message.value!, message.headers as never)) });
  try {
    await waitFor('good doc indexed', async () =>
      (await es.search({ index: 'logs-jwt_audit.events-refuse', query: { ids: { values: [good.id] } } })).hits.hits.length === 1 ? true : undefined,
    );
    // this group reads the topic from its start: earlier tests' events with a subject are refused here too
    const letterOf = (d: (typeof seen)[number]) =>
      d.code === 'AUDIT_ERR_ES_MAPPING' &&
      eventCodec.decode(d.payload!, { 'audit-schema-fingerprint': d.originHeaders['audit-schema-fingerprint'] }).id === bad.id;
    const mapping = await waitFor('the refused document dead-lettered', () => seen.find((d) => d.stage === 'indexer' && letterOf(d)));
    const letters = await waitFor('the undecodable record dead-lettered', () =>
      seen.some((d) => d.stage === 'indexer' && d.code === 'AUDIT_ERR_UNDECODABLE') ? seen.filter((d) => d.stage === 'indexer') : undefined,
    );
    assert.match(mapping.reason, /document_parsing_exception/);
    assert.match(mapping.reason, /user\.id/);
    assert.equal(mapping.originTopic, TOPICS.enriched);
    assert.equal(eventCodec.decode(mapping.payload!, { 'audit-schema-fingerprint': mapping.originHeaders['audit-schema-fingerprint'] }).id, bad.id);
    assert.ok(letters.some((d) => d.code === 'AUDIT_ERR_UNDECODABLE'));
  } finally {
    await consumer.disconnect();
    await svc.stop();
  }
});

test('Elasticsearch down for a while: the indexer waits and retries; after the restart nothing is lost or duplicated', async () => {
  const svc = createIndexerService(config('idx-outage'), { logger });
  await svc.start();
  try {
    await es.close();
    await node.close();
    const events = Array.from({ length: 25 }, (_, i) => ({ ...fresh(example('http.exchange')), attributes: { n: String(i) } }));
    await produce(
      TOPICS.enriched,
      events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
    );
    await new Promise((r) => setTimeout(r, 1500)); // the indexer meets a closed port and backs off
    node = await startSearchNode({ dir: esDir, port: esPort });
    es = new Client({ node: node.url });
    // this group reads the topic from its start, so earlier tests' events may be indexed here too: count these 25
    const mine = async () => {
      await es.indices.refresh({ index: 'logs-jwt_audit.events-test' });
      return (await es.search({ index: 'logs-jwt_audit.events-test', size: 1000, query: { ids: { values: events.map((e) => e.id) } } })).hits.hits.map(
        (h) => h._id,
      );
    };
    const ids = await waitFor('the 25 documents', async () => ((await mine()).length >= 25 ? mine() : undefined), 60_000);
    assert.equal(ids.length, 25);
    assert.equal(new Set(ids).size, 25);
  } finally {
    await svc.stop();
  }
});
