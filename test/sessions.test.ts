import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@elastic/elasticsearch';
import type { Kafka } from '@jwt-audit/kafka';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { startSearchNode, type SearchNode } from '@jwt-audit/embedded-search';
import { alertCodec, eventCodec, newId, partitionKey, readSchemaFile, TOPICS, type Alert, type AuditEvent } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, defaultTopics, ensureTopics, type AuditProducer } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { createIndexerService, indexerDefaults } from '@jwt-audit/indexer';
import { createSessionizerService, defaults as sessionizerDefaults, type SessionizerConfig, type SessionizerService } from '@jwt-audit/sessionizer';
import { until as waitFor } from '@jwt-audit/runtime/testing/wait';
import { sessionLifecycle, sessionRequest, type SessionRequestOptions } from '@jwt-audit/events/testing/sessions';

/**
 * Sessions end to end on the embedded broker and search node: enriched events and an alert in,
 * the sessionizer (its own clock, so that idle and expiry come without waiting half an hour), the
 * indexer; out: session.started / session.ended on audit.raw.v1 and summaries searchable in the
 * sessions index, across a restart of the sessionizer.
 */

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const MIN = 60_000;
let dir: string;
let broker: Broker;
let node: SearchNode;
let kafka: Kafka;
let es: Client;
let producer: AuditProducer;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sessions-e2e-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  node = await startSearchNode({ dir: path.join(dir, 'es'), port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'sessions-test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
  es = new Client({ node: node.url });
  producer = createAuditProducer(kafka, { logger });
  await producer.connect();
});

after(async () => {
  await producer.disconnect();
  await es.close();
  await node.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

// the events happen now: the sessionizer's own clock moves from here
const request = (sub: string, o: SessionRequestOptions & { at?: number } = {}) => sessionRequest(sub, o.at ?? Date.now(), o);
const lifecycle = (kind: Parameters<typeof sessionLifecycle>[0], sub: string, o: Parameters<typeof sessionLifecycle>[3] = {}) =>
  sessionLifecycle(kind, sub, Date.now(), o);

const send = (events: AuditEvent[]) =>
  producer.send(
    TOPICS.enriched,
    events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
  );

interface SessionDoc {
  user: { id: string };
  /** ECS event.reason: why the session ended. */
  event: { reason?: string };
  jwt_audit: {
    session: {
      id: string;
      open: boolean;
      end_detail?: string;
      requests: number;
      ips?: string[];
      alerts: number;
      alert_rules?: string[];
      after_end: number;
      explicit_start: boolean;
      revision: number;
    };
  };
}

async function sessionsOf(sub: string): Promise<SessionDoc[]> {
  await es.indices.refresh({ index: 'audit-sessions-*' });
  const r = await es.search<SessionDoc>({ index: 'audit-sessions-*', size: 100, query: { term: { 'user.id': sub } }, sort: [{ 'event.start': 'asc' }] });
  return r.hits.hits.map((h) => h._source!);
}

/** The only session of `sub` once `ok` holds for it. */
type SessionView = SessionDoc['jwt_audit']['session'] & { end_reason?: string };
const view = (d: SessionDoc): SessionView => ({ ...d.jwt_audit.session, end_reason: d.event.reason });
const sessionWhen = (sub: string, ok: (s: SessionView) => boolean) =>
  waitFor(`a session of ${sub}`, async () => {
    const all = await sessionsOf(sub);
    return all.length === 1 && ok(view(all[0]!)) ? view(all[0]!) : undefined;
  });

async function readRaw(): Promise<AuditEvent[]> {
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(TOPICS.raw)).reduce((n, p) => n + Number(p.offset), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `reader-${newId()}`, maxWaitTimeInMs: 100 });
  const out: AuditEvent[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPICS.raw], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void out.push(eventCodec.decode(message.value!, message.headers)) });
  await waitFor(`${total} raw events`, () => (out.length >= total ? true : undefined));
  await consumer.disconnect();
  return out;
}

test('sessions started and ended by each reason, summaries searchable, activity after sign-out counted, state kept across a restart, idle and expiry on time without traffic', async () => {
  let skew = 0; // the sessionizer's clock runs ahead of the events' by this much
  const config: SessionizerConfig = {
    ...sessionizerDefaults,
    kafka: { brokers: [broker.address], clientId: 'sessionizer' },
    groupId: 'sessionizer-test',
    stateDir: path.join(dir, 'sessions'),
    fsync: false,
    tickMs: 200,
    rules: { ...sessionizerDefaults.rules, idleMs: 30 * MIN, expiryGraceMs: MIN },
  };
  const clock = () => Date.now() + skew;
  const indexer = createIndexerService(
    {
      ...indexerDefaults,
      kafka: { brokers: [broker.address], clientId: 'indexer' },
      elasticsearch: { url: node.url },
      ops: {},
      groupId: 'indexer-test',
      namespace: 'test',
    },
    { logger },
  );
  const running: SessionizerService[] = [];
  try {
    await indexer.start();
    const first = createSessionizerService(config, { logger, ops: false, now: clock });
    running.push(first);
    await first.start();

    // sign-out: pushed start and end (ingest API), a request between
    await send([lifecycle('session.started', 'alice', { sid: 's-alice' })]);
    await send([request('alice', { sid: 's-alice', ip: '198.51.100.7' })]);
    await send([lifecycle('session.ended', 'alice', { sid: 's-alice', reason: 'logout' })]);
    // revocation of the token the session used; deprovisioning of the subject
    await send([request('bob', { jti: 'jti-bob' }), lifecycle('token.revoked', 'bob', { jti: 'jti-bob', reason: 'stolen laptop' })]);
    await send([request('erin'), lifecycle('subject.deprovisioned', 'erin')]);
    // token expiry (token valid 2 min) and idle (a long-lived token) come from the clock, later
    await send([request('carol', { sid: 's-carol', expInMs: 2 * MIN })]);
    await send([request('dave', { expInMs: 600 * MIN })]);
    // an alert about alice's session
    const alert: Alert = {
      ...(readSchemaFile('examples/alert.json') as Alert),
      id: newId(),
      rule: 'token-multi-origin',
      keys: { subject: 'alice', jti: null, ip: null, clientId: null, familyId: null, sessionId: 's-alice' },
    };
    await producer.send(TOPICS.alerts, [{ key: 'sub:alice', ...alertCodec.encode(alert) }]);

    const alice = await sessionWhen('alice', (s) => s.end_reason === 'sign_out' && s.alerts === 1);
    assert.equal(alice.explicit_start, true);
    assert.equal(alice.end_detail, 'logout');
    assert.deepEqual(alice.alert_rules, ['token-multi-origin']);
    assert.ok(alice.ips?.includes('198.51.100.7'));
    const bob = await sessionWhen('bob', (s) => s.end_reason === 'revocation');
    assert.equal(bob.end_detail, 'stolen laptop');
    await sessionWhen('erin', (s) => s.end_reason === 'deprovisioning');
    const carolBefore = await sessionWhen('carol', (s) => s.open);
    const daveBefore = await sessionWhen('dave', (s) => s.open);

    // restart: the open sessions come back from the state directory, not as new sessions
    await first.stop();
    const second = createSessionizerService(config, { logger, ops: false, now: clock });
    running.push(second);
    await second.start();
    await send([request('carol', { sid: 's-carol', expInMs: 2 * MIN })]);
    // alice resumes the session she signed out of: counted on the ended session, none opened
    await send([request('alice', { sid: 's-alice' })]);
    await sessionWhen('alice', (s) => s.after_end === 1);
    const carolAfter = await sessionWhen('carol', (s) => s.requests === 2);
    assert.equal(carolAfter.id, carolBefore.id, 'the same session after the restart');

    // no more traffic: 5 min later carol's token has expired; 31 min later dave is idle
    skew = 5 * MIN;
    await sessionWhen('carol', (s) => s.end_reason === 'token_expiry');
    assert.equal((await sessionsOf('dave'))[0]!.jwt_audit.session.open, true, 'dave is not idle yet');
    skew = 31 * MIN;
    const daveAfter = await sessionWhen('dave', (s) => s.end_reason === 'idle_timeout');
    assert.equal(daveAfter.id, daveBefore.id);
    // the consumer ran clean all along: every batch processed, none failed or dead-lettered
    assert.equal(second.health().ok, true);
    const text = await second.metrics.registry.metrics();
    assert.match(text, /audit_sessionizer_records_total\{outcome="processed"\} [1-9]/);
    assert.doesNotMatch(text, /audit_sessionizer_records_total\{outcome="(dead_lettered|failed)"\} [1-9]/);
    assert.match(text, /audit_sessionizer_derived_events_total\{kind="session.ended"\} [1-9]/);

    // the trail: one session.started per derived session, one session.ended per derived end, with its reason
    const derived = await waitFor('derived events', async () => {
      const raw = (await readRaw()).filter((e) => e.source.service === 'sessionizer');
      return raw.filter((e) => e.kind === 'session.ended').length >= 4 ? raw : undefined;
    });
    const ended = new Map(derived.filter((e) => e.kind === 'session.ended').map((e) => [e.actor.sub, e.session?.reason]));
    assert.deepEqual(Object.fromEntries(ended), { bob: 'revocation', erin: 'deprovisioning', carol: 'token_expiry', dave: 'idle_timeout' });
    const started = derived
      .filter((e) => e.kind === 'session.started')
      .map((e) => e.actor.sub)
      .sort();
    assert.deepEqual(started, ['bob', 'carol', 'dave', 'erin'], "alice's was pushed; nobody started twice across the restart");
    assert.equal(new Set(derived.map((e) => e.id)).size, derived.length);

    // the same through the search a user runs: every end reason is a term
    await es.indices.refresh({ index: 'audit-sessions-*' });
    const byReason = await es.search({ index: 'audit-sessions-*', size: 0, aggs: { r: { terms: { field: 'event.reason' } } } });
    const buckets = (byReason.aggregations!.r as { buckets: { key: string; doc_count: number }[] }).buckets.map((b) => b.key).sort();
    assert.deepEqual(buckets, ['deprovisioning', 'idle_timeout', 'revocation', 'sign_out', 'token_expiry']);
  } finally {
    for (const s of running) await s.stop();
    await indexer.stop();
  }
});
