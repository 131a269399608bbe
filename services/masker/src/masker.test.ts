import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kafka } from '@jwt-audit/kafka';
import { startBroker, type Broker } from '@jwt-audit/embedded-kafka';
import { deadLetterCodec, eventCodec, newId, partitionKey, readSchemaFile, TOPICS, type AuditEvent } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, defaultTopics, ensureTopics, type AuditProducer } from '@jwt-audit/kafka';
import { CANARIES, CANARY_VALUES, canaryEvent, canaryFormEvent } from '@jwt-audit/masking/testing';
import { createLogger } from '@jwt-audit/runtime';
import { createMaskerService, maskerDefaults, type MaskerConfig } from './index.js';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let dir: string;
let broker: Broker;
let kafka: Kafka;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'masker-'));
  broker = await startBroker({ dir, port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'test' }, logger);
  await ensureTopics(kafka, defaultTopics(3));
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

const config = (groupId: string): MaskerConfig => ({
  ...maskerDefaults,
  kafka: { brokers: [broker.address], clientId: 'masker-test' },
  ops: {},
  groupId,
  hmac: { keyId: 'k1', key: 'a-test-key-of-enough-length' },
});

async function produceRaw(records: { key: string; value: Buffer; headers?: Record<string, string> }[]) {
  const p = createAuditProducer(kafka, { logger });
  await p.connect();
  await p.send(TOPICS.raw, records);
  await p.disconnect();
}

/** Every record of a topic from the beginning, read until `until` holds. */
async function readTopic(topic: string, until: (n: { key: Buffer | null; value: Buffer; headers: Record<string, Buffer> }[]) => boolean, ms = 30_000) {
  const got: { key: Buffer | null; value: Buffer; headers: Record<string, Buffer> }[] = [];
  const c = kafka.consumer({ groupId: `reader-${newId()}`, maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) => void got.push({ key: message.key, value: message.value!, headers: message.headers as Record<string, Buffer> }),
  });
  const end = Date.now() + ms;
  while (!until(got)) {
    if (Date.now() > end) {
      await c.disconnect();
      throw new Error(`timed out reading ${topic}: ${got.length} records`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await c.disconnect();
  return got;
}

test('canary: a byte scan of everything in audit.masked.v1 finds none of the planted secrets; poison goes to the DLQ', async () => {
  const events = [canaryEvent(), canaryFormEvent(), canaryEvent()];
  await produceRaw(events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })));
  const poison = `{"not":"avro","password":"${CANARIES.password}","note":"mail ${CANARIES.email}"}`;
  await produceRaw([{ key: 'sub:x', value: Buffer.from(poison), headers: { 'x-debug': CANARIES.awsAccessKey } }]);
  const svc = createMaskerService({ ...config('masker-canary'), ops: { port: 0 }, dlqPayload: 'masked' }, { logger });
  const { metricsUrl } = await svc.start();
  assert.deepEqual(await svc.start(), { metricsUrl }, 'start() is idempotent');
  try {
    const masked = await readTopic(TOPICS.masked, (g) => g.length >= 3);
    const bytes = Buffer.concat(masked.flatMap((r) => [r.key ?? Buffer.alloc(0), r.value, ...Object.values(r.headers)])).toString('latin1');
    for (const v of CANARY_VALUES) assert.ok(!bytes.includes(v), `planted value reached audit.masked.v1: ${v}`);
    const decoded = masked.map((r) => eventCodec.decode(r.value, r.headers));
    assert.deepEqual(decoded.map((e) => e.id).sort(), events.map((e) => e.id).sort());
    assert.ok(decoded.every((e) => e.masking!.keyId === 'k1' && e.masking!.rulesApplied.length > 5));
    // the same planted email in two events: one pseudonym, so the events still correlate
    const emailOf = (e: AuditEvent) => (JSON.parse(e.http!.request.body!.content!) as { user: { email: string } }).user.email;
    const twins = decoded.filter((e) => e.id === events[0]!.id || e.id === events[2]!.id).map(emailOf);
    assert.equal(twins.length, 2);
    assert.equal(twins[0], twins[1]);
    assert.match(twins[0]!, /^hmac:k1:[0-9a-f]{32}$/);
    assert.equal((await fetch(`${metricsUrl}/healthz`)).status, 200);
    const dlq = (await readTopic(TOPICS.dlq, (g) => g.length >= 1)).map((r) => deadLetterCodec.decode(r.value, r.headers));
    const letter = dlq.find((d) => d.stage === 'masker')!;
    assert.equal(letter.code, 'AUDIT_ERR_UNDECODABLE');
    assert.equal(letter.originTopic, TOPICS.raw);
    // the dead letter says what and where, but carries no planted secret either
    assert.equal(letter.originPartition >= 0 && letter.originOffset >= 0, true);
    const kept = letter.payload!.toString();
    assert.match(kept, /^\{"not":"avro","password":"\[redacted:password\]","note":"mail hmac:k1:[0-9a-f]{32}"\}$/);
    assert.equal(letter.originHeaders['x-debug'], '[redacted:aws-access-key]');
    const dlqBytes = (await readTopic(TOPICS.dlq, (g) => g.length >= 1)).map((r) => r.value.toString('latin1')).join('');
    for (const v of [CANARIES.password, CANARIES.email, CANARIES.awsAccessKey]) assert.ok(!dlqBytes.includes(v), `planted value reached audit.dlq.v1: ${v}`);
    // rule counts are flushed to the registry once a second: wait for them, with a deadline
    let text = '';
    for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      text = await (await fetch(`${metricsUrl}/metrics`)).text();
      if (text.includes('audit_masker_rules_applied_total{rule="header:authorization:hash"} 3')) break;
    }
    assert.match(text, /audit_masker_rules_applied_total\{rule="header:authorization:hash"\} 3/, 'three events carried an Authorization header');
    assert.match(text, /audit_masker_rules_applied_total\{rule="field:redact"\} [1-9]/);
    assert.doesNotMatch(text, /rule="field:[^"]*:/, 'field names (from the outside) are folded into the action');
    assert.match(text, /audit_masker_records_total\{outcome="dead_lettered"\} 1/);
    await svc.stop();
    await assert.rejects(fetch(`${metricsUrl}/metrics`), 'the ops server is closed by stop()');
  } finally {
    await svc.stop();
  }
});

test('by default a dead letter keeps the raw payload and headers byte for byte (replayable), and only its reason is masked', async () => {
  const topicNote = `poison-${newId()}`;
  const poison = Buffer.from(`{"not":"avro","password":"${CANARIES.password}","n":"${topicNote}"}`);
  await produceRaw([{ key: 'sub:raw-letter', value: poison, headers: { 'x-debug': CANARIES.awsAccessKey, 'x-note': topicNote } }]);
  assert.equal(maskerDefaults.dlqPayload, 'raw');
  const svc = createMaskerService(config('masker-raw-letters'), { logger });
  await svc.start();
  try {
    const letters = (await readTopic(TOPICS.dlq, (g) => g.some((r) => r.value.includes(topicNote)))).map((r) => deadLetterCodec.decode(r.value, r.headers));
    const letter = letters.find((d) => d.originHeaders['x-note'] === topicNote)!;
    assert.equal(letter.stage, 'masker');
    assert.deepEqual(letter.payload, poison, 'the original bytes: audit dlq replay can re-inject them');
    assert.equal(letter.originHeaders['x-debug'], CANARIES.awsAccessKey, 'the original headers (the schema fingerprint travels there)');
    assert.equal(letter.originKey?.toString(), 'sub:raw-letter');
    assert.ok(!letter.reason.includes(CANARIES.password), 'the reason is masked');
  } finally {
    await svc.stop();
  }
});

test('a crash between produce and commit repeats work but loses nothing', async () => {
  // A distinct input topic keeps this test independent of the previous one.
  const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;
  const events = Array.from({ length: 40 }, (_, i) => ({ ...base, id: newId(), actor: { ...base.actor, sub: `crash-user-${i % 4}` } }));
  await produceRaw(events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })));

  const ids = new Set(events.map((e) => e.id));
  // Instance A: its output is acknowledged by Kafka, then it freezes before committing (a crash).
  let frozen = false;
  const real = createAuditProducer(kafka, { logger });
  const freezing: AuditProducer = {
    raw: real.raw,
    connect: () => real.connect(),
    disconnect: () => real.disconnect(),
    async send(topic, records) {
      await real.send(topic, records);
      // freeze on the first output that carries this test's events (other partitions may come first)
      // dead letters (of earlier tests' poison) are not events: only the output is looked at
      const ours = topic === TOPICS.masked && records.some((r) => r.value && ids.has(eventCodec.decode(r.value, r.headers ?? {}).id));
      if (ours) {
        frozen = true;
        await new Promise(() => undefined); // never returns: no commit will follow
      }
    },
  };
  const a = createMaskerService({ ...config('masker-crash'), concurrency: 1 }, { logger, producer: freezing, sessionTimeoutMs: 6_000 });
  void a.start();
  const end = Date.now() + 20_000;
  while (!frozen && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.ok(frozen, 'instance A produced output');

  // Instance B takes over once A's session expires, from the last committed offsets.
  const b = createMaskerService({ ...config('masker-crash'), concurrency: 1 }, { logger, sessionTimeoutMs: 6_000 });
  await b.start();
  try {
    const out = await readTopic(
      TOPICS.masked,
      (g) => {
        // records of the previous test are in the topic too (and partition order differs between reads): filter by id
        const mine = g.map((r) => eventCodec.decode(r.value, r.headers).id).filter((id) => ids.has(id));
        const seen = new Set(mine);
        // B may finish the other partitions before it repeats A's batch: wait for the repeat too
        return [...ids].every((id) => seen.has(id)) && mine.length > 40;
      },
      45_000,
    );
    const mine = out.map((r) => eventCodec.decode(r.value, r.headers).id).filter((id) => ids.has(id));
    assert.equal(new Set(mine).size, 40, 'nothing lost');
    assert.ok(mine.length > 40, `the batch A produced before freezing was produced again (${mine.length} records for 40 events)`);
  } finally {
    await b.stop();
  }
});
