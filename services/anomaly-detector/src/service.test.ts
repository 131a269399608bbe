import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kafka } from '@jwt-audit/kafka';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { alertCodec, eventCodec, newId, partitionKey, TOPICS, type Alert } from '@jwt-audit/events';
import { evaluate, generateScenario } from '@jwt-audit/detection';
import { runScenario } from '../../../packages/detection/src/scenario.js';
import { createAuditProducer, createKafkaClient, ensureTopics, defaultTopics } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { defaults, type DetectorServiceConfig } from './config.js';
import { createDetectorService, type DetectorService } from './service.js';
import { until as waitFor } from '@jwt-audit/runtime/testing/wait';

const logger = createLogger({ name: 'test', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let broker: Awaited<ReturnType<typeof startBroker>>;
let dir: string;
let kafka: Kafka;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'detector-'));
  broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
  kafka = createKafkaClient({ brokers: [broker.address], clientId: 'detector-test' }, logger);
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves when the group has committed every partition of `topics` to its end. */
async function caughtUp(groupId: string, topics: string[]): Promise<true | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions;
      for (const e of ends) {
        const c = committed.find((p) => p.partition === e.partition);
        if (e.offset !== '0' && (!c || c.offset !== e.offset)) return undefined;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

async function readAlerts(topic: string): Promise<Alert[]> {
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.offset), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `reader-${newId()}`, maxWaitTimeInMs: 100 });
  const out: Alert[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void out.push(alertCodec.decode(message.value!, message.headers)) });
  await waitFor(`${total} alerts`, () => (out.length >= total ? true : undefined));
  await consumer.disconnect();
  return out;
}

const ipOrClient = (a: Alert) => a.attributes.variant === 'ip' || a.attributes.variant === 'client';
const identity = (a: Alert) => (ipOrClient(a) ? `${a.rule}/${a.attributes.variant} ${a.keys.ip ?? a.keys.clientId}` : a.id);

test('restart and rebalance mid-scenario: no alert lost or repeated, every trace detected, state restored from disk', async () => {
  const scenario = generateScenario({ subjects: 40, seed: 5 });
  const expectedAlerts = runScenario(scenario).filter((a) => !a.attributes.rollupOf);
  const pure = evaluate(scenario, expectedAlerts);
  assert.deepEqual(pure.missed, []);
  assert.deepEqual(pure.falsePositives, []);

  const topics = { input: `enriched.${newId()}`, repartition: `by-key.${newId()}`, alerts: `alerts.${newId()}` };
  await ensureTopics(kafka, [
    { topic: topics.input, numPartitions: 6 },
    { topic: topics.alerts, numPartitions: 6 },
    ...defaultTopics().filter((t) => t.topic === TOPICS.dlq),
  ]);
  const config: DetectorServiceConfig = {
    ...defaults,
    kafka: { brokers: [broker.address], clientId: 'detector' },
    groupId: `detector-${newId()}`,
    topics,
    stateDir: path.join(dir, 'state'),
    fsync: false,
    snapshotAfterBytes: 64 * 1024,
    // the test replays two days at once: the repartitioned stream is that far out of order
    allowedLatenessMs: 2 * 86_400_000,
  };
  const producer = createAuditProducer(kafka, { logger });
  await producer.connect();
  const half = Math.floor(scenario.events.length / 2);
  const send = (events: typeof scenario.events) =>
    producer.send(
      topics.input,
      events.map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
    );
  const services: DetectorService[] = [];
  try {
    await send(scenario.events.slice(0, half));
    await producer.send(topics.input, [{ key: 'sub:someone', value: Buffer.from('not an event') }]);
    const first = createDetectorService(config, { logger });
    services.push(first);
    const { opsUrl } = await first.start();
    await waitFor('first half processed', () => caughtUp(config.groupId, [topics.input, topics.repartition]));
    const health = await fetch(`${opsUrl}/healthz`);
    assert.equal(health.status, 200);
    const metricsText = await (await fetch(`${opsUrl}/metrics`)).text();
    assert.match(metricsText, /audit_detector_events_total\{stage="subject"\} \d+/);
    await first.stop();

    // second half, consumed by two new instances sharing the state directory (a restart and a rebalance)
    // a crashed upstream stage re-produces the batch it had not committed: 300 events arrive twice,
    // at new offsets; they must not count twice (the alerts below equal the clean in-memory run's)
    await send(scenario.events.slice(half, half + 300));
    await send(scenario.events.slice(half));
    const a = createDetectorService(config, { logger, ops: false });
    const b = createDetectorService(config, { logger, ops: false });
    services.push(a, b);
    await Promise.all([a.start(), b.start()]);
    await waitFor('second half processed', () => caughtUp(config.groupId, [topics.input, topics.repartition]), 90_000);
    const dupes =
      (await a.metrics.registry.getSingleMetricAsString('audit_detector_duplicate_events_total')) +
      (await b.metrics.registry.getSingleMetricAsString('audit_detector_duplicate_events_total'));
    assert.ok([...dupes.matchAll(/audit_detector_duplicate_events_total (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0) >= 300, dupes);
    await Promise.all([a.stop(), b.stop()]);

    const got = await readAlerts(topics.alerts);
    const ids = got.map((x) => x.id);
    assert.equal(new Set(ids).size, ids.length, 'no alert produced twice');
    // Known limitation (README): a replay of a whole day at once reaches the repartition topic in
    // partition-batch order, hours out of event-time order, and the per-client issuance baseline
    // drops late buckets. Live traffic is seconds out of order. Every other rule must match exactly.
    const replayBound = (x: Alert) => x.rule === 'issuance-spike' && x.attributes.variant === 'client';
    const firsts = got.filter((x) => !x.attributes.rollupOf);
    assert.deepEqual(
      new Set(firsts.filter((x) => !replayBound(x)).map(identity)),
      new Set(expectedAlerts.filter((x) => !replayBound(x)).map(identity)),
      'the same alerts as one uninterrupted in-memory run',
    );
    const inService = evaluate(scenario, firsts);
    // the replay-bound trace may or may not be found, depending on how the partitions' batches interleave
    assert.deepEqual(
      inService.missed.map((m) => m.name).filter((n) => n !== 'a client harvesting tokens for many subjects'),
      [],
    );
    assert.deepEqual(
      inService.falsePositives.map((f) => f.description),
      [],
    );
  } finally {
    for (const s of services) await s.stop();
    await producer.disconnect();
  }
});
