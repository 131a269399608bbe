/**
 * Events/s through the detector service (all rules on, repartition topic, journal fsync on) on the
 * embedded broker, against a pass-through consumer (same runner, decodes every event, produces
 * nothing) over the same topic in the same run. Scale: BENCH_SUBJECTS (default 150).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startBroker } from '@jwt-audit/embedded-kafka';
import { eventCodec, newId, partitionKey, TOPICS } from '@jwt-audit/events';
import { generateScenario } from '@jwt-audit/detection';
import { createAuditProducer, createConsumerRunner, createKafkaClient, ensureTopics, type ConsumerRunner } from '@jwt-audit/kafka';
import { createLogger } from '@jwt-audit/runtime';
import { defaults } from '../src/config.js';
import { createDetectorService } from '../src/service.js';

const logger = createLogger({ name: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const dir = mkdtempSync(path.join(tmpdir(), 'detector-bench-'));
const broker = await startBroker({ dir: path.join(dir, 'kafka'), port: 0 });
const kafka = createKafkaClient({ brokers: [broker.address], clientId: 'bench' }, logger);
const input = `bench.enriched.${newId()}`;
await ensureTopics(kafka, [
  { topic: input, numPartitions: 6 },
  { topic: TOPICS.alerts, numPartitions: 6 },
  { topic: TOPICS.dlq, numPartitions: 1 },
]);
const scenario = generateScenario({ subjects: Number(process.env.BENCH_SUBJECTS ?? 150), seed: 1 });
const producer = createAuditProducer(kafka, { logger });
await producer.connect();
for (let i = 0; i < scenario.events.length; i += 5_000) {
  await producer.send(
    input,
    scenario.events.slice(i, i + 5_000).map((e) => ({ key: partitionKey(e), ...eventCodec.encode(e) })),
  );
}
const total = scenario.events.length;

async function timeUntil(count: () => number, start: () => Promise<unknown>, stop: () => Promise<void>): Promise<number> {
  const t0 = Date.now();
  await start();
  while (count() < total) await new Promise((r) => setTimeout(r, 20));
  const seconds = (Date.now() - t0) / 1000;
  await stop();
  return total / seconds;
}

let seen = 0;
const pass: ConsumerRunner = createConsumerRunner({
  kafka,
  groupId: `pass-${newId()}`,
  topics: [input],
  stage: 'passthrough',
  logger,
  producer,
  handler: async (records) => {
    for (const r of records) eventCodec.decode(r.value!, r.headers);
    seen += records.length;
  },
});
const base = await timeUntil(
  () => seen,
  () => pass.start(),
  () => pass.stop(),
);

const service = createDetectorService(
  {
    ...defaults,
    kafka: { brokers: [broker.address], clientId: 'bench' },
    groupId: `det-${newId()}`,
    topics: { ...defaults.topics, input, repartition: `bench.by-key.${newId()}` },
    stateDir: path.join(dir, 'state'),
  },
  { logger, ops: false },
);
const subjectEvents = () => {
  const m = service.metrics.registry.getSingleMetric('audit_detector_events_total') as unknown as {
    hashMap: Record<string, { value: number; labels: { stage: string } }>;
  };
  return Object.values(m.hashMap)
    .filter((v) => v.labels.stage === 'subject')
    .reduce((s, v) => s + v.value, 0);
};
const det = await timeUntil(
  subjectEvents,
  () => service.start(),
  () => service.stop(),
);

process.stdout.write(
  `throughput-vs-passthrough: ${total} events on 6 partitions, embedded broker\n` +
    `  pass-through consumer  ${Math.round(base).toLocaleString('en')} events/s (baseline)\n` +
    `  anomaly detector       ${Math.round(det).toLocaleString('en')} events/s (${(det / base).toFixed(2)} x baseline)\n`,
);
await producer.disconnect();
await broker.close();
rmSync(dir, { recursive: true, force: true });
