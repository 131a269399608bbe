import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kafka } from '@jwt-audit/kafka';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { alertCodec, deadLetterCodec, newId, readSchemaFile, TOPICS, type Alert, type DeadLetter } from '@jwt-audit/events';
import { createAuditProducer, createKafkaClient, ensureTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { defaults } from './config.js';
import { createAlertWebhookService } from './service.js';
import { sign, verify, SIGNATURE_HEADER, ALERT_ID_HEADER } from './signature.js';
import { classifyResponse } from './retry.js';
import { until as waitFor } from '@jwt-audit/runtime/testing/wait';

const logger = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const SECRET = 'test-webhook-secret-0123456789';
let broker: Awaited<ReturnType<typeof startBroker>>;
let dir: string;
let kafka: Kafka;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'webhook-'));
  broker = await startBroker({ dir, port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'webhook-test' }, logger);
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

test('signature: HMAC-SHA256 over "<t>.<body>"; tampered body, wrong key, or stale timestamp fail', () => {
  const body = '{"rule":"x"}';
  const now = Date.now();
  const h = sign(SECRET, body, now);
  assert.match(h, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.equal(verify(SECRET, body, h, now), true);
  assert.equal(verify(SECRET, body.replace('x', 'y'), h, now), false);
  assert.equal(verify('another-secret-0123456789', body, h, now), false);
  assert.equal(verify(SECRET, body, h, now + 10 * 60_000), false, 'replayed 10 min later');
  assert.equal(verify(SECRET, body, 'garbage', now), false);
  assert.equal(verify(SECRET, body, undefined, now), false);
});

test('retry rules: 2xx delivered, 429/5xx/408 retried (Retry-After honoured), other 4xx permanent', () => {
  assert.equal(classifyResponse(204, null).kind, 'delivered');
  assert.deepEqual(classifyResponse(429, '3'), { kind: 'retry', reason: 'HTTP 429', retryAfterMs: 3000 });
  assert.equal(classifyResponse(503, null).kind, 'retry');
  assert.equal(classifyResponse(408, null).kind, 'retry');
  assert.equal(classifyResponse(400, null).kind, 'permanent');
  assert.equal(classifyResponse(404, null).kind, 'permanent');
});

test('forwarder: signed JSON POSTs, a flaky receiver is retried until it accepts, a rejecting one and an unreachable-forever one end in the DLQ', async () => {
  const example = readSchemaFile('examples/alert.json') as Alert;
  const alert = (rule: string): Alert => ({ ...example, id: newId(), rule });
  const ok = alert('ok-rule');
  const flaky = alert('flaky-rule');
  const rejected = alert('rejected-rule');
  const down = alert('down-rule');
  const attempts = new Map<string, number>();
  const received: Alert[] = [];
  let badSignatures = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (!verify(SECRET, body, req.headers[SIGNATURE_HEADER] as string, Date.now())) {
        badSignatures++;
        return void res.writeHead(401).end();
      }
      const a = JSON.parse(body) as Alert;
      assert.equal(req.headers[ALERT_ID_HEADER], a.id);
      const n = (attempts.get(a.rule) ?? 0) + 1;
      attempts.set(a.rule, n);
      if (a.rule === 'flaky-rule' && n < 3) return void res.writeHead(503).end();
      if (a.rule === 'rejected-rule') return void res.writeHead(422).end();
      if (a.rule === 'down-rule') return void res.writeHead(500).end();
      received.push(a);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  const topic = `alerts.${newId()}`;
  await ensureTopics(kafka, [
    { topic, numPartitions: 1 },
    { topic: TOPICS.dlq, numPartitions: 1 },
  ]);
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  await producer.send(
    topic,
    [ok, flaky, rejected, down].map((a) => ({ key: `sub:${a.keys.subject}`, ...alertCodec.encode(a) })),
  );
  await producer.send(topic, [{ key: 'x', value: Buffer.from('not an alert') }]);
  const service = createAlertWebhookService(
    {
      ...defaults,
      kafka: { brokers: [broker.address], clientId: 'webhook' },
      groupId: `webhook-${newId()}`,
      topic,
      webhook: { url, secret: SECRET, timeoutMs: 2_000 },
      maxAttempts: 4,
      retry: { initialMs: 20, maxMs: 100 },
    },
    { logger, ops: false },
  );
  const dlq: DeadLetter[] = [];
  const reader = kafka.consumer({ groupId: `dlq-${newId()}`, maxWaitTimeInMs: 100 });
  try {
    await service.start();
    await reader.connect();
    await reader.subscribe({ topics: [TOPICS.dlq], fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void dlq.push(deadLetterCodec.decode(message.value!, message.headers)) });
    const mine = () => dlq.filter((d) => d.originTopic === topic);
    await waitFor('3 dead letters', () => (mine().length >= 3 ? true : undefined));
    assert.deepEqual(received.map((a) => a.rule).sort(), ['flaky-rule', 'ok-rule']);
    assert.deepEqual(
      received.find((a) => a.rule === 'ok-rule'),
      ok,
      'the JSON body is the alert',
    );
    assert.equal(attempts.get('flaky-rule'), 3, 'retried until accepted');
    assert.equal(attempts.get('rejected-rule'), 1, 'a permanent 4xx is not retried');
    assert.equal(attempts.get('down-rule'), 4, 'maxAttempts');
    assert.equal(badSignatures, 0);
    assert.deepEqual(
      mine()
        .map((d) => d.code)
        .sort(),
      ['AUDIT_ERR_UNDECODABLE', 'AUDIT_ERR_WEBHOOK_REJECTED', 'AUDIT_ERR_WEBHOOK_UNDELIVERABLE'],
    );
  } finally {
    await reader.disconnect();
    await service.stop();
    await producer.disconnect();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
